"""Programs as users bring them, against what they are made of: Go built with cgo, goroutine
stacks grown past the stack pool, and a Go tool from Debian's archive."""
import os
import random
import re
import shutil
import subprocess

from lib import BIN, MIB, OUT, common_checks, label_bytes, trace


def go_heap_with_chain(data, *fns):
    """Bytes of heap/* stacks at the peak, and those whose frames include every fn."""
    heap = [s for s in data["peak"]["stacks"] if s["label"].startswith("heap/")]
    total = sum(s["bytes"] for s in heap)
    chained = sum(s["bytes"] for s in heap if all(any(f.startswith(fn) for f in s["frames"]) for fn in fns))
    return total, chained


def test_go_cgo(c):
    """A Go program built with cgo (dynamically linked; its C has .eh_frame, its Go code none):
    the heap keeps the whole Go chain, goroutine function -> allocating function."""
    n = 16
    p, data = trace([], c.name, [os.path.join(BIN, "go_cgo"), str(n)])
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
    n, depth = 20000, 24
    p, data = trace([], c.name, [os.path.join(BIN, "go_stackgrow"), str(n), str(depth)])
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
