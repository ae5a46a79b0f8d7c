"""Process trees that share memory, counted once: the headline against the sum of the
processes' PSS (smaps_rollup, which splits every shared page among its holders) and against a
memory cgroup holding the tree, sampled by the test while the tree holds its memory; each
program says when it does (a file appears) and waits for the test (another file)."""
import json
import os
import shutil
import subprocess
import threading
import time

from lib import MIB, OUT, ROOT, check_pprof, common_checks, descendants, frame_bytes, label_bytes, smaps_rollup, trace

CGROUP_V1 = "/sys/fs/cgroup/memory"


def tree_oracle(tool_pid, comm):
    """Over the traced processes named comm under the tool: the sum of Pss_Anon + Pss_Shmem,
    of Pss, and of Rss, and how many processes."""
    pss = pss_all = rss = n = 0
    for q in descendants(tool_pid):
        try:
            if open(f"/proc/{q}/comm").read().strip() != comm:
                continue
        except OSError:
            continue
        r = smaps_rollup(q)
        if r:
            pss += r.get("Pss_Anon", 0) + r.get("Pss_Shmem", 0)
            pss_all += r.get("Pss", 0)
            rss += r.get("Rss", 0)
            n += 1
    return pss, pss_all, rss, n


def cgroup_stat(cg):
    out = {}
    for line in open(os.path.join(cg, "memory.stat")):
        k, v = line.split()
        out[k] = int(v)
    return out


def run_held(c, cmd, ready, go, comm, cg=None, timeout=120):
    """Trace cmd in a thread; when the file ready appears, sample the tree's PSS (and the
    cgroup's memory.stat), then create go. Returns (proc, json, oracle dict) or None."""
    for f in (ready, go):
        if os.path.exists(f):
            os.unlink(f)
    res = {}
    th = threading.Thread(target=lambda: res.update(out=trace([], c.name, cmd, timeout=timeout)))
    th.start()
    oracle = None
    t0 = time.time()
    while th.is_alive() and time.time() - t0 < timeout and not os.path.exists(ready):
        time.sleep(0.05)
    if os.path.exists(ready):
        time.sleep(0.3)  # the tool's view catches up; the tree is flat meanwhile
        tool = next((q for q in descendants(os.getpid()) if open(f"/proc/{q}/comm").read().strip()
                     .startswith("taskmem-trace")), None)
        if tool:
            pss, pss_all, rss, n = tree_oracle(tool, comm)
            oracle = {"pss": pss, "pss_all": pss_all, "rss": rss, "n": n}
            if cg:
                oracle["cgroup"] = cgroup_stat(cg)
    open(go, "w").close()
    th.join()
    if oracle:  # for the record: what the tool is compared with
        with open(os.path.join(OUT, c.name + ".oracle.json"), "w") as f:
            json.dump(oracle, f, indent=1)
    if not c.ok(oracle is not None, "the tree said it holds its memory, and was sampled"):
        return None
    p, data = res["out"]
    return p, data, oracle


def build_shared_tree(c):
    exe = os.path.join(OUT, "shared_tree")
    b = subprocess.run(["gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-Wall", "-Werror", "-o", exe,
                        os.path.join(ROOT, "bench", "c", "shared_tree.c")], capture_output=True, text=True)
    return exe if c.ok(b.returncode == 0, f"gcc: {b.stderr[-200:]}") else None


def test_shared_tree(c):
    """A C tree of known make-up (64 MiB private, 96 MiB MAP_SHARED|MAP_ANONYMOUS, then 4
    children each writing 16 MiB of the private part and filling 32 MiB of their own):
    352 MiB resident, ~930 MiB by the sum of the processes' RSS."""
    exe = build_shared_tree(c)
    if not exe:
        return
    ready, go = os.path.join(OUT, "shared_tree.ready"), os.path.join(OUT, "shared_tree.go")
    r = run_held(c, [exe, ready, go], ready, go, "shared_tree")
    if not r:
        return
    p, data, o = r
    if not common_checks(c, data, p):
        return
    c.ok(p.returncode == 0, f"exit code {p.returncode}")
    c.ok(o["n"] == 5, f"5 processes sampled, {o['n']}")
    pk = data["peak"]
    c.near(pk["rss_bytes"], o["pss"], 0.03, "headline vs the sum of Pss_Anon + Pss_Shmem")
    base = pk["categories"]["file"] + pk["categories"]["stack"] + pk["categories"]["heap"]
    c.ok(base < 8 * MIB, f"file, stack and heap (the base) {base / MIB:.1f} MiB")
    c.near(pk["rss_bytes"] - base, (64 + 96 + 4 * 16 + 4 * 32) * MIB, 0.03, "headline less the base vs the construction")
    c.near(pk["rss_sum_bytes"], o["rss"], 0.03, "rss_sum_bytes vs the sum of the processes' Rss")
    c.ok(pk["rss_sum_bytes"] > 2.4 * pk["rss_bytes"], "the plain sum counts shared pages once per holder")
    fb = lambda fn: frame_bytes(data, lambda f: f == fn)  # noqa: E731
    c.near(fb("cow_write"), 4 * 16 * MIB, 0.05, "copy-on-write writes under cow_write")
    c.near(fb("own_fill"), 4 * 32 * MIB, 0.05, "the children's own fill under own_fill")
    c.near(fb("fill_private"), (64 - 0) * MIB, 0.05, "the private part under fill_private (the parent's)")
    c.near(fb("fill_shared"), 96 * MIB, 0.05, "the shared part under fill_shared, once")
    c.near(label_bytes(data, "shared/anon"), 96 * MIB, 0.03, "shared/anon (MAP_SHARED|MAP_ANONYMOUS)")
    c.ok(data["events"].get("cow_copies", 0) >= 4 * 16 * MIB // 4096, f"cow_copies {data['events'].get('cow_copies')}")
    # per process, as the kernel counts it: each child holds 96 shared + 64 inherited + 32 own
    kids = [q for q in data["processes"] if q["peak_rss_bytes"] and q["pid"] != min(x["pid"] for x in data["processes"] if x["peak_rss_bytes"])]
    for q in kids:
        c.near(q["peak_rss_bytes"], (96 + 64 + 32) * MIB, 0.03, f"child {q['pid']} RSS (process view)")
        c.near(q["categories"]["shared"], 96 * MIB, 0.03, f"child {q['pid']} shared (process view)")
    check_pprof(c, data)


POOL = r'''
import multiprocessing as mp, os, sys, time

def work(i):
    big = BIG
    n = len(big) // 2
    s = 0
    for x in big[i * n // 4:(i + 1) * n // 4 + n]:  # reads (so refcounts: copy-on-write) a part
        s += x
    own = bytearray(OWN << 20)  # its own
    for k in range(0, len(own), 4096):
        own[k] = 1
    open(f"{sys.argv[1]}.{os.getpid()}", "w").close()
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.02)
    return s + len(own)

if __name__ == "__main__":
    OWN = int(sys.argv[4])
    BIG = list(range(int(sys.argv[3])))
    mp.set_start_method("fork")
    with mp.Pool(4) as pool:
        res = pool.map_async(work, range(4), chunksize=1)
        while len([f for f in os.listdir(os.path.dirname(sys.argv[1])) if f.startswith(os.path.basename(sys.argv[1]) + ".")]) < 4:
            time.sleep(0.02)
        open(sys.argv[1], "w").close()
        res.get()
'''


def test_shared_pool(c):
    """A Python multiprocessing pool (fork): the parent holds a big list, its workers read part
    of it (their refcount writes copy its pages) and allocate their own. Headline vs the sum of
    PSS and vs a memory cgroup holding the tree; the timeline does not climb where PSS is flat."""
    if not c.ok(os.path.isdir(CGROUP_V1), "cgroup v1 memory controller"):
        return
    d = os.path.join(OUT, "shared_pool")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    script = os.path.join(d, "pool.py")
    open(script, "w").write(POOL)
    ready, go = os.path.join(d, "ready"), os.path.join(d, "go")
    cg = os.path.join(CGROUP_V1, f"taskmem-test-{os.getpid()}")
    os.makedirs(cg, exist_ok=True)
    try:
        # the shell joins the cgroup, then is the pool's parent: the cgroup holds the tree only
        cmd = ["sh", "-c", f'echo $$ > {cg}/cgroup.procs && exec python3 "$@"', "sh", script, ready, go,
               "3000000", "32"]
        r = run_held(c, cmd, ready, go, "python3", cg=cg)
    finally:
        try:
            os.rmdir(cg)
        except OSError:
            pass
    if not r:
        return
    p, data, o = r
    if not common_checks(c, data, p):
        return
    c.ok(p.returncode == 0, f"exit code {p.returncode}")
    c.ok(o["n"] == 5, f"5 python processes sampled, {o['n']}")
    pk = data["peak"]
    c.near(pk["rss_bytes"], o["pss"] + pk["categories"]["file"], 0.05,
           "headline vs the sum of Pss_Anon + Pss_Shmem, plus the file pages counted once")
    cs = o["cgroup"]
    c.near(pk["rss_bytes"], cs["rss"] + cs["shmem"] + cs["mapped_file"], 0.05,
           "headline vs the cgroup's rss + shmem + mapped_file")
    c.ok(pk["rss_sum_bytes"] > 1.5 * pk["rss_bytes"], "the plain sum counts shared pages once per holder")
    # the plateau: while every worker holds its memory (the 300 ms the test waits before it
    # samples), the timeline is flat, as PSS is
    late = [s["rss_bytes"] for s in data["timeline"] if pk["t_s"] - 0.25 <= s["t_s"] <= pk["t_s"]]
    c.ok(late and max(late) - min(late) < 0.02 * pk["rss_bytes"], f"flat before the peak: {late[:3]}..{late[-3:]}")
    check_pprof(c, data)


def test_shared_fault_around(c):
    """4 processes read one 128 MiB object (a memfd, then a file) mapped MAP_SHARED, each
    faulting a different page of every 64 KiB window, so that each fault maps a block of
    pages around it (issue 14.1: the blocks were matched by their faulting page only, and the
    object counted 4 times). Counted once: the headline is the sum of the processes' PSS
    (Pss_Anon + Pss_Shmem for the memfd; all of Pss for the file, whose pages the tree view
    counts like the other file pages it maps) and the 128 MiB built, plus a small base."""
    exe = os.path.join(OUT, "fault_around")
    b = subprocess.run(["gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-Wall", "-Werror", "-o", exe,
                        os.path.join(ROOT, "tests", "programs", "fault_around.c")], capture_output=True, text=True)
    if not c.ok(b.returncode == 0, f"gcc: {b.stderr[-200:]}"):
        return
    ready, go = os.path.join(OUT, "fault_around.ready"), os.path.join(OUT, "fault_around.go")
    for obj in ("memfd", os.path.join(OUT, "fault_around.dat")):
        what = "memfd" if obj == "memfd" else "file"
        r = run_held(c, [exe, ready, go, obj, "128", "4"], ready, go, "fault_around")
        if not r:
            return
        p, data, o = r
        if not common_checks(c, data, p):
            return
        c.ok(p.returncode == 0, f"{what}: exit code {p.returncode}")
        c.ok(o["n"] == 5, f"{what}: 5 processes sampled, {o['n']}")
        pk = data["peak"]
        if what == "memfd":
            c.near(pk["rss_bytes"], o["pss"], 0.03, "memfd: headline vs the sum of Pss_Anon + Pss_Shmem")
            c.near(pk["categories"]["shared"], 128 * MIB, 0.03, "memfd: shared, once")
        else:
            c.near(pk["rss_bytes"], o["pss_all"], 0.03, "file: headline vs the sum of Pss")
        base = pk["categories"]["stack"] + pk["categories"]["heap"] + pk["categories"]["other"] + (
            pk["categories"]["file"] if what == "memfd" else 0)
        c.ok(base < 8 * MIB, f"{what}: the base {base / MIB:.1f} MiB")
        c.near(pk["rss_bytes"] - base, 128 * MIB, 0.03, f"{what}: headline less the base vs the construction")
        c.near(pk["rss_sum_bytes"], o["rss"], 0.03, f"{what}: rss_sum_bytes vs the sum of the processes' Rss")
        c.near(frame_bytes(data, lambda f: f == "read_shared"), 128 * MIB, 0.03, f"{what}: under read_shared, once")
