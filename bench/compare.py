#!/usr/bin/env python3
"""The "how much memory do 1 million concurrent tasks need" comparison, explained (issue 4).

For every program of bench/bin and every N, one untraced run under /usr/bin/time (peak RSS,
CPU % = (user+sys)/wall, wall) and one under `taskmem-trace -q --json` (the split of the peak
into stack/heap/runtime/file/other, dropped events, frames symbolized). Runs that cannot work
here are skipped with the reason: thread counts over the kernel's limits, an estimated peak over
--max-gib (from the smaller N already measured), a smaller N that failed or timed out.
Writes OUT/compare.md (table, cost per task of each category, what one more task costs by
stack between the two largest N with the kernel's share per task, chart), OUT/compare.svg,
OUT/compare.json (raw results; --keep merges a new run into it) and keeps each traced run's
JSON as OUT/traces/PROG-N.json (the marginal cost is `taskmem-trace diff` of two of them).

As root, after `make && make bench`:  make compare   or   bench/compare.py --n 1 10000 --s 3
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "bench", "bin")
# Rows that run in the trixie root (make trixie-root bench-trixie): row -> its program there
TRIXIE = os.environ.get("TASKMEM_TRIXIE", "/var/cache/taskmem-trace/trixie")
TRIXIE_OPT = "/opt/taskmem-bench"
TRIXIE_ROWS = {"java_vthreads_bench": "java_vthreads_bench", "go1.24_bench": "go_bench",
               "rust1.85_tokio_bench": "rust_tokio_bench"}
# A shell of the root waits this long before it execs the program: the tool loads the unwind
# table of the root's libc (not the host's, preloaded) when a process first maps it, and a
# program's first stacks (the JVM's heap reservation, tokio's first cells) would stop in its
# frameless code meanwhile (tests/integration/test_trixie.py SETTLE). Not in the wall time.
TRIXIE_SETTLE = 0.5
PROGRAMS = ["go_bench", "go1.24_bench", "rust_tokio_bench", "rust1.85_tokio_bench", "rust_async_std_bench",
            "rust_futures_bench", "rust_threads_bench", "c_threads_bench", "java_threads_bench",
            "java_vthreads_bench", "csharp_bench", "node_bench", "python_bench", "elixir_bench"]
EXTRA = {}  # --program NAME=PATH: rows of programs outside bench/bin (run as PATH N S)
THREADED = {"rust_threads_bench", "c_threads_bench", "java_threads_bench"}  # 1 task = 1 thread
CATS = ["stack", "heap", "runtime", "file", "other"]
COLORS = {"stack": "#4e79a7", "heap": "#f28e2b", "runtime": "#e15759", "file": "#76b7b2",
          "other": "#bab0ac"}
# Bytes per task assumed before anything of a program was measured (generous), for --max-gib.
GUESS_PER_TASK = {"java_threads_bench": 256 << 10, "c_threads_bench": 64 << 10,
                  "rust_threads_bench": 64 << 10}
GUESS_DEFAULT = 8 << 10
MiB = 1 << 20
KERNEL_PARTS = ["kernel_stack_bytes", "pagetables_bytes", "sock_bytes", "slab_bytes", "total_bytes"]
KERNEL_NAMES = {"kernel_stack": "stacks", "pagetables": "page tables", "sock": "sockets", "slab": "slab"}
MARGINAL_FRAMES = 3  # a stack in the marginal table: its label and this many innermost named frames
GLIBC_ALLOC = re.compile(r"(_int_(malloc|memalign|realloc)|_mid_memalign|sysmalloc|__libc_(malloc|calloc|"
                         r"realloc|memalign)|malloc|calloc|realloc|posix_memalign|aligned_alloc|"
                         r"(__)?mem(cpy|move|set)(_\w+)?)(\.\w+)*$")
MARGINAL_TOP = 5     # stacks and labels kept per program (compare.md shows 3)


def read_int(path, default=None):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def thread_limit():
    """How many threads one process can have here, and which limit says so."""
    used = sum(1 for d in os.listdir("/proc") if d.isdigit())
    limits = [(read_int("/proc/sys/kernel/threads-max", 1 << 30), "kernel.threads-max"),
              (read_int("/proc/sys/kernel/pid_max", 1 << 30) - used, "kernel.pid_max"),
              # each thread stack is a mapping plus its guard page
              (read_int("/proc/sys/vm/max_map_count", 1 << 30) // 2, "vm.max_map_count/2")]
    pids_max = read_int("/sys/fs/cgroup/pids/pids.max") or read_int("/sys/fs/cgroup/pids.max")
    if pids_max:
        limits.append((pids_max, "cgroup pids.max"))
    return min(limits)


def tree_threads(root, include_root):
    """Threads of every process under root (from /proc/PID/task/*/children)."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            for tid in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    todo += [int(c) for c in f.read().split()]
            if pid != root or include_root:
                total += len(os.listdir("/proc/%d/task" % pid))
        except OSError:
            pass
    return total


def run(argv, timeout, include_root):
    """Runs argv in its own process group; samples threads and MemAvailable while it runs.
    Returns (exit code or a reason string, max threads seen, wall seconds)."""
    errf = tempfile.TemporaryFile()  # a file, not a pipe: a chatty program cannot block on it
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errf, start_new_session=True,
                         cwd=ROOT)
    t0, threads, why = time.time(), 0, None
    while p.poll() is None:
        threads = max(threads, tree_threads(p.pid, include_root))
        if time.time() - t0 > timeout:
            why = "timeout (> %d s)" % timeout
        elif mem_available() < 2 << 30:
            why = "killed: MemAvailable under 2 GiB"
        if why:
            os.killpg(p.pid, 15)  # taskmem-trace stops the command and still writes reports
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
            break
        time.sleep(0.1)
    p.wait()
    errf.seek(0)
    err = errf.read().decode(errors="replace").strip()
    if why is None and p.returncode != 0:
        why = "exit %d: %s" % (p.returncode, err.splitlines()[-1][:80] if err else "")
    return why, threads, time.time() - t0


def untraced(cmd, timeout, tmp, settle=0):
    out = os.path.join(tmp, "time.txt")
    why, threads, _ = run(["/usr/bin/time", "-o", out, "-f", "%e %U %S %M"] + cmd, timeout, False)
    if why:
        return {"error": why}
    with open(out) as f:
        wall, user, sys_, kib = f.read().split()[-4:]  # a killed child adds a line first
    wall = float(wall) - settle
    return {"peak": int(kib) * 1024, "wall": wall, "threads": threads,
            "cpu_pct": 100 * (float(user) + float(sys_)) / wall if wall else 0.0}


def by_function(pk):
    """Bytes at the peak per label and innermost interpreted function (a CPython frame,
    "module.function (file:line)"): which of the program's functions made a label's bytes."""
    out = {}
    for s in pk["stacks"]:
        f = next((x for x in s["frames"] if re.search(r" \(\S+:\d+\)$", x)), None)
        if f:
            k = "%s in %s" % (s["label"], f.rsplit(" (", 1)[0])
            out[k] = out.get(k, 0) + s["bytes"]
    return out


def trace_path(out_dir, prog, n):
    """Where a traced run's JSON is kept: the marginal cost per stack diffs two of them."""
    return os.path.join(out_dir, "traces", "%s-%d.json" % (prog, n))


def traced(tool, cmd, timeout, out, settle=0):
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if os.path.exists(out):
        os.unlink(out)
    why, threads, _ = run([tool, "-q", "--json", out, "--"] + cmd, timeout, False)
    if why:
        return {"error": why}
    with open(out) as f:
        j = json.load(f)
    ev, pk = j["events"], j["peak"]
    return {"peak": pk["rss_bytes"], "kernel_peak": pk["kernel_rss_bytes"], "t_peak": pk["t_s"],
            "cats": {c: pk["categories"].get(c, 0) for c in CATS}, "threads": threads,
            "dropped": ev["dropped"], "wall": j["duration_s"] - settle,
            "unattributed": pk.get("unattributed_bytes", 0),
            "symbolized": 1 - ev["frames_unsymbolized"] / ev["frames"] if ev["frames"] else 1.0,
            "labels": pk["labels"], "functions": by_function(pk),
            # the kernel's own high-water mark, per process
            "kernel_maxrss": max([p["kernel_peak_rss_bytes"] for p in j["processes"]] + [0]),
            # what the kernel spends on the tree outside its RSS, at that part's own peak (JSON
            # `kernel`: only where the run had a memory cgroup of its own)
            "kernel": {k: j["kernel"][k] for k in KERNEL_PARTS} if "kernel" in j else None}


def named(frames, k):
    """The k innermost frames that have a name (not MODULE+0xOFFSET), glibc's malloc and mem*
    functions skipped (every malloc'd task cell would share them) and its symbol versions
    dropped: how a stack is shown in a table cell."""
    out = [re.sub(r"@@?GLIBC_[0-9.]+$", "", f) for f in frames
           if f and f != "[unknown]" and not re.search(r"(^|\+)0x[0-9a-fA-F]+$", f)]
    return ([f for f in out if not GLIBC_ALLOC.match(f)] or out)[:k]


def marginal(tool, out_dir, prog, results):
    """What one more task costs, per stack: `taskmem-trace diff --json` of the traced runs at the
    two largest N that ran (B - A per stack, the processes merged, as `scale` fits them) divided
    by the difference of the N. Stacks are merged by label and MARGINAL_FRAMES innermost named
    frames; labels from the runs' own per-label bytes; the kernel's share likewise. None when
    fewer than two runs (or their JSON) are there."""
    ok = {r["n"]: r["traced"] for r in results if r["prog"] == prog and "peak" in r["traced"]}
    if len(ok) < 2:
        return None
    n1, n2 = sorted(ok)[-2:]
    a, b = trace_path(out_dir, prog, n1), trace_path(out_dir, prog, n2)
    if not (os.path.exists(a) and os.path.exists(b)):
        return None
    with tempfile.TemporaryDirectory(prefix="compare.") as tmp:
        out = os.path.join(tmp, "diff.json")
        p = subprocess.run([tool, "diff", a, b, "--json", out], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        if p.returncode != 0 or not os.path.exists(out):
            print("compare.py: taskmem-trace diff %s %s: exit %d: %s" % (a, b, p.returncode, p.stderr.strip()[-200:]),
                  file=sys.stderr)
            return None
        with open(out) as f:
            d = json.load(f)
    dn = n2 - n1
    stacks = {}
    for s in d["diff"]:
        k = (s["label"], tuple(named(s["frames"], MARGINAL_FRAMES)))
        stacks[k] = stacks.get(k, 0) + s["diff_bytes"]
    top = sorted(stacks.items(), key=lambda kv: -kv[1])[:MARGINAL_TOP]
    l1, l2 = ok[n1]["labels"], ok[n2]["labels"]
    labels = {k: (l2.get(k, 0) - l1.get(k, 0)) / dn for k in set(l1) | set(l2)}
    return {"n1": n1, "n2": n2, "total": d["total"]["diff_bytes"] / dn,
            "stacks": [{"label": k[0], "frames": list(k[1]), "bytes_per_task": v / dn} for k, v in top],
            "labels": dict(sorted(labels.items(), key=lambda kv: -kv[1])[:MARGINAL_TOP]),
            "kernel": {k["part"]: k["diff_bytes"] / dn for k in d.get("kernel") or []} or None}


def command(prog, n, s):
    if prog in EXTRA:
        return [EXTRA[prog], str(n), "%g" % s]
    if prog in TRIXIE_ROWS:
        return [os.path.join(ROOT, "scripts", "trixie-root.sh"), "--run", TRIXIE, "/bin/sh", "-c",
                'sleep %g; exec "$@"' % TRIXIE_SETTLE, "sh", "%s/%s" % (TRIXIE_OPT, TRIXIE_ROWS[prog]),
                str(n), "%g" % s]
    return [os.path.join(BIN, prog), str(n), "%g" % s]


def skip_reason(prog, n, results, args, tlimit):
    if prog in TRIXIE_ROWS:
        if not os.path.isfile(os.path.join(TRIXIE, "root", ".complete")):
            return "no trixie root at %s (make trixie-root bench-trixie)" % TRIXIE
        if not os.access(os.path.join(TRIXIE, "root", TRIXIE_OPT[1:], TRIXIE_ROWS[prog]), os.X_OK):
            return "not built in the trixie root (make bench-trixie)"
    elif not os.access(EXTRA.get(prog) or os.path.join(BIN, prog), os.X_OK):
        return "not built (make bench)"
    if prog in THREADED and n + 64 > tlimit[0]:
        return "%s threads > %s (%d)" % (fmt_n(n), tlimit[1], tlimit[0])
    done = [r for r in results if r["prog"] == prog and r["n"] < n]
    failed = [r for r in done if r.get("skip") or "error" in r["traced"] or "error" in r["untraced"]]
    if failed:
        return "N=%s did not run" % fmt_n(max(r["n"] for r in failed))
    ok = [r for r in done if "peak" in r["untraced"]]
    if ok:  # extrapolate peak and time linearly from the largest N measured
        big = max(ok, key=lambda r: r["n"])
        base = min(ok, key=lambda r: r["n"])["untraced"]["peak"]
        per_task = (big["untraced"]["peak"] - base) / big["n"] if big["n"] > 1 else \
            GUESS_PER_TASK.get(prog, GUESS_DEFAULT)
        est = base + per_task * n
        walls = [big["untraced"]["wall"] - args.s_for(prog), big["traced"].get("wall", 0) - args.s_for(prog)]
        est_t = max(walls) * n / max(big["n"], 1) + args.s_for(prog)
        if big["n"] > 1 and est_t > args.timeout:
            return "estimated %.0f s > --timeout %d" % (est_t, args.timeout)
    else:
        est = 64 * MiB + GUESS_PER_TASK.get(prog, GUESS_DEFAULT) * n
    if est > args.max_gib * (1 << 30) or est > mem_available() - (2 << 30):
        return "estimated peak %.1f GiB > limit" % (est / (1 << 30))
    return None


def fmt_n(n):
    return "%dM" % (n // 10**6) if n >= 10**6 and n % 10**6 == 0 else \
        "%dk" % (n // 1000) if n >= 1000 and n % 1000 == 0 else str(n)


def fmt_b(b):
    return "{:,.0f}".format(b)


def mib(b):
    return "%.1f" % (b / MiB) if b is not None else "-"


def write_md(results, path, svg_name, args):
    rows = ["| program | N | S | peak MiB (untraced) | CPU % | wall s | threads | peak MiB (traced) "
            "| Δ | stack | heap | runtime | file | other | dropped | symbolized |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    notes = []
    for r in sorted(results, key=lambda r: (PROGRAMS.index(r["prog"]), r["n"])):
        u, t = r["untraced"], r["traced"]
        head = "| %s | %s | %g " % (r["prog"], fmt_n(r["n"]), r["s"])
        if r.get("skip"):
            rows.append(head + "| skipped: %s |" % r["skip"] + " |" * 13)
            continue
        cells = ["%s" % mib(u["peak"]), "%.0f" % u["cpu_pct"], "%.2f" % u["wall"],
                 str(u["threads"])] if "peak" in u else [u["error"], "", "", ""]
        if "peak" in t:
            d = 100.0 * (t["peak"] - u["peak"]) / u["peak"] if "peak" in u and u["peak"] else None
            cells += [mib(t["peak"]), "%+.1f%%" % d if d is not None else "-"]
            cells += [mib(t["cats"][c]) for c in CATS]
            cells += [str(t["dropped"]), "%.0f%%" % (100 * t["symbolized"])]
            if d is not None and abs(d) > 5:
                notes.append("%s N=%s: traced peak %s MiB vs untraced %s MiB (%+.1f%%); the "
                             "kernel's maxrss of the traced process: %s MiB" % (
                                 r["prog"], fmt_n(r["n"]), mib(t["peak"]), mib(u["peak"]), d,
                                 mib(t["kernel_maxrss"])))
            slow = max(u.get("wall", 0), t["wall"]) - r["s"]
            if slow > r["s"]:
                notes.append("%s N=%s: the run took S + %.0f s with S = %g s: if starting took "
                             "longer than S, fewer than N were alive at once (see the timeline)" % (
                                 r["prog"], fmt_n(r["n"]), slow, r["s"]))
            if t["dropped"]:
                notes.append("%s N=%s: %d events dropped" % (r["prog"], fmt_n(r["n"]), t["dropped"]))
        else:
            cells += [t["error"]] + [""] * 9
        rows.append(head + "| " + " | ".join(cells) + " |")
    per_task = ["| program | N | total B/task | " + " | ".join(CATS) + " | kernel B/task (stacks, page tables, slab) "
                "| largest labels (B/task) |",
                "|---|--:|--:|" + "--:|" * len(CATS) + "--:|---|"]
    for prog in PROGRAMS:
        ok = {r["n"]: r["traced"] for r in results if r["prog"] == prog and "peak" in r["traced"]}
        if 1 not in ok or max(ok) == 1:
            continue
        n = max(ok)
        cost = {c: (ok[n]["cats"][c] - ok[1]["cats"][c]) / n for c in CATS}
        grow = {k: (v - ok[1]["labels"].get(k, 0)) / n for k, v in ok[n]["labels"].items()}
        labels = ", ".join("%s %.0f" % kv for kv in sorted(grow.items(), key=lambda kv: -kv[1])[:4])
        # interpreted code: which of its functions the largest labels' bytes came from
        fgrow = {k: (v - ok[1].get("functions", {}).get(k, 0)) / n for k, v in ok[n].get("functions", {}).items()}
        if fgrow:
            labels += "; by function: " + ", ".join(
                "%s %.0f" % kv for kv in sorted(fgrow.items(), key=lambda kv: -kv[1])[:3])
        k1, kn = ok[1].get("kernel"), ok[n].get("kernel")
        kern = "%.0f (%.0f, %.0f, %.0f)" % tuple(
            (kn[k] - k1[k]) / n for k in ("total_bytes", "kernel_stack_bytes", "pagetables_bytes", "slab_bytes")) \
            if k1 and kn else "-"
        per_task.append("| %s | %s | %.0f | %s | %s | %s |" % (
            prog, fmt_n(n), (ok[n]["peak"] - ok[1]["peak"]) / n,
            " | ".join("%.0f" % cost[c] for c in CATS), kern, labels))
    marg = ["| program | N | total B/task | kernel at its peak / N (B) | kernel B/task, marginal "
            "| largest stacks, marginal (label: innermost frames, B/task) |", "|---|--:|--:|--:|--:|---|"]
    for prog in PROGRAMS:
        t = next((r["traced"] for r in results if r["prog"] == prog and "marginal" in r["traced"]), None)
        if not t:
            continue
        m = t["marginal"]
        k = t.get("kernel")
        at_peak = "%s (%s)" % (fmt_b(k["total_bytes"] / m["n2"]), ", ".join(
            "%s %s" % (KERNEL_NAMES[p], fmt_b(k[p + "_bytes"] / m["n2"])) for p in KERNEL_NAMES)) if k else "-"
        km = m.get("kernel")
        slope = "%s (%s)" % (fmt_b(km["total"]), ", ".join(
            "%s %s" % (KERNEL_NAMES[p], fmt_b(km[p])) for p in KERNEL_NAMES)) if km else "-"
        top = "; ".join("%s `%s`: %s" % (fmt_b(x["bytes_per_task"]), x["label"], " <- ".join(x["frames"]) or "?")
                        for x in m["stacks"][:3])
        marg.append("| %s | %s → %s | %s | %s | %s | %s |" % (prog, fmt_n(m["n1"]), fmt_n(m["n2"]),
                                                          fmt_b(m["total"]), at_peak, slope, top))
    with open(path, "w") as f:
        f.write("# Memory of N concurrent tasks, and where it goes\n\n")
        f.write("%s on Linux %s (%d cores, %.0f GiB), %s. Each task waits "
                "S seconds.\n\n" % (", ".join("`bench/compare.py %s`" % a for a in args.runs),
                                     os.uname().release, os.cpu_count(),
                                     os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30),
                                     time.strftime("%Y-%m-%d")))
        f.write("Untraced: `/usr/bin/time` (peak = max RSS, CPU % = (user+sys)/wall, threads = most "
                "seen alive, sampled every 0.1 s). Traced: `taskmem-trace -q --json`; peak of the "
                "process tree split by category (MiB), Δ = traced peak vs untraced, dropped "
                "events, share of distinct frames symbolized.\n\n")
        f.write("\n".join(rows) + "\n\n")
        f.write("## Cost per task\n\n(category at N - category at N=1) / N, in bytes, traced, "
                "at the largest N that ran; the kernel's share likewise (the JSON `kernel` part at "
                "its peak: what the tree costs the kernel outside its RSS).\n\n" + "\n".join(per_task) + "\n\n")
        f.write("## What one more task costs, by stack\n\nBetween the two largest N that ran traced: "
                "(bytes at N2 - bytes at N1) / (N2 - N1), from `taskmem-trace diff --json` of the two "
                "runs (stacks merged by label and their %d innermost named frames; the three that grow "
                "most). The kernel's share: the JSON `kernel` part at its peak divided by N2 "
                "(its parts: kernel stacks, page tables, sockets, slab: the rest of the memory "
                "cgroup's kernel bytes, docs/json-schema.md), and its slope between the two runs.\n\n"
                % MARGINAL_FRAMES + "\n".join(marg) + "\n\n")
        f.write("## Peak at the largest N, by category\n\n![peak by category](%s)\n\n" % svg_name)
        if notes:
            f.write("## Notes\n\n" + "".join("- %s\n" % n for n in notes))


def write_svg(results, path):
    bars = []
    for prog in PROGRAMS:
        ok = [r for r in results if r["prog"] == prog and "peak" in r["traced"]]
        if ok:
            r = max(ok, key=lambda r: r["n"])
            bars.append(("%s (N=%s)" % (prog, fmt_n(r["n"])), r["traced"]["cats"], r["traced"]["peak"]))
    top = max([b[2] for b in bars] + [MiB]) / MiB
    step = 10 ** math.floor(math.log10(top))
    step = step * 2 if top / step > 5 else step
    left, width, bh, gap = 250, 600, 22, 8
    h = 60 + len(bars) * (bh + gap) + 40
    scale = width / (math.ceil(top / step) * step)
    s = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
         'font-size="12">' % (left + width + 90, h),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="10" y="20" font-size="15">Peak resident memory at the largest N (MiB), by '
         'category (taskmem-trace)</text>']
    for i, c in enumerate(CATS):
        s.append('<rect x="%d" y="32" width="12" height="12" fill="%s"/><text x="%d" y="43">%s</text>'
                 % (left + i * 90, COLORS[c], left + i * 90 + 16, c))
    y0, y1 = 55, 55 + len(bars) * (bh + gap)
    v = 0
    while v <= top + step * 0.999:
        x = left + v * scale
        s.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>'
                 '<text x="%.1f" y="%d" text-anchor="middle">%g</text>' % (x, y0, x, y1, x, y1 + 15, v))
        v += step
    for i, (name, cats, peak) in enumerate(bars):
        y, x = y0 + i * (bh + gap) + gap // 2, left
        s.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (left - 6, y + bh - 6, name))
        for c in CATS:
            w = cats[c] / MiB * scale
            s.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s MiB'
                     '</title></rect>' % (x, y, w, bh, COLORS[c], c, mib(cats[c])))
            x += w
        s.append('<text x="%.1f" y="%d">%s</text>' % (x + 4, y + bh - 6, mib(peak)))
    s.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[1, 10000, 100000, 1000000], help="task counts")
    ap.add_argument("--s", type=float, default=5, help="seconds each task waits (default 5)")
    ap.add_argument("--s-for", action="append", default=[], metavar="PROG=S",
                    help="S for one program, e.g. java_threads_bench=15 (repeatable)")
    ap.add_argument("--only", nargs="+", metavar="PROG", help="these programs only (of: %s)" % " ".join(PROGRAMS))
    ap.add_argument("--program", action="append", default=[], metavar="NAME=PATH",
                    help="one more row: PATH N S starts N tasks that wait S seconds (repeatable)")
    ap.add_argument("--timeout", type=int, default=240, help="seconds per run (default 240)")
    ap.add_argument("--max-gib", type=float, default=16, help="skip runs estimated above this (16)")
    ap.add_argument("--tool", default=os.path.join(ROOT, "taskmem-trace"), help="taskmem-trace binary")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out"), help="output directory")
    ap.add_argument("--keep", action="store_true",
                    help="merge into OUT/compare.json: keep earlier results this run does not redo")
    ap.add_argument("--report-only", action="store_true", help="rewrite md/svg from compare.json")
    args = ap.parse_args()
    for x in args.program:
        name, _, path = x.partition("=")
        if not name or not path or name in PROGRAMS:
            ap.error("--program %s: NAME=PATH, NAME not a row already" % x)
        EXTRA[name] = os.path.abspath(path)
        PROGRAMS.append(name)
    for prog in args.only or []:
        if prog not in PROGRAMS:
            ap.error("--only %s: not one of %s" % (prog, " ".join(PROGRAMS)))
    args.runs = [] if args.report_only else [" ".join(sys.argv[1:])]
    s_map = dict((k, float(v)) for k, _, v in (x.partition("=") for x in args.s_for))
    args.s_for = lambda prog: s_map.get(prog, args.s)
    os.makedirs(args.out, exist_ok=True)
    jpath = os.path.join(args.out, "compare.json")
    results = []
    if args.keep or args.report_only:
        with open(jpath) as f:
            saved = json.load(f)
        results, args.runs = saved["results"], saved.get("runs", []) + args.runs
        PROGRAMS.extend(sorted({r["prog"] for r in results} - set(PROGRAMS)))  # an earlier --program's rows
    if not args.report_only:
        if os.geteuid() != 0:
            sys.exit("compare.py: run as root (taskmem-trace loads BPF programs)")
        tmp = tempfile.mkdtemp(prefix="compare.")
        tlimit = thread_limit()
        for n in sorted(args.n):
            for prog in args.only or PROGRAMS:
                results = [r for r in results if (r["prog"], r["n"]) != (prog, n)]
                r = {"prog": prog, "n": n, "s": args.s_for(prog), "untraced": {}, "traced": {}}
                r["skip"] = skip_reason(prog, n, results, args, tlimit)
                if not r["skip"]:
                    cmd = command(prog, n, args.s_for(prog))
                    settle = TRIXIE_SETTLE if prog in TRIXIE_ROWS else 0
                    r["untraced"] = untraced(cmd, args.timeout, tmp, settle)
                    r["traced"] = traced(args.tool, cmd, args.timeout, trace_path(args.out, prog, n), settle)
                results.append(r)
                u, t = r["untraced"], r["traced"]
                print("%-22s %8s  %s" % (prog, fmt_n(n), r["skip"] or "untraced %s MiB %s s, traced %s MiB, dropped %s" % (
                    mib(u.get("peak")), u.get("wall", u.get("error")), mib(t.get("peak")),
                    t.get("dropped", t.get("error")))), flush=True)
                with open(jpath, "w") as f:
                    json.dump({"runs": args.runs, "results": results}, f, indent=1)
    for prog in sorted({r["prog"] for r in results}):
        m = marginal(args.tool, args.out, prog, results)
        for r in results:
            if m and (r["prog"], r["n"]) == (prog, m["n2"]):
                r["traced"]["marginal"] = m
    with open(jpath, "w") as f:
        json.dump({"runs": args.runs, "results": results}, f, indent=1)
    write_svg(results, os.path.join(args.out, "compare.svg"))
    write_md(results, os.path.join(args.out, "compare.md"), "compare.svg", args)
    print("wrote", os.path.join(args.out, "compare.md"), "and compare.svg")


if __name__ == "__main__":
    main()
