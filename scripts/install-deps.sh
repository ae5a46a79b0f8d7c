#!/bin/sh
# Install what taskmem-trace needs to build and test, from Debian's archive (bookworm).
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# clang/llvm/bpftool: build the BPF side; libbpf/libelf/zlib: link the tool;
# golang-go: the Go benchmark; time/python3/procps/groff-base/util-linux: the tests' oracles and
# checks (time -v, pgrep, the man page, script for a pty); bc: bench/overhead.sh.
apt-get install -y -qq --no-install-recommends \
	make gcc libc6-dev clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev \
	golang-go time python3 procps groff-base bc util-linux ca-certificates >/dev/null
# tracepoints need tracefs; it is not mounted at boot on these machines
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
