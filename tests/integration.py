#!/usr/bin/env python3
"""Integration tests: run the real taskmem-trace as root on real workloads and check its
numbers against independent oracles: the kernel's own high-water mark (/usr/bin/time -v, in
the same run and in an untraced one), Go's runtime.MemStats, and C programs whose memory
make-up is known by construction.

usage: tests/integration.py [-k SUBSTRING[,SUBSTRING...]]   (run only tests whose name contains one)
"""
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.environ.get("TASKMEM_TRACE", os.path.join(ROOT, "taskmem-trace"))
BIN = os.path.join(ROOT, "bench", "bin")
OUT = os.path.join(ROOT, "tests", "out")
MIB = 1 << 20
results = {"passed": 0, "failed": 0}


class Check:
    """Collects the assertions of one test; a test fails if any check fails."""

    def __init__(self, name):
        self.name, self.fails = name, []

    def ok(self, cond, what):
        if not cond:
            self.fails.append(what)
        return cond

    def near(self, got, want, tol, what):
        good = want != 0 and abs(got - want) <= tol * abs(want)
        return self.ok(good, f"{what}: got {got/MIB:.2f} MiB, want {want/MIB:.2f} MiB within {tol*100:.0f}%")


def sample_rss(comm, stop, out):
    """Independent oracle: read the kernel's RSS of the process named comm from /proc every ms."""
    import threading  # noqa: F401  (run in a thread by the caller)
    pid = None
    while not stop.is_set():
        if pid is None:
            for d in os.listdir("/proc"):
                if d.isdigit():
                    try:
                        if open(f"/proc/{d}/comm").read().strip() == comm:
                            pid = d
                            break
                    except OSError:
                        pass
        else:
            try:
                out.append(int(open(f"/proc/{pid}/statm").read().split()[1]) * 4096)
            except (OSError, IndexError, ValueError):
                return
        time.sleep(0.001)


def trace(args, name, cmd, env=None, timeout=600, cwd=None, pre=()):
    """Run the tool with --json/--folded (pre: a command the tool runs under, e.g. taskset);
    returns (proc, json or None)."""
    js, fo, pp = (os.path.join(OUT, name + ext) for ext in (".json", ".folded", ".pb.gz"))
    for f in (js, fo, pp):
        if os.path.exists(f):
            os.unlink(f)
    tr = os.path.join(OUT, name + ".trace.json")
    full = list(pre) + [TOOL, "--json", js, "--folded", fo, "--pprof", pp, "--trace", tr] + args + (
        ["--"] + cmd if cmd else [])
    e = dict(os.environ, **(env or {}))
    p = subprocess.run(full, capture_output=True, text=True, timeout=timeout, env=e, cwd=cwd)
    with open(os.path.join(OUT, name + ".log"), "w") as f:
        f.write(" ".join(full) + "\n--- stdout\n" + p.stdout + "--- stderr\n" + p.stderr)
    data = json.load(open(js)) if os.path.exists(js) else None
    return p, data


def maxrss_untraced(cmd, env=None):
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})))
    return maxrss_of(p.stderr), p.stderr


def rss_untraced_at(cmd, t, env=None):
    """The kernel's RSS of an untraced run of cmd (exec'ing launchers keep the pid) t seconds
    after its start, from /proc/PID/statm."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, **(env or {})))
    time.sleep(t)
    try:
        rss = int(open(f"/proc/{p.pid}/statm").read().split()[1]) * 4096
    except (OSError, IndexError, ValueError):
        rss = None
    p.wait()
    return rss


def maxrss_of(text):
    m = re.findall(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return int(m[-1]) * 1024 if m else None


def memstats_of(text):
    m = re.findall(r"MEMSTATS (\{.*\})", text)
    return json.loads(m[-1]) if m else None


def proc_named(data, comm):
    return [p for p in data["processes"] if p["comm"] == comm]


def common_checks(c, data, p, unattributed_max=None):
    """What every run must satisfy: parts add up, nothing dropped, kernel agreement.
    unattributed_max: a bound in bytes instead of 1% of the peak, for churning workloads."""
    if not c.ok(data is not None, "JSON report written"):
        return False
    pk = data["peak"]
    c.ok(sum(pk["categories"].values()) == pk["rss_bytes"], "categories add up to the attributed peak")
    c.near(pk["rss_bytes"], pk["kernel_rss_bytes"], 0.01, "attributed peak vs kernel counters")
    bound = 0.01 * pk["rss_bytes"] if unattributed_max is None else unattributed_max
    c.ok(abs(pk["unattributed_bytes"]) <= bound, f"unattributed bytes {pk['unattributed_bytes']} within {bound:.0f}")
    c.ok(data["events"]["dropped"] == 0, f"dropped events: {data['events']['dropped']}")
    for s in data["timeline"]:
        if sum(s["categories"].values()) != s["rss_bytes"]:
            c.ok(False, f"timeline sample at {s['t_s']} does not add up")
            break
    tr = json.load(open(os.path.join(OUT, c.name + ".trace.json")))
    tree = [e for e in tr["traceEvents"] if e["ph"] == "C" and e["pid"] == 0]
    c.ok(tree and max(sum(e["args"].values()) for e in tree) == pk["rss_bytes"],
         "the trace's tree counter peaks at the JSON peak")
    c.ok(any(abs(s["t_s"] - pk["t_s"]) < 1e-6 and s["rss_bytes"] == pk["rss_bytes"] for s in data["timeline"]),
         "the exact peak is in the timeline")
    ts = [s["t_s"] for s in data["timeline"]]
    c.ok(ts == sorted(ts), "timeline in time order")
    fsum = 0
    for line in open(os.path.join(OUT, c.name + ".folded")):
        fsum += int(line.rsplit(" ", 1)[1])
    c.near(fsum, pk["rss_bytes"], 0.01, "folded stacks sum to the peak")
    return True


def check_pprof(c, data):
    """Go's own pprof (a client no one here wrote) reads the profile; its total is the peak."""
    q = subprocess.run(["go", "tool", "pprof", "-top", os.path.join(OUT, c.name + ".pb.gz")],
                       capture_output=True, text=True)
    m = re.search(r"Total samples = ([\d.]+)([kMGT]?B)", q.stdout)
    if c.ok(q.returncode == 0 and m, f"go tool pprof reads the profile: {q.stderr[-200:]!r}"):
        scale = {"B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[m.group(2)]
        c.near(float(m.group(1)) * scale, data["peak"]["rss_bytes"], 0.01, "pprof total vs the JSON peak")
    return q.stdout


KNOWN_FILE = os.path.join(OUT, "known.data")


def label_bytes(data, label):
    return data["peak"]["labels"].get(label, 0)


def test_c_known(c):
    """heap/thread stacks/file/raw anon of known sizes; a free shows as a drop; kernel hiwater."""
    import threading
    cmd = [os.path.join(BIN, "c_known"), KNOWN_FILE, "64", "8", "4", "64", "48"]
    stop, seen = threading.Event(), []
    sampler = threading.Thread(target=sample_rss, args=("c_known", stop, seen))
    sampler.start()
    try:
        p, data = trace([], c.name, ["/usr/bin/time", "-v"] + cmd)
    finally:
        stop.set()
        sampler.join()
    if not common_checks(c, data, p):
        return
    c.ok(p.returncode == 0, f"exit code {p.returncode}")
    c.near(label_bytes(data, "file/known.data"), 64 * MIB, 0.05, "file/known.data")
    c.near(label_bytes(data, "heap/malloc"), 64 * MIB, 0.05, "heap/malloc")
    c.near(label_bytes(data, "stack/thread"), 32 * MIB, 0.05, "stack/thread")
    c.near(label_bytes(data, "other/mmap"), 48 * MIB, 0.05, "other/mmap (raw anonymous)")
    kn = proc_named(data, "c_known")
    if c.ok(len(kn) == 1, "one c_known process"):
        k = kn[0]
        c.near(k["peak_rss_bytes"], maxrss_of(p.stderr), 0.01, "c_known peak vs its kernel hiwater (time -v, same run)")
        cats = k["categories"]
        c.near(cats["heap"], 64 * MIB, 0.05, "heap category")
        c.near(cats["stack"], 32 * MIB, 0.05, "stack category")
        c.near(cats["other"], 48 * MIB, 0.05, "other category")
        c.near(cats["file"], 64 * MIB, 0.05, "file category")
        # the free of 32 MiB of heap shows as a drop in the timeline: find a sample after it and
        # before teardown (the only other drop), by the process's total, and read its heap there
        pid, peak = k["pid"], k["peak_rss_bytes"]
        samples = [(q["rss_bytes"], q["categories"]) for s in data["timeline"] for q in s["processes"] if q["pid"] == pid]
        top = max(h["heap"] for _, h in samples)
        settled = [h for rss, h in samples if peak - 34 * MIB <= rss <= peak - 30 * MIB]
        if c.ok(settled, "a timeline sample after the free, before teardown"):
            c.near(top - settled[-1]["heap"], 32 * MIB, 0.05, "heap drop after free()")
            c.near(settled[-1]["other"], 48 * MIB, 0.05, "other unchanged by the free")
    # at every plateau the kernel showed in /proc (the 400 ms at the peak, the 400 ms after the
    # free), the timeline holds a value within 1%
    if c.ok(len(seen) > 100, f"/proc sampler saw the process ({len(seen)} samples)") and kn:
        ours = [q["rss_bytes"] for s in data["timeline"] for q in s["processes"] if q["pid"] == kn[0]["pid"]]
        plateaus = sorted(set(v for v in seen if seen.count(v) >= 50), reverse=True)
        print("     plateaus (MiB):", [round(v / MIB, 2) for v in plateaus], "timeline values:", len(ours))
        c.ok(len(plateaus) >= 2, f"two plateaus in /proc ({[round(v/MIB, 1) for v in plateaus]} MiB)")
        for v in plateaus:
            c.ok(any(abs(o - v) <= 0.01 * v for o in ours), f"plateau {v/MIB:.1f} MiB from /proc is in the timeline")
    untraced, _ = maxrss_untraced(cmd)
    c.near(data["peak"]["rss_bytes"] - sum(q["peak_rss_bytes"] for q in data["processes"] if q["comm"] == "time"),
           untraced, 0.05, "peak vs untraced /usr/bin/time maxrss")
    check_pprof(c, data)
    stacks = data["peak"]["stacks"]
    c.ok(any(s["label"] == "heap/malloc" and "grow_heap" in s["frames"] for s in stacks), "heap credited to grow_heap")
    c.ok(any(s["label"] == "stack/thread" and "use_stack" in s["frames"] for s in stacks), "thread stack credited to use_stack")


def test_frees(c):
    """mremap shrink and move, madvise(DONTNEED), munmap, brk shrink: each free takes exactly its
    pages away (unattributed stays ~0) and shows as the right step in the timeline."""
    p, data = trace([], c.name, [os.path.join(BIN, "c_frees")])
    if not common_checks(c, data, p):
        return
    worst = max(abs(s["unattributed_bytes"]) for s in data["timeline"])
    c.ok(worst <= 256 * 1024, f"unattributed bytes stay under 256 KiB in every sample (worst {worst})")
    pid = proc_named(data, "c_frees")[0]["pid"]
    seq = [q["categories"] for s in data["timeline"] for q in s["processes"] if q["pid"] == pid]
    others = [round(h["other"] / MIB) for h in seq]
    heaps = [round(h["heap"] / MIB) for h in seq]
    base = min(others)
    for want in (32, 16, 8):  # raw mapping: full, after mremap shrink, after madvise
        c.ok(base + want in others, f"other steps through +{want} MiB (saw {sorted(set(others))})")
    hb = min(heaps)
    for want in (8, 4):  # brk grown, then shrunk
        c.ok(hb + want in heaps, f"heap steps through +{want} MiB (saw {sorted(set(heaps))})")


def test_drops(c):
    """A consumer that stalls (the tool is stopped) with a small ring buffer: the losses are
    counted and shown, and the totals still follow the kernel's counters."""
    js = os.path.join(OUT, c.name + ".json")
    if os.path.exists(js):
        os.unlink(js)
    cmd = [os.path.join(BIN, "c_known"), KNOWN_FILE, "64", "8", "4", "64", "48"]
    # c_known waits 300 ms before it grows: the tool has seen its exec by then, and is stopped
    # before the growth whatever the machine's load
    tool = subprocess.Popen([TOOL, "--ringbuf-size", "1", "--json", js, "--", "/usr/bin/time", "-v"] + cmd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, C_KNOWN_DELAY_MS="300"))
    deadline = time.time() + 10
    while time.time() < deadline and not subprocess.run(["pgrep", "-x", "c_known"], capture_output=True).stdout:
        time.sleep(0.002)
    time.sleep(0.1)
    tool.send_signal(19)  # SIGSTOP: nobody drains the ring buffer while c_known faults
    time.sleep(1.5)
    tool.send_signal(18)  # SIGCONT
    out, err = tool.communicate(timeout=60)
    data = json.load(open(js)) if os.path.exists(js) else None
    if not c.ok(data is not None, "JSON written"):
        return
    ev = data["events"]
    c.ok(ev["dropped"] > 0 and ev["dropped_rss_ringbuf_full"] > 0, f"drops counted ({ev['dropped']})")
    c.ok("dropped" in err and "WARNING" in err, "the summary warns about drops")
    c.ok(sum(data["peak"]["categories"].values()) == data["peak"]["rss_bytes"], "categories still add up")
    kn = proc_named(data, "c_known")
    if c.ok(len(kn) == 1, "c_known seen"):
        c.near(kn[0]["kernel_peak_rss_bytes"], maxrss_of(err), 0.01, "the kernel's high-water mark is reported")
        c.ok(kn[0]["peak_rss_bytes"] <= kn[0]["kernel_peak_rss_bytes"] * 1.01, "the seen peak never exceeds it")
        if kn[0]["peak_rss_bytes"] < 0.98 * kn[0]["kernel_peak_rss_bytes"]:
            c.ok("high-water mark" in err, "a missed peak is pointed out in the summary")


def test_concurrent(c):
    """Two runs at once on different commands: each sees only its own tree, both correct."""
    runs = []
    for name, heap in (("a", 16), ("b", 40)):
        js = os.path.join(OUT, f"{c.name}_{name}.json")
        cmd = [TOOL, "-q", "--json", js, "--", os.path.join(BIN, "c_known"), KNOWN_FILE, str(heap), "1", "1", "8", "8"]
        runs.append((heap, js, subprocess.Popen(cmd)))
    for heap, js, tool in runs:
        c.ok(tool.wait(timeout=60) == 0, "both runs exit 0")
        data = json.load(open(js))
        kn = proc_named(data, "c_known")
        if c.ok(len(kn) == 1, f"run with {heap} MiB heap sees exactly one c_known ({len(kn)})"):
            c.near(kn[0]["categories"]["heap"], heap * MIB, 0.05, f"run with {heap} MiB heap")
        c.ok(data["events"]["dropped"] == 0, "nothing dropped")


def test_attach(c):
    """-p: memory already resident is counted per mapping as pre-existing, growth after attach
    is traced, the process is left running; a process that exits ends the run."""
    g = subprocess.Popen([os.path.join(BIN, "go_bench"), "50000", "8"])
    try:
        time.sleep(1.5)
        rss = status_kb = None
        for line in open(f"/proc/{g.pid}/status"):
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
        p, data = trace(["-p", str(g.pid), "--duration", "1"], c.name, [])
        c.ok(p.returncode == 0, f"attach exits 0 (got {p.returncode}: {p.stderr[-300:]!r})")
        c.ok(g.poll() is None, "the attached process is left running")
        if not common_checks(c, data, p):
            return
        c.near(data["peak"]["rss_bytes"], rss, 0.02, "peak vs the process's VmRSS at attach")
        labels = data["peak"]["labels"]
        c.ok(labels.get("heap/pre-existing:[go arena: heap and goroutine stacks]", 0) > 100 * MIB,
             f"the Go arena is pre-existing heap+stacks: {labels}")
        c.ok(any(k.startswith("file/pre-existing:go_bench") for k in labels), "the binary's pages are pre-existing file")
    finally:
        g.kill()
        g.wait()
    g = subprocess.Popen([os.path.join(BIN, "go_bench"), "2000", "1.5"])
    time.sleep(0.3)
    t0 = time.time()
    p, data = trace(["-p", str(g.pid)], c.name, [])
    g.wait()
    c.ok(p.returncode == 0 and time.time() - t0 < 5, f"attach ends when the process exits (rc {p.returncode})")
    c.ok(data is not None and data["peak"]["rss_bytes"] > 0, "and writes its report")
    q = subprocess.run([TOOL, "-p", "999999999"], capture_output=True, text=True)
    c.ok(q.returncode == 2, f"-p with a bad pid is bad usage (got {q.returncode})")
    q = subprocess.run([TOOL, "-p", "1", "--", "true"], capture_output=True, text=True)
    c.ok(q.returncode == 2, f"-p and a command together is bad usage (got {q.returncode})")


def test_floods(c):
    """10k threads; 1M mmap/munmap pairs on two threads; faults as fast as every core can; 300
    short processes: the tool neither
    crashes nor hangs, nothing is lost silently, and the numbers still match the kernel's."""
    flood = os.path.join(BIN, "c_flood")
    for name, args in (("threads", ["threads", "10000"]), ("mmaps", ["mmaps", "1000000"])):
        p, data = trace([], c.name, ["/usr/bin/time", "-v", flood] + args, timeout=300)
        c.ok(p.returncode == 0, f"{name}: exit 0 (got {p.returncode})")
        if not common_checks(c, data, p):
            return
        fl = proc_named(data, "c_flood")
        if c.ok(len(fl) == 1, f"{name}: one c_flood process"):
            c.near(fl[0]["kernel_peak_rss_bytes"], maxrss_of(p.stderr), 0.01, f"{name}: kernel high-water reported")
            # the kernel's high-water reads its per-CPU counters without their unflushed parts
            # (up to 32 pages per CPU per counter): for a 1 MiB process that is more than 2%
            got, want = fl[0]["peak_rss_bytes"], fl[0]["kernel_peak_rss_bytes"]
            c.ok(abs(got - want) <= max(0.02 * want, 512 * 1024),
                 f"{name}: peak {got} vs the kernel's {want} within 2% or 512 KiB")
        if name == "threads":
            c.ok(data["peak"]["labels"].get("stack/thread", 0) > 0, "thread stacks seen")
    # every core faulting fresh pages flat out (2 GiB touched, freed as it goes): every fault
    # the program made is counted (its own count is the oracle), nothing dropped
    ncpu = os.cpu_count() or 2
    p, data = trace([], c.name, [os.path.join(BIN, "c_faulter"), str(ncpu), "2048"], timeout=300)
    m = re.search(r"faulter: (\d+) pages", p.stderr)
    # 2 GiB goes through a ~3 MiB peak: rss_stat's counters are per-CPU sums read without their
    # unflushed parts (up to 32 pages per CPU each), so a free's bytes may be credited to the
    # wrong record for a while: a bound of 1 MiB (0.05% of what went through), not 1% of the peak
    if common_checks(c, data, p, unattributed_max=1 * MIB) and c.ok(m, f"faulter printed its page count: {p.stderr[-200:]!r}"):
        c.ok(data["events"]["page_faults"] >= int(m.group(1)),
             f"faults counted {data['events']['page_faults']} >= pages touched {m.group(1)}")
    script = "i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i+1)); done"
    p, data = trace([], c.name, ["sh", "-c", script], timeout=300)
    if common_checks(c, data, p):
        trues = proc_named(data, "true")
        c.ok(len(trues) == 300, f"all 300 short processes accounted ({len(trues)})")
        c.ok(all(t["exit_code"] == 0 and t["peak_rss_bytes"] > 0 for t in trues), "each with its exit code and memory")
        ev = data["events"]
        c.ok(ev["stack_map_full"] <= 0.05 * ev["rss_updates"],
             f"stack ids of exited processes are freed: {ev['stack_map_full']} stacks lost of {ev['rss_updates']} updates")


def go_checks(c, n, secs, env=None, grown=False):
    env = dict(env or {}, TASKMEM_MEMSTATS="1")
    cmd = [os.path.join(BIN, "go_bench"), str(n), str(secs)]
    p, data = trace([], c.name, ["/usr/bin/time", "-v"] + cmd, env=env)
    if not common_checks(c, data, p):
        return None, None
    ms = memstats_of(p.stderr)
    if not c.ok(ms is not None, "go_bench printed MemStats"):
        return None, None
    gb = proc_named(data, "go_bench")
    if not c.ok(len(gb) == 1, "one go_bench process"):
        return None, None
    stack = gb[0]["at_tree_peak"]["categories"]["stack"]
    if not grown:
        c.near(stack, ms["StackInuse"], 0.10, "stack vs Go's StackInuse")
    else:
        # grown stacks are committed whole but copystack touches only the used part:
        # resident stack lies between the used part and StackInuse
        c.ok(0.3 * ms["StackInuse"] <= stack <= 1.02 * ms["StackInuse"],
             f"grown stacks: resident {stack/MIB:.1f} MiB within [30%, 102%] of StackInuse {ms['StackInuse']/MIB:.1f} MiB")
    c.near(gb[0]["peak_rss_bytes"], maxrss_of(p.stderr), 0.02, "go_bench peak vs kernel hiwater (same run)")
    c.near(gb[0]["kernel_peak_rss_bytes"], maxrss_of(p.stderr), 0.01, "reported kernel high-water = time -v's")
    frames = [f for s in data["peak"]["stacks"] if s["pid"] == gb[0]["pid"] for f in s["frames"]]
    bad = [f for f in frames if "+0x" in f or f.startswith("[")]
    c.ok(frames and len(bad) <= 0.02 * len(frames), f"Go frames symbolized: {len(bad)} of {len(frames)} not")
    return p, data


def test_go_100k(c):
    """go_bench 100000: stack vs StackInuse, peak vs kernel and untraced maxrss."""
    p, data = go_checks(c, 100000, 3)
    if not data:
        return
    untraced, err = maxrss_untraced([os.path.join(BIN, "go_bench"), "100000", "3"])
    gb = proc_named(data, "go_bench")[0]
    c.near(gb["peak_rss_bytes"], untraced, 0.05, "peak vs untraced /usr/bin/time maxrss")
    top_out = check_pprof(c, data)
    c.ok("runtime.stackpoolalloc" in top_out, "pprof shows the goroutine stack allocator")
    top = data["peak"]["stacks"][0]
    c.ok(top["label"] == "stack/goroutine" and "runtime.malg" in top["frames"] and "main.main" in top["frames"],
         "the largest stack is goroutine stacks from runtime.malg under main.main")
    c.ok(data["peak"]["labels"].get("runtime/sched", 0) > 20 * MIB, "g structs counted as runtime/sched")


def test_go_deep(c):
    """Goroutines that recurse deep: stack growth lands in stack, under the recursing function."""
    p, data = go_checks(c, 2000, 2, env={"GO_BENCH_DEPTH": "300"}, grown=True)
    if not data:
        return
    grow = [s for s in data["peak"]["stacks"] if s["label"] == "stack/goroutine"
            and "main.deep" in s["frames"] and ("runtime.newstack" in s["frames"] or "runtime.copystack" in s["frames"])]
    c.ok(sum(s["bytes"] for s in grow) > 0.5 * data["peak"]["categories"]["stack"],
         "most stack bytes come from main.deep through runtime.newstack/copystack")


def test_go_1m(c):
    """1M goroutines: nothing dropped, still adds up."""
    go_checks(c, 1000000, 3)


def test_exit_codes(c):
    p, data = trace([], c.name, ["sh", "-c", "exit 7"])
    c.ok(p.returncode == 7, f"exit 7 passed through (got {p.returncode})")
    c.ok(data is not None and [q["exit_code"] for q in data["processes"]] == [7], "the process's exit code in the JSON")
    p, data = trace([], c.name, ["sh", "-c", "kill -9 $$"])
    c.ok(p.returncode == 137, f"SIGKILL gives 137 (got {p.returncode})")
    c.ok(data is not None and data["exit_code"] == 137, "report written for a killed command")
    p, data = trace([], c.name, ["/nonexistent/command"])
    c.ok(p.returncode == 127, f"missing command gives 127 (got {p.returncode})")
    c.ok("/nonexistent/command" in p.stderr and len(p.stderr.strip().splitlines()) == 1,
         f"one line naming the command: {p.stderr!r}")
    # SIGINT / SIGTERM to the tool: the command is stopped, the report written, the tool ends
    # quickly, and the command is not left running
    for sig, name in ((2, "SIGINT"), (15, "SIGTERM")):
        js = os.path.join(OUT, f"{name}.json")
        if os.path.exists(js):
            os.unlink(js)
        tool = subprocess.Popen([TOOL, "-q", "--json", js, "--", os.path.join(BIN, "go_bench"), "10", "60"])
        time.sleep(1)
        child = subprocess.run(["pgrep", "-P", str(tool.pid)], capture_output=True, text=True).stdout.split()
        t0 = time.time()
        tool.send_signal(sig)
        rc = tool.wait(timeout=10)
        c.ok(rc == 128 + sig, f"{name}: the command killed by {name} gives {128 + sig} (got {rc})")
        c.ok(time.time() - t0 < 3, f"{name}: tool ended in {time.time()-t0:.1f}s")
        c.ok(os.path.exists(js) and json.load(open(js))["exit_code"] == 128 + sig, f"{name}: report written")
        c.ok(len(child) == 1 and not os.path.exists(f"/proc/{child[0]}"), f"{name}: the command is gone ({child})")
    # the man page renders without groff warnings, and make install puts both in place
    q = subprocess.run(["groff", "-man", "-ww", "-z", os.path.join(ROOT, "man", "taskmem-trace.8")],
                       capture_output=True, text=True)
    c.ok(q.returncode == 0 and not q.stderr.strip(), f"man page renders cleanly: {q.stderr[:200]!r}")
    dest = os.path.join(OUT, "destdir")
    q = subprocess.run(["make", "-s", "-C", ROOT, "install", f"DESTDIR={dest}", "PREFIX=/usr"],
                       capture_output=True, text=True)
    c.ok(os.path.exists(f"{dest}/usr/bin/taskmem-trace") and os.path.exists(f"{dest}/usr/share/man/man8/taskmem-trace.8"),
         f"make install installs the tool and its man page: {q.stderr[-200:]!r}")
        # on a terminal, a live status line while the command runs; -q silences it
    q = subprocess.run(["script", "-qec", f"{TOOL} -- {os.path.join(BIN, 'go_bench')} 20000 1", "/dev/null"],
                       capture_output=True, text=True)
    c.ok("taskmem-trace 0." in q.stdout and "RSS" in q.stdout and "ev/s" in q.stdout,
         f"live status on a terminal: {q.stdout[:200]!r}")
    q = subprocess.run(["script", "-qec", f"{TOOL} -q -- {os.path.join(BIN, 'go_bench')} 20000 1", "/dev/null"],
                       capture_output=True, text=True)
    c.ok("ev/s" not in q.stdout and "peak resident" not in q.stdout, "-q: no status line, no summary")
    noexec = os.path.join(OUT, "noexec.txt")
    open(noexec, "w").write("not a program\n")
    os.chmod(noexec, 0o644)
    p, data = trace([], c.name, [noexec])
    c.ok(p.returncode == 126, f"non-executable gives 126 (got {p.returncode})")
    for bad in (["--interval", "0"], ["--interval", "x"], ["--bogus"], []):
        q = subprocess.run([TOOL] + bad + (["--", "true"] if bad else []), capture_output=True, text=True)
        c.ok(q.returncode == 2, f"bad usage {bad} exits 2 (got {q.returncode})")
    q = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", TOOL, "--", "true"],
                       capture_output=True, text=True)
    c.ok(q.returncode == 125 and "root" in q.stderr, f"not root: 125 and says so (got {q.returncode}: {q.stderr!r})")
    q = subprocess.run([TOOL, "--json", "/nonexistent-dir/x.json", "--", "true"], capture_output=True, text=True)
    c.ok(q.returncode == 2 and "nonexistent-dir" in q.stderr, "unwritable output refused before starting")


def test_tree(c):
    """A shell that forks and execs: every process accounted, exited ones symbolized."""
    known = os.path.join(BIN, "c_known")
    script = f"{known} {KNOWN_FILE} 16 1 1 8 8 & {known} {KNOWN_FILE} 8 1 1 8 8; wait"
    p, data = trace([], c.name, ["sh", "-c", script])
    if not common_checks(c, data, p):
        return
    kn = proc_named(data, "c_known")
    c.ok(len(kn) == 2, f"both c_known processes seen ({len(kn)})")
    heaps = sorted(k["categories"]["heap"] for k in kn)
    if len(heaps) == 2:
        c.near(heaps[0], 8 * MIB, 0.10, "smaller child's heap")
        c.near(heaps[1], 16 * MIB, 0.10, "larger child's heap")
    c.ok(any("grow_heap" in s["frames"] for s in data["peak"]["stacks"]), "children's stacks symbolized")


def test_nothing_left(c):
    """After all runs, no BPF program of ours stays loaded and no child is left."""
    out = subprocess.run(["bpftool", "prog", "show"], capture_output=True, text=True).stdout
    c.ok("handle_rss_stat" not in out, "no taskmem-trace BPF program left loaded")
    ps = subprocess.run(["pgrep", "-f", "bench/bin/(go_bench|c_known)"], capture_output=True, text=True).stdout
    c.ok(not ps.strip(), f"no benchmark process left: {ps.strip()}")


def test_html(c):
    """The HTML report in headless Chromium (tests/html/check.mjs): it adds up to the JSON peak,
    one element per folded stack, search/zoom/timeline change what is shown, no console errors,
    no network. Without any output flag, an HTML report is written and its path printed."""
    html = os.path.join(OUT, "test_html.html")
    cmd = [os.path.join(BIN, "go_bench"), "20000", "1"]
    p, data = trace(["-q", "--html", html], "test_html", cmd)
    if not common_checks(c, data, p):
        return
    shot = os.environ.get("TASKMEM_SCREENSHOT", "")
    q = subprocess.run(["node", os.path.join(ROOT, "tests", "html", "check.mjs"), html,
                        os.path.join(OUT, "test_html.json"), os.path.join(OUT, "test_html.folded")] +
                       ([shot] if shot else []), capture_output=True, text=True, timeout=300)
    for line in (q.stdout + q.stderr).splitlines():
        if line.startswith("FAIL") or q.returncode:
            c.ok(False, line)
    c.ok(q.returncode == 0 and re.search(r"html: \d+ passed, 0 failed", q.stdout), "browser checks ran and passed")
    # no output flag: a report in the current directory, its path on stderr, owned by the sudo user
    d = os.path.join(OUT, "default_report")
    subprocess.run(["rm", "-rf", d])
    os.makedirs(d)
    p = subprocess.run([TOOL, "-q", "--", "/bin/true"], cwd=d, capture_output=True, text=True,
                       env=dict(os.environ, SUDO_UID="65534", SUDO_GID="65534"))
    m = re.search(r"report: (\S+\.html)", p.stderr)
    if c.ok(p.returncode == 0 and m, f"no output flag: report path printed ({p.stderr.strip()!r})"):
        path = os.path.join(d, m.group(1))
        c.ok(os.path.exists(path) and os.stat(path).st_uid == 65534, "default report exists, owned by SUDO_UID")
        c.ok(os.listdir(d) == [m.group(1)], f"only the report is left in the directory: {os.listdir(d)}")
        text = open(path).read() if os.path.exists(path) else ""
        c.ok("/*TASKMEM_DATA*/" not in text and '"command":["/bin/true"]' in text, "the report holds the run's data")

# ---- process trees, missing kernel features, full disks, hostile input, memory errors ----

def strace_log(path):
    """pid -> (the image it exec'd last, its exit code as a shell shows it), from strace -f's log."""
    import signal
    pending, exe, code = {}, {}, {}
    for line in open(path):
        pid, _, rest = line.rstrip("\n").partition(" ")
        pid, rest = int(pid), rest.strip()
        m = re.match(r'execve\("([^"]*)"', rest)
        if m:
            pending[pid] = m.group(1)
        if ("execve(" in rest or "execve resumed" in rest) and rest.endswith(" = 0") and pid in pending:
            exe[pid] = pending[pid]
        m = re.match(r"\+\+\+ exited with (\d+) \+\+\+", rest)
        if m:
            code[pid] = int(m.group(1))
        m = re.match(r"\+\+\+ killed by (SIG\w+)", rest)
        if m:
            code[pid] = 128 + getattr(signal, m.group(1))
    return {pid: (exe.get(pid), code.get(pid)) for pid in set(exe) | set(code)}


def last_images(data):
    """pid -> its last image in the JSON (the one that exited)."""
    out = {}
    for q in data["processes"]:
        if q["pid"] not in out or q["image"] > out[q["pid"]]["image"]:
            out[q["pid"]] = q
    return out


def make_project(n):
    """A C project of n+1 sources whose Makefile links a program and runs it: the program
    touches 256 MiB of malloc heap in fill_table(), so that the tree's peak is there."""
    import shutil
    src = os.path.join(OUT, "makej")
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    for i in range(n):
        open(os.path.join(src, f"f{i}.c"), "w").write(f"int f{i}(int x) {{ return x * {i} + 1; }}\n")
    open(os.path.join(src, "main.c"), "w").write(
        "#include <stdlib.h>\n"
        "__attribute__((noinline)) char *fill_table(size_t n)\n"
        "{ volatile char *p = malloc(n); for (size_t i = 0; i < n; i += 4096) p[i] = 1; return (char *)p; }\n"
        "int main(void) { return fill_table(256ul << 20)[4096] - 1; }\n")
    open(os.path.join(src, "Makefile"), "w").write(
        "CFLAGS = -O1 -g -fno-omit-frame-pointer\nOBJS = $(patsubst %.c,%.o,$(wildcard *.c))\n"
        "all: app\n\t./app\napp: $(OBJS)\n\t$(CC) -o $@ $^\n")
    return src


def lifetime_ms(q):
    return round((q["end_s"] - q["start_s"]) * 1000)


def exe_checks(c, wrong, what):
    """wrong: (pid, image wanted, image reported, lifetime ms). Every process has its exec'd
    image, however short it lived: the exec record carries the path execve ran."""
    c.ok(not wrong, f"{what}every process has its exec'd image: {wrong[:5]}")


def test_make_j(c):
    """make -j4 of a generated C project, first under strace -f (a ptrace-based count of every
    process, its exec'd image and exit code, independent of BPF): each of strace's processes is
    in the JSON with that image and code; there are as many cc1 and as as sources; the program
    make built and ran (exited before the end) has its stack symbolized. Then without strace:
    as many processes as strace saw."""
    n = 12
    src = make_project(n)
    log = os.path.join(OUT, "makej.strace")
    p, data = trace([], c.name, ["strace", "-f", "-q", "-e", "trace=execve", "-o", log, "make", "-s", "-j4", "-C", src])
    c.ok(p.returncode == 0, f"exit 0 (got {p.returncode}: {p.stderr[-300:]!r})")
    if not common_checks(c, data, p):
        return
    import shutil
    shutil.copy(os.path.join(OUT, c.name + ".json"), os.path.join(OUT, c.name + ".strace.json"))
    seen, ours = strace_log(log), last_images(data)
    c.ok(len(seen) >= 3 * (n + 1) + 5, f"strace saw the whole build ({len(seen)} processes)")
    missing = sorted(set(seen) - set(ours))
    c.ok(not missing, f"every process strace saw is in the JSON: missing {[(q, seen[q][0]) for q in missing]}")
    extra = [ours[q]["comm"] for q in set(ours) - set(seen)]
    c.ok(extra and set(extra) == {"strace"}, f"the only others are strace and its own test forks: {extra}")
    wrong_exe = [(q, e, ours[q]["exe"], lifetime_ms(ours[q])) for q, (e, _) in seen.items() if q in ours and e and
                 os.path.realpath(os.path.join(src, e)) != os.path.realpath(ours[q]["exe"] or "/nonexistent")]
    exe_checks(c, wrong_exe, "")
    wrong_code = [(q, code, ours[q]["exit_code"]) for q, (_, code) in seen.items()
                  if q in ours and code is not None and ours[q]["exit_code"] != code]
    c.ok(not wrong_code, f"each process's exit code as strace saw it: {wrong_code[:5]}")
    comms = [q["comm"] for q in ours.values()]
    for comm, want in (("cc1", n + 1), ("as", n + 1), ("collect2", 1), ("ld", 1), ("app", 1), ("make", 1)):
        c.ok(comms.count(comm) == want, f"{want} {comm} processes (got {comms.count(comm)})")
    apps = [q for q in ours.values() if q["comm"] == "app"]
    if apps:
        st = [s for s in data["peak"]["stacks"] if s["pid"] == apps[0]["pid"] and "fill_table" in s["frames"]]
        c.ok(st and st[0]["label"] == "heap/malloc" and st[0]["frames"][:2] == ["fill_table", "main"],
             f"the built program's heap is credited to fill_table <- main: {[s['frames'][:4] for s in st[:2]]}")
        c.near(sum(s["bytes"] for s in st), 256 * MIB, 0.05, "bytes under fill_table")
    # the same build without strace: every process still there
    for f in os.listdir(src):
        if f.endswith(".o") or f == "app":
            os.unlink(os.path.join(src, f))
    p, data = trace([], c.name, ["make", "-s", "-j4", "-C", src])
    c.ok(p.returncode == 0, f"without strace: exit 0 (got {p.returncode})")
    if common_checks(c, data, p):
        ours = last_images(data)
        c.ok(len(ours) == len(seen), f"without strace: {len(ours)} processes, strace counted {len(seen)}")
        comms = [q["comm"] for q in ours.values()]
        c.ok(comms.count("cc1") == n + 1 and comms.count("as") == n + 1, "without strace: a cc1 and an as per source")
        tools = [q for q in ours.values() if q["comm"] in ("cc1", "as")]
        exe_checks(c, [(q["pid"], q["comm"], q["exe"], lifetime_ms(q)) for q in tools
                       if os.path.basename(q["exe"]) not in ("cc1", "x86_64-linux-gnu-as")], "without strace: ")


def test_exec_elsewhere(c):
    """A program run by a relative path from another directory, gone before the tool reads its
    exec (it and its shell run SCHED_FIFO on the tool's one CPU: the tool runs only once they
    are done). Its image is then known only by the path execve was given, "./app", which from
    the tool's cwd is another program: that one's symbols (one function, WRONG_IMAGE, over all
    the offsets of the real one's code) must not name its frames. Run from the program's own
    directory, the same path is the file that ran (same inode): its frames are named."""
    import shutil
    d = os.path.join(OUT, "exec_elsewhere")
    shutil.rmtree(d, ignore_errors=True)
    right, wrong = os.path.join(d, "right"), os.path.join(d, "wrong")
    os.makedirs(right)
    os.makedirs(wrong)
    srcs = {right: "#include <stdlib.h>\n#include <string.h>\n"
                   "__attribute__((noinline)) char *right_image(size_t n)\n"
                   "{ char *p = malloc(n); memset(p, 1, n); return p; }\n"
                   "int main(void) { return right_image(64 << 20)[4096] == 1 ? 0 : 1; }\n",
            wrong: "void WRONG_IMAGE(void) { __asm__ volatile(\".fill 262144, 1, 0x90\"); }\n"
                   "int main(void) { WRONG_IMAGE(); return 0; }\n"}
    for dd, s in srcs.items():
        with open(os.path.join(dd, "app.c"), "w") as f:
            f.write(s)
        b = subprocess.run(["gcc", "-O1", "-fno-omit-frame-pointer", "-o", os.path.join(dd, "app"),
                            os.path.join(dd, "app.c")], capture_output=True, text=True)
        if not c.ok(b.returncode == 0, f"gcc: {b.stderr[-200:]}"):
            return
    cmd = ["chrt", "-f", "10", "sh", "-c", f"cd {right} && ./app && ./app"]
    for cwd, named in ((wrong, False), (right, True)):
        p, data = trace([], c.name, cmd, cwd=cwd, pre=["taskset", "-c", "0"])
        c.ok(p.returncode == 0, f"exit 0 (got {p.returncode}: {p.stderr[-300:]!r})")
        if not common_checks(c, data, p):
            return
        apps = [q for q in data["processes"] if q["comm"] == "app"]
        c.ok(len(apps) == 2, f"two app processes (got {len(apps)})")
        frames = [f for s in data["peak"]["stacks"] for f in s["frames"]]
        exes = sorted(set(q["exe"] for q in apps))
        if named:
            c.ok(exes == [os.path.join(right, "app")], f"from its own directory: the image resolved ({exes})")
            c.ok("right_image" in frames, f"from its own directory: its frames named ({frames[:6]})")
        else:
            c.ok(os.path.join(wrong, "app") not in exes, f"from elsewhere: not the other directory's app ({exes})")
            c.ok(not any("WRONG_IMAGE" in f for f in frames),
                 f"from elsewhere: no frame named from the other directory's app ({frames[:6]})")
            c.ok("right_image" not in frames, "from elsewhere: gone before its exec was read, as arranged "
                 f"(else this run tests nothing): {exes}")


def test_pipeline(c):
    """A shell pipeline of four stages running at once: each stage is accounted once with its
    memory (known by construction) and exit code, and the last stage's output and the script's
    exit code pass through."""
    known = os.path.join(BIN, "c_known")
    script = f"{known} {KNOWN_FILE} 16 1 1 8 8 | {known} {KNOWN_FILE} 24 1 1 8 8 | cat | wc -c; exit 3"
    p, data = trace([], c.name, ["sh", "-c", script])
    c.ok(p.returncode == 3, f"the script's exit code 3 passes through (got {p.returncode})")
    c.ok(p.stdout.strip() == "0", f"wc's output passes through: {p.stdout!r}")
    if not common_checks(c, data, p):
        return
    ours = last_images(data)
    comms = sorted(q["comm"] for q in ours.values())
    c.ok(comms == ["c_known", "c_known", "cat", "sh", "wc"], f"the shell and its four stages, once each: {comms}")
    c.ok(all(q["exit_code"] == 0 for q in ours.values() if q["comm"] != "sh"), "each stage exited 0")
    kn = sorted((q for q in ours.values() if q["comm"] == "c_known"), key=lambda q: q["categories"]["heap"])
    if c.ok(len(kn) == 2, "two c_known"):
        for k, heap in zip(kn, (16, 24)):
            c.near(k["categories"]["heap"], heap * MIB, 0.10, f"stage with {heap} MiB heap")
        c.ok(any("grow_heap" in s["frames"] for s in data["peak"]["stacks"] if s["pid"] in (kn[0]["pid"], kn[1]["pid"])),
             "their heap is symbolized")
        c.ok(kn[0]["start_s"] < kn[1]["end_s"] and kn[1]["start_s"] < kn[0]["end_s"], "the stages ran at once")


def test_hostile_debuglink(c):
    """A stripped program whose .gnu_debuglink names a FIFO beside it (the symbolizer looks
    there for its symbols): the tool must not block opening it, and ends with the command."""
    import shutil
    d = os.path.join(OUT, "hostile")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    prog, dbg = os.path.join(d, "prog"), os.path.join(d, "prog.debug")
    open(prog + ".c", "w").write("int main(void) { return 0; }\n")
    open(dbg, "w").close()
    q = subprocess.run(f"cc -o {prog} {prog}.c && strip {prog} && objcopy --add-gnu-debuglink={dbg} {prog}",
                       shell=True, capture_output=True, text=True)
    if not c.ok(q.returncode == 0, f"built the program: {q.stderr[-300:]!r}"):
        return
    os.unlink(dbg)
    os.mkfifo(dbg)
    js = os.path.join(OUT, c.name + ".json")
    if os.path.exists(js):
        os.unlink(js)
    t0 = time.time()
    try:
        q = subprocess.run([TOOL, "-q", "--json", js, "--", prog], capture_output=True, text=True, timeout=20)
        rc = q.returncode
    except subprocess.TimeoutExpired:
        rc = None
    c.ok(rc == 0 and time.time() - t0 < 10, f"the tool ends (rc {rc}, {time.time() - t0:.1f}s)")
    c.ok(os.path.exists(js), "and writes its report")


def in_private_mounts(setup, argv, timeout=120):
    """Run argv in a private mount namespace after the shell commands in setup; nothing of it
    is seen outside (unshare(1) makes the mounts private)."""
    return subprocess.run(["unshare", "-m", "sh", "-ec", setup + '\nexec "$@"', "sh"] + argv,
                          capture_output=True, text=True, timeout=timeout)


def cannot_trace(c, what, setup, word):
    """The tool must refuse with exit 125 and one line naming word, before the command starts."""
    marker, js = os.path.join(OUT, "started.marker"), os.path.join(OUT, c.name + ".json")
    for f in (marker, js):
        if os.path.exists(f):
            os.unlink(f)
    t0 = time.time()
    q = in_private_mounts(setup, [TOOL, "--json", js, "--", "touch", marker])
    c.ok(q.returncode == 125, f"{what}: exit 125 (got {q.returncode}: {q.stderr[-300:]!r})")
    lines = q.stderr.strip().splitlines()
    c.ok(len(lines) == 1 and word in lines[0] and lines[0].startswith("taskmem-trace: "),
         f"{what}: one line that names {word}: {q.stderr!r}")
    c.ok(not os.path.exists(marker), f"{what}: the command was not started")
    c.ok(not os.path.exists(js), f"{what}: no report")
    c.ok(time.time() - t0 < 10, f"{what}: quick ({time.time() - t0:.1f}s)")


def test_no_btf(c):
    """No kernel BTF: /sys/kernel/btf hidden by an empty tmpfs, or /sys/kernel/btf/vmlinux
    replaced by an empty file (there but not BTF)."""
    cannot_trace(c, "BTF hidden", "mount -t tmpfs -o ro,size=4k none /sys/kernel/btf", "BTF")
    empty = os.path.join(OUT, "empty.file")
    open(empty, "w").close()
    cannot_trace(c, "BTF empty", f"mount --bind {empty} /sys/kernel/btf/vmlinux", "BTF")


def test_no_tracefs(c):
    """tracefs not mounted: the tool mounts it and traces. Not mounted and not mountable (an
    empty read-only tmpfs over /sys/kernel, with only btf/ bound back), or a tracepoint missing
    (kmem's events hidden): 125, one line, the command never started."""
    js = os.path.join(OUT, c.name + ".json")
    if os.path.exists(js):
        os.unlink(js)
    q = in_private_mounts("umount /sys/kernel/tracing 2>/dev/null || true\n"
                          "! mountpoint -q /sys/kernel/tracing",
                          ["sh", "-c", f'"$0" -q --json {js} -- true && mountpoint -q /sys/kernel/tracing', TOOL])
    c.ok(q.returncode == 0 and os.path.exists(js), f"unmounted tracefs: the tool mounts it and runs ({q.returncode}: {q.stderr[-300:]!r})")
    save = os.path.join(OUT, "btf.save")
    os.makedirs(save, exist_ok=True)
    cannot_trace(c, "tracefs unmountable",
                 f"mount --bind /sys/kernel/btf {save}\n"
                 "mount -t tmpfs -o size=16k none /sys/kernel\n"
                 f"mkdir /sys/kernel/btf\nmount --bind {save} /sys/kernel/btf\n"
                 "mount -o remount,ro /sys/kernel\n"
                 "test -e /sys/kernel/btf/vmlinux && ! test -e /sys/kernel/tracing", "tracefs")
    # a kernel without a tracepoint we need: its tracefs directory hidden by an empty tmpfs
    cannot_trace(c, "no kmem:rss_stat tracepoint",
                 "mount -t tmpfs -o ro none /sys/kernel/tracing/events/kmem\n"
                 "! test -e /sys/kernel/tracing/events/kmem/rss_stat", "rss_stat")


def test_disk_full(c):
    """Reports into a 64 KiB tmpfs, for a run whose JSON alone is larger: a clear message naming
    the file, exit 125 although the command exited 0 (its own code when it did not), and every
    file that is there is complete; no temporary file is left."""
    import gzip
    loop = "i=0; while [ $i -lt 150 ]; do /bin/true; i=$((i+1)); done"
    # control: the JSON of this workload does not fit in 64 KiB
    p, data = trace([], c.name, ["sh", "-c", loop])
    size = os.path.getsize(os.path.join(OUT, c.name + ".json")) if data else 0
    c.ok(size > 64 * 1024, f"the workload's JSON is larger than the disk ({size} bytes)")
    d, copy = os.path.join(OUT, "diskfull"), os.path.join(OUT, "diskfull.seen")
    for rc_want, script in ((125, loop), (3, loop + "; exit 3")):
        import shutil
        shutil.rmtree(copy, ignore_errors=True)
        os.makedirs(d, exist_ok=True)
        outs = {"json": "out.json", "folded": "out.folded", "pprof": "out.pb.gz", "trace": "out.trace.json"}
        args = [a for k, f in outs.items() for a in (f"--{k}", os.path.join(d, f))]
        # what is on the small disk after the run is copied out before the namespace goes
        q = in_private_mounts(f"mount -t tmpfs -o size=64k none {d}",
                              ["sh", "-c", f'"$@"; rc=$?; cp -a {d} {copy}; exit $rc', "sh", TOOL, "-q"] + args +
                              ["--", "sh", "-c", script])
        what = f"command exiting {0 if rc_want == 125 else rc_want}"
        c.ok(q.returncode == rc_want, f"{what}: exit {rc_want} (got {q.returncode}: {q.stderr[-300:]!r})")
        msgs = q.stderr.strip().splitlines()
        c.ok(msgs and all(re.match(r"taskmem-trace: cannot write \S+: No space left on device$", m) for m in msgs),
             f"{what}: each failure one line naming the file and the cause: {msgs}")
        left = sorted(os.listdir(copy)) if os.path.isdir(copy) else None
        c.ok(left is not None and "out.json" not in left, f"{what}: no JSON under its name: {left}")
        c.ok(left is not None and not [f for f in left if ".tmp" in f], f"{what}: no temporary file left: {left}")
        for f in left or []:
            path = os.path.join(copy, f)
            try:
                if f.endswith(".json"):
                    json.load(open(path))
                elif f.endswith(".gz"):
                    gzip.decompress(open(path, "rb").read())
                else:
                    c.ok(all(re.search(r" \d+$", ln) for ln in open(path).read().splitlines()), f"{f} complete")
            except Exception as e:
                c.ok(False, f"{what}: {f} is there but not complete: {e!r}")
        c.ok(len(msgs) + len(left or []) == 4, f"{what}: each report is either complete or named as failed")


def test_valgrind(c):
    """The tool under valgrind's memcheck, with every output, on a short tree (a shell, c_known,
    true) and on a missing command: no invalid access or use of undefined memory (beyond the
    libbpf false reports in tests/valgrind.supp) and no definite leak. Always the plain build:
    valgrind cannot run the ASan one of make sanitize."""
    tool = os.path.join(ROOT, "taskmem-trace")
    known = os.path.join(BIN, "c_known")
    vg = ["valgrind", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
          "--suppressions=" + os.path.join(ROOT, "tests", "valgrind.supp"), tool, "-q"]
    js = os.path.join(OUT, c.name + ".json")
    outs = ["--json", js, "--folded", os.path.join(OUT, c.name + ".folded"),
            "--pprof", os.path.join(OUT, c.name + ".pb.gz"), "--trace", os.path.join(OUT, c.name + ".trace.json")]
    if os.path.exists(js):
        os.unlink(js)
    for what, cmd, want in (("tree", ["sh", "-c", f"{known} {KNOWN_FILE} 8 1 1 8 8 & /bin/true; wait"], 0),
                            ("missing command", ["/nonexistent/command"], 127)):
        q = subprocess.run(vg + outs + ["--"] + cmd, capture_output=True, text=True, timeout=300)
        open(os.path.join(OUT, f"{c.name}.{want}.log"), "w").write(q.stderr)
        c.ok(q.returncode == want, f"{what}: exit {want} under valgrind (got {q.returncode}; 99 is valgrind's errors)")
        m = re.search(r"ERROR SUMMARY: (\d+) errors", q.stderr)
        c.ok(m and m.group(1) == "0", f"{what}: valgrind found no error: {m and m.group(0)}")
        c.ok(re.search(r"definitely lost: 0 bytes|no leaks are possible", q.stderr),
             f"{what}: no definite leak")
    data = json.load(open(js)) if os.path.exists(js) else None
    c.ok(data and len(proc_named(data, "c_known")) == 1 and data["events"]["dropped"] == 0,
         "the report under valgrind is whole")


def test_fuzz(c):
    """make fuzz: each libFuzzer harness of tests/fuzz/ (the parsers of what a traced program
    controls) runs FUZZ_SECONDS (default 20) under ASan+UBSan, then its seeds and every crash
    ever found (tests/fuzz/regressions/) are replayed: no crash, leak, hang or UB. Under make
    sanitize (the suite's second pass) only the replay, unless FUZZ_SECONDS is set."""
    env = dict(os.environ)
    if TOOL.endswith("-san") and "FUZZ_SECONDS" not in env:
        env["FUZZ_SECONDS"] = "0"
    q = subprocess.run(["make", "-s", "-C", ROOT, "fuzz"], capture_output=True, text=True, timeout=1800, env=env)
    open(os.path.join(OUT, "fuzz.log"), "w").write(q.stdout + q.stderr)
    for line in q.stdout.splitlines():
        print("    ", line)
    harnesses = [f for f in os.listdir(os.path.join(ROOT, "tests", "fuzz")) if re.match(r"fuzz_\w+\.c$", f)]
    c.ok(q.returncode == 0, f"make fuzz exits 0 (got {q.returncode}: {(q.stdout + q.stderr)[-600:]!r})")
    c.ok(q.stdout.count("no crash") >= (1 if env.get("FUZZ_SECONDS") == "0" else 2) * len(harnesses) and harnesses,
         f"every harness fuzzed and replayed ({len(harnesses)} harnesses)")


def frame_bytes(data, pred):
    """Bytes at the peak under stacks with a frame for which pred holds."""
    return sum(s["bytes"] for s in data["peak"]["stacks"] if any(pred(f) for f in s["frames"]))


def test_stack_walk(c):
    """The user stack walk on a call chain known by construction (tests/programs/frames.c):
    main, then DEPTH + 1 frames alternating small_frame / big_frame (5000-byte frames that
    straddle pages and the walk's read windows), then touch(), which faults in 4 MiB. Also
    built 32-bit (gcc-multilib): compat tasks take the kernel's walk instead of the tool's. And
    built without frame pointers (-O1 -fomit-frame-pointer): walked by the DWARF CFI tables the
    tool loads from .eh_frame, through main and on into glibc's start code."""
    fp = ["-O0", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer"]
    nofp = ["-O1", "-fomit-frame-pointer", "-fno-inline"]
    for bits, flags, depths in ((64, fp, (40, 300)), (32, fp, (40,)), ("64-nofp", nofp, (40,))):
        exe = os.path.join(OUT, f"frames{bits}")
        b = subprocess.run(["gcc", "-m64" if bits == "64-nofp" else f"-m{bits}", "-g", "-fno-optimize-sibling-calls"] +
                           flags + ["-o", exe, os.path.join(ROOT, "tests", "programs", "frames.c")],
                           capture_output=True, text=True)
        if not c.ok(b.returncode == 0, f"gcc -m{bits}: {b.stderr[-200:]}"):
            continue
        for depth in depths:
            what = f"{bits}-bit, depth {depth}"
            # without frame pointers the walk needs the program's unwind table, which the tool
            # loads when it sees the exec: the program waits 300 ms for it
            p, data = trace([], f"{c.name}_{bits}_{depth}", [exe, str(depth)] + (["300"] if flags is nofp else []))
            if not c.ok(data is not None and p.returncode == 0, f"{what}: traced"):
                continue
            under = [s for s in data["peak"]["stacks"] if s["frames"] and s["frames"][0] == "touch"]
            c.near(sum(s["bytes"] for s in under), 4 * MIB, 0.02, f"{what}: 4 MiB under touch()")
            if not c.ok(len(under) >= 1, f"{what}: a stack from touch()"):
                continue
            fr = max(under, key=lambda s: s["bytes"])["frames"]
            chain = fr[1:]
            n = next((i for i, f in enumerate(chain) if f not in ("small_frame", "big_frame")), len(chain))
            # innermost first: the frame under touch() is the one called with d = 0
            want = ["small_frame" if (depth - d) % 2 == 0 else "big_frame" for d in range(depth + 1)]
            if depth + 2 <= 127:
                c.ok(chain[:n] == want and n < len(chain) and chain[n] == "main",
                     f"{what}: touch, {depth + 1} alternating frames, main (got {len(fr)} frames: "
                     f"{n} chain frames, then {chain[n:n + 2]})")
                if flags is nofp:  # and on through glibc's frameless start code, by its table
                    got = [f.split("@")[0] for f in chain[n + 1:n + 4]]  # libc6-dbg names its versions
                    c.ok(got == ["__libc_start_call_main", "__libc_start_main", "_start"],
                         f"{what}: main's callers through libc by CFI (got {chain[n + 1:]})")
            else:  # the walk keeps 127 frames, innermost first
                c.ok(len(fr) == 127 and chain == want[:126],
                     f"{what}: the innermost 127 frames, in order (got {len(fr)}, {n} chain frames)")


def test_symbolizers(c):
    """Frames beyond a plain ELF .symtab, each on a program whose make-up is known: a Go binary
    stripped of .symtab (named from .gopclntab), C++ (demangled by libiberty), and Node's JIT code
    (named from /tmp/perf-PID.map) checked against V8's own heapUsed."""
    # stripped Go: the goroutine stacks still land under runtime.malg, nearly every frame named
    gs = os.path.join(OUT, "go_stripped")
    b = subprocess.run(["go", "build", "-ldflags=-s", "-o", gs, "main.go"], cwd=os.path.join(ROOT, "bench", "go"),
                       capture_output=True, text=True, env=dict(os.environ, GO111MODULE="off",
                       GOCACHE=os.environ.get("GOCACHE", "/tmp/taskmem-gocache")))
    if c.ok(b.returncode == 0, f"go build -ldflags=-s: {b.stderr[-200:]}"):
        c.ok(" .symtab " not in subprocess.run(["readelf", "-S", gs], capture_output=True, text=True).stdout,
             "the Go binary has no .symtab")
        p, data = trace([], "test_symbolizers_go", [gs, "20000", "1"])
        if c.ok(data is not None, "JSON written (stripped Go)"):
            ev = data["events"]
            c.ok(ev["frames_unsymbolized"] <= 0.01 * ev["frames"],
                 f"stripped Go: {ev['frames_unsymbolized']} of {ev['frames']} frames unnamed")
            under = sum(s["bytes"] for s in data["peak"]["stacks"]
                        if s["label"] == "stack/goroutine" and "runtime.malg" in s["frames"])
            c.near(under, label_bytes(data, "stack/goroutine"), 0.05, "stripped Go: goroutine stacks under runtime.malg")
    # C++: 64 MiB touched by ns::Pool<int>::grow, shown demangled
    exe = os.path.join(OUT, "pool")
    b = subprocess.run(["g++", "-O1", "-g", "-fno-omit-frame-pointer", "-o", exe,
                        os.path.join(ROOT, "tests", "programs", "pool.cc")], capture_output=True, text=True)
    if c.ok(b.returncode == 0, f"g++: {b.stderr[-200:]}"):
        p, data = trace([], "test_symbolizers_cpp", [exe])
        if c.ok(data is not None and p.returncode == 0, "C++ program traced"):
            c.near(frame_bytes(data, lambda f: f == "ns::Pool<int>::grow"), 64 * MIB, 0.05,
                   "C++: bytes under the demangled ns::Pool<int>::grow")
    # Node: the JIT-compiled growTheHeap named from the perf map; its bytes vs V8's heapUsed
    # (resident V8 pages hold free space and GC copies too, hence the wide band)
    # (--perf-basic-prof turns on V8's log too: into OUT, not the working directory)
    p, data = trace([], "test_symbolizers_node", ["node", "--perf-basic-prof", "--no-logfile-per-isolate",
                                                  "--logfile=" + os.path.join(OUT, "symbolizers-v8.log"),
                                                  os.path.join(ROOT, "tests", "programs", "alloc.js")])
    m = re.search(r"HEAPUSED (\d+)", p.stdout)
    if c.ok(data is not None and m, f"node traced and printed heapUsed: {p.stdout[-200:]!r}"):
        used = int(m.group(1))
        jit = frame_bytes(data, lambda f: "growTheHeap" in f and f.startswith("JS:"))
        c.ok(0.5 * used <= jit <= 2 * used, f"Node: {jit/MIB:.1f} MiB under JS growTheHeap frames, "
             f"V8 heapUsed {used/MIB:.1f} MiB (want 0.5x to 2x)")

def test_classify_cpp_arena(c):
    """A rule of one runtime never fires in another: a C++ program (tests/programs/arena.cc) whose
    64 MiB of big mallocs come from google::protobuf::Arena::AllocateBlock is heap/malloc, though
    its mmaps' stacks hold "Arena::", the name HotSpot's rule takes for runtime/java-vm in a JVM."""
    exe = os.path.join(OUT, "arena")
    b = subprocess.run(["g++", "-O1", "-g", "-fno-omit-frame-pointer", "-o", exe,
                        os.path.join(ROOT, "tests", "programs", "arena.cc")], capture_output=True, text=True)
    if not c.ok(b.returncode == 0, f"g++: {b.stderr[-200:]}"):
        return
    p, data = trace([], c.name, [exe])
    if not c.ok(data is not None and p.returncode == 0, "C++ program traced"):
        return
    # the stacks reach the frame (else the test could not tell the two rules apart)
    under = frame_bytes(data, lambda f: f.startswith("google::protobuf::Arena::AllocateBlock"))
    c.near(under, 64 * MIB, 0.05, "bytes under google::protobuf::Arena::AllocateBlock")
    malloc = sum(s["bytes"] for s in data["peak"]["stacks"] if s["label"] == "heap/malloc" and
                 any(f.startswith("google::protobuf::Arena::AllocateBlock") for f in s["frames"]))
    c.near(malloc, 64 * MIB, 0.05, "of them heap/malloc")
    c.ok(label_bytes(data, "runtime/java-vm") == 0,
         f"no runtime/java-vm in a C++ program ({label_bytes(data, 'runtime/java-vm')} bytes)")


def at_time(data, t):
    """The timeline sample in force at t seconds (the last one at or before it)."""
    best = None
    for smp in data["timeline"]:
        if smp["t_s"] <= t:
            best = smp
    return best


# Each task benchmark of bench/ at N=10000 (issue 4): nothing dropped, the parts add up, the
# peak agrees with an untraced run's /usr/bin/time, most frames named, and the breakdown agrees
# with the runtime's own accounting (TASKMEM_MEMSTATS=1: one JSON line, taken at 0.8*S while
# every task waits, compared with the timeline sample in force then). Each tolerance says why.
# (program, S, peak tolerance, lowest share of frames named, oracle checker or None)
TASK_CELLS = ("stack/tokio-task", "stack/async-task", "stack/future")


def oracle_glibc(c, data, ms, smp, cells_label=None, cells_share=0):
    # glibc's own arena + mmapped bytes vs the pages malloc holds: the heap category, and the
    # task cells of Rust's async runtimes (malloc'd, labelled as task stacks): 10%, as arena
    # pages the allocator never touched are counted by glibc but not resident. The sample has
    # no labels: its cells are its stack category less the peak's other stacks (thread and
    # main stacks, flat while every task waits).
    want = ms["malloc_arena"] + ms["malloc_mmap_bytes"]
    labels = data["peak"]["labels"]
    other = sum(v for k, v in labels.items() if k.startswith("stack/") and k not in TASK_CELLS)
    cells = max(0, smp["categories"]["stack"] - other)
    c.near(smp["categories"]["heap"] + cells, want, 0.10, f"heap + task cells vs glibc arena+mmap at {ms['t_s']} s")
    if cells_label:
        # each spawn makes one malloc'd cell and nothing else per task grows malloc's heap
        # (the JoinHandle Vec is one block); found through glibc's frameless malloc by the CFI
        # walk: the cells hold most of what glibc counts (async-std's reactor keeps a timer
        # BTreeMap beside them)
        got = labels.get(cells_label, 0)
        c.ok(got >= cells_share * want, f"{cells_label} {got/MIB:.2f} MiB, {got/max(1, want):.0%} of glibc's "
             f"{want/MIB:.2f} MiB (want >= {cells_share:.0%}); {got/ms['tasks']:.0f} B per task")
    if ms.get("threads", 0) > 100:
        # each thread touches its stack's top pages (TCB, first frames): 8 KiB, within 15%
        per = smp["categories"]["stack"] / ms["threads"]
        c.ok(0.85 * 8192 <= per <= 1.15 * 8192, f"stack per thread {per:.0f} B, want 8 KiB within 15%")


def oracle_go(c, data, ms, smp):
    c.near(smp["categories"]["stack"], ms["StackInuse"], 0.10, "stack vs Go's StackInuse")


def oracle_node(c, data, ms, smp):
    # V8's physical heap pages are in heap (heap/v8 and its malloc'd side tables): at least 85%
    # of total_physical_size (V8 counts whole committed pages, some never touched), and heap
    # cannot exceed it by more than malloc+brk
    phys = ms["heap"]["total_physical_size"]
    c.ok(0.85 * phys <= smp["categories"]["heap"] <= phys + 64 * MIB,
         f"heap {smp['categories']['heap']/MIB:.1f} MiB vs V8 total_physical_size {phys/MIB:.1f} MiB")


def oracle_jvm(c, data, ms, smp):
    # Native Memory Tracking counts committed memory, not resident: with the heap pinned and
    # pre-touched (JAVA_PINNED) the Java heap is both, so heap/java must equal NMT's "Java Heap"
    # (3%); the code cache is committed as it fills (10%); the rest are upper bounds: GC side
    # tables are committed whole and touched as used, and NMT's thread stacks count from each
    # stack's lowest resident page up (the JVM bangs pages far below sp), holes included
    labels, nmt = data["peak"]["labels"], ms["nmt_committed"]
    c.near(labels.get("heap/java", 0), nmt["Java Heap"], 0.03, "heap/java vs NMT Java Heap (pinned, pre-touched)")
    c.near(labels.get("runtime/java-code", 0), nmt["Code"], 0.10, "runtime/java-code vs NMT Code")
    c.ok(labels.get("runtime/java-gc", 0) <= nmt["GC"],
         f"runtime/java-gc {labels.get('runtime/java-gc', 0)/MIB:.1f} MiB <= NMT GC {nmt['GC']/MIB:.1f} MiB")
    st = ms["nmt_thread_stack_committed"]
    c.ok(0 < smp["categories"]["stack"] <= st, f"stack {smp['categories']['stack']/MIB:.1f} MiB at {ms['t_s']} s "
         f"<= NMT's thread stacks {st/MIB:.1f} MiB")


def oracle_mono(c, data, ms, smp):
    # SGen's live bytes sit in heap/mono with the nursery and free major blocks: between 1x and 2x
    gc = ms["gc_heap_bytes"]
    c.ok(gc <= smp["categories"]["heap"] <= 2 * gc + 16 * MIB,
         f"heap {smp['categories']['heap']/MIB:.1f} MiB vs GC.GetTotalMemory {gc/MIB:.1f} MiB")


def oracle_beam(c, data, ms, smp):
    # erlang:memory(total) is allocated bytes inside the carriers, which heap/beam holds, with
    # the processes' heaps and stacks now labelled stack/erlang-process
    tot, procs = ms["memory"]["total"], ms["memory"]["processes"]
    ep = data["peak"]["labels"].get("stack/erlang-process", 0)
    heap = smp["categories"]["heap"] + ep
    c.ok(0.9 * tot <= heap <= 2 * tot,
         f"heap + erlang-process {heap/MIB:.1f} MiB vs erlang:memory(total) {tot/MIB:.1f} MiB")
    # erlang:memory(processes): bytes allocated for processes (control blocks, heaps, stacks),
    # made by erl_create_process and garbage collections, found through beam.smp's frameless
    # code by the CFI walk; resident pages of carriers vs allocated bytes in them: 15%
    c.near(ep, procs, 0.15, "stack/erlang-process vs erlang:memory(processes)")


def oracle_python(c, data, ms, smp):
    # tracemalloc sees every Python allocation (objects in pymalloc arenas and in malloc), plus
    # its own traces, all resident: the heap category holds at least tracemalloc's current bytes
    cur = ms["tracemalloc_current"] + ms["tracemalloc_overhead"]
    c.ok(0.9 * cur <= smp["categories"]["heap"] <= 3 * cur,
         f"heap {smp['categories']['heap']/MIB:.1f} MiB vs tracemalloc {cur/MIB:.1f} MiB (with its overhead)")


RUNTIME_BENCH = [
    ("go_bench", 3, 0.05, 0.95, oracle_go),
    ("rust_tokio_bench", 3, 0.05, 0.70, lambda *a: oracle_glibc(*a, "stack/tokio-task", 0.85)),
    # a few-MiB run: +-0.5 MiB is 7%
    ("rust_async_std_bench", 3, 0.08, 0.70, lambda *a: oracle_glibc(*a, "stack/async-task", 0.60)),
    ("rust_futures_bench", 3, 0.05, 0.70, lambda *a: oracle_glibc(*a, "stack/future", 0.85)),
    ("rust_threads_bench", 3, 0.05, 0.60, oracle_glibc),
    ("c_threads_bench", 3, 0.05, 0.60, oracle_glibc),
    ("node_bench", 3, 0.08, 0.90, oracle_node),               # GC timing moves the peak
    # G1 sizes its heap by the timing of its collections, so the test pins it, pre-touched
    # (JAVA_PINNED); its peak is compared at the plateau (see runtime_test), which takes one of
    # a few levels ~9.5 MiB apart: 379.2, 388.8 or 398.3 MiB in eight untraced runs here (flat
    # from 4 s to 10 s in each), hence 6%. NMT (committed, not resident) in a run of its own.
    ("java_threads_bench", 12, 0.06, 0.90, oracle_jvm),
    # mono-sgen is stripped (no debug package): the CFI walk goes through its unnamed frames
    ("csharp_bench", 3, 0.08, 0.45, oracle_mono),
    ("elixir_bench", 3, 0.08, 0.35, oracle_beam),             # carrier growth varies run to run
    ("python_bench", 3, 0.05, 0.45, oracle_python),           # named from python3.11-dbg
]


# A Java heap of fixed size, touched at start: the same peak run after run (read by the
# java launcher from the environment, in the traced and the untraced run alike)
JAVA_PINNED = {"JDK_JAVA_OPTIONS": "-Xms128m -Xmx128m -XX:+AlwaysPreTouch"}


def runtime_test(prog, secs, tol, named, oracle):
    def test(c):
        cmd = [os.path.join(BIN, prog), "10000", str(secs)]
        # tracemalloc costs Python memory: its oracle gets a run of its own; the JVM's NMT makes
        # every exiting thread's stack resident (its peak triples), and is not an oracle here
        env = {} if prog == "python_bench" or oracle is None else {"TASKMEM_MEMSTATS": "1"}
        if prog == "java_threads_bench":
            env = dict(JAVA_PINNED)
        p, data = trace(["-q"], c.name, cmd, env=env, timeout=300)
        if not common_checks(c, data, p):
            return
        c.ok(p.returncode == 0, f"exit code {p.returncode}")
        if prog == "java_threads_bench":
            # The JVM's peak is its exit, when its 10k threads bang their stacks' shadow pages
            # as they go: 389 to 670 MiB run to run, untraced too. Compare the plateau while
            # every thread waits instead (see RUNTIME_BENCH for its levels).
            t = 0.6 * secs
            untraced, smp = rss_untraced_at(cmd, t, env=env), at_time(data, t)
            if c.ok(untraced and smp, f"an untraced /proc sample and a timeline sample at {t:.1f} s"):
                c.near(smp["kernel_rss_bytes"], untraced, tol, f"RSS at {t:.1f} s vs an untraced run's /proc")
            # the peak itself against the kernel's high-water mark of the same run (its maxrss)
            jv = proc_named(data, "java")
            if c.ok(len(jv) == 1, "the JVM process is in the report"):
                c.near(jv[0]["peak_rss_bytes"], jv[0]["kernel_peak_rss_bytes"], 0.02,
                       "JVM peak vs the kernel's high-water mark of the same run")
        else:
            untraced, _ = maxrss_untraced(cmd, env=env)
            c.near(data["peak"]["kernel_rss_bytes"], untraced, tol, "peak vs untraced /usr/bin/time maxrss")
        ev = data["events"]
        share = 1 - ev["frames_unsymbolized"] / max(1, ev["frames"])
        c.ok(share >= named, f"frames named: {share:.1%} (want >= {named:.0%})")
        if oracle is None:
            return
        if prog == "python_bench":
            # 10k coroutine objects (~200 B each, each holding a suspended frame) are asyncio's
            # task stacks (tracemalloc's hooks, in the run below, would hide make_gen)
            co = data["peak"]["labels"].get("stack/coroutine", 0)
            c.ok(co >= 1 * MIB, f"stack/coroutine {co/MIB:.2f} MiB for 10k suspended coroutines (want >= 1 MiB)")
        if prog in ("python_bench", "java_threads_bench"):
            # the runtime's own accounting changes what it measures (tracemalloc's memory; NMT
            # makes every exiting JVM thread's stack resident): a run of its own
            p, data = trace(["-q"], c.name + "_memstats", cmd, env=dict(env, TASKMEM_MEMSTATS="1"), timeout=300)
            if not c.ok(data is not None, "the MEMSTATS run traced"):
                return
        ms = memstats_of(p.stderr)
        if c.ok(ms is not None, "the runtime printed its own accounting (MEMSTATS)"):
            # go_bench prints MemStats with every goroutine alive, at its peak
            smp = at_time(data, ms["t_s"]) if "t_s" in ms else data["peak"]
            if c.ok(smp is not None, f"a timeline sample at {ms.get('t_s')} s"):
                oracle(c, data, ms, smp)
    test.__name__ = "test_rt_" + prog.replace("_bench", "")
    return test


RUNTIME_TESTS = [runtime_test(*r) for r in RUNTIME_BENCH]

TESTS = [test_c_known, test_frees, test_drops, test_go_100k, test_go_deep, test_go_1m, test_exit_codes, test_tree, test_concurrent, test_attach, test_html, test_stack_walk, test_symbolizers, test_classify_cpp_arena] + RUNTIME_TESTS + [test_floods, test_make_j, test_exec_elsewhere, test_pipeline, test_hostile_debuglink, test_no_btf, test_no_tracefs,
         test_disk_full, test_valgrind, test_fuzz, test_nothing_left]


def main():
    only = sys.argv[sys.argv.index("-k") + 1].split(",") if "-k" in sys.argv else []  # -k a,b: either
    os.makedirs(OUT, exist_ok=True)
    if not os.path.exists(KNOWN_FILE):
        with open(KNOWN_FILE, "wb") as f:
            f.write(os.urandom(64 * MIB))
    for t in TESTS:
        if only and not any(o in t.__name__ for o in only):
            continue
        t0 = time.time()
        # these machines are shared and noisy: a failed test runs once more, and a pass on the
        # second try is printed as FLAKY with the first failure's reasons, never silently
        first = None
        for attempt in range(2):
            c = Check(t.__name__)
            try:
                t(c)
            except Exception as e:  # a crash is a failure, with its reason
                c.fails.append(f"exception: {e!r}")
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
    for k, v in results.items():
        open(os.path.join(OUT, k), "w").write(str(v))
    print(f"integration: {results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
