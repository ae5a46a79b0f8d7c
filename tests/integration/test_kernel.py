"""The kernel's share (issue 17 item 2): memory the kernel spends on the tree outside its RSS,
measured from the kernel's events (threads, mm->pgtables_bytes, --kernel-slab's kmem events)
and read from the memory cgroup the tool makes for every run. The oracles are read by the test
while the program holds what it made: the program's own /proc/PID/status (Threads, VmPTE), and
the run's cgroup (v1: memory.kmem.usage_in_bytes and max_usage_in_bytes; v2: memory.stat)."""
import json
import os
import resource
import subprocess
import time

from lib import MIB, OUT, TOOL
from test_oom import memory_root

THREADS_C = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* threads N READY_FILE HOLD_S: N threads (64 KiB stacks) that each touch 3 pages of their stack
 * and wait; once all have, READY_FILE is made and they are held HOLD_S seconds */
static pthread_barrier_t ready;
static void *run(void *arg)
{
	volatile char buf[3 * 4096];
	memset((char *)buf, 1, sizeof(buf));
	pthread_barrier_wait(&ready);
	pause();
	return arg;
}
int main(int argc, char **argv)
{
	int n = atoi(argv[1]);
	pthread_attr_t a;
	pthread_t t;
	FILE *f;

	pthread_barrier_init(&ready, NULL, (unsigned)n + 1);
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 << 10);
	for (int i = 0; i < n; i++)
		if (pthread_create(&t, &a, run, NULL)) {
			perror("pthread_create");
			return 1;
		}
	pthread_barrier_wait(&ready);
	f = fopen(argv[2], "w");
	fclose(f);
	usleep((useconds_t)(atof(argv[3]) * 1e6));
	return 0; /* the threads end with the process */
}
"""


def threads_binary():
    prog = os.path.join(OUT, "kernel_threads")
    if not os.path.exists(prog):
        with open(prog + ".c", "w") as f:
            f.write(THREADS_C)
        subprocess.run(["cc", "-O1", "-pthread", "-o", prog, prog + ".c"], check=True)
    return prog


def status_kb(pid, key):
    for ln in open(f"/proc/{pid}/status"):
        if ln.startswith(key + ":"):
            return int(ln.split()[1])
    return 0


def read_int(path):
    return int(open(path).read())


def memory_stat(d):
    return dict((k, int(v)) for k, v in (ln.split() for ln in open(os.path.join(d, "memory.stat"))))


def test_kernel_threads(c):
    """10k threads that each touch 3 stack pages, traced: the JSON kernel part's stacks within
    5% of the cgroup's figure (v1: the program's Threads x 16 KiB, and the cgroup's kmem holds
    at least stacks + page tables), page tables within 10% of the program's VmPTE, the total
    within 10% of the cgroup's kmem high-water mark; the summary's kernel and machine lines."""
    root, version = memory_root()
    if not c.ok(root, "no memory cgroup"):
        return
    n = int(os.environ.get("KERNEL_TEST_THREADS", "10000"))
    js = os.path.join(OUT, c.name + ".json")
    ready = os.path.join(OUT, c.name + ".ready")
    for p in (js, ready):
        if os.path.exists(p):
            os.unlink(p)
    tool = subprocess.Popen([TOOL, "--json", js, "--", threads_binary(), str(n), ready, "3"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    cg = os.path.join(root, f"taskmem-trace-{tool.pid}")
    oracle = None
    deadline = time.time() + 90
    while time.time() < deadline and tool.poll() is None and not os.path.exists(ready):
        time.sleep(0.05)
    try:
        time.sleep(0.5)  # the tool's samples while the threads are held
        pids = [int(x) for x in open(os.path.join(cg, "cgroup.procs")).read().split()]
        threads = sum(status_kb(p, "Threads") for p in pids)
        pte = sum(status_kb(p, "VmPTE") for p in pids) * 1024
        if version == 1:
            oracle = {"threads": threads, "pte": pte, "stacks": threads * 16384, "pagetables": pte,
                      "kmem": read_int(os.path.join(cg, "memory.kmem.usage_in_bytes"))}
        else:
            st = memory_stat(cg)
            oracle = {"threads": threads, "pte": pte, "stacks": st["kernel_stack"], "pagetables": st["pagetables"],
                      "kmem": st.get("kernel", st["kernel_stack"] + st["pagetables"] + st["slab"])}
        time.sleep(1.5)
        if version == 1:
            oracle["kmem_max"] = read_int(os.path.join(cg, "memory.kmem.max_usage_in_bytes"))
    except (OSError, ValueError, KeyError) as e:
        c.ok(False, f"the run's cgroup {cg} could not be read while the threads were held: {e}")
    try:
        _, err = tool.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        tool.kill()
        _, err = tool.communicate()
    with open(os.path.join(OUT, c.name + ".log"), "w") as f:
        f.write(f"oracle {oracle}\n--- stderr\n{err}")
    if not c.ok(tool.returncode == 0 and os.path.exists(js) and oracle, f"tool exit {tool.returncode}, oracle {oracle}"):
        return
    data = json.load(open(js))
    k = data.get("kernel")
    if not c.ok(k and k.get("cgroup") == "run", f"no JSON kernel part of the run's cgroup: {k and k.get('cgroup')}"):
        return
    c.ok(oracle["threads"] == n + 1, f"the program has {oracle['threads']} threads, want {n + 1}")
    c.near(k["kernel_stack_bytes"], oracle["stacks"], 0.05, "kernel stacks vs the cgroup's figure")
    c.near(k["pagetables_bytes"], oracle["pte"], 0.10, "page tables vs the program's VmPTE")
    c.ok(oracle["kmem"] >= oracle["stacks"] + oracle["pagetables"],
         f"the cgroup's kernel memory {oracle['kmem'] / MIB:.1f} MiB holds stacks + page tables "
         f"{(oracle['stacks'] + oracle['pagetables']) / MIB:.1f} MiB")
    if version == 1:
        c.near(k["total_bytes"] - k["sock_bytes"], oracle["kmem_max"], 0.10, "kernel total vs the cgroup's kmem max usage")
    else:
        c.near(k["total_bytes"] - k["sock_bytes"], oracle["kmem"], 0.10, "kernel total vs memory.stat kernel")
    c.ok(k["total_bytes"] >= k["kernel_stack_bytes"] + k["pagetables_bytes"] + k["slab_bytes"] + k["sock_bytes"] - 4096,
         f"the parts add up within the total: {k}")
    c.ok(len(k.get("samples", [])) >= 10, f"{len(k.get('samples', []))} samples over time")
    c.ok(data.get("cgroup") is None, "no --limit: no cgroup key (its behaviour is --limit's)")
    c.ok("kernel: " in err and "-- outside the RSS headline" in err and "what this costs the machine: " in err,
         "the summary's kernel and machine lines")
    c.ok(not os.path.exists(cg), f"the run's cgroup {cg} is removed")
    if version == 1:  # the cgroup has only totals: stacks and page tables are the kernel's events'
        src = k.get("sources", {})
        c.ok("events" in src.get("kernel_stack_bytes", "") and "pgtables_bytes" in src.get("pagetables_bytes", ""),
             f"v1: stacks and page tables from the kernel's events: {src}")
        c.ok(k.get("threads") == n + 1 and k["kernel_stack_bytes"] == (n + 1) * 16384,
             f"stacks exact: {k.get('threads')} threads, {k['kernel_stack_bytes']} B, want {n + 1} x 16384")


PIPES_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>
/* pipes N READY_FILE HOLD_S: N pipes (slab: two files, a dentry, an inode, the pipe and its
 * buffer array, all charged to the memory cgroup), then READY_FILE, held HOLD_S seconds */
int main(int argc, char **argv)
{
	int n = atoi(argv[1]), fds[2];
	struct rlimit rl;
	FILE *f;

	/* the soft limit up to the hard one (raising that needs CAP_SYS_RESOURCE) */
	if (getrlimit(RLIMIT_NOFILE, &rl) || (rl.rlim_cur = rl.rlim_max, setrlimit(RLIMIT_NOFILE, &rl))) {
		perror("setrlimit");
		return 1;
	}
	for (int i = 0; i < n; i++)
		if (pipe(fds)) {
			perror("pipe");
			return 1;
		}
	f = fopen(argv[2], "w");
	fclose(f);
	usleep((useconds_t)(atof(argv[3]) * 1e6));
	return 0;
}
"""


def c_binary(name, src):
    prog = os.path.join(OUT, name)
    if not os.path.exists(prog):
        with open(prog + ".c", "w") as f:
            f.write(src)
        subprocess.run(["cc", "-O1", "-pthread", "-o", prog, prog + ".c"], check=True)
    return prog


def hold_and_read(c, args, ready, read, hold_timeout=90):
    """Run the tool with args until the program made ready, call read() while it holds, and
    return (returncode, stderr, what read returned)."""
    if os.path.exists(ready):
        os.unlink(ready)
    tool = subprocess.Popen([TOOL] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + hold_timeout
    while time.time() < deadline and tool.poll() is None and not os.path.exists(ready):
        time.sleep(0.05)
    got = None
    try:
        time.sleep(0.5)  # the tool's samples while it holds
        got = read(tool.pid)
    except (OSError, ValueError, KeyError) as e:
        c.ok(False, f"the oracle could not be read while the program held: {e}")
    try:
        _, err = tool.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        tool.kill()
        _, err = tool.communicate()
    return tool.returncode, err, got


def test_kernel_slab(c):
    """--kernel-slab: 20k pipes (10k under a hard limit of 20k descriptors; known slab: files, dentries, inodes, pipes) -> the slab the
    kernel's kmem events saw the tree allocate and not free, within 15% of the run's cgroup's
    kernel memory less the stacks and page tables (v1 kmem, v2 memory.stat kernel), read while
    the program holds its pipes; nothing lost to a full map."""
    root, version = memory_root()
    if not c.ok(root, "no memory cgroup"):
        return
    # two descriptors a pipe, under the hard limit (a container's may be 20k)
    n = min(20000, (resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 64) // 2)
    js = os.path.join(OUT, c.name + ".json")
    ready = os.path.join(OUT, c.name + ".ready")
    if os.path.exists(js):
        os.unlink(js)

    def read(tool_pid):
        cg = os.path.join(root, f"taskmem-trace-{tool_pid}")
        pids = [int(x) for x in open(os.path.join(cg, "cgroup.procs")).read().split()]
        threads = sum(status_kb(p, "Threads") for p in pids)
        pte = sum(status_kb(p, "VmPTE") for p in pids) * 1024
        kmem = read_int(os.path.join(cg, "memory.kmem.usage_in_bytes")) if version == 1 else memory_stat(cg)["kernel"]
        return {"threads": threads, "pte": pte, "kmem": kmem, "slab": kmem - threads * 16384 - pte}

    rc, err, oracle = hold_and_read(c, ["--kernel-slab", "--json", js, "--", c_binary("kernel_pipes", PIPES_C), str(n), ready, "1.5"],
                                    ready, read)
    with open(os.path.join(OUT, c.name + ".log"), "w") as f:
        f.write(f"oracle {oracle}\n--- stderr\n{err}")
    if not c.ok(rc == 0 and os.path.exists(js) and oracle, f"tool exit {rc}, oracle {oracle}: {err[-300:]}"):
        return
    data = json.load(open(js))
    k = data.get("kernel") or {}
    if not c.ok("slab_bpf_bytes" in k, f"a JSON kernel part with the events' slab: {k.keys()}"):
        return
    c.ok(oracle["slab"] > n * 1024, f"the oracle: {oracle['slab'] / n:.0f} B of kernel memory per pipe")
    c.near(k["slab_bpf_bytes"], oracle["slab"], 0.15, "the events' slab vs the cgroup's kernel memory less stacks and page tables")
    c.ok(data["events"].get("slab_objects_map_full") == 0 and data["events"].get("dropped_kernel_ringbuf_full") == 0,
         f"nothing lost: {data['events'].get('slab_objects_map_full')} objects not followed, "
         f"{data['events'].get('dropped_kernel_ringbuf_full')} records lost")
    c.ok("the kernel's events saw slab" in err, "the summary gives the events' slab beside the cgroup's")


def test_kernel_no_cgroup(c):
    """--no-cgroup: no cgroup is made, and the kernel part comes from the kernel's events alone:
    2,000 threads -> stacks exactly the program's Threads x 16 KiB, page tables within 10% of its
    VmPTE, slab (--kernel-slab) there, read while it holds; the summary says so."""
    n = 2000
    js = os.path.join(OUT, c.name + ".json")
    ready = os.path.join(OUT, c.name + ".ready")
    if os.path.exists(js):
        os.unlink(js)
    root, _ = memory_root()

    def read(tool_pid):
        kids = subprocess.run(["pgrep", "-P", str(tool_pid)], capture_output=True, text=True).stdout.split()
        pids = [int(x) for x in kids]
        return {"threads": sum(status_kb(p, "Threads") for p in pids), "pte": sum(status_kb(p, "VmPTE") for p in pids) * 1024,
                "cgroup_made": bool(root) and os.path.exists(os.path.join(root, f"taskmem-trace-{tool_pid}"))}

    rc, err, oracle = hold_and_read(c, ["--no-cgroup", "--kernel-slab", "--json", js, "--", threads_binary(), str(n), ready, "1.5"],
                                    ready, read)
    with open(os.path.join(OUT, c.name + ".log"), "w") as f:
        f.write(f"oracle {oracle}\n--- stderr\n{err}")
    if not c.ok(rc == 0 and os.path.exists(js) and oracle, f"tool exit {rc}, oracle {oracle}: {err[-300:]}"):
        return
    c.ok(not oracle["cgroup_made"], "no cgroup made for the run")
    k = json.load(open(js)).get("kernel")
    if not c.ok(k and k.get("cgroup") == "none" and k.get("cgroup_version") == 0, f"a JSON kernel part without a cgroup: {k and k.get('cgroup')}"):
        return
    c.ok(oracle["threads"] == n + 1 and k["kernel_stack_bytes"] == oracle["threads"] * 16384,
         f"stacks {k['kernel_stack_bytes']} B = the program's {oracle['threads']} threads x 16384")
    c.near(k["pagetables_bytes"], oracle["pte"], 0.10, "page tables vs the program's VmPTE")
    c.ok(k["slab_bytes"] > 0 and k["slab_bytes"] == k.get("slab_bpf_bytes"), f"slab from the kernel's events: {k['slab_bytes']}")
    c.ok(k["total_bytes"] == k["kernel_stack_bytes"] + k["pagetables_bytes"] + k["slab_bytes"] and k["sock_bytes"] == 0,
         "the total is the events' parts")
    c.ok(len(k.get("samples", [])) >= 2, f"{len(k.get('samples', []))} samples over time")
    c.ok("measured from the kernel's events, without a cgroup" in err, "the summary says where the kernel part comes from")
    # bad usage, refused before anything starts
    for bad in (["--no-cgroup", "--limit", "64M"], ["--kernel-slab-objects", "3"], ["--kernel-slab-objects", "x"]):
        p = subprocess.run([TOOL, "-q"] + bad + ["--", "/bin/true"], capture_output=True, text=True, timeout=60)
        c.ok(p.returncode == 2 and p.stderr.strip(), f"{' '.join(bad)}: exit 2 with a message (got {p.returncode}: {p.stderr[-120:]!r})")
