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
# chromium + playwright-core (npm, pinned by tests/html/package-lock.json): the HTML report's
# browser test. Node.js and npm are on these machines' images; from Debian when they are not.
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
(cd "$(dirname "$0")/../tests/html" && npm ci --no-audit --no-fund --silent)
# tracepoints need tracefs; it is not mounted at boot on these machines
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
