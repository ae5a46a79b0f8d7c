"""What every integration test shares: paths, the Check that collects a test's assertions,
trace() (one run of the tool with every output), the independent oracles (/usr/bin/time -v,
/proc, the runtimes' own MEMSTATS lines) and the checks every run must pass."""
import json
import os
import re
import shutil
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.environ.get("TASKMEM_TRACE", os.path.join(ROOT, "taskmem-trace"))
BIN = os.path.join(ROOT, "bench", "bin")
OUT = os.path.join(ROOT, "tests", "out")
MIB = 1 << 20
KNOWN_FILE = os.path.join(OUT, "known.data")
# In the environment of every process this run of the suite starts (inherited through the
# tool, shells and launchers): how test_nothing_left tells its leftovers from other users'
RUN_ENV = "TASKMEM_TEST_RUN"
os.environ[RUN_ENV] = f"{os.getpid()}.{time.time_ns()}"


def descendants(pid):
    """The pids under pid, parents first, from the kernel's children lists (each thread's)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            try:
                kids = [int(k) for k in open(f"/proc/{p}/task/{t}/children").read().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def interrupt(proc, sig, timeout):
    """Send sig to proc (the tool) and wait for its end: (its exit code, the seconds it took);
    killed after timeout seconds (its code then -9)."""
    t0 = time.time()
    proc.send_signal(sig)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    return rc, time.time() - t0


def comm_of(pid):
    try:
        return open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return None


class Check:
    """Collects the assertions of one test; a test fails if any check fails."""
    verbose = False  # run.py -v: checks that pass are printed too, with what they measured

    def __init__(self, name):
        self.name, self.fails = name, []

    def ok(self, cond, what):
        if not cond:
            self.fails.append(what)
        elif Check.verbose:
            print(f"     + {what}")
        return cond

    def near(self, got, want, tol, what):
        if got is None or want is None:  # an oracle that printed nothing: a failure, not a crash
            return self.ok(False, f"{what}: nothing to compare (got {got}, want {want})")
        good = want != 0 and abs(got - want) <= tol * abs(want)
        return self.ok(good, f"{what}: got {got/MIB:.2f} MiB, want {want/MIB:.2f} MiB within {tol*100:.0f}%")


def sample_rss(comm, stop, out):
    """Independent oracle: read the kernel's RSS of the process named comm among this suite's
    own descendants (never another user's) from /proc every ms."""
    pid = None
    while not stop.is_set():
        if pid is None:
            pid = next((q for q in descendants(os.getpid()) if comm_of(q) == comm), None)
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
    c.ok(data["schema"] == "taskmem-trace/2", f"schema {data['schema']}")
    c.ok(sum(pk["categories"].values()) == pk["rss_bytes"], "categories add up to the tree's peak")
    c.near(pk["rss_sum_bytes"], pk["kernel_rss_bytes"], 0.01, "sum of the processes' RSS vs kernel counters")
    # each page once: never more than the plain sum (1%: a shared page kept while its last
    # holder's free is in flight), and the same for a single process, which shares nothing
    c.ok(pk["rss_bytes"] <= pk["rss_sum_bytes"] * 1.01, f"tree {pk['rss_bytes']} <= sum {pk['rss_sum_bytes']}")
    if len([q for q in data["processes"] if q["peak_rss_bytes"]]) <= 1:
        # a page of a file mapped twice (ELF segments that share a page at their boundary) is
        # one page in the tree and two in the kernel's RSS: at most that much less
        c.ok(pk["rss_sum_bytes"] - 0.01 * pk["rss_sum_bytes"] <= pk["rss_bytes"] <= pk["rss_sum_bytes"],
             f"one process: the tree's peak {pk['rss_bytes']} is its RSS {pk['rss_sum_bytes']}, less pages mapped twice")
    bound = 0.01 * pk["rss_bytes"] if unattributed_max is None else unattributed_max
    c.ok(abs(pk["unattributed_bytes"]) <= bound, f"unattributed bytes {pk['unattributed_bytes']} within {bound:.0f}")
    c.ok(data["events"]["dropped"] == 0, f"dropped events: {data['events']['dropped']}")
    for s in data["timeline"]:
        if sum(s["categories"].values()) != s["rss_bytes"] or s["rss_bytes"] > s["rss_sum_bytes"] * 1.01:
            c.ok(False, f"timeline sample at {s['t_s']} does not add up, or exceeds the plain sum")
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
    if data.get("sampled"):
        # estimates: a label whose [unsampled] rest would be below 0 shows its stacks' estimates,
        # which then add up to more than the label (never less)
        c.ok(fsum >= pk["rss_bytes"] * 0.99 and fsum <= pk["rss_bytes"] * 1.05,
             f"folded estimates sum to at least the peak, at most 5% over: {fsum} vs {pk['rss_bytes']}")
    else:
        c.near(fsum, pk["rss_bytes"], 0.01, "folded stacks sum to the peak")
    return True


def check_pprof(c, data):
    """Go's own pprof (a client no one here wrote) reads the profile; its total is the peak; it
    is a memory profile (inuse_space) whose main binary is the command's, and -raw lists the
    files the frames were in, with their build ids, and the frames' addresses."""
    prof = os.path.join(OUT, c.name + ".pb.gz")
    q = subprocess.run(["go", "tool", "pprof", "-top", prof], capture_output=True, text=True)
    m = re.search(r"Total samples = ([\d.]+)([kMGT]?B)", q.stdout)
    if c.ok(q.returncode == 0 and m, f"go tool pprof reads the profile: {q.stderr[-200:]!r}"):
        scale = {"B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[m.group(2)]
        c.near(float(m.group(1)) * scale, data["peak"]["rss_bytes"], 0.01, "pprof total vs the JSON peak")
    exes = [p["exe"] for p in data["processes"] if p["exe"]]
    c.ok(re.search(r"^Type: inuse_space$", q.stdout, re.M), "the sample type is inuse_space, as Go's heap profiles")
    f = re.search(r"^File: (\S+)$", q.stdout, re.M)
    c.ok(f and any(os.path.basename(e) == f.group(1) for e in exes), f"the main binary is a process's exe ({f and f.group(1)})")
    raw = subprocess.run(["go", "tool", "pprof", "-raw", prof], capture_output=True, text=True).stdout
    maps = re.findall(r"^\d+: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ (/\S+) ?([0-9a-f]*)", raw, re.M)
    c.ok(maps and any(path in exes for path, _ in maps), f"-raw lists the mappings, the binaries among them: {maps[:3]}")
    c.ok(any(bid for _, bid in maps), "with build ids")
    c.ok(re.search(r"^\s+\d+: 0x[0-9a-f]{4,} M=\d+", raw, re.M), "locations carry addresses in their mappings")
    return q.stdout


def label_bytes(data, label):
    return data["peak"]["labels"].get(label, 0)


def frame_bytes(data, pred):
    """Bytes at the peak under stacks with a frame for which pred holds."""
    return sum(s["bytes"] for s in data["peak"]["stacks"] if any(pred(f) for f in s["frames"]))


def last_images(data):
    """pid -> its last image in the JSON (the one that exited)."""
    out = {}
    for q in data["processes"]:
        if q["pid"] not in out or q["image"] > out[q["pid"]]["image"]:
            out[q["pid"]] = q
    return out


def in_private_mounts(setup, argv, timeout=120):
    """Run argv in a private mount namespace after the shell commands in setup; nothing of it
    is seen outside (unshare(1) makes the mounts private)."""
    return subprocess.run(["unshare", "-m", "sh", "-ec", setup + '\nexec "$@"', "sh"] + argv,
                          capture_output=True, text=True, timeout=timeout)


def free_port():
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_conf(d, port, daemon, workers, connections, location):
    """An nginx.conf of a test's own: everything under d, listening on 127.0.0.1:port only."""
    return f"""daemon {'on' if daemon else 'off'};
master_process on;
worker_processes {workers};
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ {location} }}
    }}
}}
"""


def smaps_rollup(pid):
    """The fields of /proc/PID/smaps_rollup in bytes, or None once the process is gone."""
    out = {}
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            f = line.split()
            if len(f) == 3 and f[2] == "kB":
                out[f[0].rstrip(":")] = int(f[1]) * 1024
    except OSError:
        return None
    return out


# mappings of shared memory (MAP_SHARED|MAP_ANONYMOUS shows as /dev/zero, SysV, memfd, tmpfs)
SHMEM_PATHS = ("/dev/zero", "/SYSV", "/memfd:", "/dev/shm/")


def resident_pages(pids):
    """The pages the processes hold, each once, from their page tables (/proc/PID/pagemap: page
    frame numbers, root only): {"all": n, "file": n}, file the page-cache pages of files (not
    shared memory). The frames of a huge page are its 4 KiB parts, as the kernel's RSS counts."""
    frames, files = set(), set()
    for pid in pids:
        try:
            maps = open(f"/proc/{pid}/maps").read().splitlines()
            pm = open(f"/proc/{pid}/pagemap", "rb")
        except OSError:
            continue
        with pm:
            for line in maps:
                f = line.split(None, 5)
                lo, hi = (int(x, 16) for x in f[0].split("-"))
                path = f[5] if len(f) > 5 else ""
                if path == "[vsyscall]":
                    continue
                try:
                    pm.seek(lo // 4096 * 8)
                    raw = pm.read((hi - lo) // 4096 * 8)
                except OSError:
                    continue
                ents = memoryview(raw).cast("Q")
                # bit 63 present, bits 0-54 the frame; bit 61 a file page or shared anonymous
                got = {e & ((1 << 55) - 1) for e in ents if e >> 63}
                frames |= got
                if path.startswith("/") and not path.startswith(SHMEM_PATHS):
                    files |= {e & ((1 << 55) - 1) for e in ents if e >> 63 and e >> 61 & 1}
    return {"all": len(frames) * 4096, "file": len(files) * 4096}


# The Debian trixie root (scripts/trixie-root.sh, `make trixie-root`): newer runtimes that need
# its glibc run there by chroot, under the tool running here.
TRIXIE = os.environ.get("TASKMEM_TRIXIE", "/var/cache/taskmem-trace/trixie")


def trixie_ready():
    return os.path.isfile(os.path.join(TRIXIE, "root", ".complete"))


def trixie_run(cmd, env=None, settle=0):
    """argv running cmd in the trixie root (its paths); --run clears the environment, so env
    goes in through env(1). settle: seconds a shell of the root waits before it execs cmd."""
    wait = ["/bin/sh", "-c", f'sleep {settle}; exec "$@"', "sh"] if settle else []
    return [os.path.join(ROOT, "scripts", "trixie-root.sh"), "--run", TRIXIE, "/usr/bin/env"] + \
        [f"{k}={v}" for k, v in (env or {}).items()] + wait + list(cmd)


def trixie_files_run(c, argv, files=(), settle=0):
    """trixie_run(argv, settle=settle), with files copied into the root's /tmp/taskmem-test first
    (where argv finds them); None, the test failed, when the root is not made."""
    if not c.ok(trixie_ready(), f"a trixie root at {TRIXIE}/root: make trixie-root first"):
        return None
    d = os.path.join(TRIXIE, "root", "tmp", "taskmem-test")
    os.makedirs(d, exist_ok=True)
    for f in files:
        shutil.copy(f, d)
    return trixie_run(argv, settle=settle)
