#!/usr/bin/env python3
"""Integration tests: run the real taskmem-trace as root on real workloads and check its
numbers against independent oracles: the kernel's own high-water mark (/usr/bin/time -v, in
the same run and in an untraced one), Go's runtime.MemStats, and C programs whose memory
make-up is known by construction. The tests live in this directory by area (test_*.py, with
what they share in lib.py); this runner runs them in the order of TESTS.

usage: tests/integration/run.py [-k SUBSTRING[,SUBSTRING...]] [--list] [-v]
  -k      run only tests whose name contains one of the substrings
  --list  print the names of the tests that would run, and run none
  -v      print every check that passed too, with what it measured
"""
import argparse
import os
import stat
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree by root
import lib  # noqa: E402
import test_cli  # noqa: E402
import test_engine  # noqa: E402
import test_go_versions  # noqa: E402
import test_hostile  # noqa: E402
import test_kernel  # noqa: E402
import test_namespaces  # noqa: E402
import test_net  # noqa: E402
import test_oom  # noqa: E402
import test_outputs  # noqa: E402
import test_python  # noqa: E402
import test_real  # noqa: E402
import test_record  # noqa: E402
import test_runtimes  # noqa: E402
import test_scale  # noqa: E402
import test_servers  # noqa: E402
import test_shared  # noqa: E402
import test_stacks  # noqa: E402
import test_trixie  # noqa: E402

MODULES = (test_cli, test_engine, test_go_versions, test_hostile, test_kernel, test_namespaces, test_net, test_oom, test_outputs, test_python,
           test_real, test_record, test_runtimes, test_scale, test_servers, test_shared, test_stacks,
           test_trixie)

# The order tests run in: test_nothing_left last, as it also looks for what earlier ones left
TESTS = [test_engine.test_c_known, test_engine.test_sampled, test_engine.test_frees, test_engine.test_drops, test_runtimes.test_go_100k,
         test_runtimes.test_go_deep, test_runtimes.test_go_1m, test_real.test_go_cgo,
         test_real.test_go_stackgrow, test_go_versions.test_go_versions, test_real.test_go_debian, test_real.test_daemon,
         test_real.test_nginx_daemon, test_real.test_allocators, test_real.test_merged_stacks, test_cli.test_exit_codes, test_engine.test_tree,
         test_engine.test_concurrent, test_shared.test_shared_tree, test_shared.test_shared_pool, test_shared.test_shared_fault_around,
         test_servers.test_postgres_pgbench, test_servers.test_prefork_wrk,
         test_cli.test_attach, test_cli.test_sudo_user, test_outputs.test_html, test_record.test_record_report,
         test_scale.test_scale_threads, test_scale.test_scale_go, test_scale.test_diff, test_scale.test_scale_cli,
         test_scale.test_scale_html, test_scale.test_compare_marginal,
         test_stacks.test_stack_walk, test_stacks.test_stack_cache, test_oom.test_oom_limit, test_oom.test_oom_kill9, test_oom.test_oom_under_limit,
         test_oom.test_oom_attach, test_oom.test_oom_cleanup, test_kernel.test_kernel_threads, test_kernel.test_kernel_slab, test_kernel.test_kernel_no_cgroup,
         test_net.test_net_sockets, test_net.test_net_go_server, test_net.test_net_rust_server,
         test_stacks.test_symbolizers, test_stacks.test_cc1_unwound, test_stacks.test_hold, test_stacks.test_classify_cpp_arena, test_python.test_python_frames,
         test_python.test_python_bench_frames, test_python.test_python_exited,
         test_python.test_python_threads, test_python.test_python_chroot,
         test_python.test_python313_perf] + test_runtimes.RUNTIME_TESTS + [
         test_trixie.test_trixie_vthreads, test_trixie.test_trixie_go, test_trixie.test_trixie_tokio,
         test_engine.test_floods, test_engine.test_make_j, test_engine.test_exec_elsewhere, test_engine.test_pipeline,
         test_hostile.test_hostile_debuglink, test_hostile.test_hostile_names, test_hostile.test_sigpipe, test_hostile.test_attach_spoof, test_hostile.test_idle_processes, test_hostile.test_budget_fde, test_hostile.test_unwind_worker_lost, test_hostile.test_unwind_worker_sigint, test_hostile.test_unwind_worker_waiting, test_hostile.test_budget_unwind_memory,
         test_hostile.test_budget_symtab, test_hostile.test_budget_perfmap, test_hostile.test_budget_labels, test_hostile.test_budget_pages, test_hostile.test_no_btf, test_hostile.test_no_tracefs,
         test_namespaces.test_ns_deleted_symlink, test_namespaces.test_ns_fifo, test_namespaces.test_ns_device, test_namespaces.test_ns_mount, test_namespaces.test_ns_overlay,
         test_namespaces.test_ns_node_pidns,
         test_hostile.test_disk_full, test_hostile.test_valgrind, test_hostile.test_fuzz,
         test_hostile.test_budget_forks, test_cli.test_nothing_left]


# Run once, in the plain pass (CI's time): the fuzzers (their own ASan builds); valgrind (always
# the plain binary); what measures the tool's own speed under a flood of events (the ASan build is
# several times slower: it would lose events where the tool does not) or its own memory per traced
# page (ASan's shadow is not the tool's); real servers under load (their clients' pace and the
# tool's would differ under ASan, not what they measure); scale's fits of several whole runs
# (diff and scale's own paths stay in both passes), the networked benchmark's among them; what
# runs in the trixie root (its interpreter is the same in both passes: the tool's own paths are
# the other tests')
PLAIN_PASS_ONLY = [test_hostile.test_valgrind, test_hostile.test_fuzz, test_hostile.test_budget_labels,
                   test_servers.test_postgres_pgbench, test_servers.test_prefork_wrk,
                   test_scale.test_scale_threads, test_scale.test_scale_go, test_hostile.test_budget_pages,
                   test_hostile.test_budget_forks, test_net.test_net_go_server, test_net.test_net_rust_server,
                   test_python.test_python313_perf, test_trixie.test_trixie_vthreads, test_trixie.test_trixie_go,
                   test_trixie.test_trixie_tokio]


def unlisted():
    """test_ functions of the modules that TESTS leaves out (a test written and never run)."""
    listed = set(TESTS)
    return [f"{m.__name__}.{n}" for m in MODULES for n, f in vars(m).items()
            if n.startswith("test_") and callable(f) and f not in listed]


def main():
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens through a pipe
    ap = argparse.ArgumentParser(description="the integration tests (as root)")
    ap.add_argument("-k", metavar="SUBSTRING[,SUBSTRING...]", default="",
                    help="run only tests whose name contains one of the substrings")
    ap.add_argument("--list", action="store_true", help="print the names of the tests that would run")
    ap.add_argument("-v", action="store_true", help="print every check that passed too")
    args = ap.parse_args()
    only = [o for o in args.k.split(",") if o]
    lib.Check.verbose = args.v
    missing = unlisted()
    if missing:
        print(f"tests not in run.py's TESTS: {', '.join(missing)}", file=sys.stderr)
        return 2
    selected = [t for t in TESTS if not only or any(o in t.__name__ for o in only)]
    if os.environ.get("TASKMEM_PASS") == "sanitize":
        for t in PLAIN_PASS_ONLY:
            if t in selected:
                print(f"skip {t.__name__}: run once, in the plain pass")
        selected = [t for t in selected if t not in PLAIN_PASS_ONLY]
    if args.list:
        for t in selected:
            print(t.__name__)
        return 0
    results = {"passed": 0, "failed": 0}
    failed = []  # (name, reasons): repeated at the end, where a log's tail (CI's) shows them
    os.makedirs(lib.OUT, exist_ok=True)
    if not os.path.exists(lib.KNOWN_FILE):
        with open(lib.KNOWN_FILE, "wb") as f:
            f.write(os.urandom(64 * lib.MIB))
    for t in selected:
        t0 = time.time()
        # these machines are shared and noisy: a failed test runs once more, and a pass on the
        # second try is printed as FLAKY with the first failure's reasons, never silently
        first = None
        for attempt in range(2):
            c = lib.Check(t.__name__)
            try:
                t(c)
            except Exception as e:  # a crash is a failure, with its reason
                c.fails.append(f"exception: {e!r}")
            if not stat.S_ISCHR(os.stat("/dev/null").st_mode):
                # a test (or what it ran) removed the machine's /dev/null and a redirect made it
                # a regular file: say which, and put it back so the tests after it are not failed
                c.fails.append("/dev/null is no longer a character device after this test")
                os.unlink("/dev/null")
                os.mknod("/dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
                os.chmod("/dev/null", 0o666)
            if not c.fails:
                break
            if first is None:
                first = list(c.fails)
        if first and not c.fails:
            print(f"FLAKY {t.__name__}: failed once, passed on retry; first failure:")
            for f in first:
                print(f"     - {f}")
        status = "ok" if not c.fails else "FAIL"
        print(f"{status:4} {t.__name__} ({time.time()-t0:.1f}s)")
        for f in c.fails:
            print(f"     - {f}")
        results["passed" if not c.fails else "failed"] += 1
        if c.fails:
            failed.append((t.__name__, c.fails))
    for k, v in results.items():
        open(os.path.join(lib.OUT, k), "w").write(str(v))
    for name, fails in failed:
        print(f"failed: {name}: " + " | ".join(f[:300] for f in fails[:3]))
    print(f"integration: {results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
