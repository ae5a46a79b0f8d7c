"""Go toolchains newer than Debian's 1.19 (issue 14: version changes must not break labels):
1.22, 1.23 from bookworm-backports and 1.24 from trixie, fetched by scripts/go-toolchains.sh
into a cache outside the tree. go_bench, go_stackgrow and go_cgo are built with each and run
under the tool, with the checks Debian's 1.19 builds pass (test_go_100k, test_go_deep,
test_go_stackgrow, test_go_cgo) against Go's own MemStats."""
import os
import subprocess

from lib import MIB, OUT, ROOT, label_bytes, proc_named
import test_real
import test_runtimes

WANT = ("1.22", "1.23", "1.24")
SRC = {"go_bench": "bench/go", "go_cgo": "bench/go/cgo", "go_stackgrow": "bench/go/stackgrow"}


def toolchains(c):
    """{version: GOROOT} of what the script fetched (or had cached); a failure when it could not."""
    p = subprocess.run([os.path.join(ROOT, "scripts", "go-toolchains.sh")], capture_output=True, text=True)
    got = {}
    for line in p.stdout.splitlines():  # "go1.23.5 /var/cache/.../usr/lib/go-1.23"
        ver, root = line.split()
        got[".".join(ver[2:].split(".")[:2])] = root
    c.ok(p.returncode == 0 and all(v in got for v in WANT),
         f"Go {', '.join(v for v in WANT if v not in got) or '?'} not fetched (scripts/go-toolchains.sh exit "
         f"{p.returncode}: no route to the Debian mirror's bookworm-backports/trixie?): {p.stderr[-300:]}")
    return got


def build(c, ver, goroot):
    """The three programs built with that toolchain into tests/out/go-VER; its bin dir or None."""
    out = os.path.join(OUT, f"go-{ver}")
    os.makedirs(out, exist_ok=True)
    env = dict(os.environ, GOROOT=goroot, GOTOOLCHAIN="local", GO111MODULE="off", GOFLAGS="",
               GOCACHE=os.path.join(OUT, f"go-{ver}-cache"), CGO_ENABLED="1")
    for prog, src in SRC.items():
        p = subprocess.run([os.path.join(goroot, "bin", "go"), "build", "-o", os.path.join(out, prog), "main.go"],
                           cwd=os.path.join(ROOT, src), env=env, capture_output=True, text=True)
        if not c.ok(p.returncode == 0, f"go {ver}: build of {prog}: {p.stderr[-300:]}"):
            return None
    return out


class Prefixed:
    """A Check whose failures say which Go version they are about."""

    def __init__(self, c, ver, name):
        self.c, self.ver, self.name = c, ver, f"{name}-{ver}"

    def ok(self, cond, what):
        return self.c.ok(cond, f"go {self.ver}: {what}")

    def near(self, got, want, tol, what):
        return self.c.near(got, want, tol, f"go {self.ver}: {what}")


def test_go_versions(c):
    """Each fetched toolchain: go_bench 100k (stack vs StackInuse, g structs runtime/sched, the
    top stack goroutine stacks under main.main), go_bench with deep goroutines, go_stackgrow
    (grown stacks stack/goroutine under main.recurse) and go_cgo (the heap's Go chain)."""
    for ver, goroot in sorted(toolchains(c).items()):
        bindir = build(c, ver, goroot)
        if not bindir:
            continue
        pc = Prefixed(c, ver, c.name)
        p, data = test_runtimes.go_checks(pc, 100000, 3, bin_dir=bindir)
        if data:
            top = data["peak"]["stacks"][0]
            pc.ok(top["label"] == "stack/goroutine" and "runtime.malg" in top["frames"] and "main.main" in top["frames"],
                  "the largest stack is goroutine stacks from runtime.malg under main.main")
            pc.ok(data["peak"]["labels"].get("runtime/sched", 0) > 20 * MIB, "g structs counted as runtime/sched")
            gb = proc_named(data, "go_bench")[0]
            print(f"     go {ver} go_bench 100000: stack/goroutine {label_bytes(data, 'stack/goroutine') / MIB:.1f} MiB, "
                  f"runtime/sched {label_bytes(data, 'runtime/sched') / MIB:.1f}, heap/go "
                  f"{label_bytes(data, 'heap/go') / MIB:.1f}, peak {gb['peak_rss_bytes'] / MIB:.1f} MiB")
        test_runtimes.deep_checks(Prefixed(c, ver, "go_deep"), bin_dir=bindir)
        test_real.stackgrow_checks(Prefixed(c, ver, "go_stackgrow"), bin_dir=bindir)
        test_real.cgo_checks(Prefixed(c, ver, "go_cgo"), bin_dir=bindir)
