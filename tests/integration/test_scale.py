"""`taskmem-trace scale` and `taskmem-trace diff` against what the programs know of themselves:
tests/programs/pertask.c (each task a thread that touches 3 pages of its stack and 3 KiB of
malloc'd memory; glibc's mallinfo2 and mincore() of the thread stacks as its oracles), go_bench's
runtime.MemStats, and `go tool pprof -diff_base` reading the pprof pair diff writes; their HTML
pages (the differential flame graph) in headless Chromium against their own JSON
(tests/html/check_diff.mjs)."""
import json
import os
import re
import shutil
import signal
import subprocess
import time

from lib import BIN, MIB, OUT, ROOT, TOOL, comm_of, descendants, memstats_of, trace


def build_pertask(c):
    """tests/programs/pertask.c at -O0 with frame pointers; its path or None."""
    exe = os.path.join(OUT, "pertask")
    b = subprocess.run(["gcc", "-O0", "-fno-omit-frame-pointer", "-pthread", "-o", exe,
                        os.path.join(ROOT, "tests", "programs", "pertask.c")], capture_output=True, text=True)
    return exe if c.ok(b.returncode == 0, f"gcc pertask.c: {b.stderr[-300:]}") else None


def slope(xs, ys):
    """Least-squares slope of ys over xs (the oracles' per-task figure)."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def near(c, got, want, tol, what):
    good = got is not None and want and abs(got - want) <= tol * abs(want)
    return c.ok(good, f"{what}: got {got}, want {want} within {tol*100:.0f}%")


def pprof_diff_total(base, prof):
    """B - A by go tool pprof -diff_base (every node shown), in bytes."""
    q = subprocess.run(["go", "tool", "pprof", "-top", "-nodefraction=0", "-unit=B", "-diff_base", base, prof],
                       capture_output=True, text=True)
    m = re.search(r"Showing nodes accounting for (-?\d+)B", q.stdout)
    return (int(m.group(1)) if m else None), q.stdout + q.stderr


def check_page(c, page, js, name=None, what="the page"):
    """tests/html/check_diff.mjs on a scale or diff page and its JSON (name: a hostile frame name
    the page must show as text); a screenshot beside the page."""
    if not c.ok(os.path.exists(page), f"{what} was written ({page})"):
        return
    q = subprocess.run(["node", os.path.join(ROOT, "tests", "html", "check_diff.mjs"), page, js,
                        "--shot", page[:-len(".html")] + ".png"] + (["--name", name] if name else []),
                       capture_output=True, text=True, timeout=300)
    for line in q.stdout.splitlines():
        if line.startswith("FAIL"):
            c.ok(False, f"{what}: {line}")
    c.ok(q.returncode == 0 and re.search(r"html: \d+ passed, 0 failed", q.stdout),
         f"{what}: browser checks ran and passed ({q.stdout[-300:]!r} {q.stderr[-300:]!r})")


def pprof_diff_flat(base, prof):
    """B - A by function, by go tool pprof -diff_base -top: {name: flat bytes} (a name listed
    twice, for two of its locations, summed)."""
    q = subprocess.run(["go", "tool", "pprof", "-top", "-nodefraction=0", "-nodecount=1000000", "-unit=B",
                        "-diff_base", base, prof], capture_output=True, text=True)
    flat = {}
    for line in q.stdout.splitlines():
        m = re.match(r"\s*(-?\d+)B?\s+\S+%\s+\S+%\s+-?\d+B?\s+\S+%\s+(.+)$", line)
        if m:
            flat[m.group(2)] = flat.get(m.group(2), 0) + int(m.group(1))
    return {k: v for k, v in flat.items() if v}


def scale(c, name, ns, cmd, env=None, timeout=600, hostile=None):
    """taskmem-trace scale --n ns --json --pprof --html --keep: (process, scale JSON or None,
    keep dir). The pprof pair is checked here (go tool pprof -diff_base on it gives the largest
    N's peak less the smallest's), and the page in the browser against the JSON."""
    js, keep = os.path.join(OUT, name + ".scale.json"), os.path.join(OUT, name + ".runs")
    pp, base = os.path.join(OUT, name + ".scale.pb.gz"), os.path.join(OUT, name + ".scale.base.pb.gz")
    page = os.path.join(OUT, name + ".scale.html")
    for f in (js, pp, base, page):
        if os.path.exists(f):
            os.unlink(f)
    full = [TOOL, "scale", "--n", ",".join(map(str, ns)), "--json", js, "--pprof", pp, "--html", page,
            "--keep", keep, "--"] + cmd
    p = subprocess.run(full, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {})))
    with open(os.path.join(OUT, name + ".log"), "w") as f:
        f.write(" ".join(full) + "\n--- stdout\n" + p.stdout + "--- stderr\n" + p.stderr)
    c.ok(p.returncode == 0, f"scale exits 0 (got {p.returncode}: {p.stderr[-300:]!r})")
    data = json.load(open(js)) if os.path.exists(js) else None
    if c.ok(data is not None, "scale wrote its JSON"):
        c.ok(data["schema"] == "taskmem-trace-scale/1", "schema taskmem-trace-scale/1")
        c.ok([r["n"] for r in data["runs"]] == ns, f"one run per N: {[r['n'] for r in data['runs']]}")
        for r in data["runs"]:
            c.ok(os.path.exists(os.path.join(keep, f"run-{r['n']}.json")), f"--keep kept run-{r['n']}.json")
        # per stack, the fits add up to the total's (a sum of lines is the line of the sums)
        for key in ("bytes_per_task", "fixed_bytes"):
            near(c, sum(s[key] for s in data["per_task"]), data["total"][key], 0.001, f"stacks' {key} add up")
        by_n = {r["n"]: r["rss_bytes"] for r in data["runs"]}
        want = by_n[max(ns)] - by_n[min(ns)]
        got, out = pprof_diff_total(base, pp)
        c.ok(got == want, f"scale's pprof pair: go tool pprof -diff_base gives {got} B, want {want} B ({out[-200:]!r})")
        check_page(c, page, js, hostile, "scale's page")
    return p, data, keep


def check_kernel(c, data, runs, ns, stdout):
    """The scale's kernel parts: one task is one thread, so one kernel stack (THREAD_SIZE,
    16 KiB on x86_64) per task; the cgroup's kernel total (kmem usage, its oracle independent of
    the tool's thread count) holds the stacks and more; each part's bytes are the runs' own."""
    if not all("kernel" in runs[n] for n in ns):
        c.ok(not os.path.exists("/sys/fs/cgroup/memory/memory.kmem.usage_in_bytes"),
             "the runs have a kernel object wherever a cgroup v1 memory controller is mounted")
        return
    parts = {k["part"]: k for k in data.get("kernel") or []}
    if not c.ok(sorted(parts) == sorted(["kernel_stack", "pagetables", "sock", "slab", "total"]),
                f"scale's JSON fits each part of the kernel's share ({sorted(parts)})"):
        return
    for name, k in parts.items():
        c.ok(k["bytes"] == [runs[n]["kernel"][name + "_bytes"] for n in ns], f"kernel {name}: each run's bytes")
    near(c, parts["kernel_stack"]["bytes_per_task"], 16384, 0.05, "kernel stacks per task: THREAD_SIZE")
    c.ok(parts["total"]["bytes_per_task"] >= parts["kernel_stack"]["bytes_per_task"],
         f"the cgroup's kernel total per task ({parts['total']['bytes_per_task']}) holds the stacks "
         f"({parts['kernel_stack']['bytes_per_task']})")
    c.ok(parts["pagetables"]["bytes_per_task"] > 0, "page tables grow with the threads' stacks")
    c.ok(re.search(r"^  kernel stacks +1[56]\d{3}\.\d", stdout, re.M) is not None,
         "the summary's kernel block gives the stacks per task")


def all_memstats(text):
    return [json.loads(m) for m in re.findall(r"MEMSTATS (\{.*\})", text)]


def test_scale_threads(c):
    """Per-task bytes of pertask at 200..1600 threads: the stack that touches 3 pages is 12288 B
    per task, the stack category's slope is mincore's, the heap's is glibc's bytes in use (each
    within 3%), and the fixed part is the traced N=1 run less one task (within 5%, file pages
    aside). The kernel's share per task: a kernel stack (THREAD_SIZE, 16 KiB: one thread per
    task) within 5%, and the memory cgroup's kernel total at least that."""
    exe = build_pertask(c)
    if not exe:
        return
    ns = [200, 400, 800, 1600]
    p, data, keep = scale(c, c.name, ns, [exe, "{N}", "0.3"])
    ms = {m["n"]: m for m in all_memstats(p.stderr)}
    if not data or not c.ok(sorted(ms) == ns, f"pertask printed its MEMSTATS at each N ({sorted(ms)})"):
        return
    runs = {}
    for r in data["runs"]:
        run = runs[r["n"]] = json.load(open(os.path.join(keep, f"run-{r['n']}.json")))
        c.ok(run["events"]["dropped"] == 0, f"N={r['n']}: nothing dropped")
    check_kernel(c, data, runs, ns, p.stdout)
    touch = [s for s in data["per_task"] if s["stack"][:1] == ["touch_stack"]]
    if c.ok(len(touch) == 1, f"one stack under touch_stack (got {len(touch)})"):
        near(c, touch[0]["bytes_per_task"], 3 * 4096, 0.03, "touch_stack: 3 pages per task")
        c.ok(touch[0]["nonlinear"] is False, "touch_stack grows linearly")
        c.ok(touch[0]["label"] == "stack/thread", f"touch_stack is stack/thread ({touch[0]['label']})")
    cats = {x["category"]: x for x in data["categories"]}
    stack_oracle = slope(ns, [ms[n]["stack_resident_pages"] * ms[n]["page"] for n in ns])
    near(c, cats["stack"]["bytes_per_task"], stack_oracle, 0.03, "stack per task vs the thread stacks' mincore")
    heap_oracle = slope(ns, [ms[n]["uordblks"] for n in ns])
    near(c, cats["heap"]["bytes_per_task"], heap_oracle, 0.03, "heap per task vs glibc's bytes in use (mallinfo2)")
    # the task's own malloc: its chunk (usable size + the size word) at least, and no more than
    # all glibc counts per task (which adds the thread's tcache and its TLS's dtv)
    via_heap = sum(s["bytes_per_task"] for s in data["per_task"] if "touch_heap" in s["stack"])
    c.ok(0.97 * (ms[ns[0]]["usable"] + 8) <= via_heap <= 1.03 * heap_oracle,
         f"heap stacks under touch_heap: {via_heap:.0f} B per task, between the chunk "
         f"({ms[ns[0]]['usable'] + 8}) and glibc's per-task figure ({heap_oracle:.0f})")
    # the fixed part: what one task's run holds besides that task (glibc's thread machinery and
    # the one arena are in place from the first task on: pertask.c's M_ARENA_MAX). File pages
    # are left out of both: how many the kernel maps around a fault depends on the page cache
    # (fault-around), not on the program, and moves the total by ~10% from run to run
    p1, one = trace([], c.name + "-n1", [exe, "1", "0.3"])
    if c.ok(one is not None, "the N=1 run wrote its JSON"):
        m1 = memstats_of(p1.stderr)
        task = stack_oracle + heap_oracle
        fixed = sum(x["fixed_bytes"] for x in data["categories"] if x["category"] != "file")
        at1 = one["peak"]["rss_bytes"] - one["peak"]["categories"]["file"]
        # within 5%, or two pages: the fixed part is ~100 KiB, and a run's anonymous pages
        # (the N=1 run's, and each fitted run's) move by a page from run to run
        want = at1 - task
        c.ok(abs(fixed - want) <= max(0.05 * want, 2 * 4096),
             f"fixed part (file aside) vs the traced N=1 run's ({at1} B) less one task ({task:.0f} B; "
             f"MEMSTATS {m1}): got {fixed:.0f}, want {want:.0f} within 5% or two pages")


def test_scale_go(c):
    """go_bench at 10k..40k goroutines: the goroutine stacks' bytes per task vs the slope of Go's
    own StackInuse over the same runs (within 5%: Go's stack cache moves it a little)."""
    ns = [10000, 20000, 40000]
    p, data, _ = scale(c, c.name, ns, [os.path.join(BIN, "go_bench"), "{N}", "1"], env={"TASKMEM_MEMSTATS": "1"})
    ms = all_memstats(p.stderr)
    if not data or not c.ok(len(ms) == len(ns), f"go_bench printed MemStats at each N ({len(ms)})"):
        return
    oracle = slope(ns, [m["StackInuse"] for m in ms])
    gs = sum(s["bytes_per_task"] for s in data["per_task"] if s["label"] == "stack/goroutine")
    near(c, gs, oracle, 0.05, "stack/goroutine per goroutine vs StackInuse's slope")
    runs = [r["rss_bytes"] for r in data["runs"]]
    c.ok(runs == sorted(runs), f"the peak grows with N: {runs}")


def test_diff(c):
    """diff of pertask at 200 and 400 threads: totals and categories are B - A of the two
    reports, the stacks add up to them, go tool pprof -diff_base on the pair agrees, and bad
    input is refused with one line and exit 2."""
    exe = build_pertask(c)
    if not exe:
        return
    runs = []
    for n in (200, 400):
        p, data = trace([], f"{c.name}-{n}", [exe, str(n), "0.2"])
        if not c.ok(data is not None, f"the N={n} run wrote its JSON"):
            return
        runs.append((os.path.join(OUT, f"{c.name}-{n}.json"), data))
    (ja, a), (jb, b) = runs
    dj, pp = os.path.join(OUT, c.name + ".diff.json"), os.path.join(OUT, c.name + ".pb.gz")
    base, page = os.path.join(OUT, c.name + ".base.pb.gz"), os.path.join(OUT, c.name + ".diff.html")
    for f in (dj, pp, base, page):
        if os.path.exists(f):
            os.unlink(f)
    q = subprocess.run([TOOL, "diff", ja, jb, "--json", dj, "--pprof", pp, "--html", page], capture_output=True, text=True)
    if not c.ok(q.returncode == 0 and os.path.exists(dj), f"diff exits 0 ({q.returncode}: {q.stderr[-300:]!r})"):
        return
    d = json.load(open(dj))
    want = b["peak"]["rss_bytes"] - a["peak"]["rss_bytes"]
    c.ok(d["schema"] == "taskmem-trace-diff/1", "schema taskmem-trace-diff/1")
    c.ok(d["total"]["diff_bytes"] == want, f"total: {d['total']['diff_bytes']} == B - A {want}")
    c.ok(sum(x["diff_bytes"] for x in d["diff"]) == want, "the stacks' differences add up to the total's")
    for x in d["categories"]:
        k = x["category"]
        c.ok(x["diff_bytes"] == b["peak"]["categories"][k] - a["peak"]["categories"][k], f"category {k}")
    if "kernel" in a and "kernel" in b:  # the kernel's share: B - A part by part
        parts = {x["part"]: x for x in d.get("kernel") or []}
        c.ok(len(parts) == 5, f"diff's JSON has the kernel's 5 parts ({sorted(parts)})")
        for k, x in parts.items():
            c.ok(x["diff_bytes"] == b["kernel"][k + "_bytes"] - a["kernel"][k + "_bytes"], f"kernel {k}: B - A")
        c.ok("kernel stacks" in q.stdout, "the kernel's share on stdout")
    growth = [x["diff_bytes"] for x in d["diff"]]
    c.ok(growth == sorted(growth, reverse=True), "sorted by growth")
    top = d["diff"][0]
    c.ok(top["frames"][:1] == ["touch_stack"], f"the largest growth is touch_stack's ({top['frames'][:2]})")
    c.ok("stacks by growth" in q.stdout and "touch_stack" in q.stdout, "the table on stdout")
    got, out = pprof_diff_total(base, pp)
    c.ok(got == want, f"go tool pprof -diff_base: {got} B == B - A {want} B ({out[-300:]!r})")
    # and function by function: each stack's change is its innermost frame's (its label's, with none)
    by_fn = {}
    for x in d["diff"]:
        k = x["frames"][0] if x["frames"] else x["label"]
        by_fn[k] = by_fn.get(k, 0) + x["diff_bytes"]
    by_fn = {k: v for k, v in by_fn.items() if v}
    flat = pprof_diff_flat(base, pp)
    c.ok(flat == by_fn and by_fn.get("touch_stack", 0) > 0, "go tool pprof -diff_base's flat bytes per function are the diff's: "
         f"{sorted(set(flat.items()) ^ set(by_fn.items()))[:6]}")
    check_page(c, page, dj, what="diff's page")
    # no output asked for: the page, named after B's command, as the live run writes its own
    cwd = os.path.join(OUT, c.name + ".cwd")
    shutil.rmtree(cwd, ignore_errors=True)
    os.makedirs(cwd)
    r = subprocess.run([TOOL, "diff", ja, jb], capture_output=True, text=True, cwd=cwd)
    m = re.search(r"^report: (taskmem-diff-pertask-[\d-]+\.html)$", r.stderr, re.M)
    c.ok(r.returncode == 0 and m and os.listdir(cwd) == [m.group(1)] and
         "taskmem-trace-html/1" in open(os.path.join(cwd, m.group(1))).read(),
         f"no output option: the page, its path on stderr ({r.returncode}: {r.stderr[-200:]!r}, {os.listdir(cwd)})")

    # bad input: one line, exit 2, nothing written
    other = os.path.join(OUT, c.name + ".other.json")
    with open(other, "w") as f:
        json.dump(dict(a, schema="taskmem-trace/1"), f)
    notjson = os.path.join(OUT, c.name + ".notjson")
    with open(notjson, "w") as f:
        f.write('{"schema": "taskmem-trace/2", "peak": ')
    badkern = os.path.join(OUT, c.name + ".badkern.json")
    with open(badkern, "w") as f:
        json.dump(dict(a, kernel=dict(a.get("kernel") or {}, slab_bytes=-1)), f)
    huge = os.path.join(OUT, c.name + ".huge.json")
    with open(huge, "w") as f:
        f.truncate(300 << 20)  # sparse: over the bound without using the disk
    for bad, what in ((other, "taskmem-trace/2"), (notjson, "not JSON"), (huge, "larger than"),
                      (os.path.join(OUT, "no-such.json"), "cannot open"),
                      (badkern, "kernel.slab_bytes")):
        r = subprocess.run([TOOL, "diff", ja, bad, "--json", dj + ".bad"], capture_output=True, text=True)
        c.ok(r.returncode == 2 and what in r.stderr and r.stderr.count("\n") == 1 and not os.path.exists(dj + ".bad"),
             f"diff with {os.path.basename(bad)}: exit 2, one line with '{what}' "
             f"(got {r.returncode}: {r.stderr!r})")
    os.unlink(huge)
    for args in (["diff", ja], ["scale", "--n", "5", "--", exe, "{N}"], ["scale", "--n", "1,2", "--", exe, "3"],
                 ["scale", "--n", "1,x", "--", exe, "{N}"], ["scale", "--", exe, "{N}"]):
        r = subprocess.run([TOOL] + args, capture_output=True, text=True)
        c.ok(r.returncode == 2, f"bad usage {args[:3]}: exit 2 (got {r.returncode})")
    for sub in ("diff", "scale"):
        r = subprocess.run([TOOL, sub, "--help"], capture_output=True, text=True)
        c.ok(r.returncode == 0 and "Examples:" in r.stdout, f"{sub} --help with examples")


def test_scale_cli(c):
    """scale's exit codes: a failed run ends it with that run's code (the command's own, or the
    tool's 127), and SIGTERM during the third run stops that run at once and reports the two
    done (exit 143), their fit in the JSON; nothing left running."""
    exe = build_pertask(c)
    if not exe:
        return
    for cmd, want in ((["sh", "-c", "exit 3", "{N}"], 3), (["/nonexistent/prog", "{N}"], 127)):
        r = subprocess.run([TOOL, "scale", "--n", "1,2", "--"] + cmd, capture_output=True, text=True, timeout=120)
        c.ok(r.returncode == want and "failed" in r.stderr, f"{cmd[0]}: exit {want} (got {r.returncode}: {r.stderr[-200:]!r})")
    keep, js = os.path.join(OUT, c.name + ".runs"), os.path.join(OUT, c.name + ".json")
    for f in [js] + [os.path.join(keep, f"run-{n}.json") for n in (10, 20, 30)]:
        if os.path.exists(f):
            os.unlink(f)
    p = subprocess.Popen([TOOL, "scale", "--n", "10,20,30", "--json", js, "--keep", keep, "--", exe, "{N}", "6"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not os.path.exists(os.path.join(keep, "run-20.json")) and time.time() - t0 < 120:
        time.sleep(0.1)
    time.sleep(1.5)  # the third run under way
    kids = descendants(p.pid)
    p.send_signal(signal.SIGTERM)
    t1 = time.time()
    out, err = p.communicate(timeout=60)
    c.ok(time.time() - t1 < 3, f"SIGTERM reaches the run: scale ends in {time.time() - t1:.1f}s, not at the run's end")
    c.ok(p.returncode == 128 + signal.SIGTERM, f"SIGTERM: exit 143 (got {p.returncode}: {err[-300:]!r})")
    c.ok("interrupted during the run at N=30" in err, "says which run was left out")
    c.ok("least squares over 2 runs" in out, f"the two runs done are fitted: {out[:300]!r}")
    data = json.load(open(js)) if os.path.exists(js) else None
    if c.ok(data is not None, "the JSON of the runs done"):
        c.ok([r["n"] for r in data["runs"]] == [10, 20], f"runs 10 and 20 ({[r['n'] for r in data['runs']]})")
    time.sleep(0.5)
    left = [k for k in kids if comm_of(k)]
    c.ok(not left, f"the third run's tool and command are gone ({left})")


# A frame name the traced program chose, that would run in the page if it were not escaped
HOSTILE = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">\'"&amp;'


def test_scale_html(c):
    """The pages' differential flame graphs on what they must show: a stack that grows as N^2
    (python's b'x' * N*N MiB at N = 1, 2, 4, 8: 12% off the line) hatched and listed as not
    linear; and a frame name (pertask's touch_stack renamed) and a command path full of markup
    and quotes, shown as text in the scale page and in the diff page of two of its runs, with
    nothing of them run (window.__pwned) or made an element."""
    p, data, _ = scale(c, c.name + "-square", [1, 2, 4, 8],
                       ["python3", "-c", "import time; b = b'x' * ({N} * {N} << 20); time.sleep(0.2)"])
    if data:
        nl = [s for s in data["per_task"] if s["nonlinear"]]
        c.ok(any(max(s["bytes"]) > 32 * MIB for s in nl), "the N^2 stack is flagged as not linear "
             f"({[(s['label'], s['stack'][:2], s['bytes']) for s in nl]})")
    d = os.path.join(OUT, c.name, '<b>"\'&<', "script>")
    shutil.rmtree(os.path.join(OUT, c.name), ignore_errors=True)
    os.makedirs(d)
    exe, plain = os.path.join(d, "pertask"), os.path.join(d, "pertask.plain")
    b = subprocess.run(["gcc", "-O0", "-fno-omit-frame-pointer", "-pthread", "-o", plain,
                        os.path.join(ROOT, "tests", "programs", "pertask.c")], capture_output=True, text=True)
    b2 = subprocess.run(["objcopy", "--redefine-sym", "touch_stack=" + HOSTILE, plain, exe], capture_output=True, text=True) \
        if b.returncode == 0 else b
    if not c.ok(b.returncode == 0 and b2.returncode == 0, f"built pertask with a hostile name: {b.stderr[-300:]} {b2.stderr[-300:]}"):
        return
    p, data, keep = scale(c, c.name + "-hostile", [20, 40], [exe, "{N}", "0.1"], hostile=HOSTILE)
    if not data:
        return
    c.ok(any(s["stack"][:1] == [HOSTILE] for s in data["per_task"]), "the hostile name is touch_stack's frame in the JSON")
    dj, page = os.path.join(OUT, c.name + ".diff.json"), os.path.join(OUT, c.name + ".diff.html")
    for f in (dj, page):
        if os.path.exists(f):
            os.unlink(f)
    q = subprocess.run([TOOL, "diff", os.path.join(keep, "run-20.json"), os.path.join(keep, "run-40.json"),
                        "--json", dj, "--html", page], capture_output=True, text=True)
    if c.ok(q.returncode == 0, f"diff of the two runs exits 0 ({q.returncode}: {q.stderr[-300:]!r})"):
        check_page(c, page, dj, HOSTILE, "diff's page (hostile names)")


def test_compare_marginal(c):
    """bench/compare.py's marginal cost per task by stack (diff of its two largest N's traced
    runs over the N difference) on pertask as an extra row, at N 1, 100, 800: the stack that
    touches 3 pages is the largest and 12288 B per task (within 5%: pertask's construction), the
    kernel's stacks 16 KiB per task (THREAD_SIZE: one thread per task), the total is the two
    runs' peaks' difference over 700, and compare.md has the row."""
    exe = build_pertask(c)
    if not exe:
        return
    out = os.path.join(OUT, c.name)
    shutil.rmtree(out, ignore_errors=True)
    q = subprocess.run([os.path.join(ROOT, "bench", "compare.py"), "--tool", TOOL, "--program", "pertask=" + exe,
                        "--only", "pertask", "--n", "1", "100", "800", "--s", "0.5", "--out", out],
                       capture_output=True, text=True, timeout=300)
    if not c.ok(q.returncode == 0, f"compare.py exits 0 ({q.returncode}: {q.stderr[-300:]!r})"):
        return
    results = json.load(open(os.path.join(out, "compare.json")))["results"]
    by_n = {r["n"]: r["traced"] for r in results}
    if not c.ok(sorted(by_n) == [1, 100, 800] and all("peak" in t for t in by_n.values()),
                f"three traced runs ({ {n: t.get('error') for n, t in by_n.items()} })"):
        return
    for n, t in by_n.items():
        c.ok(t["dropped"] == 0, f"N={n}: nothing dropped")
    m = by_n[800].get("marginal")
    if not c.ok(m is not None and (m["n1"], m["n2"]) == (100, 800), f"the 800 row has the marginal cost, 100 -> 800 ({m and (m['n1'], m['n2'])})"):
        return
    top = m["stacks"][0]
    c.ok(top["frames"][:1] == ["touch_stack"] and top["label"] == "stack/thread",
         f"the largest marginal stack is touch_stack's, stack/thread ({top})")
    near(c, top["bytes_per_task"], 3 * 4096, 0.05, "touch_stack per task: 3 pages")
    # the tool's own peaks, read from the runs' JSON that compare.py kept
    peaks = [json.load(open(os.path.join(out, "traces", f"pertask-{n}.json")))["peak"]["rss_bytes"] for n in (100, 800)]
    near(c, m["total"], (peaks[1] - peaks[0]) / 700, 0.001, "marginal total: the peaks' difference over 700")
    if by_n[800].get("kernel"):
        near(c, m["kernel"]["kernel_stack"], 16384, 0.05, "kernel stacks per task, marginal: THREAD_SIZE")
    else:
        c.ok(not os.path.exists("/sys/fs/cgroup/memory/memory.kmem.usage_in_bytes"),
             "the runs have a kernel part wherever a cgroup v1 memory controller is mounted")
    md = open(os.path.join(out, "compare.md")).read()
    c.ok(re.search(r"^\| pertask \| 100 → 800 \| [\d,]+ \|.*[\d,]+ `stack/thread`: touch_stack", md, re.M),
         "compare.md's marginal table has pertask's row, touch_stack first (its bytes checked above)")


TESTS = [test_scale_threads, test_scale_go, test_diff, test_scale_cli, test_scale_html, test_compare_marginal]
