#!/bin/sh
# Install what taskmem-trace needs to build and test, from Debian's archive (bookworm).
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# clang/llvm/bpftool: build the BPF side; libbpf/libelf/zlib: link the tool;
# golang-go: the Go benchmark; time/python3/procps: the tests' oracles and checks.
apt-get install -y -qq --no-install-recommends \
	make gcc libc6-dev clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev \
	golang-go time python3 procps ca-certificates >/dev/null
# tracepoints need tracefs; it is not mounted at boot on these machines
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
