"""Accounting of whole process trees against oracles: a C program of known make-up, each way
memory is freed, a stalled consumer, trees, pipelines, concurrent runs, floods, make -j and
images gone before their exec is read."""
import json
import os
import re
import subprocess
import time

from lib import (BIN, KNOWN_FILE, MIB, OUT, TOOL, check_pprof, comm_of, common_checks, descendants,
                 label_bytes, last_images, maxrss_of, maxrss_untraced, proc_named, sample_rss, trace)


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


def test_sampled(c):
    """--sample-bytes on c_known (known make-up): the peak is the kernel's high-water mark and
    each label is what the program touched, as in the exact mode (only stacks are sampled); each
    function's estimated bytes within 5% of what it touched, in three runs (each run its own
    draws); a label's stacks add up to it; every output marked estimated; a bad N is bad usage."""
    n = 8192  # one-page chance 0.39: a 32 MiB stack's estimate has a relative error of ~1.4%
    cmd = [os.path.join(BIN, "c_known"), KNOWN_FILE, "64", "8", "4", "64", "48"]
    known = {"grow_heap": ("heap/malloc", 64), "use_stack": ("stack/thread", 32),
             "read_file": ("file/known.data", 64), "raw_anon": ("other/mmap", 48)}
    for run in range(3):
        p, data = trace(["--sample-bytes", str(n)], c.name, ["/usr/bin/time", "-v"] + cmd)
        if not common_checks(c, data, p):
            return
        c.ok(p.returncode == 0, f"exit code {p.returncode}")
        k = proc_named(data, "c_known")
        if c.ok(len(k) == 1, "one c_known process"):
            c.near(k[0]["peak_rss_bytes"], maxrss_of(p.stderr), 0.01, f"run {run}: peak vs the kernel's hiwater")
            cats = k[0]["categories"]
            c.near(cats["heap"], 64 * MIB, 0.01, f"run {run}: heap category (exact, not sampled)")
            c.near(cats["other"], 48 * MIB, 0.01, f"run {run}: other category")
        stacks = data["peak"]["stacks"]
        for fn, (label, mib) in known.items():
            c.near(label_bytes(data, label), mib * MIB, 0.01, f"run {run}: label {label} (exact)")
            est = sum(s["bytes"] for s in stacks if s["label"] == label and fn in s["frames"])
            c.near(est, mib * MIB, 0.05, f"run {run}: {fn}'s estimate")
            rows = sum(s["bytes"] for s in stacks if s["label"] == label)
            c.ok(rows >= label_bytes(data, label), f"run {run}: {label}'s stacks ({rows}) add up to it "
                 f"({label_bytes(data, label)}), or more where its [unsampled] rest is below 0")
        c.ok(data.get("sampled", {}).get("bytes") == n and all(s.get("estimated") for s in stacks),
             f"run {run}: JSON says sampled, every stack estimated")
        c.ok("estimated (--sample-bytes %d" % n in p.stderr, "the summary says estimated")
        pp = subprocess.run(["go", "tool", "pprof", "-raw", os.path.join(OUT, c.name + ".pb.gz")],
                            capture_output=True, text=True).stdout
        c.ok(re.search(r"^Period: %d$" % n, pp, re.M) and "estimated" in pp, "pprof: period N and a comment")
    for bad in ("0", "4095", "x", "-8192", "1e6"):
        q = subprocess.run([TOOL, "--sample-bytes", bad, "--", "/bin/true"], capture_output=True, text=True)
        c.ok(q.returncode == 2 and q.stderr.startswith(os.path.basename(TOOL) + ": --sample-bytes must be"),
             f"--sample-bytes {bad}: exit {q.returncode}, {q.stderr.strip()!r}")


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
    while time.time() < deadline and not any(comm_of(q) == "c_known" for q in descendants(tool.pid)):
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
        maxrss = maxrss_of(err)
        if c.ok(maxrss is not None, f"/usr/bin/time -v printed c_known's maximum RSS: {err[-300:]!r}"):
            c.near(kn[0]["kernel_peak_rss_bytes"], maxrss, 0.01, "the kernel's high-water mark is reported")
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
