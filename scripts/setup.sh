#!/bin/sh
# One command for a fresh Debian machine: install, build, and profile the bundled Go benchmark
# (100,000 goroutines sleeping 3 s). Run as root.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# newer toolchains (JDK 21, Go 1.24, Rust 1.85, CPython 3.13) that some tests run in a trixie root
scripts/trixie-root.sh >/dev/null
make -j"$(nproc)" all bench
mkdir -p out
./taskmem-trace --html out/go_bench.html --json out/go_bench.json --folded out/go_bench.folded \
	-- bench/bin/go_bench 100000 3
echo "reports: out/go_bench.html (open it in a browser) out/go_bench.json out/go_bench.folded"
