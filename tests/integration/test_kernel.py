"""The kernel's share (issue 17 item 2): memory the kernel spends on the tree outside its RSS,
read from the memory cgroup the tool makes for every run. The oracles are read by the test
while the program holds its threads: the program's own /proc/PID/status (Threads, VmPTE), and
the run's cgroup (v1: memory.kmem.usage_in_bytes and max_usage_in_bytes; v2: memory.stat)."""
import json
import os
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
