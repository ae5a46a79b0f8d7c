#!/usr/bin/env bash
# Where taskmem-trace's own time goes, on one run of COMMAND (default go_bench 1000000 2):
#  - BPF side: kernel.bpf_stats_enabled=1, then `bpftool prog show` of the tool's programs,
#    (their ids from the tool's /proc/PID/fdinfo: this bpftool cannot show pids here) sampled
#    every 50 ms until the tool exits (the last sample is kept): run_cnt, run_time_ns and
#    ns per run for each program. (`bpftool prog profile` needs fentry, refused on this kernel.)
#  - user side: `perf record --call-graph dwarf --no-inherit` on the tool alone (the command it
#    starts is not sampled); the top functions, self time.
# usage: sudo bench/profile.sh [--tool PATH] [-- COMMAND...]   output: bench/out/profile.txt
set -euo pipefail
cd "$(dirname "$0")/.."
tool=./taskmem-trace
if [ "${1:-}" = "--tool" ]; then tool=$2; shift 2; fi
[ "${1:-}" = "--" ] && shift
cmd=("$@")
[ ${#cmd[@]} -gt 0 ] || cmd=(bench/bin/go_bench 1000000 2)
mkdir -p bench/out
out=bench/out/profile.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
was=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q kernel.bpf_stats_enabled=1

# BPF side: the tool in the background, its programs (found by the pid bpftool shows) sampled
"$tool" -q --json "$tmp/bpf.json" -- "${cmd[@]}" >/dev/null 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
	ids=$(grep -h '^prog_id' /proc/"$pid"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u) || true
	if [ -n "$ids" ]; then
		echo "$ids" >"$tmp/ids"
		# keep the last sample that still shows the tool's programs (they go at its exit)
		bpftool -j prog show >"$tmp/progs.new" 2>/dev/null &&
			grep -q "\"id\":$(echo "$ids" | head -1)," "$tmp/progs.new" &&
			mv "$tmp/progs.new" "$tmp/progs.json"
	fi
	sleep 0.05
done
wait "$pid" || true
sysctl -q kernel.bpf_stats_enabled="$was"
python3 - "$tmp/progs.json" "$tmp/ids" "$tmp/bpf.json" >"$out" <<'EOF'
import json, sys
ids = set(int(x) for x in open(sys.argv[2]).read().split())
progs = [p for p in json.load(open(sys.argv[1])) if p["id"] in ids]
ev = json.load(open(sys.argv[3]))
print("command: %s (%.2f s; %d page faults, %d RSS updates, %d dropped)" % (
    " ".join(ev["command"]), ev["duration_s"], ev["events"]["page_faults"],
    ev["events"]["rss_updates"], ev["events"]["dropped"]))
print("BPF programs (kernel.bpf_stats_enabled), by total run time:")
print("%-28s %12s %14s %10s" % ("program", "run_cnt", "run_time_ms", "ns/run"))
tot = 0
for p in sorted(progs, key=lambda p: -p.get("run_time_ns", 0)):
    n, t = p.get("run_cnt", 0), p.get("run_time_ns", 0)
    tot += t
    print("%-28s %12d %14.1f %10.0f" % (p["name"], n, t / 1e6, t / n if n else 0))
print("%-28s %12s %14.1f" % ("total", "", tot / 1e6))
EOF

# user side
perf record -q --call-graph dwarf,16384 -F 4999 --no-inherit -o "$tmp/perf.data" -- \
	"$tool" -q --json "$tmp/u.json" -- "${cmd[@]}" >/dev/null 2>&1 || true
{
	echo
	python3 -c 'import json, sys; e = json.load(open(sys.argv[1]))["events"]
print("\nperf run: %d page faults, %d RSS updates, %d events processed" % (e["page_faults"],
      e["rss_updates"], e["events_processed"]))' "$tmp/u.json"
	perf report -i "$tmp/perf.data" --stdio 2>/dev/null | grep -m1 '^# Samples' | sed 's/^# /tool process, 4999 Hz: /' || true
	echo "user space of the tool (perf, self time, top 25):"
	perf report -i "$tmp/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -25 || true
	echo
	echo "user space of the tool (perf, with children: where the time is spent from, top 25):"
	perf report -i "$tmp/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -25 || true
} >>"$out"
cat "$out"
