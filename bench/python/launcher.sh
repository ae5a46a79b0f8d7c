#!/bin/sh
# python_bench N [S]: Debian's CPython 3.11 running bench/python/main.py (copied beside this
# launcher as lib/python_bench.py). exec, so the traced process is python itself; the path comes
# from $0 (no dirname/readlink, whose processes would join the traced tree).
# 3.11 has no perf-map support (-X perf is 3.12+): Python frames show as the interpreter's.
exec /usr/bin/python3 "${0%/*}/lib/python_bench.py" "$@"
