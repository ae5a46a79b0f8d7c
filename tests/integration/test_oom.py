"""When memory runs out: --limit runs the tree in a memory cgroup of its own, an OOM kill is
named, and what grew before it is reported. The oracles are the kernel's: its log line for the
kill ("Killed process PID ... anon-rss ... file-rss ... shmem-rss", and the oom-kill line's
constraint and memcg), and the cgroup's own counters (memory.oom_control's oom_kill,
memory.failcnt, memory.max_usage_in_bytes; memory.events and memory.peak on v2), read by the
test while the tool runs (the tool removes its cgroup at the end)."""
import json
import os
import re
import signal
import subprocess
import threading
import time

from lib import MIB, OUT, ROOT, TOOL, descendants, comm_of, in_private_mounts

LEAK_C = r"""
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* leak PERIOD_US [MAX_MB [SLEEP_AFTER_S [SLEEP_BEFORE_S]]]: holds a steady 64 MiB block, then
 * leaks 1 MiB every PERIOD_US in one function, MAX_MB times at most */
char *volatile sink;
__attribute__((noinline)) void hold_steady(size_t n) { char *p = malloc(n); memset(p, 1, n); sink = p; }
__attribute__((noinline)) void leak_one(void) { char *p = malloc(1 << 20); memset(p, 2, 1 << 20); sink = p; }
int main(int argc, char **argv)
{
	long period = atol(argv[1]), max_mb = argc > 2 ? atol(argv[2]) : 1L << 30;
	hold_steady(64 << 20);
	if (argc > 4)
		usleep((useconds_t)(atof(argv[4]) * 1e6));
	for (long i = 0; i < max_mb; i++) {
		leak_one();
		usleep(period);
	}
	if (argc > 3)
		usleep((useconds_t)(atof(argv[3]) * 1e6));
	return 0;
}
"""


def leak_binary():
    prog = os.path.join(OUT, "oom_leak")
    if not os.path.exists(prog):
        with open(prog + ".c", "w") as f:
            f.write(LEAK_C)
        subprocess.run(["cc", "-O1", "-fno-omit-frame-pointer", "-o", prog, prog + ".c"], check=True)
    return prog


def memory_root():
    """The memory controller's hierarchy as the tool finds it (v1 here), and its version."""
    for line in open("/proc/self/mounts"):
        f = line.split()
        if f[2] == "cgroup2" and "memory" in open(os.path.join(f[1], "cgroup.controllers")).read().split():
            return f[1], 2
    for line in open("/proc/self/mounts"):
        f = line.split()
        if f[2] == "cgroup" and "memory" in f[3].split(","):
            return f[1], 1
    return None, 0


def read_counters(d, version):
    """The cgroup's own counters: oom_kill, failcnt, max usage (None when it is gone)."""
    try:
        if version == 1:
            oc = dict(ln.split() for ln in open(os.path.join(d, "memory.oom_control")))
            return {"oom_kill": int(oc["oom_kill"]), "failcnt": int(open(os.path.join(d, "memory.failcnt")).read()),
                    "max_usage": int(open(os.path.join(d, "memory.max_usage_in_bytes")).read())}
        ev = dict(ln.split() for ln in open(os.path.join(d, "memory.events")))
        return {"oom_kill": int(ev["oom_kill"]), "failcnt": int(ev["max"]),
                "max_usage": int(open(os.path.join(d, "memory.peak")).read())}
    except (OSError, KeyError, ValueError):
        return None


class CgroupWatch:
    """Polls the tool's cgroup (taskmem-trace-PID) every 2 ms until it is removed: its last
    counters, whether it was ever seen, and the command's pid (the cgroup's process)."""

    def __init__(self, tool_pid):
        root, self.version = memory_root()
        self.dir = os.path.join(root, f"taskmem-trace-{tool_pid}") if root else None
        self.last, self.seen, self.procs, self.stop = None, False, set(), False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        deadline = time.time() + 120
        while not self.stop and time.time() < deadline and self.dir:
            got = read_counters(self.dir, self.version)
            if got:
                self.last, self.seen = got, True
                try:
                    self.procs |= {int(x) for x in open(os.path.join(self.dir, "cgroup.procs")).read().split()}
                except (OSError, ValueError):
                    pass
            elif self.seen:
                return
            time.sleep(0.002)

    def join(self):
        self.stop = True
        self.t.join()


def kernel_kill_lines(pid):
    """The kernel log's lines about the OOM kill of pid: (oom-kill line, Killed process line)."""
    log = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    ctl = [ln for ln in log.splitlines() if "oom-kill:" in ln and f",pid={pid}," in ln]
    killed = [ln for ln in log.splitlines() if re.search(rf"Killed process {pid} \(", ln)]
    return (ctl[-1] if ctl else None), (killed[-1] if killed else None)


def kernel_rss(line):
    m = re.search(r"anon-rss:(\d+)kB, file-rss:(\d+)kB, shmem-rss:(\d+)kB", line or "")
    return sum(int(x) for x in m.groups()) * 1024 if m else None


def run_tool(c, args, cmd, signal_after=None, signal_what=None):
    """The tool with --json, its cgroup watched; signal_after(seconds): send signal_what=(sig,
    'tool' or 'command') once the command runs. Returns (exit code, stderr, JSON or None, watch)."""
    js = os.path.join(OUT, c.name + ".json")
    if os.path.exists(js):
        os.unlink(js)
    tool = subprocess.Popen([TOOL, "--json", js] + args + (["--"] + cmd if cmd else []), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    w = CgroupWatch(tool.pid)
    if signal_after is not None:
        time.sleep(signal_after)
        sig, who = signal_what
        if who == "tool":
            tool.send_signal(sig)
        else:
            for q in descendants(tool.pid):
                if comm_of(q) == os.path.basename(cmd[0]):
                    os.kill(q, sig)
    try:
        _, err = tool.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        tool.kill()
        _, err = tool.communicate()
    w.join()
    with open(os.path.join(OUT, c.name + ".log"), "w") as f:
        f.write(" ".join(args + cmd) + "\n--- stderr\n" + err)
    data = json.load(open(js)) if os.path.exists(js) else None
    return tool.returncode, err, data, w


def growth_share(data, func):
    g = data.get("growth_before_end") or {}
    total = g.get("bytes") or 0
    mine = sum(s["bytes"] for s in g.get("stacks", []) if func in s["frames"])
    return mine, total


def test_oom_limit(c):
    """A program that leaks 1 MiB every 30 ms in leak_one while hold_steady keeps 64 MiB, under
    --limit 256M: killed by the OOM killer (exit 137), named so in the summary and the JSON
    (killed_by, oom.scope cgroup, the limit), as the kernel says (its log's constraint and the
    cgroup's own oom_kill count); the victim's RSS at the kill within 5% of the kernel log's;
    leak_one holds >= 90% of the default growth window (5 s: the steady block is older). Its HTML
    page (tests/html/oom_check.mjs) marks the kill and the limit, and its flame graph of what grew
    adds up to the JSON's."""
    prog = leak_binary()
    page = os.path.join(OUT, c.name + ".html")
    rc, err, data, w = run_tool(c, ["--limit", "256M", "--html", page], [prog, "30000"])
    c.ok(rc == 137, f"exit code {rc}, want 137")
    if not c.ok(data is not None, "no JSON written"):
        return
    oom = data.get("oom") or {}
    victim = oom.get("victim_pid")
    procs = [p for p in data["processes"] if p["pid"] == victim]
    c.ok(procs and procs[-1].get("killed_by") == "oom", f"processes[].killed_by of the victim: {procs and procs[-1].get('killed_by')}")
    c.ok(oom.get("scope") == "cgroup", f"oom.scope {oom.get('scope')}, want cgroup")
    c.ok(oom.get("limit_bytes") == 256 * MIB, f"oom.limit_bytes {oom.get('limit_bytes')}, want {256 * MIB}")
    c.ok("killed by the OOM killer (cgroup limit 256.0 MiB) at" in err, "the summary names the OOM kill and its limit")
    ctl, killed = kernel_kill_lines(victim)
    c.ok(ctl and "constraint=CONSTRAINT_MEMCG" in ctl and f"oom_memcg=/taskmem-trace-" in ctl,
         f"the kernel log's oom-kill line of pid {victim}: {ctl}")
    c.ok(w.seen and w.last and w.last["oom_kill"] == 1, f"the cgroup's own oom_kill count: {w.last}")
    c.ok(data.get("cgroup", {}).get("oom_kills") == (w.last or {}).get("oom_kill"),
         f"JSON cgroup.oom_kills {data.get('cgroup', {}).get('oom_kills')} vs the cgroup's {w.last}")
    c.ok(victim in w.procs, f"the victim {victim} was in the run's cgroup ({sorted(w.procs)})")
    c.near(oom.get("rss_bytes"), kernel_rss(killed), 0.05, "the victim's RSS at the kill vs the kernel log's")
    mine, total = growth_share(data, "leak_one")
    c.ok(data.get("growth_before_end", {}).get("end") == "oom", "growth_before_end ends at the OOM kill")
    c.ok(total > 64 * MIB and mine >= 0.9 * total,
         f"leak_one's share of growth_before_end: {mine / MIB:.1f} of {total / MIB:.1f} MiB")
    c.ok("grew in the 5.0 s before the OOM kill" in err, "the summary's growth section")
    c.ok(not os.path.exists(w.dir or "/nonexistent"), f"the run's cgroup {w.dir} is removed")
    q = subprocess.run(["node", os.path.join(ROOT, "tests", "html", "oom_check.mjs"), page, os.path.join(OUT, c.name + ".json")],
                       capture_output=True, text=True, timeout=120)
    c.ok(q.returncode == 0, f"the HTML page: {q.stdout.strip()} {q.stderr.strip()[-300:]}")


def test_oom_kill9(c):
    """kill -9 of a traced program (under --limit, and without) is not called an OOM kill: exit
    137, no oom object, no killed_by, the cgroup's own oom_kill count 0."""
    prog = leak_binary()
    for args in (["--limit", "512M"], []):
        rc, err, data, w = run_tool(c, args, [prog, "20000", "100000"], 1.5, (signal.SIGKILL, "command"))
        what = " ".join(args) or "no --limit"
        c.ok(rc == 137, f"{what}: exit code {rc}, want 137")
        if not c.ok(data is not None, f"{what}: no JSON written"):
            continue
        c.ok("oom" not in data, f"{what}: an oom object: {data.get('oom')}")
        c.ok(not any(p.get("killed_by") for p in data["processes"]), f"{what}: killed_by set")
        c.ok(data["exit"] == "killed by signal 9 (Killed)", f"{what}: exit {data['exit']!r}")
        c.ok("OOM killer" not in err, f"{what}: the summary speaks of the OOM killer")
        if args:
            c.ok(w.seen and w.last["oom_kill"] == 0, f"{what}: the cgroup's oom_kill {w.last}")
            c.ok(data.get("cgroup", {}).get("oom_kills") == 0, f"{what}: JSON cgroup {data.get('cgroup')}")


def test_oom_under_limit(c):
    """A run that stays under its limit (64 + 96 MiB of 512M): the summary's "closest to the
    limit" and the JSON's cgroup.max_usage_bytes equal the cgroup's own max usage within 2%;
    failcnt 0 as the cgroup says; no OOM; --growth-window 2 gives growth_before_end anyway (the
    steady block is 3 s older than the leak)."""
    prog = leak_binary()
    rc, err, data, w = run_tool(c, ["--limit", "512M", "--growth-window", "2"], [prog, "5000", "96", "0.3", "3"])
    c.ok(rc == 0, f"exit code {rc}")
    if not c.ok(data is not None and w.last, f"no JSON written or cgroup never seen ({w.last})"):
        return
    m = re.search(r"closest to the limit ([\d.]+) MiB \(([\d.]+)%\)", err)
    want = w.last["max_usage"]
    c.ok(want > 150 * MIB, f"the cgroup's max usage {want / MIB:.1f} MiB: the program's 160 MiB")
    c.near(float(m.group(1)) * MIB if m else None, want, 0.02, "the summary's closest to the limit vs memory.max_usage")
    c.near(data["cgroup"]["max_usage_bytes"], want, 0.02, "JSON cgroup.max_usage_bytes vs the cgroup's")
    c.ok(m and abs(float(m.group(2)) - 100.0 * want / (512 * MIB)) < 2, f"the share of the limit: {m and m.group(2)}%")
    c.ok(data["cgroup"]["failcnt"] == w.last["failcnt"] == 0, f"failcnt {data['cgroup']['failcnt']} vs {w.last['failcnt']}")
    c.ok(data["cgroup"]["limit_bytes"] == 512 * MIB, f"limit {data['cgroup']['limit_bytes']}")
    usage = data["cgroup"]["usage"]
    c.ok(len(usage) >= 10 and max(u["bytes"] for u in usage) <= want,
         f"{len(usage)} usage samples, none above the max usage")
    c.ok("oom" not in data and "OOM killer" not in err, "no OOM named")
    mine, total = growth_share(data, "leak_one")
    c.ok(data.get("growth_before_end", {}).get("end") == "exit" and mine >= 0.9 * total > 80 * MIB,
         f"growth before the exit: leak_one {mine / MIB:.1f} of {total / MIB:.1f} MiB")


def test_oom_attach(c):
    """-p: a process in a memory cgroup with a 200 MiB limit (the test's own, as a container's),
    attached while it sleeps and then OOM-killed: named as with --limit, as the kernel log says."""
    root, version = memory_root()
    if not c.ok(root, "no memory cgroup"):
        return
    prog = leak_binary()
    d = os.path.join(root, f"taskmem-test-{os.getpid()}")
    os.makedirs(d, exist_ok=True)
    try:
        open(os.path.join(d, "memory.limit_in_bytes" if version == 1 else "memory.max"), "w").write(str(200 * MIB))
        pre = f"echo $$ > {d}/cgroup.procs && exec \"$@\""
        target = subprocess.Popen(["sh", "-c", pre, "sh", prog, "5000", "100000", "0", "2"])
        time.sleep(0.5)
        rc, err, data, _ = run_tool(c, ["-p", str(target.pid)], [])
        target.wait()
    finally:
        os.rmdir(d)
    if not c.ok(data is not None, f"no JSON written (exit {rc})"):
        return
    oom = data.get("oom") or {}
    c.ok(oom.get("victim_pid") == target.pid and oom.get("scope") == "cgroup" and oom.get("limit_bytes") == 200 * MIB,
         f"oom {oom}, want victim {target.pid}, scope cgroup, limit 200 MiB")
    c.ok(data["exit"] == "attached until the OOM killer killed it", f"exit {data['exit']!r}")
    c.ok([p.get("killed_by") for p in data["processes"] if p["pid"] == target.pid][-1:] == ["oom"], "killed_by")
    ctl, killed = kernel_kill_lines(target.pid)
    c.ok(ctl and "constraint=CONSTRAINT_MEMCG" in ctl, f"the kernel log's oom-kill line: {ctl}")
    c.near(oom.get("rss_bytes"), kernel_rss(killed), 0.05, "the victim's RSS at the kill vs the kernel log's")


def test_oom_cleanup(c):
    """The run's cgroup is gone after every run: the command's exit, Ctrl-C (SIGINT to the tool),
    and a tool killed with SIGKILL (its cgroup is left, empty: the next run removes it). A bad
    size is a usage error (2); without a memory cgroup, --limit fails in one line (125) and a
    run without it works as before."""
    prog = leak_binary()
    root, _ = memory_root()
    rc, err, data, w = run_tool(c, ["-q", "--limit", "300M"], [prog, "1000", "4"])
    c.ok(rc == 0 and w.seen and not os.path.exists(w.dir), f"exit: code {rc}, cgroup {w.dir} seen {w.seen}, left {os.path.exists(w.dir)}")
    rc, err, data, w = run_tool(c, ["-q", "--limit", "300M"], [prog, "20000", "100000"], 1.5, (signal.SIGINT, "tool"))
    c.ok(rc == 130 and w.seen and not os.path.exists(w.dir) and data,
         f"Ctrl-C: code {rc}, cgroup {w.dir} seen {w.seen}, left {os.path.exists(w.dir)}, JSON {data is not None}")
    rc, err, data, w = run_tool(c, ["-q", "--limit", "300M"], [prog, "20000", "100000"], 1.5, (signal.SIGKILL, "tool"))
    time.sleep(0.5)  # the command dies with the tool (PR_SET_PDEATHSIG)
    stale = w.dir
    # any run of the tool removes a cgroup whose tool is gone: another run on this machine (not
    # the test's) may have been first
    others = subprocess.run(["pgrep", "-x", "taskmem-trace"], capture_output=True, text=True).stdout.split()
    c.ok(rc == -9 and w.seen and (os.path.exists(stale) or others),
         f"SIGKILL: code {rc}, its cgroup {stale} left (seen {w.seen}; other runs of the tool: {others})")
    rc, err, data, w = run_tool(c, ["-q", "--limit", "300M"], ["/bin/true"])
    c.ok(rc == 0 and not os.path.exists(stale), f"the next run (code {rc}) removed the stale {stale}")
    c.ok(not [n for n in os.listdir(root) if n.startswith("taskmem-trace-") and
              not os.path.exists(f"/proc/{n.split('-')[-1]}")], "no run cgroup left whose tool is gone")
    js = os.path.join(OUT, c.name + ".json")
    for bad in ("abc", "12X", "0", "-5M", "1K"):
        p = subprocess.run([TOOL, "--json", js, "--limit", bad, "--", "/bin/true"], capture_output=True, text=True)
        c.ok(p.returncode == 2 and "--limit must be a size" in p.stderr, f"--limit {bad}: code {p.returncode}: {p.stderr.strip()}")
    p = subprocess.run([TOOL, "--json", js, "--limit", "1G", "-p", str(os.getpid())], capture_output=True, text=True)
    c.ok(p.returncode == 2 and "not with -p" in p.stderr, f"--limit with -p: code {p.returncode}: {p.stderr.strip()}")
    unmount = "for m in $(awk '$3==\"cgroup\"||$3==\"cgroup2\"{print $2}' /proc/self/mounts); do umount -l $m; done"
    q = in_private_mounts(unmount, [TOOL, "-q", "--json", js, "--limit", "100M", "--", "/bin/true"])
    lines = q.stderr.strip().splitlines()
    c.ok(q.returncode == 125 and len(lines) == 1 and "needs a memory cgroup" in q.stderr,
         f"no memory cgroup, --limit: code {q.returncode}: {q.stderr.strip()}")
    q = in_private_mounts(unmount, [TOOL, "-q", "--json", js, "--", "/bin/true"])
    c.ok(q.returncode == 0 and not q.stderr.strip(), f"no memory cgroup, no --limit: code {q.returncode}: {q.stderr.strip()}")
