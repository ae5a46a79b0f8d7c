#!/bin/sh
# Regenerate the checked-in vmlinux.h from the running kernel's BTF.
# CO-RE relocations make one header good for other kernels; regenerate only to use new types.
set -eu
arch=${1:-x86}
out="$(dirname "$0")/../vmlinux/$arch/vmlinux.h"
mkdir -p "$(dirname "$out")"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
