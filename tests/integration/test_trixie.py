"""The rows of the trixie root (issue 17): JDK 21's virtual threads, go_bench built with Go 1.24
and rust_tokio_bench with Rust 1.85 + tokio 1.43, built by the root's toolchains (make
bench-trixie) and run there by chroot under the tool, against each runtime's own accounting,
as their older rows are in test_runtimes. Without the root each test fails: make trixie-root."""
import os
import subprocess

from lib import (MIB, ROOT, TRIXIE, common_checks, maxrss_untraced, memstats_of, proc_named, trace,
                 trixie_ready, trixie_run)
import test_runtimes

OPT = "/opt/taskmem-bench"  # where bench/Makefile's `trixie` installs them, in the root
# The tool builds a file's unwind table when a process first maps it and loads it into the
# kernel a little later: a program that mallocs at once, started right after the first process
# that mapped the root's libc (its env), has its first allocations walked by frame pointers,
# which stop in trixie's frameless malloc (heap/brk, not the caller's label). A shell of the
# root waits this long first, so libc's table is in (a known limit; the README says so).
SETTLE = 0.5
_built = []


def built(c):
    """The root is there and its programs are built (once per run of the suite)."""
    if not c.ok(trixie_ready(), f"no trixie root at {TRIXIE}/root: make trixie-root first"):
        return False
    if not _built:
        p = subprocess.run(["make", "-C", os.path.join(ROOT, "bench"), "trixie", f"TRIXIE={TRIXIE}"],
                           capture_output=True, text=True, timeout=900)
        if not c.ok(p.returncode == 0, f"make -C bench trixie: {p.stderr[-400:]}"):
            return False
        _built.append(True)
    return True


def named_share(data, pid, unjudged=()):
    """Share of the distinct frames of pid's stacks at the peak that have a name (the run's own
    counter also counts the root's short-lived helpers: mount, chroot, env), leaving out those
    of the modules named in unjudged (prefixes)."""
    frames = {f for s in data["peak"]["stacks"] if s["pid"] == pid for f in s["frames"]
              if not f.startswith(tuple(unjudged))}
    bad = [f for f in frames if "+0x" in f or f.startswith("[")]
    return 1 - len(bad) / max(1, len(frames)), len(frames)


# A young generation that holds every chunk (100k chunks are 95-120 MB): no collection runs
# while the tasks start, so each chunk's pages are first touched by the freeze that wrote it,
# not by G1's workers copying it (which cannot tell a chunk from another object)
VTHREADS_HEAP = "-Xms2g -Xmx2g -Xmn1536m"


def test_trixie_vthreads(c):
    """100k JDK 21 virtual threads: nothing dropped, parts add up, stack/virtual-thread within
    10% of the JVM's StackChunk bytes (GC.class_histogram), peak vs an untraced run."""
    if not built(c):
        return
    n, secs = 100000, 8
    env = {"JDK_JAVA_OPTIONS": VTHREADS_HEAP}
    cmd = [f"{OPT}/java_vthreads_bench", str(n), str(secs)]
    p, data = trace(["-q"], c.name, trixie_run(cmd, dict(env, TASKMEM_MEMSTATS="1"), SETTLE), timeout=300)
    if not common_checks(c, data, p):
        return
    c.ok(p.returncode == 0, f"exit code {p.returncode}: {p.stderr[-300:]}")
    ms = memstats_of(p.stderr)
    if not c.ok(ms is not None and "jdk.internal.vm.StackChunk.bytes" in ms, "the JVM printed its class histogram"):
        return
    c.ok(ms["jdk.internal.vm.StackChunk.count"] == n, f"{ms['jdk.internal.vm.StackChunk.count']} chunks for {n} tasks")
    c.ok(ms["gc_count"] == 0, f"no collection while the tasks started ({ms['gc_count']}): the chunks stayed put")
    # the label at the peak (the tasks' plateau: the chunks stay until the JVM exits) vs the
    # histogram's bytes at 0.8 S; pages vs objects: 10%
    vt = data["peak"]["labels"].get("stack/virtual-thread", 0)
    c.near(vt, ms["jdk.internal.vm.StackChunk.bytes"], 0.10, "stack/virtual-thread vs the JVM's StackChunk bytes")
    # the rest of the Java heap by its reservation's stack (ReservedHeapSpace, HeapRegionManager:
    # walked through the root's libc): with no collection, the touched heap is what was
    # allocated, heap_used (5%: the unused ends of the threads' allocation buffers)
    heap = data["peak"]["labels"].get("heap/java", 0) + vt
    c.near(heap, ms["heap_used"], 0.05, "heap/java + stack/virtual-thread vs the JVM's heap_used")
    jv = proc_named(data, "java")
    if c.ok(len(jv) == 1, "the JVM process is in the report"):
        c.near(jv[0]["peak_rss_bytes"], jv[0]["kernel_peak_rss_bytes"], 0.02,
               "JVM peak vs the kernel's high-water mark of the same run")
        share, nf = named_share(data, jv[0]["pid"])
        print(f"     vthreads {n}: stack/virtual-thread {vt / MIB:.1f} MiB, StackChunk "
              f"{ms['jdk.internal.vm.StackChunk.bytes'] / MIB:.1f} MiB, peak {jv[0]['peak_rss_bytes'] / MIB:.1f} MiB, "
              f"frames named {share:.0%} of {nf}")
    # 190-243 MiB in nine untraced runs here, traced 207-231: the chunks' size follows what the
    # JIT compiled by the time each task parked (interpreted frames are larger); one untraced
    # run 12% apart failed both tries (231 traced, 204.7 untraced): within the range of two
    # untraced runs, widened by 15%
    untraced = [maxrss_untraced(trixie_run(cmd, env))[0] for _ in range(2)]
    peak = data["peak"]["kernel_rss_bytes"]
    c.ok(None not in untraced and 0.85 * min(untraced) <= peak <= 1.15 * max(untraced),
         f"peak {peak / MIB:.1f} MiB vs two untraced runs' maxrss "
         f"{', '.join(f'{u / MIB:.1f}' for u in untraced if u)} MiB (15% beyond their range)")


def test_trixie_go(c):
    """go_bench 100000 built with Go 1.24 in the root: the checks of test_go_100k."""
    if not built(c):
        return
    cmd = [f"{OPT}/go_bench", "100000", "3"]
    p, data = trace([], c.name, trixie_run(cmd, {"TASKMEM_MEMSTATS": "1"}), timeout=300)
    if not common_checks(c, data, p):
        return
    ms = memstats_of(p.stderr)
    gb = proc_named(data, "go_bench")
    if not c.ok(ms is not None and len(gb) == 1, "go_bench printed MemStats, one go_bench process"):
        return
    c.near(gb[0]["at_tree_peak"]["categories"]["stack"], ms["StackInuse"], 0.10, "stack vs Go's StackInuse")
    top = data["peak"]["stacks"][0]
    c.ok(top["label"] == "stack/goroutine" and "runtime.malg" in top["frames"] and "main.main" in top["frames"],
         "the largest stack is goroutine stacks from runtime.malg under main.main")
    c.ok(data["peak"]["labels"].get("runtime/sched", 0) > 20 * MIB, "g structs counted as runtime/sched")
    share, nf = named_share(data, gb[0]["pid"])
    c.ok(share >= 0.98, f"Go frames named: {share:.1%} of {nf}")
    untraced, _ = maxrss_untraced(trixie_run(cmd))
    c.near(gb[0]["peak_rss_bytes"], untraced, 0.05, "peak vs untraced /usr/bin/time maxrss")


def test_trixie_tokio(c):
    """rust_tokio_bench 100000 built with Rust 1.85 + tokio 1.43 in the root: the checks of
    test_rt_rust_tokio (heap + task cells vs glibc's arena, stack/tokio-task >= 85% of it)."""
    if not built(c):
        return
    # SETTLE: see there; without it 21-37 MiB of 38 MiB of 100k tasks' cells were named in
    # four runs here, and none of 10k's
    cmd = [f"{OPT}/rust_tokio_bench", "100000", "3"]
    p, data = trace(["-q"], c.name, trixie_run(cmd, {"TASKMEM_MEMSTATS": "1"}, SETTLE), timeout=300)
    if not common_checks(c, data, p):
        return
    c.ok(p.returncode == 0, f"exit code {p.returncode}")
    ms = memstats_of(p.stderr)
    rb = proc_named(data, "rust_tokio_benc")
    if not c.ok(ms is not None and len(rb) == 1, "the benchmark printed glibc's accounting, one process"):
        return
    smp = test_runtimes.at_time(data, ms["t_s"])
    if c.ok(smp is not None, f"a timeline sample at {ms['t_s']} s"):
        test_runtimes.oracle_glibc(c, data, ms, smp, "stack/tokio-task", 0.85)
    # the root has no libc6-dbg: trixie's libc names only its exported functions (malloc's
    # insides are libc.so.6+0x...); the others are judged, as the bookworm row's all are
    share, nf = named_share(data, rb[0]["pid"], ("libc.so.6+", "ld-linux-x86-64.so.2+"))
    c.ok(share >= 0.70, f"frames named outside libc and ld.so: {share:.1%} of {nf} (want >= 70%)")
    untraced, _ = maxrss_untraced(trixie_run(cmd))
    c.near(data["peak"]["kernel_rss_bytes"], untraced, 0.05, "peak vs untraced /usr/bin/time maxrss")
