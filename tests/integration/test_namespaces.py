"""A traced process's files are read through the process (/proc/PID/map_files, its own root),
never by the path in its maps from the tool's root: a deleted library whose "(deleted)" name a
symlink or a FIFO now holds, a library another mount namespace binds over a host path, and
Node's perf map in a private /tmp of another pid namespace (issues 14.10, 15.1, 15.10)."""
import gzip
import os
import shutil
import subprocess
import time

from lib import MIB, OUT, frame_bytes, trace

ALLOC = 64 * MIB

# Two builds of one library, the same layout (names of one length): the real one names its
# allocating function nsreal_alloc_fn, the other SECRET_alloc_fn.
LIB_C = r"""
#include <stddef.h>
#include <stdlib.h>
__attribute__((noinline)) static char *FN(size_t n)
{
	volatile char *p = malloc(n);
	for (size_t i = 0; p && i < n; i += 4096)
		p[i] = 1;
	return (char *)p;
}
void *lib_entry(size_t n) { return FN(n); }
"""

# prog LIB MODE [TARGET]: MODE symlink: LIB opened, deleted, TARGET linked at "LIB (deleted)",
# then loaded through the open file (so its maps name it "LIB (deleted)" from the start); fifo:
# the same with a FIFO there and a child blocked opening it for writing (it leaves LIB.opened if
# anyone opens it for reading); none: LIB loaded by its path. Then 64 MiB touched by the
# library, a pause (events read while the process lives), and exit. device: a character device
# (/dev/null's) there.
PROG_C = r"""
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	char del[4096], mark[4096], self[64];
	int fd = open(argv[1], O_RDONLY);
	void *(*entry)(size_t);
	pid_t child = -1;
	void *h;

	snprintf(del, sizeof(del), "%s (deleted)", argv[1]);
	snprintf(mark, sizeof(mark), "%s.opened", argv[1]);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (fd < 0)
		return 2;
	if (!strcmp(argv[2], "symlink") && (unlink(argv[1]) || symlink(argv[3], del)))
		return 2;
	if (!strcmp(argv[2], "device") && (unlink(argv[1]) || mknod(del, S_IFCHR | 0600, makedev(1, 3))))
		return 2;
	if (!strcmp(argv[2], "fifo")) {
		if (unlink(argv[1]) || mkfifo(del, 0600))
			return 2;
		child = fork();
		if (!child) {
			int w = open(del, O_WRONLY);

			if (w >= 0)
				close(open(mark, O_WRONLY | O_CREAT, 0600));
			_exit(0);
		}
	}
	h = dlopen(strcmp(argv[2], "none") ? self : argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	entry = (void *(*)(size_t))dlsym(h, "lib_entry");
	usleep(200000);
	if (!entry(64 << 20))
		return 3;
	usleep(600000);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	return 0;
}
"""


def build(c, d):
    """The real library, its double, and the program in d (fresh); False if the build failed."""
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    open(os.path.join(d, "lib.c"), "w").write(LIB_C)
    open(os.path.join(d, "prog.c"), "w").write(PROG_C)
    q = subprocess.run(
        "cc -O1 -g -fno-omit-frame-pointer -shared -fPIC -DFN=nsreal_alloc_fn -o libreal.so lib.c && "
        "cc -O1 -g -fno-omit-frame-pointer -shared -fPIC -DFN=SECRET_alloc_fn -o libsecret.so lib.c && "
        "cc -O1 -fno-omit-frame-pointer -o prog prog.c -ldl && chmod 600 libsecret.so",
        shell=True, cwd=d, capture_output=True, text=True)
    return c.ok(q.returncode == 0, f"built the library and the program: {q.stderr[-300:]!r}")


def outputs(name):
    """Every output of a run of trace() as one text (pprof unzipped)."""
    text = ""
    for ext in (".json", ".folded", ".trace.json", ".log"):
        f = os.path.join(OUT, name + ext)
        if os.path.exists(f):
            text += open(f, errors="replace").read()
    f = os.path.join(OUT, name + ".pb.gz")
    if os.path.exists(f):
        text += gzip.open(f).read().decode("latin-1")
    return text


def check_named(c, data, name, what):
    """The 64 MiB are under nsreal_alloc_fn, the real library's name; the double's never shows."""
    if not c.ok(data is not None, f"{what}: a report"):
        return
    real = frame_bytes(data, lambda f: "nsreal_alloc_fn" in f)
    c.ok(real >= 0.9 * ALLOC, f"{what}: {real / MIB:.1f} MiB under nsreal_alloc_fn (the mapped file's), want >= "
         f"{0.9 * ALLOC / MIB:.0f}")
    c.ok("SECRET" not in outputs(name), f"{what}: no name of the other file in any output")


def test_ns_deleted_symlink(c):
    """A program loads its library, deletes it and plants a symlink at "lib.so (deleted)" (the
    name its maps now show) to a root-only file: that file's names never appear, and the frames
    are named from the deleted library itself (map_files)."""
    d = os.path.join(OUT, "ns_symlink")
    if not build(c, d):
        return
    lib = os.path.join(d, "lib.so")
    shutil.copy(os.path.join(d, "libreal.so"), lib)
    p, data = trace(["-q"], c.name, [os.path.join(d, "prog"), lib, "symlink", os.path.join(d, "libsecret.so")])
    c.ok(p.returncode == 0, f"the run ends well (rc {p.returncode}: {p.stderr[-300:]!r})")
    check_named(c, data, c.name, "symlink at (deleted)")


def test_ns_fifo(c):
    """A FIFO at the deleted library's "(deleted)" name, a writer blocked on it: the tool never
    opens it (the writer stays blocked), and names the frames from the library itself."""
    d = os.path.join(OUT, "ns_fifo")
    if not build(c, d):
        return
    lib = os.path.join(d, "lib.so")
    shutil.copy(os.path.join(d, "libreal.so"), lib)
    t0 = time.time()
    p, data = trace(["-q"], c.name, [os.path.join(d, "prog"), lib, "fifo"], timeout=60)
    c.ok(p.returncode == 0 and time.time() - t0 < 30, f"the run ends (rc {p.returncode}, {time.time() - t0:.1f}s)")
    c.ok(not os.path.exists(lib + ".opened"), "the FIFO was never opened for reading: its writer stayed blocked")
    check_named(c, data, c.name, "FIFO at (deleted)")


def test_ns_device(c):
    """A device node at the deleted library's "(deleted)" name: the tool (under strace) never
    opens that name other than O_PATH, and names the frames from the library itself."""
    d = os.path.join(OUT, "ns_device")
    if not build(c, d):
        return
    lib = os.path.join(d, "lib.so")
    shutil.copy(os.path.join(d, "libreal.so"), lib)
    log = os.path.join(d, "strace.log")
    # LeakSanitizer cannot run under ptrace (the sanitizer pass's build)
    asan = (os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    p, data = trace(["-q"], c.name, [os.path.join(d, "prog"), lib, "device"], env={"ASAN_OPTIONS": asan},
                    pre=["strace", "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", log])
    c.ok(p.returncode == 0, f"the run ends well (rc {p.returncode}: {p.stderr[-300:]!r})")
    opens = [ln for ln in open(log, errors="replace") if "lib.so (deleted)" in ln] if os.path.exists(log) else None
    c.ok(opens == [] or (opens and all("O_PATH" in ln for ln in opens)),
         f"the device was never opened: {(opens or ['no strace log'])[:3]}")
    check_named(c, data, c.name, "device at (deleted)")


def test_ns_mount(c):
    """A program in its own mount namespace (unshare -m) with another library bound over the
    path the host has: its frames are named from its own file, never from the host's."""
    d = os.path.join(OUT, "ns_mount")
    if not build(c, d):
        return
    lib = os.path.join(d, "lib.so")
    shutil.copy(os.path.join(d, "libsecret.so"), lib)  # the host's file at the path
    os.chmod(lib, 0o644)
    setup = f"mount --bind {os.path.join(d, 'libreal.so')} {lib}"
    p, data = trace(["-q"], c.name, ["unshare", "-m", "sh", "-ec", setup + '\nexec "$@"', "sh",
                                     os.path.join(d, "prog"), lib, "none"])
    c.ok(p.returncode == 0, f"the run ends well (rc {p.returncode}: {p.stderr[-300:]!r})")
    check_named(c, data, c.name, "bind mount in a mount namespace")


def test_ns_overlay(c):
    """A program and its library on an overlayfs mounted in its own mount namespace (a
    container's root filesystem): frames named from its files, which the host cannot see."""
    d = os.path.join(OUT, "ns_overlay")
    if not build(c, d):
        return
    dirs = {n: os.path.join(d, n) for n in ("lower", "upper", "work", "merged")}
    for p in dirs.values():
        os.makedirs(p)
    shutil.copy(os.path.join(d, "libreal.so"), os.path.join(dirs["lower"], "lib.so"))
    shutil.copy(os.path.join(d, "prog"), os.path.join(dirs["lower"], "prog"))
    setup = (f"mount -t overlay overlay -o lowerdir={dirs['lower']},upperdir={dirs['upper']},"
             f"workdir={dirs['work']} {dirs['merged']}")
    m = dirs["merged"]
    p, data = trace(["-q"], c.name, ["unshare", "-m", "sh", "-ec", setup + '\nexec "$@"', "sh",
                                     os.path.join(m, "prog"), os.path.join(m, "lib.so"), "none"])
    c.ok(p.returncode == 0, f"the run ends well (rc {p.returncode}: {p.stderr[-300:]!r})")
    check_named(c, data, c.name, "overlayfs in a mount namespace")
    c.ok(data is not None and data["events"].get("files_refused") == 0,
         f"no file refused: {data and data['events'].get('files_refused')}")


NODE_JS = r"""
'use strict';
const keep = [];
function nsJitAllocator(n) {
  const a = new Array(n);
  for (let i = 0; i < n; i++) a[i] = { i: i, s: 'x' + i };
  return a;
}
for (let k = 0; k < 40; k++) keep.push(nsJitAllocator(50000));
setTimeout(() => {}, 1500);  // the perf map is read while node lives: room for a tool that lags on a loaded machine
"""


def test_ns_node_pidns(c):
    """Node with --perf-basic-prof in its own pid namespace and a private /tmp: its perf map is
    /tmp/perf-NSPID.map (its pid there) in its own root, and names its JIT frames."""
    d = os.path.join(OUT, "ns_node")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    js = os.path.join(d, "main.js")
    open(js, "w").write(NODE_JS)
    # the script goes into the new /tmp: the checkout (and js) may itself be under /tmp
    setup = f'js=$(cat {js})\nmount -t tmpfs -o size=64m none /tmp\nprintf "%s\\n" "$js" > /tmp/main.js'
    t0 = time.time()
    p, data = trace(["-q"], c.name, ["unshare", "-p", "-f", "--mount-proc", "-m", "sh", "-ec",
                                     setup + '\nexec "$@"', "sh", "/usr/bin/node", "--perf-basic-prof",
                                     "--interpreted-frames-native-stack", "/tmp/main.js"], cwd=d)  # V8's log lands in d
    c.ok(p.returncode == 0, f"the run ends well (rc {p.returncode}: {p.stderr[-300:]!r})")
    if not c.ok(data is not None, "a report"):
        return
    node = [q for q in data["processes"] if q["comm"] == "node"]
    host = [f"/tmp/perf-{q['pid']}.map" for q in node]
    c.ok(bool(node) and all(not os.path.exists(f) or os.stat(f).st_mtime < t0 for f in host),
         f"node's perf map is not in the host's /tmp ({host})")
    named = frame_bytes(data, lambda f: "nsJitAllocator" in f)
    c.ok(named >= 4 * MIB, f"{named / MIB:.1f} MiB under nsJitAllocator, named from the perf map in node's own "
         "/tmp (want >= 4 MiB)")
