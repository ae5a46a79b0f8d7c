"""The networked benchmark (issue 17 item 3): what one keep-alive connection costs on each side,
bench/go/netbench (go_net_server, go_net_client) and the Rust pair (rust_net_server on hyper,
rust_net_client on tokio). The oracles: the kernel's machine-wide TCP memory
(/proc/net/sockstat, read by the test while the connections are held) for the kernel's socket
part, and each program's own accounting (Go's runtime.MemStats, glibc's mallinfo2) printed once
all connections are up, for the user bytes per connection."""
import json
import os
import re
import subprocess
import threading
import time

from lib import BIN, MIB, OUT, TOOL
from test_scale import scale, slope


def sockstat_tcp_pages():
    """TCP's "mem" of /proc/net/sockstat: pages of socket buffers, the whole machine's."""
    for line in open("/proc/net/sockstat"):
        if line.startswith("TCP:"):
            f = line.split()
            return int(f[f.index("mem") + 1])
    return None


def test_net_sockets(c):
    """4,000 connections whose 16 KiB answers the Go client leaves unread after their first byte:
    the kernel holds ~20 KiB of socket buffers each (charged to the client's sockets, the
    receiving side). The tool's kernel.sock_bytes while they are held (the run's memory cgroup,
    v1 kmem.tcp) within 10% of /proc/net/sockstat's TCP mem there less before the run. sockstat is
    the machine's: the noise is what other sockets do meanwhile (idle here: no other test runs
    beside this one) and the per-CPU reserve the kernel batches the global counter by
    (net.core.mem_pcpu_rsv, 256 pages = 1 MiB per CPU), against ~80 MiB."""
    if not c.ok(os.path.exists("/proc/net/sockstat"), "no /proc/net/sockstat"):
        return
    n, body, hold = 4000, 16384, 3.0
    js = os.path.join(OUT, c.name + ".json")
    if os.path.exists(js):
        os.unlink(js)
    before = sockstat_tcp_pages()
    cmd = [os.path.join(BIN, "go_net_client"), "0", str(n), str(hold), str(body), "unread"]
    tool = subprocess.Popen([TOOL, "--json", js, "--"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    lines, up = [], threading.Event()

    def read_stderr():
        for line in tool.stderr:
            lines.append(line)
            if line.startswith("UP "):
                up.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    plateau = None
    if up.wait(60):
        time.sleep(0.5)  # the last answers' bytes reach the client's queues
        plateau = sorted(sockstat_tcp_pages() for _ in range(5))[2]
    try:
        tool.wait(timeout=120)
    except subprocess.TimeoutExpired:
        tool.kill()
        tool.wait()
    reader.join(10)
    err = "".join(lines)
    with open(os.path.join(OUT, c.name + ".log"), "w") as f:
        f.write(f"sockstat TCP mem before {before} pages, at the plateau {plateau}\n--- stderr\n{err}")
    if not c.ok(tool.returncode == 0 and plateau is not None and os.path.exists(js),
                f"tool exit {tool.returncode}, all {n} up: {plateau is not None} ({err[-300:]!r})"):
        return
    k = json.load(open(js)).get("kernel")
    if not c.ok(k is not None and k.get("cgroup") == "run", "a JSON kernel part of the run's cgroup"):
        return
    up_t = float(re.search(r"^UP \d+ t_s=([\d.]+)", err, re.M).group(1))
    held = [s["sock_bytes"] for s in k["samples"] if up_t + 0.5 <= s["t_s"] <= up_t + hold - 0.5]
    if not c.ok(len(held) >= 5, f"{len(held)} kernel samples while the connections are held"):
        return
    want = (plateau - before) * 4096
    got = sorted(held)[len(held) // 2]
    c.near(got, want, 0.10, "sockets while held vs /proc/net/sockstat TCP mem x page size")
    c.ok(got >= n * body, f"the unread answers are in the sockets: {got / MIB:.1f} MiB >= {n} x {body} B")
    c.near(k["sock_bytes"], want, 0.10, "the kernel part's sockets at its peak vs sockstat")


def server_bytes(keep, ns, comm):
    """{label: [bytes at the tree's peak of the process named comm, for each N]} from scale's
    kept runs."""
    by = {}
    for i, n in enumerate(ns):
        run = json.load(open(os.path.join(keep, f"run-{n}.json")))
        pids = {p["pid"] for p in run["processes"] if p["comm"] == comm}
        for s in run["peak"]["stacks"]:
            if s["pid"] in pids:
                by.setdefault(s["label"], [0] * len(ns))[i] += s["bytes"]
    return by


def scale_pair(c, ns, client):
    """scale over ns connections of client, which starts its server (port 0): one tree with
    both sides, each printing its MEMSTATS at the plateau. (p, data, keep, memstats)."""
    p, data, keep = scale(c, c.name, ns, [os.path.join(BIN, client), "0", "{N}", "1"],
                          env={"TASKMEM_MEMSTATS": "1"})
    return p, data, keep, [json.loads(m) for m in re.findall(r"MEMSTATS (\{.*\})", p.stderr)]


def test_net_go_server(c):
    """scale over 1,000..4,000 keep-alive connections to the Go net/http server (the client
    starts it: one tree with both sides): the server's goroutine stacks and Go heap per
    connection (the slopes of its own pid's stacks in the kept runs) within 10% of the slopes of
    its runtime.MemStats StackInuse and HeapInuse at the plateau; the summary fits sockets and
    slab per connection."""
    ns = [1000, 2000, 4000]
    p, data, keep, ms = scale_pair(c, ns, "go_net_client")
    srv = [m for m in ms if m["side"] == "server" and m["conns"] > 0]
    if not data or not c.ok([m["conns"] for m in srv] == ns,
                            f"the server's MEMSTATS at each N ({[m['conns'] for m in srv]})"):
        return
    by = server_bytes(keep, ns, "go_net_server")
    for label, key in (("stack/goroutine", "StackInuse"), ("heap/go", "HeapInuse")):
        c.near(slope(ns, by.get(label, [0] * len(ns))), slope(ns, [m[key] for m in srv]), 0.10,
               f"go_net_server {label} per connection vs the slope of its {key}")
    parts = {k["part"]: k for k in data.get("kernel") or []}
    c.ok("sock" in parts and parts.get("slab", {}).get("bytes_per_task", 0) > 1024,
         f"scale fits the kernel's sockets and slab per connection ({sorted(parts)})")
    c.ok(re.search(r"^  sockets +-?\d", p.stdout, re.M) is not None, "the summary's kernel block has sockets")


def test_net_rust_server(c):
    """The Rust pair at 1,000..4,000 connections: the hyper server's resident bytes per
    connection by the tool (its pid's stacks, file pages aside) within 10% of the slope of its
    RssAnon (the kernel's count, printed by the server at the plateau), its malloc'd part no more
    than glibc's arena per connection (mallinfo2: hyper reserves buffers it touches in part, so
    resident is less than in use); the client's tokio task per connection 0.25-2 KiB."""
    ns = [1000, 2000, 4000]
    p, data, keep, ms = scale_pair(c, ns, "rust_net_client")
    srv = [m for m in ms if m["side"] == "server" and m["conns"] > 0]
    if not data or not c.ok([m["conns"] for m in srv] == ns,
                            f"the server's MEMSTATS at each N ({[m['conns'] for m in srv]})"):
        return
    by = server_bytes(keep, ns, "rust_net_server")
    anon = sum(slope(ns, v) for label, v in by.items() if not label.startswith("file/"))
    c.near(anon, slope(ns, [m["rss_anon"] for m in srv]), 0.10,
           "rust_net_server: resident bytes per connection vs the slope of its RssAnon")
    malloced = sum(slope(ns, v) for label, v in by.items() if label.startswith(("heap/", "stack/tokio-task")))
    arena = slope(ns, [m["malloc_arena"] for m in srv])
    c.ok(0 < malloced <= 1.03 * arena, f"rust_net_server: {malloced:.0f} B of malloc'd memory resident per "
         f"connection, at most glibc's arena per connection ({arena:.0f} B)")
    task = slope(ns, server_bytes(keep, ns, "rust_net_client").get("stack/tokio-task", [0] * len(ns)))
    c.ok(256 <= task <= 2048, f"rust_net_client: a tokio task per connection is {task:.0f} B")
