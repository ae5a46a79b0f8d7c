"""Stacks: the user stack walk (frame pointers, 32-bit, DWARF CFI) on call chains known by
construction, and the symbolizers beyond .symtab (stripped Go, C++, Node's JIT)."""
import json
import os
import re
import signal
import subprocess
import time

from lib import BIN, MIB, OUT, ROOT, TOOL, descendants, frame_bytes, label_bytes, interrupt, trace


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


def test_stack_cache(c):
    """A walk that would repeat the thread's last one is answered by it (--stack-cache, on by
    default): tests/programs/twins.c's two call chains differ only in one return address far up
    the stack (DEPTH + 2 frames above the fault, the faulting code's registers and every other
    word the same), two pages of three under twin_a, one under twin_b: the bytes stay 32 and 16
    MiB of 48 with the shortcut taken (a shortcut that compared fewer words put all 48 under
    twin_a). In check mode every answer is also walked: no difference on these chains, by frame
    pointer and by unwind table, nor on go_bench (g0's and goroutines' stacks, several windows)
    and c_faulter; off walks every stack. A kept walk whose stack id the tool has deleted since
    (its process gone) is not taken (tests/programs/stack_drop.c)."""
    fp = ["-O0", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer"]
    nofp = ["-O1", "-fomit-frame-pointer", "-fno-inline"]
    exes = {}
    for name, flags in (("fp", fp), ("nofp", nofp)):
        exe = os.path.join(OUT, f"twins_{name}")
        b = subprocess.run(["gcc", "-g", "-fno-optimize-sibling-calls"] + flags +
                           ["-o", exe, os.path.join(ROOT, "tests", "programs", "twins.c")],
                           capture_output=True, text=True)
        if c.ok(b.returncode == 0, f"gcc {name}: {b.stderr[-200:]}"):
            exes[name] = exe

    def run(mode, what, cmd):
        p, data = trace(["--stack-cache", mode], f"{c.name}_{mode}_{what}", cmd)
        if not c.ok(data is not None and p.returncode == 0, f"{mode}, {what}: traced (rc {p.returncode})"):
            return None, None
        return data, data["events"]

    pages = 48 * 256
    for depth in (0, 40):  # 40: the chain spans three of the walk's read windows
        if "fp" not in exes:
            break
        for mode in ("on", "off"):
            data, ev = run(mode, f"twins depth {depth}", [exes["fp"], "48", str(depth)])
            if not data:
                continue
            under = {t: frame_bytes(data, lambda f, t=t: f == t) for t in ("twin_a", "twin_b")}
            c.near(under["twin_a"], 32 * MIB, 0.02, f"{mode}, depth {depth}: 32 MiB under twin_a")
            c.near(under["twin_b"], 16 * MIB, 0.02, f"{mode}, depth {depth}: 16 MiB under twin_b")
            if mode == "on":  # a twin_a after a twin_a repeats its walk: a third of the pages
                c.ok(ev["stack_walks_repeated"] >= pages // 4,
                     f"on, depth {depth}: walks repeated ({ev['stack_walks_repeated']} of {pages} pages)")
            else:
                c.ok(ev["stack_walks_repeated"] == 0, f"off, depth {depth}: none repeated")
    checks = [(f"twins {n}", [exe, "48", "40"]) for n, exe in exes.items()] + [
        ("go_bench", [os.path.join(BIN, "go_bench"), "100000", "1"]),
        ("c_faulter", [os.path.join(BIN, "c_faulter"), "2", "256"])]
    for what, cmd in checks:
        data, ev = run("check", what, cmd)
        if data:
            c.ok(ev["stack_cache_wrong"] == 0 and ev["stack_walks_repeated"] > 0,
                 f"check, {what}: {ev['stack_walks_repeated']} repeated walks, "
                 f"{ev['stack_cache_wrong']} of them different from a full walk")
            if what == "twins nofp":  # 42 frames without frame pointers: named only by the tables
                a, b = (frame_bytes(data, lambda f, t=t: f == t) for t in ("twin_a", "twin_b"))
                c.ok(a >= 24 * MIB and 0.45 <= b / a <= 0.55,
                     f"check, {what}: walked by unwind tables, twin_a {a / MIB:.1f} and twin_b "
                     f"{b / MIB:.1f} MiB (32 and 16 of 48 when all are)")
    # a kept walk whose stack the tool deleted meanwhile (tests/programs/stack_drop.c) is not taken
    exe = os.path.join(OUT, "stack_drop")
    b = subprocess.run(["gcc", "-g", "-fno-optimize-sibling-calls"] + fp +
                       ["-o", exe, os.path.join(ROOT, "tests", "programs", "stack_drop.c")],
                       capture_output=True, text=True)
    if c.ok(b.returncode == 0, f"gcc stack_drop: {b.stderr[-200:]}"):
        p, data = trace([], f"{c.name}_drop", [exe, "1000"], pre=["taskset", "-c", "0"])
        if c.ok(data is not None and p.returncode == 0, f"stack_drop: traced (rc {p.returncode})"):
            ev = data["events"]
            c.ok(ev["stacks_unreadable"] == 0, f"stack_drop: no stack id named after its delete "
                 f"({ev['stacks_unreadable']} unreadable)")
            c.near(frame_bytes(data, lambda f: f == "map_here"), 8 * MIB, 0.05,
                   "stack_drop: the parent's 8 MiB under map_here")


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
        # V8 names JIT code JS:*f in Node 20's perf map, LazyCompile:*f or Function:^f in Node 18's
        is_js = lambda f: f.startswith(("JS:", "LazyCompile:", "Function:"))
        jit = frame_bytes(data, lambda f: "growTheHeap" in f and is_js(f))
        # the pages V8's garbage collector first touches when it copies the objects (its
        # scavenger threads, no JS frame): Node 18 makes up to half the heap there, Node 20 less
        gc = sum(s["bytes"] for s in data["peak"]["stacks"] if not any(is_js(f) for f in s["frames"])
                 and any(k in f for f in s["frames"] for k in ("Scavenge", "MarkCompact", "Evacuat")))
        c.ok(0.5 * used <= jit + gc <= 2 * used, f"Node: {jit/MIB:.1f} MiB under JS growTheHeap frames and "
             f"{gc/MIB:.1f} MiB under V8's collector, V8 heapUsed {used/MIB:.1f} MiB (want 0.5x to 2x)")
        # 0.80-0.89x measured on Node 18 and 20; 0.22-0.54x in half the runs when a perf map read
        # just before the code ran named growTheHeap's new code by an older function's entry at
        # its address (copyPropsRenamed)
        c.ok(jit >= 0.6 * used, f"Node: {jit/MIB:.1f} MiB under JS growTheHeap frames, V8 heapUsed "
             f"{used/MIB:.1f} MiB (want 0.6x at least)")


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


def test_cc1_unwound(c):
    """gcc's cc1 (45k functions, no frame pointers) gets its unwind table: it was left to frame
    pointers over a cap of 20,000 functions while tables were built on the event loop, and its
    GC allocations' stacks stopped in ggc (0% under toplev::main); built on the worker thread
    (70 ms), most of those stacks reach toplev::main (the first few MiB cc1 allocates, before
    its table is loaded, do not: a few big stacks, so they are counted by stack, not bytes).
    cc1 run as the command itself is held at its exec until its table is loaded: then nearly all
    of them do (97-100% of the bytes; without the hold 43-74%, measured)."""
    d = os.path.join(OUT, c.name)
    os.makedirs(d, exist_ok=True)
    src = os.path.join(d, "many.c")
    with open(src, "w") as f:
        for i in range(400):
            f.write(f"int f{i}(int x) {{ int a[16]; for (int j = 0; j < 16; j++) a[j] = x * {i} + j; "
                    f"return a[x & 15] + {i}; }}\n")
    p, data = trace(["-q"], c.name, ["gcc", "-O2", "-c", src, "-o", os.path.join(d, "many.o")])
    if not c.ok(data is not None and p.returncode == 0, f"gcc -O2 -c traced (rc {p.returncode})"):
        return
    ggc = [s for s in data["peak"]["stacks"] if any(f.startswith("ggc_") for f in s["frames"])]
    deep = [s for s in ggc if "toplev::main" in s["frames"]]
    total, under = sum(s["bytes"] for s in ggc), sum(s["bytes"] for s in deep)
    c.ok(total >= 4 * MIB and len(ggc) >= 50, f"cc1's GC allocations seen: {total / MIB:.1f} MiB, {len(ggc)} stacks")
    c.ok(len(deep) >= 0.5 * len(ggc) and under >= 2 * MIB,
         f"of them under toplev::main (through cc1's table): {len(deep)} stacks ({len(deep) / max(len(ggc), 1):.0%}), "
         f"{under / MIB:.1f} MiB")
    cc1 = subprocess.run(["gcc", "-print-prog-name=cc1"], capture_output=True, text=True).stdout.strip()
    p, data = trace(["-q"], c.name + "_held", [cc1, "-quiet", "-O2", src, "-o", os.devnull])
    if not c.ok(data is not None and p.returncode == 0, f"cc1 as the command traced (rc {p.returncode})"):
        return
    ggc = [s for s in data["peak"]["stacks"] if any(f.startswith("ggc_") for f in s["frames"])]
    total = sum(s["bytes"] for s in ggc)
    under = sum(s["bytes"] for s in ggc if "toplev::main" in s["frames"])
    # 97-100% measured: what it allocates before the stop lands (the tool, on a loaded machine,
    # reads the exec a few ms late) is cut; 43-74% without the hold
    c.ok(total >= 4 * MIB and under >= 0.9 * total,
         f"cc1 as the command, held for its table: {under / MIB:.1f} of {total / MIB:.1f} MiB of its GC allocations "
         f"under toplev::main (want 90%)")


def test_hold(c):
    """The launched command is held (stopped) at its exec while its tables are built: -v says
    so, --no-hold never holds, and a Ctrl-C that comes while it is stopped ends the run at once,
    the command ended by it (a stopped command would see the signal only once continued)."""
    cc1 = subprocess.run(["gcc", "-print-prog-name=cc1"], capture_output=True, text=True).stdout.strip()
    d = os.path.join(OUT, c.name)
    os.makedirs(d, exist_ok=True)
    src = os.path.join(d, "many.c")
    with open(src, "w") as f:
        for i in range(400):
            f.write(f"int f{i}(int x) {{ return x * {i}; }}\n")
    cmd = [cc1, "-quiet", "-O2", src, "-o", os.devnull]
    held = re.compile(r"the command was held ([0-9.]+) s in all")
    p, data = trace(["-v"], c.name, cmd)
    m = held.search(p.stderr)
    # (3 s in all at most: the budget is checked at each poll, 2 ms apart while it is held)
    c.ok(p.returncode == 0 and m and 0 < float(m.group(1)) < 3.2, f"cc1 held at its start, and said so with -v: "
         f"{m.group(0) if m else 'no such line'} (rc {p.returncode})")
    p, data = trace(["-v", "--no-hold"], c.name, cmd)
    c.ok(p.returncode == 0 and not held.search(p.stderr), f"--no-hold: not held (rc {p.returncode})")
    # Ctrl-C while it is stopped (seen as state T in /proc): the tool ends within 3 s, cc1 with it
    caught = False
    for _ in range(5):
        js = os.path.join(d, "int.json")
        if os.path.exists(js):
            os.unlink(js)
        tool = subprocess.Popen([TOOL, "-q", "--json", js, "--"] + cmd,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        child, t_end = None, time.time() + 20
        while time.time() < t_end and tool.poll() is None and not caught:
            for k in descendants(tool.pid):
                try:
                    stat = open(f"/proc/{k}/stat").read()
                except OSError:
                    continue
                if stat.rsplit(")", 1)[1].split()[0] == "T" and "cc1" in stat.split(")")[0]:
                    child, caught = k, True
            time.sleep(0.001)
        if caught:
            rc, took = interrupt(tool, signal.SIGINT, 10)
            c.ok(rc == 130 and took < 3, f"Ctrl-C while cc1 was held: rc {rc} after {took:.1f} s")
            try:
                ended = [q["exit_code"] for q in json.load(open(js))["processes"] if q["pid"] == child]
            except (OSError, ValueError, KeyError):
                ended = None
            c.ok(ended == [130], f"cc1 (pid {child}) ended by the SIGINT, 130 in the report: {ended}")
            break
        tool.wait(timeout=30)
    c.ok(caught, "cc1 seen stopped (state T) in one of 5 runs")
