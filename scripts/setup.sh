#!/bin/sh
# One command for a fresh Debian machine: install, build, and profile the bundled Go benchmark
# (100,000 goroutines sleeping 3 s). Run as root.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -j"$(nproc)" all bench
mkdir -p out
./taskmem-trace --html out/go_bench.html --json out/go_bench.json --folded out/go_bench.folded \
	-- bench/bin/go_bench 100000 3
echo "reports: out/go_bench.html (open it in a browser) out/go_bench.json out/go_bench.folded"
