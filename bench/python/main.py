"""python_bench N [S]: N asyncio tasks that each sleep S seconds (default 10), gathered, then
exit (the published Python program).

With TASKMEM_MEMSTATS set, tracemalloc runs from the start (1 frame per trace) and, at 0.8 S,
one `MEMSTATS {json}` line on stderr gives its current and peak traced bytes and its own
overhead; tracemalloc's bookkeeping raises the RSS, so compare peaks from a run without it.
"""
import asyncio
import json
import os
import sys
import time

MEMSTATS = bool(os.environ.get("TASKMEM_MEMSTATS"))
if MEMSTATS:
    import tracemalloc

    tracemalloc.start(1)


def uptime():
    """Seconds since this process started (/proc/self/stat starttime), to find the profiler's
    timeline sample taken at the same moment."""
    with open("/proc/uptime") as f:
        up = float(f.read().split()[0])
    with open("/proc/self/stat") as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19])
    return round(up - start / os.sysconf("SC_CLK_TCK"), 2)


async def perform_task(secs):
    await asyncio.sleep(secs)


async def report_at(at, n):
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    current, peak = tracemalloc.get_traced_memory()
    print("MEMSTATS " + json.dumps({
        "runtime": "python-asyncio", "t_s": uptime(), "tasks": n,
        "tracemalloc_current": current, "tracemalloc_peak": peak,
        "tracemalloc_overhead": tracemalloc.get_tracemalloc_memory(),
        "allocated_blocks": sys.getallocatedblocks(),
        "asyncio_tasks": len(asyncio.all_tasks()),
    }), file=sys.stderr, flush=True)


async def main(num_tasks, secs):
    start = time.monotonic()
    tasks = []
    for _ in range(num_tasks):
        tasks.append(asyncio.create_task(perform_task(secs)))
    if MEMSTATS:
        tasks.append(asyncio.create_task(report_at(start + 0.8 * secs, num_tasks)))
    await asyncio.gather(*tasks)


def usage():
    print("usage: python_bench N [S]  (N asyncio tasks that each sleep S seconds, default 10)",
          file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    try:
        n = int(sys.argv[1])
        s = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    except (IndexError, ValueError):
        usage()
    if n < 0 or s < 0 or len(sys.argv) > 3:
        usage()
    asyncio.run(main(n, s))
