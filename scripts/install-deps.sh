#!/bin/sh
# Install what taskmem-trace needs to build and test, from Debian's archive (bookworm).
# Prints one line per group of packages before it starts (what) and after (how many packages,
# how much was downloaded and installed, how long), and apt's and npm's errors and warnings.
# On a fresh Debian 12 it installs ~800 packages, ~1.4 GB downloaded, ~5 GB on disk (issue 16).
set -eu
export DEBIAN_FRONTEND=noninteractive
LOG=$(mktemp /tmp/install-deps.XXXXXX)
trap 'rm -f "$LOG"' EXIT
T0=$(date +%s)
say() { printf '[install-deps %4ds] %s\n' "$(($(date +%s) - T0))" "$*"; }
# inst WHAT PACKAGE...: apt-get install, its output kept in $LOG and summed up in one line
# (apt's "Need to get" and "After this operation"); the whole log on failure
inst() {
	what=$1
	shift
	t=$(date +%s)
	say "$what: $*"
	if ! apt-get install -y -q --no-install-recommends "$@" >"$LOG" 2>&1; then
		cat "$LOG"
		say "$what: apt-get install failed"
		exit 1
	fi
	new=$(sed -n 's/^.* \([0-9]*\) newly installed.*$/\1/p' "$LOG")
	get=$(sed -n 's/^Need to get \([0-9.,]* [kMG]*B\).*$/\1/p' "$LOG")
	disk=$(sed -n 's/^After this operation, \([^ ]* [kMG]*B\) of additional disk space.*$/\1/p' "$LOG")
	grep -E '^(W|E): ' "$LOG" || true
	say "$what: ${new:-0} new packages${get:+, $get downloaded}${disk:+, $disk on disk}, $(($(date +%s) - t)) s"
}
say "apt-get update"
apt-get update -qq
# clang/llvm/bpftool: build the BPF side; libbpf/libelf/libdw/zlib: link the tool; libiberty-dev:
# libiberty's C++/Rust demangler; libjansson-dev: the tool's JSON reports read back (diff, scale);
# g++/binutils: the demangling test's C++ program, readelf;
# golang-go: the Go benchmark; time/python3/procps/groff-base/util-linux: the tests' oracles and
# checks (time -v, pgrep, the man page, script for a pty).
inst "build tools and the tests' oracles" \
	make gcc g++ binutils libc6-dev clang llvm bpftool libbpf-dev libelf-dev libdw-dev zlib1g-dev libiberty-dev libjansson-dev \
	golang-go time python3 procps groff-base util-linux ca-certificates
# restic: a Go tool from Debian's archive, built with cgo (test_go_debian backs up files of its own);
# nginx-light: a server that daemonizes by default (test_nginx_daemon, on loopback); jemalloc,
# tcmalloc and mimalloc: the allocators test_allocators puts in place of glibc's malloc;
# postgresql-15 (the server, initdb, psql, pgbench, pg_prewarm; not the `postgresql` package)
# and wrk: test_servers runs a server of its own in a temp dir under pgbench, and nginx under
# wrk, on loopback. No system cluster is made (nor started): the tests need none.
mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = off  # scripts/install-deps.sh: the tests make their own" \
	>/etc/postgresql-common/createcluster.d/taskmem-trace.conf
inst "real programs" restic nginx-light libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 postgresql-15 wrk
# hostile input and faults (tests/fuzz, test_valgrind, test_make_j): libclang-rt-14-dev is clang's
# libFuzzer and sanitizer runtimes (make fuzz); valgrind's memcheck runs the tool; strace -f
# counts a make -j tree's processes independently of BPF.
# gcc-multilib: test_stack_walk's 32-bit build (compat tasks take the kernel's stack walk).
inst "fuzzing and fault tools" libclang-rt-14-dev valgrind strace gcc-multilib
# bench/overhead.sh's contenders: perf (linux-perf), bpftrace, bcc's memleak (bpfcc-tools),
# heaptrack, valgrind (massif). bcc compiles its BPF C against kernel headers and this kernel
# ships none: bookworm's linux-headers-amd64 stand in (memleak only uses uprobes, whose ABI does
# not depend on them). RLIMIT_MEMLOCK is 8 MiB and cannot be raised here: bpftrace warns that it
# could not raise it, harmlessly (the kernel charges BPF memory to the cgroup).
inst "other profilers (bench/overhead.sh)" \
	linux-perf bpftrace bpfcc-tools linux-headers-amd64 heaptrack valgrind
# chromium + playwright-core (npm, pinned by tests/html/package-lock.json to 1.61, the last that
# runs on Node 18): the HTML report's browser test; speedscope (npm, pinned to 1.25): its built
# page opens our folded and pprof outputs in the same test. Node.js and npm are on these machines'
# images (Node 20); from Debian when they are not (Node 18.20 on bookworm: the tests hold on both).
inst "browser test" chromium
command -v node >/dev/null && command -v npm >/dev/null || inst "Node.js" nodejs npm
say "npm ci in tests/html (playwright-core, speedscope) with Node $(node --version), npm $(npm --version)"
(cd "$(dirname "$0")/../tests/html" && npm ci --no-audit --no-fund)
# the task benchmarks of bench/ (issue 4): python3 (asyncio), nodejs (above), OpenJDK 17, Mono's
# compiler and runtime, Elixir on OTP 25, and the crates the Rust ones build from offline
# (/usr/share/cargo/registry; hyper 0.14 for rust_net_server, the networked benchmark's).
# cargo/rustc come from rustup on these images (~/.cargo/bin); Debian's (rustc 1.63, which
# bench/rust's Cargo.toml and lockfile stay compatible with) only when there is no cargo at all.
# python3.11-dbg: the debug file of Debian's stripped interpreter (names its frames, and tells
# asyncio's coroutine frames apart, docs/classification.md); libc6-dbg: glibc's, which names
# malloc's internals (_int_malloc, sysmalloc) where .dynsym has only the exported names.
inst "task benchmarks' runtimes" python3 python3.11-dbg libc6-dbg openjdk-17-jdk-headless mono-mcs \
	mono-runtime elixir erlang-base librust-tokio-dev librust-async-std-dev librust-futures-dev \
	librust-hyper-dev
command -v cargo >/dev/null || [ -x "${HOME:-/root}/.cargo/bin/cargo" ] || inst "Rust (Debian's)" cargo rustc
# Go 1.22, 1.23 and 1.24 from Debian's bookworm-backports and trixie, for test_go_versions (issue
# 14): into /var/cache/taskmem-trace/go through an apt sources list of its own (the system's are
# not changed); ~30 s the first time, 0.1 s once cached.
say "Go 1.22, 1.23, 1.24 (bookworm-backports, trixie) into /var/cache/taskmem-trace/go"
"$(dirname "$0")/go-toolchains.sh" >/dev/null
cargo=$(command -v cargo || echo "${HOME:-/root}/.cargo/bin/cargo")
say "toolchains for the tests: Node $(node --version), $("$cargo" --version), $(go version | cut -d' ' -f3)"
# tracepoints need tracefs; it is not mounted at boot on these machines
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
say "done"
