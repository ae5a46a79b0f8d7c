#!/bin/sh
# Overhead of taskmem-trace beside perf, bpftrace, bcc's memleak, heaptrack and massif, on
# go_bench 1M, a C page-faulter and python_bench; contenders alternate, medians, ratios against
# the untraced run, then a rate sweep. Writes a Markdown table to bench/out/overhead.md.
# usage: sudo bench/overhead.sh [REPS] [--help for the options]   (after `make && make bench`)
exec python3 "$(dirname "$0")/overhead.py" "$@"
