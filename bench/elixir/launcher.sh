#!/bin/sh
# elixir_bench N [S]: Elixir running bench/elixir/main.exs (copied as lib/elixir_bench.exs).
# +P: the process limit (default 262,144) must exceed N for 1M tasks; the table is allocated and
# initialised whole at start (erts_ptab_init_table, ~12 B a slot, rounded up to a power of 2),
# so it is sized from N rather than fixed high: +P 2000000 alone adds 25 MiB to every run.
# +JPperf true makes the JIT write /tmp/perf-PID.map and keep frame pointers in JIT code.
# The elixir and erl scripts exec, so the traced process ends as beam.smp (plus its
# erl_child_setup child).
procs=262144
case "${1:-}" in
'' | *[!0-9]*) ;;
*) [ "${#1}" -lt 10 ] && [ "$1" -gt $((procs - 1024)) ] && procs=$(($1 + 1024)) ;;
esac
exec /usr/bin/elixir --erl "+P $procs +JPperf true" \
	"${0%/*}/lib/elixir_bench.exs" "$@"
