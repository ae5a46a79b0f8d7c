"""Programs as users bring them, against what they are made of: Go built with cgo, goroutine
stacks grown past the stack pool, a Go tool from Debian's archive, daemons, other allocators."""
import json
import os
import random
import re
import shutil
import subprocess
import time
import urllib.request

from lib import BIN, MIB, OUT, ROOT, TOOL, common_checks, free_port, label_bytes, nginx_conf, trace


def go_heap_with_chain(data, *fns):
    """Bytes of heap/* stacks at the peak, and those whose frames include every fn."""
    heap = [s for s in data["peak"]["stacks"] if s["label"].startswith("heap/")]
    total = sum(s["bytes"] for s in heap)
    chained = sum(s["bytes"] for s in heap if all(any(f.startswith(fn) for f in s["frames"]) for fn in fns))
    return total, chained


def test_go_cgo(c):
    """A Go program built with cgo (dynamically linked; its C has .eh_frame, its Go code none):
    the heap keeps the whole Go chain, goroutine function -> allocating function."""
    cgo_checks(c)


def cgo_checks(c, bin_dir=BIN):
    n = 16
    p, data = trace([], c.name, [os.path.join(bin_dir, "go_cgo"), str(n)])
    if not c.ok(p.returncode == 0, f"exit code {p.returncode}: {p.stderr[-300:]}") or not common_checks(c, data, p):
        return
    m = re.search(r"HeapInuse (\d+)", p.stdout)
    total, chained = go_heap_with_chain(data, "main.worker", "main.alloc")
    c.ok(total and chained >= 0.9 * total,
         f"heap bytes under main.worker <- main.alloc: {chained / MIB:.1f} of {total / MIB:.1f} MiB (want >= 90%)")
    made = n * 64 * 64 << 10  # each worker touches every page of 64 x 64 KiB
    c.ok(chained >= 0.95 * made, f"main.alloc holds {chained / MIB:.1f} MiB of the {made / MIB:.0f} MiB it touched")
    if c.ok(m, "go_cgo printed HeapInuse"):
        c.ok(total <= int(m.group(1)) * 1.05, f"heap {total / MIB:.1f} MiB within Go's HeapInuse {int(m.group(1)) / MIB:.1f} MiB")


def test_go_stackgrow(c):
    """Goroutine stacks grown past 32 KiB come from heap spans: still stack/goroutine, by the
    fault on the thread's own stack (known by construction: N x (DEPTH+1) KiB of frames)."""
    stackgrow_checks(c)


def stackgrow_checks(c, bin_dir=BIN):
    n, depth = 20000, 24
    p, data = trace([], c.name, [os.path.join(bin_dir, "go_stackgrow"), str(n), str(depth)])
    if not c.ok(p.returncode == 0, f"exit code {p.returncode}: {p.stderr[-300:]}") or not common_checks(c, data, p):
        return
    m = re.search(r"StackInuse (\d+) HeapInuse (\d+)", p.stdout)
    stack, heap = label_bytes(data, "stack/goroutine"), label_bytes(data, "heap/go")
    frames = n * (depth + 1) << 10
    c.ok(stack >= 0.95 * frames, f"stack/goroutine {stack / MIB:.1f} MiB vs {frames / MIB:.1f} MiB of frames touched")
    c.ok(heap <= 0.05 * stack, f"heap/go {heap / MIB:.1f} MiB: grown stacks are not heap")
    if c.ok(m, "go_stackgrow printed StackInuse"):
        c.ok(stack <= int(m.group(1)) * 1.02, f"stack/goroutine within Go's StackInuse {int(m.group(1)) / MIB:.1f} MiB")
    rec = sum(s["bytes"] for s in data["peak"]["stacks"] if s["label"] == "stack/goroutine"
              and "main.recurse" in s["frames"])
    c.ok(rec >= 0.9 * stack, f"{rec / MIB:.1f} MiB of goroutine stack under main.recurse (want >= 90%)")


def test_go_debian(c):
    """A Go program from Debian's archive (restic, built with cgo) backing up files of its
    own to a local repository: >= 90% of the bytes at the peak have at least 3 frames."""
    restic = shutil.which("restic")
    if not c.ok(restic, "restic is installed (scripts/install-deps.sh)"):
        return
    work = os.path.join(OUT, "restic")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "src"))
    rnd = random.Random(7)
    for i in range(200):  # 200 files of 64 KiB: compressible halves, random halves
        with open(os.path.join(work, "src", f"f{i}"), "wb") as f:
            f.write(bytes(rnd.getrandbits(8) for _ in range(32768)) + b"x" * 32768)
    env = {"RESTIC_PASSWORD": "taskmem", "RESTIC_CACHE_DIR": os.path.join(work, "cache")}
    repo = os.path.join(work, "repo")
    q = subprocess.run([restic, "-q", "--repo", repo, "init"], capture_output=True, text=True,
                       env=dict(os.environ, **env))
    if not c.ok(q.returncode == 0, f"restic init: {q.stderr[-300:]}"):
        return
    p, data = trace([], c.name, [restic, "-q", "--repo", repo, "backup", os.path.join(work, "src")], env=env)
    if not c.ok(p.returncode == 0, f"exit code {p.returncode}: {p.stderr[-300:]}") or not common_checks(c, data, p):
        return
    st = data["peak"]["stacks"]
    total = sum(s["bytes"] for s in st)
    deep = sum(s["bytes"] for s in st if len(s["frames"]) >= 3)
    c.ok(total and deep >= 0.9 * total, f"bytes with >= 3 frames: {deep / MIB:.1f} of {total / MIB:.1f} MiB (want >= 90%)")


def test_daemon(c):
    """A command that double-forks a daemon and exits at once: the run lasts until the daemon
    is gone, its memory is seen under its own function, exit codes are each process's."""
    t0 = time.time()
    p, data = trace([], c.name, [os.path.join(BIN, "c_daemon"), "32", "1.5"])
    took = time.time() - t0
    c.ok(p.returncode == 0, f"the tool exits with the command's code 0, not {p.returncode}")
    if not common_checks(c, data, p):
        return
    c.ok(data["duration_s"] >= 1.5, f"the run lasted {data['duration_s']:.2f} s: until the daemon exited")
    c.ok(took < 1.5 + 3, f"and ended soon after it ({took:.2f} s)")
    daemon = [q for q in data["processes"] if q["exit_code"] == 3]
    if c.ok(len(daemon) == 1, "the daemon's own exit code 3 is reported"):
        c.ok(daemon[0]["peak_rss_bytes"] >= 32 * MIB, f"the daemon's 32 MiB seen ({daemon[0]['peak_rss_bytes'] / MIB:.1f})")
        c.near(daemon[0]["peak_rss_bytes"], daemon[0]["kernel_peak_rss_bytes"], 0.05, "daemon peak vs the kernel's hiwater")
    fill = sum(s["bytes"] for s in data["peak"]["stacks"] if "daemon_fill" in s["frames"])
    c.ok(fill >= 31 * MIB, f"{fill / MIB:.1f} MiB under daemon_fill (32 MiB made)")
    c.ok(re.search(r"outlived the command", p.stderr), "the summary says which processes outlived the command")


def test_nginx_daemon(c):
    """nginx from Debian with its default `daemon on`: the command exits at once, the master and
    its workers serve requests on loopback until `nginx -s quit`; all seen, and the run ends then."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not c.ok(os.path.exists(nginx), "nginx is installed (scripts/install-deps.sh)"):
        return
    d = os.path.join(OUT, "nginx")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    port = free_port()
    conf = os.path.join(d, "nginx.conf")
    open(conf, "w").write(nginx_conf(d, port, daemon=True, workers=2, connections=64,
                                     location='return 200 "hello\\n";'))
    js = os.path.join(OUT, c.name + ".json")
    if os.path.exists(js):
        os.unlink(js)
    tool = subprocess.Popen([TOOL, "--json", js, "--", nginx, "-c", conf, "-p", d], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    served = 0
    try:
        for _ in range(200):  # until the master's pid file is there and the port answers
            if os.path.exists(os.path.join(d, "nginx.pid")):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    served += r.read() == b"hello\n"
            except OSError:
                time.sleep(0.02)
        c.ok(tool.poll() is None, "the run goes on while the daemon serves")
    finally:
        subprocess.run([nginx, "-c", conf, "-p", d, "-s", "quit"], capture_output=True)
        try:
            out, err = tool.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            subprocess.run(["pkill", "-KILL", "-f", conf])
            tool.kill()
            out, err = tool.communicate()
    open(os.path.join(OUT, c.name + ".log"), "w").write(err)
    c.ok(served >= 290, f"nginx served {served} of 300 requests")
    c.ok(tool.returncode == 0, f"the tool exits with the command's 0, not {tool.returncode}")
    data = json.load(open(js)) if os.path.exists(js) else None
    if not c.ok(data, "JSON written"):
        return
    procs = [q for q in data["processes"] if q["comm"] == "nginx"]
    c.ok(len(procs) >= 4, f"the command, the master and 2 workers seen ({len(procs)} nginx processes)")
    c.ok(all(q["exit_code"] == 0 for q in procs), f"every nginx process exited 0: {[q['exit_code'] for q in procs]}")
    long = [q for q in procs if q["end_s"] - q["start_s"] > 0.3]
    c.ok(len(long) >= 3, f"the master and workers lived through the load ({len(long)})")
    # the kernel's hiwater reads its per-CPU RSS counters without summing them (an error of up to
    # a batch of pages per CPU and counter): 5%, or 0.5 MiB for processes of a few MiB
    for q in long:
        got, want = q["peak_rss_bytes"], q["kernel_peak_rss_bytes"]
        c.ok(abs(got - want) <= max(0.05 * want, MIB / 2),
             f"nginx {q['pid']} peak {got / MIB:.2f} MiB vs the kernel's hiwater {want / MIB:.2f} MiB")
    c.ok(re.search(r"outlived the command", err), "the summary says which processes outlived the command")


ALLOCATORS = (("jemalloc", "libjemalloc.so.2", r"jemalloc stats.resident (\d+)"),
              ("tcmalloc", "libtcmalloc_minimal.so.4", r"tcmalloc generic.heap_size (\d+)"),
              ("mimalloc", "libmimalloc.so.2", r"mimalloc current_commit (\d+)"))


def test_allocators(c):
    """jemalloc, tcmalloc and mimalloc (Debian's, by LD_PRELOAD) in place of glibc's malloc:
    their heaps are heap/<allocator>, within 5% of what the program allocated and touched, under
    the allocating function, and within what the allocator itself says it holds."""
    exe = os.path.join(OUT, "alloc_heaps")
    b = subprocess.run(["cc", "-O1", "-g", "-fno-omit-frame-pointer", "-o", exe,
                        os.path.join(ROOT, "tests", "programs", "alloc_heaps.c"), "-ldl"], capture_output=True, text=True)
    if not c.ok(b.returncode == 0, f"cc: {b.stderr[-200:]}"):
        return
    for name, lib, stat in ALLOCATORS:
        path = os.path.join("/usr/lib/x86_64-linux-gnu", lib)
        if not c.ok(os.path.exists(path), f"{lib} is installed (scripts/install-deps.sh)"):
            continue
        p, data = trace([], f"{c.name}_{name}", ["env", "LD_PRELOAD=" + path, exe, "64"])
        if not c.ok(p.returncode == 0 and data, f"{name}: exit code {p.returncode}: {p.stderr[-300:]!r}"):
            continue
        made = int(re.search(r"made (\d+)", p.stdout).group(1))
        heap = label_bytes(data, "heap/" + name)
        # the allocator's own pages (tcmalloc's page heap, jemalloc's metadata) are its heap too
        c.ok(heap >= 0.95 * made, f"heap/{name} {heap / MIB:.1f} MiB holds the {made / MIB:.1f} MiB allocated and touched")
        under = sum(s["bytes"] for s in data["peak"]["stacks"] if s["label"] == "heap/" + name and "fill_heap" in s["frames"])
        c.near(under, made, 0.05, f"{name}: under fill_heap")
        m = re.search(stat, p.stdout)
        if c.ok(m, f"{name} printed its own statistics"):
            c.ok(heap <= int(m.group(1)) * 1.05, f"heap/{name} {heap / MIB:.1f} MiB within the allocator's "
                 f"{int(m.group(1)) / MIB:.1f} MiB")


def test_merged_stacks(c):
    """Four processes with the same stack: one line in the summary's top stacks, with their
    bytes together and "(x4 processes)"; the JSON keeps one row per process."""
    daemon = os.path.join(BIN, "c_daemon")
    p, data = trace([], c.name, ["sh", "-c", f"for i in 1 2 3 4; do {daemon} 8 0.5 & done; wait"])
    if not c.ok(p.returncode == 0 and data, f"exit code {p.returncode}"):
        return
    lines = [ln for ln in p.stderr.splitlines() if "daemon_fill" in ln and "other/mmap" in ln]
    c.ok(len(lines) == 1, f"one summary line for the daemons' fill: {lines}")
    c.ok(lines and "(x4 processes)" in lines[0] and re.match(r"\s+3[12]\.\d MiB", lines[0]),
         f"32 MiB from 4 processes: {lines[:1]}")
    rows = [s for s in data["peak"]["stacks"] if "daemon_fill" in s["frames"] and s["bytes"] >= 8 * MIB]
    c.ok(len({s["pid"] for s in rows}) == 4, f"the JSON keeps a row per process ({len(rows)})")
