#!/usr/bin/env python3
"""Overhead of taskmem-trace beside the tools users would pick instead (issue 6).

Run through bench/overhead.sh (as root, after `make` and `make bench`). For each workload, every
contender runs once per repetition, in turn (untraced, taskmem-trace, perf, ...), so that the
machine's noise falls on all of them alike; the medians are compared with untraced's.

Every run goes through bench/bin/runstat, which measures from outside:
  CPU     user+sys of the whole tool command and everything it reaped (the BPF programs run in
          the faulting tasks, so their time is in the workload's sys time)
  wall    fork of the tool command to its reaping
  RSS     the tracer's own peak RSS: VmHWM of each of its processes, read when it enters exit()
          (ptrace exit stop), the workload excluded; the largest is shown
  latency from the workload's exit (its pidfd becoming readable) to the tool's exit(), which
          comes after its reports are written
and, from taskmem-trace's JSON, the traced peak (peak.rss_bytes), so that the tracer's peak RSS
is also given per GiB traced (issue 21: the tool's memory follows allocations, not pages).
"""
import argparse
import ctypes
import datetime
import json
import os
import re
import shlex
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "bench", "bin")

# What each contender records, for the notes under the table.
MEASURES = {
    "untraced": "nothing (the baseline)",
    "taskmem-trace": "resident bytes over time per process, user stack and category (every RSS "
                     "change the kernel reports, paired with the fault or syscall that caused it), "
                     "plus fault counts; frees and teardown included",
    "perf": "fault counts: one sample with the user+kernel call chain per page fault "
            "(`perf record -e page-faults -c 1 -g`), to a file; no sizes, no frees",
    "bpftrace": "fault counts per user stack (`@[ustack] = count()` on "
                "`tracepoint:exceptions:page_fault_user`, the command's own pid), printed at exit; "
                "no sizes, no frees, addresses unsymbolized once the process is gone",
    "sampled": "as taskmem-trace, with `--sample-bytes N`: every RSS change still counted "
               "(totals, categories, frees, timeline exact), the user stack walked for a "
               "Poisson-by-bytes sample of the growth, per-stack bytes estimated",
    "hooks-only": "nothing useful: a reference, not a contender. bpftrace counting the command's "
                  "page faults and RSS changes on the two tracepoints taskmem-trace needs "
                  "(`page_fault_user`, `kmem:rss_stat`), no stacks: what hooking them costs "
                  "before any work, and how much a run's CPU moves on its own (a ratio below "
                  "1 is noise: no tracer makes the workload cheaper)",
    "memleak": "heap bytes: outstanding malloc/calloc/realloc/mmap... allocations per stack "
               "(uprobes on libc), printed every interval; not resident bytes",
    "heaptrack": "heap bytes: every malloc/free with its stack (LD_PRELOAD), to a file; "
                 "not resident bytes",
    "massif": "mapped bytes over time (`--pages-as-heap=yes`: every mmap/brk page, touched or "
              "not) per stack, under valgrind's emulator; not resident bytes",
}


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def read_runstat(path):
    d = {"procs": []}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition(" ")
            if k == "proc":
                d["procs"].append(v)
            else:
                d[k] = float(v)
    return d


BPF_PROG_GET_FD_BY_ID = 13
SYS_BPF = 321  # x86-64
_libc = ctypes.CDLL(None, use_errno=True)


class BpfStats:
    """The kernel's run-time statistics (kernel.bpf_stats_enabled) of the BPF programs one
    tracer loaded: its processes' fds are polled for prog ids while it runs (never the whole
    machine's programs), and each program is held by an fd of ours, so that its final
    run_time_ns and run_cnt can still be read after the tracer has exited."""

    def __init__(self, parent):
        self.parent = parent
        self.fds = {}  # prog id -> our fd
        self.done = threading.Event()
        self.th = threading.Thread(target=self.poll, daemon=True)
        self.th.start()

    def pids(self):
        try:
            kids = open("/proc/%d/task/%d/children" % (self.parent, self.parent)).read().split()
        except OSError:
            return []
        return [int(k) for k in kids]

    def poll(self):
        while not self.done.is_set():
            for pid in self.pids():
                try:
                    names = os.listdir("/proc/%d/fdinfo" % pid)
                except OSError:
                    continue
                for n in names:
                    try:
                        m = re.search(r"^prog_id:\s+(\d+)", open("/proc/%d/fdinfo/%s" % (pid, n)).read(), re.M)
                    except OSError:
                        continue
                    if m and int(m.group(1)) not in self.fds:
                        self.grab(int(m.group(1)))
            self.done.wait(0.05)

    def grab(self, pid):
        attr = ctypes.create_string_buffer(struct.pack("III", pid, 0, 0), 128)
        fd = _libc.syscall(SYS_BPF, BPF_PROG_GET_FD_BY_ID, attr, 128)
        self.fds[pid] = fd if fd >= 0 else None

    def finish(self):
        """{prog name: (run_cnt, run_time_ns)}, and closes our fds."""
        self.done.set()
        self.th.join()
        out = {}
        for pid, fd in self.fds.items():
            if fd is None:
                continue
            info = open("/proc/self/fdinfo/%d" % fd).read()
            name = self.name(pid) or "prog%d" % pid
            os.close(fd)
            f = dict(re.findall(r"^(\w+):\s+(\S+)", info, re.M))
            cnt, ns = out.get(name, (0, 0))
            out[name] = (cnt + int(f.get("run_cnt", 0)), ns + int(f.get("run_time_ns", 0)))
        return out

    @staticmethod
    def name(pid):
        try:
            j = json.loads(subprocess.run(["bpftool", "-j", "prog", "show", "id", str(pid)],
                                          capture_output=True, text=True).stdout)
            return j.get("name")
        except (OSError, ValueError):
            return None


def get_bpf_stats():
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        return f.read().strip()


def set_bpf_stats(v):
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write(v)


# contenders whose BPF programs' run-time statistics are read
BPF_CONTENDERS = ("taskmem-trace", "sampled", "bpftrace", "hooks-only")


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="overhead.")
        self.tool = os.path.abspath(args.tool)
        self.runstat = os.path.join(BIN, "runstat")
        self.n = 0
        self.bpf_stats = False  # set while kernel.bpf_stats_enabled is on
        self.start_cpu = {}  # contender -> the tracer's own CPU on `sleep 3` (calibrate)

    def path(self, name):
        return os.path.join(self.tmp, name)

    # -- one run -------------------------------------------------------------------------
    def run(self, contender, cmd, tool_args=()):
        """Runs cmd under contender; returns a dict of figures, or None if it failed."""
        self.n += 1
        rs = self.path("rs%d" % self.n)
        out = self.path("out%d" % self.n)
        log = self.path("log%d" % self.n)
        comm = os.path.basename(cmd[0])[:15]
        for f in (out, out + ".zst", out + ".gz"):
            if os.path.exists(f):
                os.unlink(f)
        pre = [self.runstat, "-o", rs, "-w", comm, "--"]
        if contender == "untraced":
            argv = pre + cmd
        elif contender in ("taskmem-trace", "sampled"):
            if contender == "sampled":
                tool_args = ["--sample-bytes", str(self.args.sample_bytes)] + list(tool_args)
            argv = pre + [self.tool, "-q", "--json", out] + list(tool_args) + ["--"] + cmd
        elif contender == "perf":
            argv = pre + ["perf", "record", "-q", "-e", "page-faults", "-c", "1", "-g", "-o", out,
                          "--"] + cmd
        elif contender in ("bpftrace", "hooks-only"):
            with open(cmd[0], "rb") as f:
                elf = f.read(4) == b"\x7fELF"
            if not elf:  # bpftrace -c runs ELF files only; a launcher script then execs in place
                cmd = ["/bin/sh"] + cmd
                pre[pre.index("-w") + 1] = "sh"
            prog = ("tracepoint:exceptions:page_fault_user /pid == cpid/ { @[ustack] = count(); }"
                    if contender == "bpftrace" else
                    "tracepoint:exceptions:page_fault_user /pid == cpid/ { @faults = count(); } "
                    "tracepoint:kmem:rss_stat /pid == cpid/ { @rss = count(); }")
            argv = pre + ["bpftrace", "-o", out, "-c", " ".join(map(shlex.quote, cmd)), "-e", prog]
        elif contender == "heaptrack":
            argv = pre + ["heaptrack", "-o", out] + cmd
        elif contender == "massif":
            argv = pre + ["valgrind", "-q", "--tool=massif", "--pages-as-heap=yes",
                          "--massif-out-file=" + out] + cmd
        elif contender == "memleak":
            return self.run_memleak(cmd, rs, out, log)
        else:
            raise ValueError(contender)
        with open(log, "w") as lf:
            if self.bpf_stats and contender in BPF_CONTENDERS:
                set_bpf_stats("1")  # another user of the machine may have turned it off
            proc = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT, cwd=self.tmp)
            stats = BpfStats(proc.pid) if self.bpf_stats and contender in BPF_CONTENDERS else None
            rc = proc.wait()
        progs = stats.finish() if stats else None
        if progs is not None and get_bpf_stats() != "1":
            print("  kernel.bpf_stats_enabled was turned off during the run: its BPF figures "
                  "are left out", file=sys.stderr)
            progs = None
        if rc != 0 or not os.path.exists(rs):
            print("  %s failed (exit %d), see %s" % (contender, rc, log), file=sys.stderr)
            return None
        r = self.figures(read_runstat(rs), 0.0)
        r["progs"] = progs
        self.contender_events(contender, r, out, log)
        for f in (out, out + ".zst", out + ".gz"):  # perf.data of go_bench 1M is ~100 MB
            if os.path.exists(f):
                os.unlink(f)
        return r

    def run_memleak(self, cmd, rs, out, log):
        """bcc's memleak starts a -c command before it has compiled and attached its probes, so
        the workload is started stopped (c_faulter -s), memleak attached with -p, the workload
        continued once memleak says it is attaching, and memleak interrupted when it exits."""
        if os.path.basename(cmd[0]) != "c_faulter":
            return None
        wl = subprocess.Popen([cmd[0], "-s"] + cmd[1:], stderr=subprocess.DEVNULL)
        os.waitpid(wl.pid, os.WUNTRACED)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        ksrc = self.kernel_headers()
        if ksrc:
            env["BCC_KERNEL_SOURCE"] = ksrc
        with open(out, "w") as of:
            tool = subprocess.Popen([self.runstat, "-o", rs, "-p", str(wl.pid), "-k",
                                     str(int(signal.SIGINT)), "--", "memleak-bpfcc", "-p",
                                     str(wl.pid), "1"], stdout=of, stderr=subprocess.STDOUT,
                                    env=env, cwd=self.tmp)
            deadline = time.time() + 120
            while time.time() < deadline and tool.poll() is None:
                with open(out) as f:
                    if "Attaching to pid" in f.read():
                        break
                time.sleep(0.02)
            time.sleep(0.2)  # the uprobes are attached right after that line
            os.kill(wl.pid, signal.SIGCONT)
            _, _, ru = os.wait4(wl.pid, 0)
            rc = tool.wait()
        if rc != 0 or not os.path.exists(rs):
            print("  memleak failed (exit %d), see %s" % (rc, out), file=sys.stderr)
            os.rename(out, log)
            return None
        r = self.figures(read_runstat(rs), ru.ru_utime + ru.ru_stime)
        r["latency"] = None  # periodic output, stopped by SIGINT: no end-of-run report
        return r

    def kernel_headers(self):
        """bcc compiles its BPF C against kernel headers; this kernel ships none, so give it
        Debian's (linux-headers-amd64, an older kernel's) as one tree in the layout bcc expects.
        memleak only uses uprobes, whose ABI does not depend on the headers' version."""
        if "BCC_KERNEL_SOURCE" in os.environ or os.path.isdir(
                "/lib/modules/%s/build" % os.uname().release):
            return None
        tree = self.path("kernel-headers")
        if os.path.isdir(tree):
            return tree
        arch = sorted(d for d in os.listdir("/usr/src") if re.match(r"linux-headers-.*-amd64$", d))
        if not arch:
            return None
        common = re.sub(r"-amd64$", "-common", arch[-1])

        def merge(dst, srcs):
            os.makedirs(dst, exist_ok=True)
            names = {}
            for src in srcs:
                for n in os.listdir(src):
                    names.setdefault(n, []).append(os.path.join(src, n))
            for n, ps in names.items():
                dirs = [p for p in ps if os.path.isdir(p) and not os.path.islink(p)]
                if len(dirs) > 1:
                    merge(os.path.join(dst, n), dirs)
                else:
                    os.symlink(ps[0], os.path.join(dst, n))
        merge(tree, ["/usr/src/" + arch[-1], "/usr/src/" + common])
        return tree

    def figures(self, d, extra_cpu):
        r = {"cpu": d["cpu_s"] + extra_cpu, "wall": d["wall_s"], "status": d["status"],
             "rss_kb": d["tracer_hwm_kb"] if d["tracer_hwm_kb"] >= 0 else None, "latency": None,
             "dropped": None, "events": None, "procs": d["procs"],
             "tracer_cpu": d.get("tracer_cpu_s")}
        if d["workload_exit_s"] >= 0 and d["tool_exit_s"] >= 0:
            r["latency"] = d["tool_exit_s"] - d["workload_exit_s"]
        return r

    def contender_events(self, contender, r, out, log):
        """What the contender itself says it recorded and lost."""
        try:
            if contender in ("taskmem-trace", "sampled"):
                with open(out) as f:
                    j = json.load(f)
                ev = j["events"]
                r["rss_updates"] = ev["rss_updates"]
                r["dropped"] = ev["dropped"]
                r["events"] = ev["page_faults"]  # comparable with perf's and bpftrace's
                r["faults"] = ev["page_faults"]
                r["processed"] = ev["events_processed"]
                r["duration"] = j["duration_s"]
                r["traced"] = j["peak"]["rss_bytes"]
            elif contender == "perf":
                st = subprocess.run(["perf", "report", "-i", out, "--stats"], capture_output=True,
                                    text=True).stdout
                m = re.search(r"SAMPLE events:\s+(\d+)", st)
                r["events"] = int(m.group(1)) if m else None
                lost = re.findall(r"LOST(?:_SAMPLES)? events:\s+(\d+)", st)
                r["dropped"] = sum(int(x) for x in lost)
            elif contender == "bpftrace":
                with open(out) as f:
                    r["events"] = sum(int(x) for x in re.findall(r"\]: (\d+)$", f.read(), re.M))
                with open(log) as f:
                    m = re.search(r"Lost (\d+) events", f.read())
                r["dropped"] = int(m.group(1)) if m else 0
            elif contender == "hooks-only":
                with open(out) as f:
                    txt = f.read()
                m = re.search(r"^@faults: (\d+)$", txt, re.M)
                r["events"] = int(m.group(1)) if m else None
                m = re.search(r"^@rss: (\d+)$", txt, re.M)
                r["rss_updates"] = int(m.group(1)) if m else None
        except (OSError, ValueError, KeyError) as e:
            print("  cannot read %s's output: %s" % (contender, e), file=sys.stderr)
        if r["procs"] and self.args.verbose:
            print("    processes (pid comm VmHWM kB): " + "; ".join(r["procs"]))

    # -- what the hooks cost on other processes' events ---------------------------------------
    def calibrate(self, contenders):
        """Each tracer's programs on `sleep 3`: every run is another process's event (the hooks
        fire for the whole machine), so their ns per run is what a run that filters the event
        out costs; per_event_table takes that many runs' worth out of a workload's totals."""
        out = {}
        sleep = ["/bin/sleep", "3"]
        for c in contenders:
            if c not in BPF_CONTENDERS or c == "bpftrace":  # bpftrace's hook is hooks-only's
                continue
            r = self.run(c, sleep)
            if r and r.get("progs"):
                out[c] = {n: ns / cnt for n, (cnt, ns) in r["progs"].items() if cnt}
                self.start_cpu[c] = r.get("tracer_cpu")
                print("  idle %-13s %s" % (c, "; ".join("%s %.0f ns" % (n, v) for n, v in
                                                        sorted(out[c].items()))), flush=True)
        if "hooks-only" in out:
            out["bpftrace"] = {n: v for n, v in out["hooks-only"].items() if "page_fault" in n}
        for a, b in (("sampled", "taskmem-trace"), ("taskmem-trace", "sampled")):
            if b in out and a not in out:  # the same programs filter others' events alike
                out[a] = out[b]
                self.start_cpu[a] = self.start_cpu.get(b)
        return out

    # -- one workload ----------------------------------------------------------------------
    def workload(self, name, cmd, contenders):
        print("== %s: %s" % (name, " ".join(cmd)), flush=True)
        slow = {"memleak", "heaptrack", "massif"}
        res = {c: [] for c in contenders}
        for rep in range(self.args.reps):
            for c in contenders:
                if c in slow and rep >= self.args.slow_reps:
                    continue
                r = self.run(c, cmd)
                if r is None:
                    continue
                r["rep"] = rep
                res[c].append(r)
                print("  rep %d %-13s wall %6.2f s  cpu %6.2f s  rss %s  latency %s  dropped %s"
                      % (rep + 1, c, r["wall"], r["cpu"], fmt_mb(r["rss_kb"]),
                         fmt_s(r["latency"]), r["dropped"] if r["dropped"] is not None else "-"),
                      flush=True)
        return res

    # -- the rate sweep ------------------------------------------------------------------------
    def sweep(self):
        """taskmem-trace alone on c_faulter, pacing raised step by step, then more threads."""
        print("== rate sweep: taskmem-trace on c_faulter", flush=True)
        rows = []
        secs = self.args.sweep_seconds
        steps = [(2, r, None) for r in self.args.sweep_rates] + \
            [(t, 0, None) for t in self.args.sweep_threads] + \
            [(t, 0, mb) for mb in self.args.sweep_ringbuf for t in (2, 8)]
        for threads, rate, ringbuf in steps:
            mib = max(threads, int((rate or 250000) * secs * 4096 / (1 << 20)))
            mib -= mib % threads
            cmd = [os.path.join(BIN, "c_faulter"), str(threads), str(mib), str(rate)]
            r = self.run("taskmem-trace", cmd,
                         ["--ringbuf-size", str(ringbuf)] if ringbuf else [])
            if r is None or r.get("duration") is None:
                continue
            r["threads"], r["rate"], r["ringbuf"] = threads, rate, ringbuf
            r["fault_rate"] = r["faults"] / r["duration"]
            r["event_rate"] = r["processed"] / r["duration"]
            rows.append(r)
            print("  threads %d pace %-7s ringbuf %-7s faults/s %8.0f events/s %8.0f dropped %d "
                  "tracer cpu %.2f s" % (threads, rate or "max", ringbuf or "default",
                                         r["fault_rate"], r["event_rate"], r["dropped"],
                                         r["tracer_cpu"] or 0), flush=True)
        return rows


    # -- idle cost ---------------------------------------------------------------------------
    def idle(self):
        """go_bench N with a short and a long sleep after its growth, untraced and traced: what
        tracing costs per second of a command that no longer grows (it should cost nothing)."""
        n, long_s = self.args.idle_tasks, self.args.idle_seconds
        print("== idle: go_bench %d, 2 s and %d s of sleep" % (n, long_s), flush=True)
        runs = {}
        for secs in (2, long_s):
            cmd = [os.path.join(BIN, "go_bench"), str(n), str(secs)]
            for c in ("untraced", "taskmem-trace"):
                r = self.run(c, cmd)
                if r is None:
                    return None
                runs[c, secs] = r
                print("  %-13s sleep %3d s: cpu %6.2f s  tracer cpu %s  rss %s" % (
                    c, secs, r["cpu"], fmt_s(r["tracer_cpu"]), fmt_mb(r["rss_kb"])), flush=True)
        extra = long_s - 2
        over = lambda secs: runs["taskmem-trace", secs]["cpu"] - runs["untraced", secs]["cpu"]
        return {"tasks": n, "seconds": extra,
                "overhead_per_s": (over(long_s) - over(2)) / extra,
                "tracer_per_s": ((runs["taskmem-trace", long_s]["tracer_cpu"] or 0) -
                                 (runs["taskmem-trace", 2]["tracer_cpu"] or 0)) / extra,
                "rss_short": runs["taskmem-trace", 2]["rss_kb"],
                "rss_long": runs["taskmem-trace", long_s]["rss_kb"]}


def idle_text(r):
    return ("go_bench %d, sleeping %d s longer after its growth: tracing overhead %+.1f ms of CPU "
            "per idle second (whole command, traced minus untraced), of which the tracer process "
            "%+.1f ms; tracer peak RSS %s vs %s. The cost is in the growth, not in the time it "
            "runs: the tool polls the ring buffer every 5 ms while events flow and every 50 ms "
            "when none come, and a timeline sample is only taken when something changed." % (
                r["tasks"], r["seconds"], 1000 * r["overhead_per_s"], 1000 * r["tracer_per_s"],
                fmt_mb(r["rss_long"]), fmt_mb(r["rss_short"])))


def fmt_mb(kb):
    return "-" if kb is None else "%.0f MB" % (kb * 1024 / 1e6)


def fmt_s(s):
    return "-" if s is None else "%.2f s" % s


def paired(runs, base, key):
    """Each run against the untraced run of the same repetition (they ran back to back, so
    slow drifts of the machine's load cancel): median, min and max of the ratios."""
    b = {r["rep"]: r[key] for r in base}
    xs = sorted(r[key] / b[r["rep"]] for r in runs if b.get(r["rep"]))
    return (statistics.median(xs), xs[0], xs[-1]) if xs else None


def fmt_ratio(t):
    if t is None:
        return "-"
    return "%.3f" % t[0] if t[1] == t[2] else "%.2f (%.2f-%.2f)" % t


def table(results):
    lines = ["| workload | contender | runs | CPU ratio | wall ratio | tracer's own CPU | "
             "tracer peak RSS | per traced GiB | exit to reports | dropped | faults recorded |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for wname, res in results:
        base = res.get("untraced") or []
        for c, runs in res.items():
            if not runs:
                continue
            rss = median(r["rss_kb"] for r in runs)
            lat = median(r["latency"] for r in runs)
            tcpu = median(r["tracer_cpu"] for r in runs)
            drops = [r["dropped"] for r in runs if r["dropped"] is not None]
            evs = median(r["events"] for r in runs)
            per = median(r["rss_kb"] * 1024 / 1e6 / (r["traced"] / 2**30) for r in runs
                         if r.get("traced") and r["rss_kb"] is not None)
            if c == "untraced":
                cr = "%.2f s" % median(r["cpu"] for r in runs)
                wr = "%.2f s" % median(r["wall"] for r in runs)
                rss_s = lat_s = tcpu_s = "-"
            else:
                cr, wr = fmt_ratio(paired(runs, base, "cpu")), fmt_ratio(paired(runs, base, "wall"))
                rss_s = fmt_mb(rss) + (" (incl. workload)" if c == "massif" else "")
                lat_s = fmt_s(lat) if lat is not None else (
                    "in-process" if c == "massif" else "n/a (periodic)" if c == "memleak" else "-")
                tcpu_s = ("%.2f s" % tcpu if tcpu is not None else "-") + (
                    " (incl. workload)" if c == "massif" else "")
            lines.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                wname, c, len(runs), cr, wr, tcpu_s, rss_s,
                "%.1f MB" % per if per is not None else "-", lat_s,
                " ".join(str(d) for d in drops) if drops else "n/a",
                "%.0f" % evs if evs is not None else "-"))
    return "\n".join(lines)


def own_ns(r, idle):
    """The run time of a run's programs on the command's own events: their total, less each
    program's runs beyond the command's events (others', filtered out) at what such a run costs
    (calibrate). The command's events: RSS changes for rss_stat, faults for the fault hooks; its
    syscalls are counted as others' (a few hundred here)."""
    tot = 0
    for n, (cnt, ns) in r["progs"].items():
        mine = r.get("rss_updates") if "rss_stat" in n else (
            r.get("events") if "page_fault_user" in n else 0)
        tot += ns - max(0, cnt - (mine or 0)) * idle.get(n, 0)
    return tot


def per_event_table(results, idle_cost=None, start_cpu=None):
    """Per-event costs, which whole-run ratios drown in noise: the kernel's run-time statistics
    of each tracer's own BPF programs (kernel.bpf_stats_enabled; the clock reads they add are in
    them), over the command's RSS changes and faults, and the tracer's own CPU per event."""
    idle_cost = idle_cost or {}
    lines = ["| workload | contender | BPF ns per RSS change | BPF ns per fault | "
             "the command's own, per RSS change | ns per run, by program | "
             "tracer's own CPU per record | per RSS change |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    notes = []
    for wname, res in results:
        per_rss = {}
        for c, runs in res.items():
            runs = [r for r in runs if r.get("progs")]
            if not runs:
                continue
            tot = lambda r: sum(ns for _, ns in r["progs"].values())
            rss = median(tot(r) / r["rss_updates"] for r in runs if r.get("rss_updates"))
            flt = median(tot(r) / r["events"] for r in runs if r.get("events"))
            own = median(own_ns(r, idle_cost.get(c, {})) / r["rss_updates"] for r in runs
                         if r.get("rss_updates")) if idle_cost.get(c) else None
            per_rss[c] = own
            names = sorted({n for r in runs for n in r["progs"]},
                           key=lambda n: -median(r["progs"].get(n, (0, 0))[1] for r in runs))
            by = []
            for n in names[:3]:
                v = median(r["progs"][n][1] / r["progs"][n][0] for r in runs
                           if r["progs"].get(n, (0, 0))[0])
                runs_n = median(r["progs"][n][0] for r in runs if n in r["progs"])
                if v is not None:
                    by.append("%s %.0f (%.0fk runs)" % (n.replace("handle_", ""), v, runs_n / 1000))
            # less its start and end (the verifier: 0.1-0.4 s), as on `sleep 3`
            st = (start_cpu or {}).get(c) or 0
            tcpu = median((r["tracer_cpu"] - st) / r["processed"] for r in runs
                          if r.get("processed") and r.get("tracer_cpu") is not None)
            own_rss = median((r["tracer_cpu"] - st) / r["rss_updates"] for r in runs
                             if r.get("processed") and r.get("rss_updates") and
                             r.get("tracer_cpu") is not None)
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                wname, c, "%.0f" % rss if rss is not None else "-",
                "%.0f" % flt if flt is not None else "-", "%.0f" % own if own is not None else "-",
                "; ".join(by) or "-",
                "%.2f us" % (tcpu * 1e6) if tcpu is not None else "-",
                "%.2f us" % (own_rss * 1e6) if own_rss is not None else "-"))
        h = per_rss.get("hooks-only")
        for c in ("taskmem-trace", "sampled"):
            if per_rss.get(c) is not None and h is not None:
                notes.append("%s, %s: %.2f us of BPF per RSS change of the command beyond "
                             "hooks-only's" % (wname, c, (per_rss[c] - h) / 1000))
    return "\n".join(lines) + ("\n\n" + "; ".join(notes) + "." if notes else "")


def sweep_table(rows):
    lines = ["| threads | pace (pages/s) | ring buffer | faults/s seen | events/s processed | "
             "dropped | tracer's own CPU / wall |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append("| %d | %s | %s | %.0f | %.0f | %d | %.0f%% |" % (
            r["threads"], r["rate"] or "max", "%d MB" % r["ringbuf"] if r["ringbuf"] else "default",
            r["fault_rate"], r["event_rate"], r["dropped"],
            100 * (r["tracer_cpu"] or 0) / r["duration"]))
    clean = [r for r in rows if r["dropped"] == 0 and not r["ringbuf"]]
    dirty = [r for r in rows if r["dropped"] > 0 and not r["ringbuf"]]
    best = max(clean, key=lambda r: r["event_rate"]) if clean else None
    if best:
        s = ("Highest rate with nothing dropped: %.0f events/s (%.0f faults/s, %d threads, pace %s)."
             % (best["event_rate"], best["fault_rate"], best["threads"], best["rate"] or "max"))
    else:
        s = "Every step dropped events."
    if dirty:
        first = min(dirty, key=lambda r: r["event_rate"])
        s += " First drops at %.0f events/s (%d threads, pace %s): %d dropped." % (
            first["event_rate"], first["threads"], first["rate"] or "max", first["dropped"])
    else:
        s += " Nothing dropped at any step, up to what the faulter reached under tracing."
    small = [r for r in rows if r["ringbuf"]]
    if small:
        s += " With a smaller ring buffer: " + "; ".join(
            "%d MB, %d threads: %d dropped at %.0f events/s" % (
                r["ringbuf"], r["threads"], r["dropped"], r["event_rate"]) for r in small) + "."
    return "\n".join(lines) + "\n\n" + s


def own_cpu(tool, cmd, js):
    """The tool's own user+sys CPU seconds (its children excluded: read from its zombie before it
    is reaped) on cmd, and its JSON report."""
    if os.path.exists(js):
        os.unlink(js)
    p = subprocess.Popen([tool, "-q", "--json", js, "--"] + cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    while os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
        time.sleep(0.05)
    st = open("/proc/%d/stat" % p.pid).read()
    f = st[st.rindex(")") + 2:].split()
    cpu = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    p.wait()
    return cpu, json.load(open(js)) if os.path.exists(js) else None


def replay_cpu(tool, rec, js):
    """User+sys CPU seconds of `tool report rec` (the accountant alone, no BPF load or events)."""
    p = subprocess.Popen([tool, "report", rec, "--json", js], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    return ru.ru_utime + ru.ru_stime


def callgrind_per_record(tool, rec, tmp):
    """Instructions per record of `tool report rec` under callgrind (repeatable on a shared
    machine, where CPU seconds are not): the whole replay's, and the accountant's alone
    (account__event and what it calls: the replay's decompression and decoding left out).
    None without valgrind or the tool's symbols."""
    out, js = os.path.join(tmp, "cg.out"), os.path.join(tmp, "cg.json")
    try:
        subprocess.call(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, tool, "report",
                         "-q", rec, "--json", js], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", out], capture_output=True,
                             text=True).stdout
        n = json.load(open(js))["events"]["events_processed"]
    except (OSError, ValueError, KeyError):
        return None
    tot = re.search(r"^\s*([\d,]+)\s.*PROGRAM TOTALS", ann, re.M)
    acc = re.search(r"^\s*([\d,]+)\s.*:account__event\s", ann, re.M)
    if not (tot and acc and n):
        return None
    return tuple(int(m.group(1).replace(",", "")) / n for m in (tot, acc))


def replayed(args, name, cmd, tmp):
    """cmd recorded once by --base, replayed by both builds alternately: the per-event CPU of
    the accountant alone (a live run also counts the BPF programs' load, whose verifier time
    differs between builds by more than the events' share), and its instructions per record."""
    rec = os.path.join(tmp, "replay.rec")
    if subprocess.call([args.base, "record", "-o", rec, "-q", "--"] + cmd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        return "%s replayed: --base cannot record" % name
    a, b = [], []
    for _ in range(max(args.reps, 10)):
        a.append(replay_cpu(args.tool, rec, os.path.join(tmp, "ra.json")))
        b.append(replay_cpu(args.base, rec, os.path.join(tmp, "rb.json")))
    rs = sorted(x / y for x, y in zip(a, b) if y)
    line = "%s replayed (its --base recording): this build / --base: %.2f (%.2f-%.2f); " \
        "%.3f s vs %.3f s (medians of %d)" % (name, median(a) / median(b), rs[0], rs[-1], median(a),
                                              median(b), len(a))
    ca, cb = callgrind_per_record(args.tool, rec, tmp), callgrind_per_record(args.base, rec, tmp)
    if ca and cb:
        line += "; instructions per record, the replay's / the accountant's: %.0f / %.0f vs %.0f / %.0f " \
            "(%.2f / %.2f)" % (ca[0], ca[1], cb[0], cb[1], ca[0] / cb[0], ca[1] / cb[1])
    os.unlink(rec)
    print(line, flush=True)
    return line


def tool_cpu(args):
    """The tool's own CPU per event, as ratios measured side by side (issues 21 and 15): a random
    fill of 4 GiB (fill 4096 50) against --base (the build before page records were runs: the
    per-page hash map), and 60k one-page file mappings against 100, 2M faults each
    (tests/programs/budget.c `files`, as test_budget_labels). Each pair alternates, --reps
    times; the medians' ratio is printed, with the min-max of the repetitions' ratios. With
    --base, the fill, go_bench (--go) and c_faulter (--c) are also recorded by --base and
    replayed by both (replayed), with callgrind's instructions per record where valgrind is."""
    tmp = tempfile.mkdtemp(prefix="toolcpu.")
    progs = {}
    for name in ("fill", "budget"):
        progs[name] = os.path.join(tmp, name)
        if subprocess.call(["cc", "-O1", "-fno-omit-frame-pointer", "-o", progs[name],
                            os.path.join(ROOT, "tests", "programs", name + ".c")]):
            sys.exit("overhead: cannot build tests/programs/%s.c" % name)
    files = os.path.join(tmp, "files")
    os.mkdir(files)
    for i in range(60000):
        with open(os.path.join(files, "f%d" % i), "wb") as f:
            f.write(b"x" * 4096)
    pairs = [("fill 4096 50: this build / --base", args.tool, progs["fill"] + " 4096 50",
              args.base, progs["fill"] + " 4096 50")] if args.base else []
    pairs.append(("budget files, 2M faults: 60000 files / 100", args.tool,
                  "%s files %s 60000 2000000" % (progs["budget"], files), args.tool,
                  "%s files %s 100 2000000" % (progs["budget"], files)))
    lines = []
    if args.base:
        lines.append(replayed(args, "fill 4096 50", [progs["fill"], "4096", "50"], tmp))
        lines.append(replayed(args, "go_bench " + args.go, [os.path.join(BIN, "go_bench")] + args.go.split(), tmp))
        lines.append(replayed(args, "c_faulter " + args.c, [os.path.join(BIN, "c_faulter")] + args.c.split(), tmp))
    for name, t1, c1, t2, c2 in pairs:
        a, b = [], []
        for _ in range(args.reps):
            a.append(own_cpu(t1, c1.split(), os.path.join(tmp, "a.json"))[0])
            b.append(own_cpu(t2, c2.split(), os.path.join(tmp, "b.json"))[0])
        rs = sorted(x / y for x, y in zip(a, b) if y)
        lines.append("%s: %.2f (%.2f-%.2f); %.2f s vs %.2f s of the tool's own CPU (medians of %d)" % (
            name, median(a) / median(b), rs[0], rs[-1], median(a), median(b), args.reps))
        print(lines[-1], flush=True)
    subprocess.call(["rm", "-rf", tmp])
    return lines


def stack_bytes(js):
    """Bytes at the peak per label and frames (processes merged), and the peak."""
    out = {}
    for s in js["peak"]["stacks"]:
        if s["frames"] == ["[unsampled]"]:
            continue
        k = (s["label"], tuple(s["frames"]))
        out[k] = out.get(k, 0) + s["bytes"]
    return out, js["peak"]["rss_bytes"]


def sample_accuracy(args):
    """Per-stack bytes at the peak of --sample-bytes runs against exact runs of the same command,
    for the stacks holding >= 1% of the peak (issue 18's target: within 5%): each sampled run
    (its own draws) against the first exact run, and a second exact run against the first, which
    says how far two runs differ on their own."""
    tmp = tempfile.mkdtemp(prefix="accuracy.")
    lines = []
    for spec in args.accuracy_cmds:
        cmd = spec.split()
        cmd[0] = os.path.join(BIN, cmd[0]) if not os.path.isabs(cmd[0]) else cmd[0]

        def run(extra, name):
            js = os.path.join(tmp, name + ".json")
            subprocess.call([args.tool, "-q", "--json", js] + extra + ["--"] + cmd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return stack_bytes(json.load(open(js)))
        ref, peak = run([], "exact0")
        big = {k: v for k, v in ref.items() if v >= 0.01 * peak}

        def errs(got):
            return [abs(got.get(k, 0) - v) / v for k, v in big.items()]
        rows = [("exact, another run", errs(run([], "exact1")[0]))]
        for n in args.accuracy_bytes:
            for i in range(args.accuracy_seeds):
                rows.append(("--sample-bytes %d, run %d" % (n, i + 1),
                             errs(run(["--sample-bytes", str(n)], "s%d_%d" % (n, i))[0])))
        lines.append("%s: %d stacks hold >= 1%% of the %.0f MiB peak (%.0f%% of it)" % (
            spec, len(big), peak / 2**20, 100 * sum(big.values()) / peak))
        for name, e in rows:
            e = sorted(e)
            lines.append("  %-28s within 5%%: %d of %d; error median %.1f%%, worst %.1f%%" % (
                name, sum(1 for x in e if x <= 0.05), len(e), 100 * statistics.median(e) if e else 0,
                100 * e[-1] if e else 0))
        for l in lines[-len(rows) - 1:]:
            print(l, flush=True)
    subprocess.call(["rm", "-rf", tmp])
    return lines


def main():
    # memleak is stopped with SIGINT: a shell's background job starts with SIGINT ignored, and
    # an ignored signal stays ignored across exec; a handler here resets to default in children
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reps_pos", nargs="?", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--reps", type=int, default=int(os.environ.get("REPS", 3)),
                    help="repetitions per contender (default $REPS or 3)")
    ap.add_argument("--slow-reps", type=int, help="repetitions for memleak, heaptrack, massif "
                    "(default: --reps)")
    ap.add_argument("--workloads", default="go,c,python", help="go, c, python, fill, random "
                    "(default: go,c,python)")
    ap.add_argument("--sample-bytes", type=int, default=524288,
                    help="--sample-bytes of the 'sampled' contender (default: 524288)")
    ap.add_argument("--no-bpf-stats", action="store_true", help="do not turn on "
                    "kernel.bpf_stats_enabled for the per-event costs (its clock reads cost "
                    "every BPF program of the machine ~20-40 ns a run while it is on)")
    ap.add_argument("--contenders", default="untraced,taskmem-trace,sampled,perf,bpftrace,hooks-only,"
                    "memleak,heaptrack,massif",
                    help="default: all (the last three on the C workload only)")
    ap.add_argument("--go", default="1000000 2", help="go_bench arguments (default: 1000000 2)")
    ap.add_argument("--c", default="2 4096", help="c_faulter arguments: THREADS MIB [PAGES_PER_S] "
                    "(default: 2 4096)")
    ap.add_argument("--python", default="100000", help="python_bench arguments (default: 100000)")
    ap.add_argument("--fill", default="8192", help="workload fill: tests/programs/fill.c MIB, one "
                    "mapping written page by page (default: 8192)")
    ap.add_argument("--random", default="4096 50", help="workload random: fill MIB PERCENT, that "
                    "share of its pages in random order (default: 4096 50)")
    ap.add_argument("--tool", default=os.path.join(ROOT, "taskmem-trace"),
                    help="the taskmem-trace binary (default: ./taskmem-trace)")
    ap.add_argument("--no-idle", action="store_true", help="skip the idle-cost runs")
    ap.add_argument("--idle-tasks", type=int, default=100000, help="go_bench N of the idle runs")
    ap.add_argument("--idle-seconds", type=int, default=32,
                    help="the long sleep of the idle runs (the short one is 2 s)")
    ap.add_argument("--no-sweep", action="store_true", help="skip the rate sweep")
    ap.add_argument("--sweep-rates", default="50000,100000,150000,200000",
                    help="paces (pages/s) of 2 faulter threads")
    ap.add_argument("--sweep-threads", default="1,2,4,8",
                    help="then unpaced with these many threads")
    ap.add_argument("--sweep-seconds", type=float, default=3, help="length of each step")
    ap.add_argument("--sweep-ringbuf", default="1", help="then unpaced, 2 and 8 threads, with "
                    "these --ringbuf-size values (MB)")
    ap.add_argument("-o", "--out", default=os.path.join(ROOT, "bench", "out", "overhead.md"),
                    help="Markdown report (default: bench/out/overhead.md)")
    ap.add_argument("-v", "--verbose", action="store_true", help="per-process peaks of each run")
    ap.add_argument("--tool-cpu", action="store_true", help="only the tool's own CPU per event, "
                    "as ratios: a random 4 GiB fill against --base (live and replayed), go_bench "
                    "and c_faulter replayed, 60k mapped files against 100")
    ap.add_argument("--base", help="with --tool-cpu: the build to compare with (e.g. one of the "
                    "commit before 7aacf76, which made page records runs); its recordings are "
                    "replayed by both, also under callgrind (instructions per record)")
    ap.add_argument("--accuracy", action="store_true", help="only the per-stack accuracy of "
                    "--sample-bytes against exact runs (--accuracy-cmds, --accuracy-bytes)")
    ap.add_argument("--accuracy-cmds", default="go_bench 1000000 2;python_bench 100000",
                    help="commands (bench/bin/ names), ';'-separated")
    ap.add_argument("--accuracy-bytes", default="524288,65536", help="--sample-bytes values")
    ap.add_argument("--accuracy-seeds", type=int, default=3, help="sampled runs of each")
    args = ap.parse_args()
    args.accuracy_cmds = [c.strip() for c in args.accuracy_cmds.split(";") if c.strip()]
    args.accuracy_bytes = [int(x) for x in args.accuracy_bytes.split(",") if x]
    if args.reps_pos:
        args.reps = args.reps_pos
    if args.slow_reps is None:
        args.slow_reps = args.reps
    args.sweep_rates = [int(x) for x in args.sweep_rates.split(",") if x]
    args.sweep_threads = [int(x) for x in args.sweep_threads.split(",") if x]
    args.sweep_ringbuf = [int(x) for x in args.sweep_ringbuf.split(",") if x]
    if os.geteuid() != 0:
        sys.exit("overhead: run as root (the tracers need it)")
    if args.accuracy:
        sample_accuracy(args)
        return
    if args.tool_cpu:
        if not os.path.ismount("/sys/kernel/tracing"):
            subprocess.call(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"])
        tool_cpu(args)
        return
    for f in ("runstat", "c_faulter", "go_bench"):
        if not os.access(os.path.join(BIN, f), os.X_OK):
            sys.exit("overhead: bench/bin/%s missing: run `make bench`" % f)
    if not os.access(args.tool, os.X_OK):
        sys.exit("overhead: %s missing: run `make`" % args.tool)
    if not os.path.ismount("/sys/kernel/tracing"):
        subprocess.call(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"])
    tools = {"perf": "perf", "bpftrace": "bpftrace", "hooks-only": "bpftrace", "memleak": "memleak-bpfcc",
             "heaptrack": "heaptrack", "massif": "valgrind"}
    contenders = []
    for c in args.contenders.split(","):
        exe = tools.get(c)
        if exe and not any(os.access(os.path.join(d, exe), os.X_OK)
                           for d in os.environ.get("PATH", "").split(":") + ["/usr/sbin"]):
            print("overhead: %s not installed (scripts/install-deps.sh): skipped" % exe)
            continue
        contenders.append(c)
    os.environ["PATH"] += ":/usr/sbin"

    b = Bench(args)
    c_only = {"memleak", "heaptrack", "massif"}
    workloads = []
    for w in args.workloads.split(","):
        if w == "go":
            workloads.append(("go_bench " + args.go, [os.path.join(BIN, "go_bench")] +
                              args.go.split(), [c for c in contenders if c not in c_only]))
        elif w == "c":
            workloads.append(("c_faulter " + args.c, [os.path.join(BIN, "c_faulter")] +
                              args.c.split(), contenders))
        elif w == "python":
            py = os.path.join(BIN, "python_bench")
            if not os.access(py, os.X_OK):
                print("overhead: bench/bin/python_bench not there yet: python workload skipped")
                continue
            workloads.append(("python_bench " + args.python, [py] + args.python.split(),
                              [c for c in contenders if c not in c_only]))
        elif w in ("fill", "random"):
            fill = b.path("fill")
            if not os.path.exists(fill) and subprocess.call(
                    ["cc", "-O1", "-fno-omit-frame-pointer", "-o", fill,
                     os.path.join(ROOT, "tests", "programs", "fill.c")]):
                sys.exit("overhead: cannot build tests/programs/fill.c")
            a = (args.fill if w == "fill" else args.random).split()
            workloads.append(("fill " + " ".join(a), [fill] + a,
                              [c for c in contenders if c not in c_only]))
    started = datetime.datetime.now()
    was = None
    # killed: still put kernel.bpf_stats_enabled back (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("overhead: terminated"))
    if not args.no_bpf_stats:
        was = get_bpf_stats()
        set_bpf_stats("1")
        b.bpf_stats = True
    try:
        idle_cost = b.calibrate(contenders) if b.bpf_stats else {}
        results = [(name, b.workload(name, cmd, cs)) for name, cmd, cs in workloads]
    finally:
        if was is not None:
            set_bpf_stats(was)
        b.bpf_stats = False
    rows = [] if args.no_sweep or "taskmem-trace" not in contenders else b.sweep()
    idle = None if args.no_idle or "taskmem-trace" not in contenders else b.idle()

    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    built = datetime.datetime.fromtimestamp(os.path.getmtime(args.tool)).strftime("%Y-%m-%d %H:%M")
    md = ["# taskmem-trace overhead, %s" % started.strftime("%Y-%m-%d %H:%M"), "",
          "Machine: %d CPUs, Linux %s; tool %s (built %s; repo HEAD %s); %d repetitions (%d for memleak, "
          "heaptrack, massif), contenders alternating; medians; ratios against untraced "
          "(whose row gives its median CPU and wall seconds); a ratio is the median of the "
          "repetitions' ratios to the untraced run just before (min-max in brackets)." % (
              os.cpu_count(), os.uname().release, args.tool, built, rev or "?", args.reps,
              args.slow_reps), "",
          table(results), "",
          "CPU: user+sys of the whole tool command, tracer and workload (BPF programs run in the "
          "faulting tasks and count there). Tracer's own CPU: user+sys of the tracer's processes "
          "alone, without the workload and so without the BPF programs (medians). Tracer peak RSS: VmHWM of the tracer's largest "
          "process at its exit, the workload excluded; per traced GiB: that over the traced peak "
          "(taskmem-trace's peak.rss_bytes). Exit to reports: the workload's exit to "
          "the tool's exit, after its output is written. Dropped: what the tool reports losing "
          "(taskmem-trace: events.dropped; perf: LOST records; bpftrace: lost events). Faults "
          "recorded: taskmem-trace: events.page_faults; perf: samples; bpftrace: the counts' sum.",
          ""]
    if not args.no_bpf_stats:
        md += ["## Per-event costs", "", per_event_table(results, idle_cost, b.start_cpu), "",
               "BPF: the kernel's run-time statistics (kernel.bpf_stats_enabled, on during the "
               "workloads above) of the programs each tracer loaded, found by the prog ids its "
               "fds hold: their run time summed over the command's RSS changes (taskmem-trace: "
               "events.rss_updates; hooks-only: its rss_stat count) and faults; each program's "
               "ns per run counts every run, other processes' included (the hooks fire for the "
               "whole machine and filter by pid: the runs beside the command's RSS changes, "
               "events.rss_updates in the JSON, say how many were others'; on a busy machine they "
               "weigh on the per-event figures). The command's own: the total less the runs beyond "
               "the command's RSS changes and faults at what a run costs a tracer on `sleep 3` "
               "(the same programs filtering other processes' events out, measured first). "
               "Tracer's own CPU: its user+sys (the workload and so the BPF programs excluded), "
               "less what it took on `sleep 3` (its start and end: the verifier), over the records "
               "it handled "
               "(events.events_processed) and over the command's RSS changes. Medians.", ""]
    if rows:
        md += ["## Rate sweep: taskmem-trace alone on c_faulter", "",
               sweep_table(rows), ""]
    if idle:
        md += ["## Idle cost", "", idle_text(idle), ""]
    md += ["## What each contender measures", ""]
    md += ["- **%s**: %s" % (c, MEASURES[c]) for c in contenders]
    text = "\n".join(md) + "\n"
    print()
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print("written to %s; raw runs kept in %s" % (args.out, b.tmp))


if __name__ == "__main__":
    main()
