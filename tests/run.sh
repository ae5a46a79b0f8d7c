#!/usr/bin/env bash
# The whole test suite: unit tests, then the real tool as root on real workloads.
# Prints one closing line "N passed, N failed" and exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "tests must run as root (they load BPF programs): sudo make test" >&2
	exit 2
fi
unit_out=$("${UNIT_DIR:-.output/unit}"/test_units)
unit_rc=$?
echo "$unit_out"
up=$(echo "$unit_out" | sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
uf=$(echo "$unit_out" | sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
[ -n "$up" ] || { up=0; uf=1; }
[ "$unit_rc" = 0 ] || [ "$uf" != 0 ] || uf=1
python3 -u tests/integration/run.py "$@"
rc=$?
ip=$(cat tests/out/passed 2>/dev/null || echo 0)
if_=$(cat tests/out/failed 2>/dev/null || echo 1)
echo "$((up + ip)) passed, $((uf + if_)) failed"
[ "$unit_rc" = 0 ] && [ "$rc" = 0 ] && [ "$uf" = 0 ] && [ "$if_" = 0 ]
