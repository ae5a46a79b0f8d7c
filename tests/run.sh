#!/usr/bin/env bash
# The whole test suite: unit tests, then the real tool as root on real workloads.
# Prints one closing line "N passed, N failed" and exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "tests must run as root (they load BPF programs): sudo make test" >&2
	exit 2
fi
# every unit binary (one per tests/unit/*.c), each ending with "unit: N passed, N failed"
up=0 uf=0 unit_rc=0 unit_failed=""
for u in "${UNIT_DIR:-.output/unit}"/*; do
	out=$("$u")
	rc=$?
	echo "$out"
	p=$(echo "$out" | sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$out" | sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	[ -n "$p" ] || { p=0; f=1; }
	[ "$rc" = 0 ] || [ "$f" != 0 ] || f=1
	[ "$rc" = 0 ] || unit_rc=$rc
	[ "$f" = 0 ] || unit_failed="$unit_failed $(basename "$u")"
	up=$((up + p)) uf=$((uf + f))
done
python3 -u tests/integration/run.py "$@"
rc=$?
ip=$(cat tests/out/passed 2>/dev/null || echo 0)
if_=$(cat tests/out/failed 2>/dev/null || echo 1)
# the failed unit binaries again at the end, where a log's tail (CI's) shows them
[ -z "$unit_failed" ] || echo "failed unit binaries:$unit_failed"
echo "$((up + ip)) passed, $((uf + if_)) failed"
[ "$unit_rc" = 0 ] && [ "$rc" = 0 ] && [ "$uf" = 0 ] && [ "$if_" = 0 ]
