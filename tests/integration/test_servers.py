"""Real servers from Debian's archive under their real clients (issue 14): PostgreSQL under
pgbench, and nginx's master with 8 prefork workers under wrk, on loopback. The tree shares most
of its memory (shared buffers, libraries, pages inherited at fork): the headline, each page
once, is compared while the load runs with what the server's page tables hold (each page frame
once, /proc/PID/pagemap), with the sum of the processes' Pss_Anon + Pss_Shmem (smaps_rollup)
and with a memory cgroup (v1) holding exactly the traced tree, sampled over time: within 5%,
and the timeline does not climb where they are flat. The clients run outside the traced tree
and the cgroup: the server's memory is what is measured."""
import bisect
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from lib import (MIB, OUT, SHMEM_PATHS, TOOL, common_checks, descendants, free_port, nginx_conf, resident_pages,
                 smaps_rollup)

CGROUP_ROOT = "/sys/fs/cgroup"  # v1
PG_BIN = "/usr/lib/postgresql/15/bin"
TOL = 0.05  # the bar


class Cgroups:
    """A memory cgroup (the oracle) and a freezer cgroup (to hold the tree still while it is
    sampled) of one run, holding the traced tree and only it."""

    def __init__(self, name):
        self.mem, self.freezer = (os.path.join(CGROUP_ROOT, k, f"taskmem-test-{name}-{os.getpid()}")
                                  for k in ("memory", "freezer"))
        for d in (self.mem, self.freezer):
            os.makedirs(d, exist_ok=True)

    def join(self):
        """Shell commands that put the shell running them ($$) in both."""
        return f"echo $$ > {self.mem}/cgroup.procs && echo $$ > {self.freezer}/cgroup.procs"

    def freeze(self, state):
        open(os.path.join(self.freezer, "freezer.state"), "w").write(state)
        return wait_for(lambda: open(os.path.join(self.freezer, "freezer.state")).read().strip() == state, 10)

    def stat(self):
        out = {}
        for line in open(os.path.join(self.mem, "memory.stat")):
            k, v = line.split()
            out[k] = int(v)
        return out

    def remove(self):
        for d in (self.freezer, self.mem):
            try:
                if d == self.freezer:
                    self.freeze("THAWED")
                os.rmdir(d)
            except OSError:
                pass


class Sampler:
    """Samples of the server (root and its descendants), each taken with the tree frozen (the
    load waits meanwhile): the page frames they hold (all, and of files), the sum of Pss_Anon +
    Pss_Shmem and of Rss, the memory cgroup's rss + shmem; stamped with the wall time."""

    def __init__(self, root, cgs):
        self.root, self.cgs = root, cgs
        self.samples = []
        self.files = {}  # path -> size in pages of every file the server maps

    def sample(self, phase):
        if not self.cgs.freeze("FROZEN"):
            self.cgs.freeze("THAWED")
            return
        try:
            t = time.time()
            time.sleep(0.2)  # the tool has read every event of before the freeze
            pids = [self.root] + descendants(self.root)
            pss = rss = n = 0
            for q in pids:
                r = smaps_rollup(q)
                if r:
                    pss += r.get("Pss_Anon", 0) + r.get("Pss_Shmem", 0)
                    rss += r.get("Rss", 0)
                    n += 1
            frames = resident_pages(pids)
            for q in pids:
                try:
                    for line in open(f"/proc/{q}/maps"):
                        f = line.split(None, 5)
                        if len(f) > 5 and f[5].startswith("/") and not f[5].startswith(SHMEM_PATHS):
                            path = f[5].strip()
                            if path not in self.files:
                                self.files[path] = -(-os.stat(path).st_size // 4096)
                except OSError:
                    pass
            cg = self.cgs.stat()
        finally:
            took = time.time() - t
            self.cgs.freeze("THAWED")
        self.samples.append({"phase": phase, "wall": t, "took": took, "n": n, "pss": pss, "rss": rss,
                             "frames": frames["all"], "file_frames": frames["file"],
                             "cg": cg["rss"] + cg["shmem"], "cg_mapped_file": cg["mapped_file"]})

    def during(self, load, phase, every=1.5):
        """Samples every `every` s while the load (a Popen) runs; returns its output."""
        while True:
            try:
                out, err = load.communicate(timeout=every)
                return out + err
            except subprocess.TimeoutExpired:
                self.sample(phase)


def start_traced(c, argv, cgs, t0_file):
    """The tool on argv, run by a shell that notes the time (date, a process the JSON shows
    with its start: how the tool's times map to the wall clock) and joins the cgroups, then
    execs argv: the cgroups hold the traced tree and only it, and the shell's pid is the
    server's."""
    js, fo, tr = (os.path.join(OUT, c.name + ext) for ext in (".json", ".folded", ".trace.json"))
    for f in (js, fo, tr):
        if os.path.exists(f):
            os.unlink(f)
    wrap = ["sh", "-c", f'date +%s.%N > {t0_file} && {cgs.join()} && exec "$@"', "sh"]
    full = [TOOL, "--json", js, "--folded", fo, "--trace", tr, "--"] + wrap + argv
    # the output to a file: a pipe no one reads during the run would block a server that logs
    with open(os.path.join(OUT, c.name + ".log"), "w") as log:
        log.write(" ".join(full) + "\n")
        log.flush()
        return subprocess.Popen(full, stdout=log, stderr=subprocess.STDOUT)


def finish_traced(c, tool, timeout=60):
    """After the server was told to stop: the run ends with it (within 5 s), the tool's exit
    code is the server's; the JSON report."""
    t = time.time()
    try:
        tool.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        tool.kill()
        tool.wait()
        c.ok(False, "the run did not end when the server stopped")
    c.ok(time.time() - t < 5, f"the run ended {time.time() - t:.1f} s after the server was told to stop")
    c.ok(tool.returncode == 0, f"the tool exits with the server's 0, not {tool.returncode}")
    js = os.path.join(OUT, c.name + ".json")
    return json.load(open(js)) if os.path.exists(js) else None


def kill_tree(tool):
    """What a failed run left: the tool's tree, by pid (nginx's workers outlive their master),
    children first."""
    if tool:
        for q in reversed(descendants(tool.pid)):
            try:
                os.kill(q, signal.SIGKILL)
            except OSError:
                pass


def end_run(c, tool, cgs, d, sampler, t0, data):
    """Whatever happened: the tree thawed and gone, the test's files and cgroups removed, and
    what was sampled written beside the report."""
    cgs.freeze("THAWED")
    kill_tree(tool)
    if tool:
        tool.kill()
        tool.wait()
    shutil.rmtree(d, ignore_errors=True)
    cgs.remove()
    if sampler:
        record(c, sampler, t0, data)


def report_ok(c, data, t0):
    """The JSON was written, passes the common checks, and maps the tool's clock to the wall's."""
    if not c.ok(data, "JSON written") or not common_checks(c, data, None):
        return False
    return c.ok(t0, "the wrapper's date is in the JSON")


def wait_for(pred, secs):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def time_zero(data, t0_file):
    """The wall time of the tool's time 0, from the wrapper's date and its start in the JSON."""
    dates = [p for p in data["processes"] if p["comm"] == "date"]
    return float(open(t0_file).read()) - dates[0]["start_s"] if len(dates) == 1 else None


def at(data, t):
    """The timeline's sample in force at t (samples are taken when something changed)."""
    tl = data["timeline"]
    i = bisect.bisect_right([s["t_s"] for s in tl], t) - 1
    return tl[i] if i >= 0 else None


def check_samples(c, data, sampler, t0, server, phase, mapped):
    """The headline against the oracles in each sample of a phase, and its climb against
    theirs. mapped: every page the tree holds is mapped by a process of it (then the memory
    cgroup, which also holds pages resident but mapped by none, is an equal, else a bound)."""
    rows = []
    for o in sampler.samples:
        s = at(data, o["wall"] - t0 + 0.1) if o["phase"] == phase else None  # mid-freeze
        if s:
            own = s["rss_bytes"] - s["categories"].get("file", 0)  # anon + shared memory, each once
            rows.append((o, s["rss_bytes"], own, s["rss_sum_bytes"]))
    what = f"{server} ({phase})"
    if not c.ok(len(rows) >= 3, f"{what}: {len(rows)} samples while the load ran (want >= 3)"):
        return
    worst = lambda f: max(rows, key=lambda r: abs(f(r)))  # noqa: E731
    # the tool's moment is the oracle's: the plain sums agree (the kernel's RSS counters, 2%)
    r = worst(lambda r: (r[3] - r[0]["rss"]) / r[0]["rss"])
    c.near(r[3], r[0]["rss"], 0.02, f"{what}: the plain sum vs the sum of the processes' Rss at {r[0]['wall'] - t0:.1f} s")
    checks = [("headline vs the page frames the server holds, each once", lambda r: r[1], lambda r: r[0]["frames"]),
              ("headline less file pages vs the sum of Pss_Anon + Pss_Shmem", lambda r: r[2], lambda r: r[0]["pss"])]
    # the cgroup's rss + shmem, not + mapped_file: v1's mapped_file includes mapped shared
    # memory (the buffers would count twice), and file pages cached before the run are charged
    # to whoever read them first
    if mapped:
        checks.append(("headline less file pages vs the cgroup's rss + shmem", lambda r: r[2], lambda r: r[0]["cg"]))
    else:
        r = max(rows, key=lambda r: r[2] / r[0]["cg"])
        c.ok(r[2] <= r[0]["cg"] * (1 + TOL), f"{what}: headline less file pages {r[2] / MIB:.1f} MiB within the "
             f"cgroup's rss + shmem {r[0]['cg'] / MIB:.1f} MiB at {r[0]['wall'] - t0:.1f} s")
    for name, got, want in checks:
        r = worst(lambda r: (got(r) - want(r)) / want(r))
        c.near(got(r), want(r), TOL, f"{what}: {name} at {r[0]['wall'] - t0:.1f} s (worst of {len(rows)})")
    # not climbing: from the phase's first sample to its last, the headline grows as the
    # frames the server holds do (within 3% of them)
    (o1, h1, _, s1), (o2, h2, _, s2) = rows[0], rows[-1]
    climb, real = h2 - h1, o2["frames"] - o1["frames"]
    c.ok(abs(climb - real) <= 0.03 * o2["frames"],
         f"{what}: the headline grew {climb / MIB:.1f} MiB over the load, the server's page frames "
         f"{real / MIB:.1f} MiB (the plain sum {(s2 - s1) / MIB:.1f} MiB)")
    # the load shared pages at all (how much varies with which backends the clients got: 1.3x to 6x)
    c.ok(s2 > 1.2 * h2, f"{what}: the plain sum ({s2 / MIB:.1f} MiB) counts shared pages once per holder "
         f"(headline {h2 / MIB:.1f} MiB)")


def check_files(c, data, sampler):
    """No file holds more pages than it has."""
    sizes = {}
    for path, pages in sampler.files.items():
        sizes[os.path.basename(path)] = max(pages, sizes.get(os.path.basename(path), 0))
    over = [f"{name} {b / MIB:.2f} MiB of a {sizes[name[5:]] * 4096 / MIB:.2f} MiB file"
            for name, b in data["peak"]["labels"].items()
            if name.startswith("file/") and name[5:] in sizes and b > sizes[name[5:]] * 4096]
    c.ok(not over, f"files counted beyond their size at the peak: {', '.join(over)}")


def record(c, sampler, t0, data):
    """The samples and what the tool said then, for the record (tests/out/NAME.oracle.json)."""
    rows = []
    for o in sampler.samples:
        s = at(data, o["wall"] - t0 + 0.1) if t0 and data else None
        rows.append(dict(o, t_s=o["wall"] - t0 if t0 else None, headline=s and s["rss_bytes"],
                         file=s and s["categories"].get("file", 0), rss_sum=s and s["rss_sum_bytes"]))
    with open(os.path.join(OUT, c.name + ".oracle.json"), "w") as f:
        json.dump({"t0": t0, "files": sampler.files, "samples": rows}, f, indent=1)


# the 256 MiB of shared buffers, in 4 KiB pages (no huge pages are reserved here
# anyway); a unix socket in the run's own directory only; no waiting on the disk
PG_CONF = """
shared_buffers = 256MB
huge_pages = off
listen_addresses = ''
unix_socket_directories = '{d}'
port = {port}
max_connections = 40
fsync = off
synchronous_commit = off
full_page_writes = off
"""


def as_postgres(argv):
    """argv as the postgres user (initdb and postgres refuse root); setpriv execs, so the
    process keeps the pid."""
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] + argv


def pg_ready(d, port):
    return subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-q", "-h", d, "-p", str(port)]).returncode == 0


def test_postgres_pgbench(c):
    """PostgreSQL 15 (shared_buffers=256MB), its tables read into the shared buffers by a
    session that stays connected, then pgbench with 16 clients for 7 s: 22 processes mapping
    the same buffers by pieces (flat). Then that session leaves, and pgbench runs again: the
    buffers stay resident, and the new backends map them block by block (they grow as they do)."""
    if not c.ok(os.path.exists(os.path.join(PG_BIN, "postgres")), "postgresql-15 is installed (scripts/install-deps.sh)"):
        return
    if not c.ok(all(os.path.isdir(os.path.join(CGROUP_ROOT, k)) for k in ("memory", "freezer")),
                "cgroup v1 memory and freezer controllers"):
        return
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        c.ok(False, "the postgres user (made by postgresql-common)")
        return
    # a directory the postgres user can reach (the tree's tests/out may be under /root)
    d = tempfile.mkdtemp(prefix="taskmem-pg-")
    shutil.chown(d, "postgres", "postgres")
    data_dir, port = os.path.join(d, "data"), free_port()
    pgbench = [os.path.join(PG_BIN, "pgbench"), "-h", d, "-p", str(port), "-U", "postgres"]
    psql = [os.path.join(PG_BIN, "psql"), "-X", "-q", "-h", d, "-p", str(port), "-U", "postgres", "-d", "postgres"]
    cgs = Cgroups("pg")
    server = tool = warm = data = t0 = sampler = None
    try:
        q = subprocess.run(as_postgres([os.path.join(PG_BIN, "initdb"), "-D", data_dir, "-U", "postgres", "-A", "trust",
                                        "--no-sync", "-E", "UTF8", "--locale=C"]), capture_output=True, text=True)
        if not c.ok(q.returncode == 0, f"initdb: {q.stderr[-300:]}"):
            return
        with open(os.path.join(data_dir, "postgresql.conf"), "a") as f:
            f.write(PG_CONF.format(d=d, port=port))
        # the tables made untraced, by a server of their own: the run traces serving them
        server = subprocess.Popen(as_postgres([os.path.join(PG_BIN, "postgres"), "-D", data_dir]),
                                  stdout=subprocess.DEVNULL, stderr=open(os.path.join(OUT, c.name + ".init.log"), "w"))
        if not c.ok(wait_for(lambda: pg_ready(d, port), 30), "the untraced server answers"):
            return
        q = subprocess.run(pgbench + ["-i", "-q", "-s", "10", "postgres"], capture_output=True, text=True, timeout=120)
        if not c.ok(q.returncode == 0, f"pgbench -i: {q.stderr[-300:]}"):
            return
        server.send_signal(signal.SIGINT)  # a fast shutdown
        server.wait(30)
        server = None
        t0_file = os.path.join(d, "t0")
        tool = start_traced(c, as_postgres([os.path.join(PG_BIN, "postgres"), "-D", data_dir]), cgs, t0_file)
        if not c.ok(wait_for(lambda: tool.poll() is not None or pg_ready(d, port), 30), "the traced server answers"):
            return
        root = int(open(os.path.join(data_dir, "postmaster.pid")).readline())
        # every table and index into the shared buffers (~150 of the 256 MiB), by a session
        # that stays connected through the first load: its backend keeps them mapped
        warm = subprocess.Popen(psql, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        warm.stdin.write("CREATE EXTENSION pg_prewarm;\nSELECT sum(pg_prewarm(c.oid::regclass)) FROM pg_class c "
                         "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                         "AND c.relkind IN ('r', 'i');\n\\echo prewarmed\n")
        warm.stdin.flush()
        said = ""
        while "prewarmed" not in said and warm.poll() is None:
            said += warm.stdout.readline()
        if not c.ok("prewarmed" in said, f"pg_prewarm: {said[-300:]}"):
            return
        sampler = Sampler(root, cgs)
        log = said
        for phase in ("held", "released"):
            load = subprocess.Popen(pgbench + ["-c", "16", "-j", "2", "-T", "7", "-n", "postgres"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            out = sampler.during(load, phase, every=0.7)
            log += out
            c.ok(load.returncode == 0 and "number of failed transactions: 0" in out,
                 f"pgbench ({phase}): {load.returncode}, {out[-300:]}")
            if phase == "held":
                warm.stdin.close()  # the buffers stay resident, mapped by none of the backends to come
                warm.wait(10)
                time.sleep(0.5)
        open(os.path.join(OUT, c.name + ".pgbench.log"), "w").write(log)
        os.kill(root, signal.SIGINT)
        data = finish_traced(c, tool)
        tool = None
        t0 = time_zero(data, t0_file) if data else None
    finally:
        if server:
            server.kill()
            server.wait()
        if warm and warm.poll() is None:
            warm.kill()
            warm.wait()
        end_run(c, tool, cgs, d, sampler, t0, data)
    if not report_ok(c, data, t0):
        return
    procs = [p for p in data["processes"] if p["comm"] == "postgres"]
    c.ok(len(procs) >= 1 + 2 * 16 + 4,
         f"the postmaster, its helpers and 2 x 16 backends seen ({len(procs)} postgres processes)")
    # (on a fast shutdown the backends still connected and the logical replication launcher
    # exit 1, by PostgreSQL's design: the postmaster's own code is the one that says it went well)
    pm = [p for p in procs if p["pid"] == root]
    c.ok(pm and pm[-1]["exit_code"] == 0, f"the postmaster exited 0: {pm and pm[-1]['exit_code']}")
    check_files(c, data, sampler)
    check_samples(c, data, sampler, t0, "postgres", "held", True)
    check_samples(c, data, sampler, t0, "postgres", "released", False)


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_prefork_wrk(c):
    """nginx from Debian in the foreground, its master and 8 prefork workers serving a static
    file under wrk (2 threads, 64 connections, 6 s) on loopback."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not c.ok(os.path.exists(nginx), "nginx is installed (scripts/install-deps.sh)"):
        return
    if not c.ok(shutil.which("wrk"), "wrk is installed (scripts/install-deps.sh)"):
        return
    if not c.ok(all(os.path.isdir(os.path.join(CGROUP_ROOT, k)) for k in ("memory", "freezer")),
                "cgroup v1 memory and freezer controllers"):
        return
    d = tempfile.mkdtemp(prefix="taskmem-nginx-")
    os.chmod(d, 0o755)  # the workers (nobody) read www/
    os.makedirs(os.path.join(d, "www"))
    open(os.path.join(d, "www", "index.html"), "w").write("<p>taskmem</p>\n" * 1000)
    port = free_port()
    conf = os.path.join(d, "nginx.conf")
    open(conf, "w").write(nginx_conf(d, port, daemon=False, workers=8, connections=256, location=f"root {d}/www;"))
    cgs = Cgroups("nginx")
    tool = data = t0 = sampler = None
    try:
        t0_file = os.path.join(d, "t0")
        tool = start_traced(c, [nginx, "-c", conf, "-p", d], cgs, t0_file)
        if not c.ok(wait_for(lambda: tool.poll() is not None or port_open(port), 20), "nginx answers"):
            return
        root = int(open(os.path.join(d, "nginx.pid")).read())
        time.sleep(0.3)  # the workers are up
        sampler = Sampler(root, cgs)
        load = subprocess.Popen(["wrk", "-t2", "-c64", "-d6s", f"http://127.0.0.1:{port}/"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out = sampler.during(load, "load", every=1.0)
        open(os.path.join(OUT, c.name + ".wrk.log"), "w").write(out)
        c.ok(load.returncode == 0 and "requests in" in out and "Non-2xx" not in out, f"wrk: {load.returncode}, {out[-300:]}")
        os.kill(root, signal.SIGQUIT)  # a graceful stop: the workers finish, then the master
        data = finish_traced(c, tool)
        tool = None
        t0 = time_zero(data, t0_file) if data else None
    finally:
        end_run(c, tool, cgs, d, sampler, t0, data)
    if not report_ok(c, data, t0):
        return
    procs = [p for p in data["processes"] if p["comm"] == "nginx"]
    c.ok(len(procs) >= 9, f"the master and 8 workers seen ({len(procs)} nginx processes)")
    c.ok(all(p["exit_code"] == 0 for p in procs), f"every nginx process exited 0: {sorted({p['exit_code'] for p in procs})}")
    check_files(c, data, sampler)
    check_samples(c, data, sampler, t0, "nginx", "load", True)
