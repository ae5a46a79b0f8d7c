#!/bin/sh
# Install what taskmem-trace needs to build and test, from Debian's archive (bookworm).
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# clang/llvm/bpftool: build the BPF side; libbpf/libelf/libdw/zlib: link the tool; libiberty-dev:
# libiberty's C++/Rust demangler; g++/binutils: the demangling test's C++ program, readelf;
# golang-go: the Go benchmark; time/python3/procps/groff-base/util-linux: the tests' oracles and
# checks (time -v, pgrep, the man page, script for a pty).
apt-get install -y -qq --no-install-recommends \
	make gcc g++ binutils libc6-dev clang llvm bpftool libbpf-dev libelf-dev libdw-dev zlib1g-dev libiberty-dev \
	golang-go time python3 procps groff-base util-linux ca-certificates >/dev/null
# restic: a Go tool from Debian's archive, built with cgo (test_go_debian backs up files of its own);
# nginx-light: a server that daemonizes by default (test_nginx_daemon, on loopback); jemalloc,
# tcmalloc and mimalloc: the allocators test_allocators puts in place of glibc's malloc
apt-get install -y -qq --no-install-recommends restic nginx-light libjemalloc2 libtcmalloc-minimal4 \
	libmimalloc2.0 >/dev/null
# hostile input and faults (tests/fuzz, test_valgrind, test_make_j): libclang-rt-14-dev is clang's
# libFuzzer and sanitizer runtimes (make fuzz); valgrind's memcheck runs the tool; strace -f
# counts a make -j tree's processes independently of BPF.
# gcc-multilib: test_stack_walk's 32-bit build (compat tasks take the kernel's stack walk).
apt-get install -y -qq --no-install-recommends libclang-rt-14-dev valgrind strace gcc-multilib >/dev/null
# bench/overhead.sh's contenders: perf (linux-perf), bpftrace, bcc's memleak (bpfcc-tools),
# heaptrack, valgrind (massif). bcc compiles its BPF C against kernel headers and this kernel
# ships none: bookworm's linux-headers-amd64 stand in (memleak only uses uprobes, whose ABI does
# not depend on them). RLIMIT_MEMLOCK is 8 MiB and cannot be raised here: bpftrace warns that it
# could not raise it, harmlessly (the kernel charges BPF memory to the cgroup).
apt-get install -y -qq --no-install-recommends \
	linux-perf bpftrace bpfcc-tools linux-headers-amd64 heaptrack valgrind >/dev/null
# chromium + playwright-core (npm, pinned by tests/html/package-lock.json): the HTML report's
# browser test. Node.js and npm are on these machines' images; from Debian when they are not.
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
(cd "$(dirname "$0")/../tests/html" && npm ci --no-audit --no-fund --silent)
# the task benchmarks of bench/ (issue 4): python3 (asyncio), nodejs (above), OpenJDK 17, Mono's
# compiler and runtime, Elixir on OTP 25, and the crates the Rust ones build from offline
# (/usr/share/cargo/registry). cargo/rustc come from rustup on these images (~/.cargo/bin);
# Debian's (rustc 1.63, which bench/rust's Cargo.toml and lockfile stay compatible with) only
# when there is no cargo at all.
# python3.11-dbg: the debug file of Debian's stripped interpreter (names its frames, and tells
# asyncio's coroutine frames apart, docs/classification.md); libc6-dbg: glibc's, which names
# malloc's internals (_int_malloc, sysmalloc) where .dynsym has only the exported names.
apt-get install -y -qq --no-install-recommends python3 python3.11-dbg libc6-dbg openjdk-17-jdk-headless mono-mcs \
	mono-runtime elixir erlang-base librust-tokio-dev librust-async-std-dev librust-futures-dev >/dev/null
command -v cargo >/dev/null || [ -x "${HOME:-/root}/.cargo/bin/cargo" ] ||
	apt-get install -y -qq --no-install-recommends cargo rustc >/dev/null
# Go 1.22, 1.23 and 1.24 from Debian's bookworm-backports and trixie, for test_go_versions (issue
# 14): into /var/cache/taskmem-trace/go through an apt sources list of its own (the system's are
# not changed); ~30 s the first time, 0.1 s once cached.
"$(dirname "$0")/go-toolchains.sh" >/dev/null
# tracepoints need tracefs; it is not mounted at boot on these machines
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
