"""The command line and the tool's lifecycle: exit codes, signals, bad usage, the man page and
make install, the status line, -p, and nothing left behind once the tool ends."""
import json
import os
import pwd
import re
import signal
import stat
import subprocess
import tempfile
import time

from lib import (BIN, KNOWN_FILE, MIB, OUT, ROOT, RUN_ENV, TOOL, comm_of, common_checks, descendants,
                 in_private_mounts, trace)


def test_exit_codes(c):
    p, data = trace([], c.name, ["sh", "-c", "exit 7"])
    c.ok(p.returncode == 7, f"exit 7 passed through (got {p.returncode})")
    c.ok(data is not None and [q["exit_code"] for q in data["processes"]] == [7], "the process's exit code in the JSON")
    p, data = trace([], c.name, ["sh", "-c", "kill -9 $$"])
    c.ok(p.returncode == 137, f"SIGKILL gives 137 (got {p.returncode})")
    c.ok(data is not None and data["exit_code"] == 137, "report written for a killed command")
    p, data = trace([], c.name, ["/nonexistent/command"])
    c.ok(p.returncode == 127, f"missing command gives 127 (got {p.returncode})")
    c.ok("/nonexistent/command" in p.stderr and len(p.stderr.strip().splitlines()) == 1,
         f"one line naming the command: {p.stderr!r}")
    # SIGINT / SIGTERM to the tool: the command is stopped, the report written, the tool ends
    # quickly, and the command is not left running
    for sig, name in ((2, "SIGINT"), (15, "SIGTERM")):
        js = os.path.join(OUT, f"{name}.json")
        if os.path.exists(js):
            os.unlink(js)
        tool = subprocess.Popen([TOOL, "-q", "--json", js, "--", os.path.join(BIN, "go_bench"), "10", "60"])
        # once the command runs (it waits at a gate, as the tool's own fork, while the BPF
        # programs load: a loaded machine takes seconds)
        child, t_end = [], time.time() + 20
        while time.time() < t_end:
            child = subprocess.run(["pgrep", "-P", str(tool.pid)], capture_output=True, text=True).stdout.split()
            if len(child) == 1 and comm_of(child[0]) == "go_bench":
                break
            time.sleep(0.05)
        time.sleep(0.5)
        t0 = time.time()
        tool.send_signal(sig)
        rc = tool.wait(timeout=10)
        c.ok(rc == 128 + sig, f"{name}: the command killed by {name} gives {128 + sig} (got {rc})")
        c.ok(time.time() - t0 < 3, f"{name}: tool ended in {time.time()-t0:.1f}s")
        c.ok(os.path.exists(js) and json.load(open(js))["exit_code"] == 128 + sig, f"{name}: report written")
        c.ok(len(child) == 1 and not os.path.exists(f"/proc/{child[0]}"), f"{name}: the command is gone ({child})")
    # messages name what the traced program controls: no control sequence gets through them
    p = subprocess.run([TOOL, "-q", "--", "/nonexistent/\x1b]0;pwned\x07cmd"], capture_output=True, timeout=60)
    c.ok(p.returncode == 127 and b"\x1b" not in p.stderr and b"\\x1b]0;pwned" in p.stderr,
         f"a command named with an escape sequence: escaped in the message ({p.stderr!r})")
    # a report to a device or a pipe is written into it, never renamed over it (the machine's
    # /dev/null was replaced by a regular file)
    p = subprocess.run([TOOL, "-q", "--json", "/dev/stdout", "--folded", "/dev/null", "--", "/bin/true"],
                       capture_output=True, text=True, timeout=120)
    c.ok(p.returncode == 0 and json.loads(p.stdout)["exit_code"] == 0, f"--json /dev/stdout: the JSON on stdout "
         f"(rc {p.returncode}): {p.stdout[:100]!r} {p.stderr[-200:]!r}")
    c.ok(stat.S_ISCHR(os.stat("/dev/null").st_mode), "--folded /dev/null: /dev/null is still a device")
    # and where /dev is read-only (containers; the fresh-check root): the device is writable
    p = in_private_mounts("mount --bind /dev /dev\nmount -o remount,bind,ro /dev",
                          [TOOL, "-q", "--json", "/dev/stdout", "--", "/bin/true"])
    c.ok(p.returncode == 0 and p.stdout.startswith("{"), f"--json /dev/stdout under a read-only /dev "
         f"(rc {p.returncode}): {p.stdout[:60]!r} {p.stderr[-200:]!r}")
    # a signal while the tool is still loading its BPF programs: the command never starts, the
    # tool ends with 128+N, and nothing of it is left (the tool used to die of the signal, its
    # command waiting at the gate)
    tool = subprocess.Popen([TOOL, "-q", "--json", os.path.join(OUT, "early.json"), "--",
                             os.path.join(BIN, "go_bench"), "10", "60"], stderr=subprocess.PIPE, text=True)
    time.sleep(0.05)
    child = subprocess.run(["pgrep", "-P", str(tool.pid)], capture_output=True, text=True).stdout.split()
    tool.send_signal(signal.SIGTERM)
    _, err = tool.communicate(timeout=20)
    c.ok(tool.returncode == 143, f"SIGTERM during set-up gives 143 (got {tool.returncode}): {err[-200:]!r}")
    c.ok(not any(os.path.exists(f"/proc/{p}") for p in child), f"SIGTERM during set-up: no child left ({child})")
    c.ok(not err.strip() or len(err.strip().splitlines()) == 1, f"SIGTERM during set-up: one line at most: {err!r}")
    # the man page renders without groff warnings, and make install puts both in place
    q = subprocess.run(["groff", "-man", "-ww", "-z", os.path.join(ROOT, "man", "taskmem-trace.8")],
                       capture_output=True, text=True)
    c.ok(q.returncode == 0 and not q.stderr.strip(), f"man page renders cleanly: {q.stderr[:200]!r}")
    dest = os.path.join(OUT, "destdir")
    q = subprocess.run(["make", "-s", "-C", ROOT, "install", f"DESTDIR={dest}", "PREFIX=/usr"],
                       capture_output=True, text=True)
    c.ok(os.path.exists(f"{dest}/usr/bin/taskmem-trace") and os.path.exists(f"{dest}/usr/share/man/man8/taskmem-trace.8"),
         f"make install installs the tool and its man page: {q.stderr[-200:]!r}")
    # on a terminal, a live status line while the command runs; -q silences it (both runs write
    # their default report into the current directory: one of the test's own, not the checkout)
    tty_dir = os.path.join(OUT, "tty_runs")
    os.makedirs(tty_dir, exist_ok=True)
    q = subprocess.run(["script", "-qec", f"{TOOL} -- {os.path.join(BIN, 'go_bench')} 20000 1", "/dev/null"],
                       capture_output=True, text=True, cwd=tty_dir)
    # (its first line comes some tenths of a second in: later on a loaded machine)
    c.ok(re.search(r"taskmem-trace \d+\.\ds \| RSS .* ev/s", q.stdout) is not None,
         f"live status on a terminal: {q.stdout[:200]!r}")
    q = subprocess.run(["script", "-qec", f"{TOOL} -q -- {os.path.join(BIN, 'go_bench')} 20000 1", "/dev/null"],
                       capture_output=True, text=True, cwd=tty_dir)
    c.ok("ev/s" not in q.stdout and "peak resident" not in q.stdout, "-q: no status line, no summary")
    noexec = os.path.join(OUT, "noexec.txt")
    open(noexec, "w").write("not a program\n")
    os.chmod(noexec, 0o644)
    p, data = trace([], c.name, [noexec])
    c.ok(p.returncode == 126, f"non-executable gives 126 (got {p.returncode})")
    for bad in (["--interval", "0"], ["--interval", "x"], ["--bogus"], []):
        q = subprocess.run([TOOL] + bad + (["--", "true"] if bad else []), capture_output=True, text=True)
        c.ok(q.returncode == 2, f"bad usage {bad} exits 2 (got {q.returncode})")
    q = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", TOOL, "--", "true"],
                       capture_output=True, text=True)
    c.ok(q.returncode == 125 and "root" in q.stderr, f"not root: 125 and says so (got {q.returncode}: {q.stderr!r})")
    q = subprocess.run([TOOL, "--json", "/nonexistent-dir/x.json", "--", "true"], capture_output=True, text=True)
    c.ok(q.returncode == 2 and "nonexistent-dir" in q.stderr, "unwritable output refused before starting")


def test_attach(c):
    """-p: memory already resident is counted per mapping as pre-existing, growth after attach
    is traced, the process is left running; a process that exits ends the run."""
    g = subprocess.Popen([os.path.join(BIN, "go_bench"), "50000", "8"])
    try:
        time.sleep(1.5)
        rss = None
        for line in open(f"/proc/{g.pid}/status"):
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
        p, data = trace(["-p", str(g.pid), "--duration", "1"], c.name, [])
        c.ok(p.returncode == 0, f"attach exits 0 (got {p.returncode}: {p.stderr[-300:]!r})")
        c.ok(g.poll() is None, "the attached process is left running")
        if not common_checks(c, data, p):
            return
        c.near(data["peak"]["rss_bytes"], rss, 0.02, "peak vs the process's VmRSS at attach")
        labels = data["peak"]["labels"]
        c.ok(labels.get("heap/pre-existing:[go arena: heap and goroutine stacks]", 0) > 100 * MIB,
             f"the Go arena is pre-existing heap+stacks: {labels}")
        c.ok(any(k.startswith("file/pre-existing:go_bench") for k in labels), "the binary's pages are pre-existing file")
        att = [q for q in data["processes"] if q["pid"] == g.pid]
        c.ok(att and att[0]["exit_code"] is None, f"still running at the end: no exit code ({att and att[0]['exit_code']})")
    finally:
        g.kill()
        g.wait()
    # it lives 3 s: a loaded machine has taken over a second to load the BPF programs, and
    # the attach must come before it exits
    g = subprocess.Popen([os.path.join(BIN, "go_bench"), "2000", "3"])
    time.sleep(0.3)
    t0 = time.time()
    p, data = trace(["-p", str(g.pid)], c.name, [])
    g.wait()
    c.ok(p.returncode == 0 and time.time() - t0 < 7, f"attach ends when the process exits (rc {p.returncode})")
    c.ok(data is not None and data["peak"]["rss_bytes"] > 0, "and writes its report")
    q = subprocess.run([TOOL, "-p", "999999999"], capture_output=True, text=True)
    c.ok(q.returncode == 2, f"-p with a bad pid is bad usage (got {q.returncode})")
    q = subprocess.run([TOOL, "-p", "1", "--", "true"], capture_output=True, text=True)
    c.ok(q.returncode == 2, f"-p and a command together is bad usage (got {q.returncode})")
    z = subprocess.Popen(["/bin/true"])  # a zombie: exited, not reaped yet (kill(pid, 0) answers)
    time.sleep(0.3)
    try:
        q = subprocess.run([TOOL, "-q", "-p", str(z.pid)], capture_output=True, text=True, timeout=30)
        c.ok(q.returncode == 2 and "exited" in q.stderr, f"-p on a zombie: bad usage, at once ({q.returncode})")
    except subprocess.TimeoutExpired:
        c.ok(False, "-p on a zombie hangs")
    z.wait()


def bpf_ids(pid):
    """The ids of the BPF programs and maps pid holds, from its file descriptors' fdinfo."""
    ids = {"prog": set(), "map": set()}
    try:
        fds = os.listdir(f"/proc/{pid}/fdinfo")
    except OSError:
        return ids
    for fd in fds:
        try:
            text = open(f"/proc/{pid}/fdinfo/{fd}").read()
        except OSError:
            continue
        for m in re.finditer(r"^(prog|map)_id:\s+(\d+)$", text, re.M):
            ids[m.group(1)].add(int(m.group(2)))
    return ids


def loaded_ids(kind):
    """The ids of the BPF programs (kind "prog") or maps ("map") loaded now."""
    q = subprocess.run(["bpftool", kind, "show", "-j"], capture_output=True, text=True)
    return {x["id"] for x in json.loads(q.stdout or "[]")}


def start_time(pid):
    """pid's start time (to tell it from a later process given the same pid); None once it has
    exited, zombies included."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return None if fields[0] in "ZX" else fields[19]


def test_nothing_left(c):
    """Once the tool ends, by its command's exit or by SIGTERM, the BPF programs and maps its
    own run loaded are unloaded and the processes it started are gone; and no benchmark process
    this run of the suite started is left running. It looks only at what it started: other
    users of the machine may be tracing at the same time."""
    go, known = os.path.join(BIN, "go_bench"), os.path.join(BIN, "c_known")
    runs = (("command exits", ["sh", "-c", f"{known} {KNOWN_FILE} 8 1 1 8 8 & {go} 2000 1; wait"], None,
             {"sh", "c_known", "go_bench"}),
            ("SIGTERM", [go, "10", "60"], signal.SIGTERM, {"go_bench"}))
    for what, cmd, sig, comms in runs:
        tool = subprocess.Popen([TOOL, "-q", "--json", os.path.join(OUT, c.name + ".json"), "--"] + cmd,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ids, procs, seen = {"prog": set(), "map": set()}, {}, set()  # procs: pid -> start time
        deadline = time.time() + 60
        while tool.poll() is None and time.time() < deadline:
            for kind, got in bpf_ids(tool.pid).items():
                ids[kind] |= got
            for q in descendants(tool.pid):
                st = start_time(q)
                if st:
                    procs.setdefault(q, st)
                    seen.add(comm_of(q))  # before and after its exec
            if sig and ids["prog"] and comms <= seen:
                tool.send_signal(sig)
                break
            time.sleep(0.01)
        try:
            tool.wait(timeout=10)
        except subprocess.TimeoutExpired:
            c.ok(False, f"{what}: the tool did not end")
            tool.kill()
            tool.wait()
        # the kernel may free an id a little after the last descriptor is closed
        deadline = time.time() + 2
        while True:
            left_ids = {kind: sorted(got & loaded_ids(kind)) for kind, got in ids.items()}
            left = [f"{q} {comm_of(q)}" for q, st in procs.items() if start_time(q) == st]
            if not (left_ids["prog"] or left_ids["map"] or left) or time.time() > deadline:
                break
            time.sleep(0.1)
        c.ok(ids["prog"] and ids["map"], f"{what}: its BPF programs and maps seen while it ran "
             f"({len(ids['prog'])} programs, {len(ids['map'])} maps)")
        c.ok(comms <= seen, f"{what}: its processes seen while it ran: {sorted(seen - {None})}")
        c.ok(not left_ids["prog"], f"{what}: the BPF programs it loaded are unloaded (left: {left_ids['prog']})")
        c.ok(not left_ids["map"], f"{what}: the BPF maps it made are freed (left: {left_ids['map']})")
        c.ok(not left, f"{what}: the processes it started are gone (left: {left})")
    # this run of the suite's processes carry its RUN_ENV value: those of other users do not
    mark, left = f"{RUN_ENV}={os.environ[RUN_ENV]}".encode(), []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            env = open(f"/proc/{d}/environ", "rb").read().split(b"\0")
            cmdline = open(f"/proc/{d}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if mark in env and re.search(r"bench/bin/(go_bench|c_known)", cmdline) and start_time(d):
            left.append(f"{d}: {cmdline.strip()}")
    c.ok(not left, f"no benchmark process this suite started is left: {left}")


def test_sudo_user(c):
    """Under sudo (SUDO_UID/SUDO_GID set, the tool root) the command runs as the invoking user,
    as sudo -u would: its uid, its files, its HOME; --as-root keeps root; the summary says which."""
    import shutil
    d = tempfile.mkdtemp(prefix="taskmem-sudo_user.")  # nobody may not reach a checkout under /root
    os.chmod(d, 0o777)
    script = f"id -u > {d}/uid.$1; echo $HOME > {d}/home.$1; touch {d}/made.$1"
    env = dict(os.environ, SUDO_UID="65534", SUDO_GID="65534", SUDO_USER="nobody")
    for tag, flags in (("user", []), ("root", ["--as-root"])):
        p = subprocess.run([TOOL, "--json", os.path.join(d, f"r.{tag}.json")] + flags + ["--", "sh", "-c", script, "sh", tag],
                           capture_output=True, text=True, env=env)
        c.ok(p.returncode == 0, f"{tag}: exit code {p.returncode}: {p.stderr[-300:]!r}")
        want = "65534" if tag == "user" else "0"
        got = open(f"{d}/uid.{tag}").read().strip() if os.path.exists(f"{d}/uid.{tag}") else None
        c.ok(got == want, f"{tag}: the command ran as uid {got}, want {want}")
        made = f"{d}/made.{tag}"
        c.ok(os.path.exists(made) and os.stat(made).st_uid == int(want), f"{tag}: its file belongs to uid {want}")
        c.ok(re.search(r"command run as " + ("uid 65534" if tag == "user" else r"root \(--as-root\)"), p.stderr),
             f"{tag}: the summary says who the command ran as")
    home = open(f"{d}/home.user").read().strip() if os.path.exists(f"{d}/home.user") else ""
    c.ok(home == pwd.getpwuid(65534).pw_dir, f"the user's HOME ({home})")
    shutil.rmtree(d, ignore_errors=True)
