#!/usr/bin/env bash
# Overhead of taskmem-trace, measured side by side in one run: untraced and traced runs
# alternate, REPS times, and the medians' ratios are printed. CPU = user+sys of everything
# (the tracer, the command, and the BPF programs, which run in the faulting tasks).
# usage: sudo bench/overhead.sh [REPS] [-- COMMAND...]   default: go_bench 1000000 2
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-3}
shift || true
[ "${1:-}" = "--" ] && shift
cmd=("$@")
[ ${#cmd[@]} -gt 0 ] || cmd=(bench/bin/go_bench 1000000 2)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { # label, command...
	local label=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$tmp/t" "$@" >/dev/null 2>"$tmp/err" || true
	read -r wall user sys maxkb <"$tmp/t"
	echo "$label $wall $(echo "$user + $sys" | bc -l) $maxkb" >>"$tmp/all"
}
for i in $(seq "$reps"); do
	run untraced "${cmd[@]}"
	run traced ./taskmem-trace -q --json "$tmp/o.json" -- "${cmd[@]}"
	grep -o '"dropped": [0-9]*' "$tmp/o.json" | head -1 >>"$tmp/dropped"
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for what in 2 3; do
	u=$(awk -v c=$what '$1=="untraced"{print $c}' "$tmp/all" | median)
	t=$(awk -v c=$what '$1=="traced"{print $c}' "$tmp/all" | median)
	name=$([ $what = 2 ] && echo wall || echo cpu)
	printf '%-5s untraced %7.2f s  traced %7.2f s  ratio %.3f\n' "$name" "$u" "$t" "$(echo "$t / $u" | bc -l)"
done
echo "command: ${cmd[*]}; reps: $reps (medians); dropped per traced run: $(tr '\n' ' ' <"$tmp/dropped")"
