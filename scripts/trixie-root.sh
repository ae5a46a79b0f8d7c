#!/usr/bin/env bash
# A small Debian trixie root with the toolchains bookworm lacks (issues 17 and 20): JDK 21
# (virtual threads), Go 1.24, Rust 1.85 with tokio 1.43, CPython 3.13 (`-X perf`). They need
# trixie's glibc, so they run in this root by chroot, under the tool running on the host, which
# also proves the tool on processes in another root. Made once with debootstrap from the
# machine's own mirror and kept outside the repository; the system's apt sources are not touched.
#
# usage: scripts/trixie-root.sh [DIR]   (default $TASKMEM_TRIXIE or /var/cache/taskmem-trace/trixie)
# Prints the root's path (DIR/root) on its last line; exits 1 when it cannot be made.
# In the root: python3.13, java (21), /usr/lib/go-1.24/bin/go, rustc/cargo with Debian's crates
# in /usr/share/cargo/registry. Run things there with `scripts/trixie-root.sh --run DIR CMD...`:
# a mount namespace of their own with /proc, /dev, /sys and /tmp of the root bound in.
set -euo pipefail
PKGS="python3.13 openjdk-21-jdk-headless golang-1.24-go rustc cargo librust-tokio-dev gcc libc6-dev"

if [ "${1:-}" = --run ]; then
	R=${2:?--run DIR CMD}/root
	shift 2
	[ -f "$R/.complete" ] || { echo "trixie-root: no root at $R (make trixie-root)" >&2; exit 1; }
	# unshare -m: the binds vanish with the command, nothing to undo after a kill
	exec unshare -m --propagation private sh -c '
		R=$1; shift
		mount --bind /proc "$R/proc" && mount --rbind /sys "$R/sys" && mount --bind /dev "$R/dev" &&
			mount --bind /dev/pts "$R/dev/pts" && mount -t tmpfs -o size=1g tmpfs "$R/dev/shm" || exit 1
		exec chroot "$R" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
			PATH=/usr/lib/go-1.24/bin:/usr/local/bin:/usr/bin:/bin "$@"' sh "$R" "$@"
fi

CACHE=${1:-${TASKMEM_TRIXIE:-/var/cache/taskmem-trace/trixie}}
ROOT=$CACHE/root
say() { printf '[trixie-root] %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { echo "trixie-root: run as root (debootstrap, chroot)" >&2; exit 2; }

# what the root was made with: a different package list makes it again
WANT="trixie $PKGS"
if [ -f "$ROOT/.complete" ] && [ "$(cat "$ROOT/.complete")" = "$WANT" ]; then
	echo "$ROOT"
	exit 0
fi

MIRROR=$(sed -n 's/^URIs: *\([^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
command -v debootstrap >/dev/null || {
	say "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}
mkdir -p "$CACHE"
LOG=$CACHE/make.log
: >"$LOG"
# a root left half made (or with mounts, by a killed --run: those die with their namespace)
rm -rf --one-file-system "$ROOT"
t=$(date +%s)
say "debootstrap --variant=minbase trixie from $MIRROR into $ROOT (log: $LOG)"
debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" >>"$LOG" 2>&1 ||
	{ tail -20 "$LOG" >&2; say "debootstrap failed"; exit 1; }
echo "deb $MIRROR trixie main" >"$ROOT/etc/apt/sources.list"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d" && chmod 755 "$ROOT/usr/sbin/policy-rc.d"
say "installing $PKGS (~1.5 GB; log: $LOG)"
unshare -m --propagation private sh -c '
	R=$1; shift
	mount --bind /proc "$R/proc" && mount --bind /dev "$R/dev" || exit 1
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $*"' sh "$ROOT" $PKGS >>"$LOG" 2>&1 ||
	{ tail -20 "$LOG" >&2; say "installing packages failed"; exit 1; }
rm -f "$ROOT"/var/cache/apt/archives/*.deb
# crates from Debian's registry, offline (as bench/rust does on the host)
mkdir -p "$ROOT/root/.cargo"
printf '[source.crates-io]\nreplace-with = "debian"\n[source.debian]\ndirectory = "/usr/share/cargo/registry"\n[net]\noffline = true\n' \
	>"$ROOT/root/.cargo/config.toml"
echo "$WANT" >"$ROOT/.complete"
say "made in $(($(date +%s) - t)) s ($(du -sh "$ROOT" | cut -f1))"
echo "$ROOT"
