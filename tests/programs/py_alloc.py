"""Known Python allocations in named functions at known depths, for test_python_frames:
64 MiB of bytearrays in fill_python_cache <- outer_py, a 64 MiB list in make_list <- middle_list
<- outer_list, a dict of 1M keys in make_dict <- outer_dict. All kept to the end.

With TASKMEM_TRACEMALLOC set, tracemalloc runs (a separate run: it raises the RSS) and one
`TRACEMALLOC {json}` line on stderr gives the traced bytes per allocating line of this file.
"""
import json
import os
import sys
import time

TRACE = bool(os.environ.get("TASKMEM_TRACEMALLOC"))
if TRACE:
    import tracemalloc

    tracemalloc.start(1)


def fill_python_cache(n):
    out = []
    for _ in range(n):
        out.append(bytearray(1 << 20))  # LINE bytearray
    return out


def outer_py(n):
    return fill_python_cache(n)


def make_list(n):
    return [None] * n  # LINE list


def middle_list(n):
    return make_list(n)


def outer_list(n):
    return middle_list(n)


def make_dict(keys):
    return dict.fromkeys(keys)  # LINE dict (sized once from the set: no resizes)


def outer_dict(n):
    return make_dict(set(range(n)))


keep = [outer_py(64), outer_list(8 << 20), outer_dict(1 << 20)]
if TRACE:
    snap = tracemalloc.take_snapshot()
    mine = os.path.abspath(__file__)
    lines = {}
    for st in snap.statistics("lineno"):
        fr = st.traceback[0]
        if os.path.abspath(fr.filename) == mine:
            lines[fr.lineno] = lines.get(fr.lineno, 0) + st.size
    print("TRACEMALLOC " + json.dumps(lines), file=sys.stderr, flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0.3)
