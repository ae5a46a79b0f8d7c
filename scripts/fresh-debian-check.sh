#!/usr/bin/env bash
# The README's two commands on a fresh Debian 12, as a new user would run them (issue 16):
# debootstrap a bookworm root from this machine's own mirror, copy the repository's committed
# files into it, and run `scripts/setup.sh` then `make test` there, as root, in a chroot with
# /proc, /sys, /dev and /dev/pts bound in. Fails if either fails. Run as root (make fresh-check).
#
# The debootstrapped base root is kept in $FRESH_CACHE (default /var/cache/taskmem-trace/fresh)
# and copied for each run, so only the first run pays for debootstrap; the .deb files and npm's
# cache are kept there too, so later runs download nothing again (what gets installed is the
# same). Logs: tests/out/fresh/{debootstrap,setup,test}.log and the root's tests/out/ copied
# to tests/out/fresh/tests-out/.
#   FRESH_FROM=worktree   copy the work tree's tracked files instead of HEAD (uncommitted edits)
#   FRESH_VARIANT=minbase debootstrap's variant (default: its default, a plain Debian system)
#   FRESH_KEEP=1          keep the run's root after the run (in $FRESH_CACHE/root) to look into it
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
CACHE=${FRESH_CACHE:-/var/cache/taskmem-trace/fresh}
BASE=$CACHE/base             # debootstrapped bookworm, never run in
ROOT=$CACHE/root             # this run's copy
LOGS=$REPO/tests/out/fresh
SRC=/root/taskmem-trace      # where the repository goes in the root
T0=$(date +%s)

say() { printf '[fresh %4ds] %s\n' "$(($(date +%s) - T0))" "$*"; }
die() { say "FAILED: $*"; exit 1; }

[ "$(id -u)" = 0 ] || { echo "fresh-debian-check: run as root (debootstrap, chroot, mounts)" >&2; exit 2; }

# The machine's own Debian mirror: the first URIs of a deb822 source with a bookworm suite, else
# sources.list's first bookworm line, else Debian's CDN.
mirror() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
			/(^|\n)Suites:[^\n]*[ \t]bookworm([ \t]|\n|$)/ && !/(^|\n)Enabled:[ \t]*no/ {
				for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); print a[2]; exit } }' "$f")
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
	uri=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
	echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR=${FRESH_MIRROR:-$(mirror)}

# Mounts of this run, undone in reverse order on any exit; processes left running in the root
# (a daemon a test started and lost) are ended by pid first, or the unmount would fail.
MOUNTS=()
TIMES=
cleanup() {
	local rc=$? p i
	set +e
	if [ -d "$ROOT" ]; then
		for p in /proc/[0-9]*; do
			[ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && kill -9 "${p#/proc/}" 2>/dev/null
		done
	fi
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount -R "${MOUNTS[i]}" 2>/dev/null || umount -lR "${MOUNTS[i]}"
	done
	if [ -d "$ROOT/root" ] && [ -d "$LOGS" ]; then
		rm -rf "$LOGS/tests-out"
		[ -d "$ROOT$SRC/tests/out" ] && cp -a "$ROOT$SRC/tests/out" "$LOGS/tests-out"
	fi
	unmount_under "$ROOT"
	[ "${FRESH_KEEP:-0}" = 1 ] || rm -rf --one-file-system "$ROOT"
	say "$([ $rc = 0 ] && echo passed || echo "failed ($rc)") in $(($(date +%s) - T0)) s (${TIMES:-}); logs in ${LOGS#$REPO/}/"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Mounts left under DIR by a run that was killed (its trap never ran), deepest first: rm -rf
# must never walk into a bound /dev or /proc
unmount_under() {
	local m
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m"; done
}

bind() { # SRC DST [rbind]: a private mount of SRC at DST, recorded for cleanup
	mkdir -p "$2"
	mount "--${3:-bind}" "$1" "$2"
	MOUNTS+=("$2")
	mount --make-rprivate "$2"
}

run() { # NAME COMMAND: run COMMAND in the root, its output to NAME.log and (prefixed) here
	local t rc
	t=$(date +%s)
	say "run: $2"
	set +e
	env -i HOME=/root TERM=dumb LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		chroot "$ROOT" /bin/sh -c "cd $SRC && $2" 2>&1 | tee "$LOGS/$1.log" | sed -u "s/^/  $1| /"
	rc=${PIPESTATUS[0]}
	set -e
	say "$2: exit $rc after $(($(date +%s) - t)) s"
	TIMES="$TIMES, $2 $(($(date +%s) - t)) s"
	[ "$rc" = 0 ] || die "$2 (exit $rc, log: ${LOGS#$REPO/}/$1.log)"
}
# All of it in a function: bash reads it whole before running it, so editing this file during
# a run (which takes half an hour) cannot change what the run does next
main() {
	mkdir -p "$CACHE/debs" "$CACHE/npm" "$LOGS"
	rm -f "$LOGS"/*.log

	# 1. the base root, once
	if [ ! -x "$BASE/bin/sh" ] || [ ! -f "$BASE/.complete" ]; then
		command -v debootstrap >/dev/null || {
			say "installing debootstrap"
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
		}
		say "debootstrap bookworm from $MIRROR into $BASE (log: debootstrap.log)"
		unmount_under "$BASE"
		rm -rf --one-file-system "$BASE"
		t=$(date +%s)
		debootstrap ${FRESH_VARIANT:+--variant=$FRESH_VARIANT} bookworm "$BASE" "$MIRROR" >"$LOGS/debootstrap.log" 2>&1 ||
			{ tail -20 "$LOGS/debootstrap.log"; die "debootstrap"; }
		# Debian's own sources for the root, as a fresh install has them (with security updates)
		printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$MIRROR" "$MIRROR" >"$BASE/etc/apt/sources.list"
		sec=$(awk 'BEGIN { RS = "" } /bookworm-security/ { match($0, /URIs:[ \t]*[^ \t\n]+/);
			s = substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", s); print s; exit }' \
			/etc/apt/sources.list.d/*.sources 2>/dev/null || true)
		[ -n "$sec" ] && echo "deb $sec bookworm-security main" >>"$BASE/etc/apt/sources.list"
		rm -f "$BASE"/var/cache/apt/archives/*.deb
		touch "$BASE/.complete"
		TIMES="debootstrap $(($(date +%s) - t)) s"
		say "debootstrap done in $(($(date +%s) - t)) s ($(du -sh "$BASE" | cut -f1))"
	else
		TIMES="debootstrap cached"
		say "reusing the base root $BASE (debootstrapped $(date -r "$BASE/.complete" '+%F %R'))"
	fi

	# 2. this run's root: a copy of the base, the repository's committed files, the mounts
	unmount_under "$ROOT"
	rm -rf --one-file-system "$ROOT"
	t=$(date +%s)
	cp -a "$BASE" "$ROOT"
	mkdir -p "$ROOT$SRC"
	if [ "${FRESH_FROM:-HEAD}" = worktree ]; then
		git ls-files -z | xargs -0 -r sh -c 'for f; do [ -e "$f" ] || [ -L "$f" ] && printf "%s\0" "$f"; done' sh |
			tar --null -T - -cf - | tar -xf - -C "$ROOT$SRC"
		what="the work tree's tracked files"
	else
		git archive HEAD | tar -xf - -C "$ROOT$SRC"
		what="HEAD $(git rev-parse --short HEAD)"
	fi
	# the root reaches the network as this machine does: its resolver, and the trust anchors its
	# admin added (where egress goes through a TLS-inspecting proxy, npm needs that proxy's CA;
	# the ca-certificates package that install-deps.sh installs picks them up from here)
	cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
	if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
		mkdir -p "$ROOT/usr/local/share/ca-certificates"
		cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
	fi
	# no daemon started by a package's postinst (nginx-light) outlives the run: what Debian's
	# container images do too
	printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d" && chmod 755 "$ROOT/usr/sbin/policy-rc.d"
	bind "$ROOT" "$ROOT"          # a mount point of its own, so that `unshare -m` works inside
	bind /proc "$ROOT/proc"
	bind /sys "$ROOT/sys" rbind   # with the cgroup and tracefs mounts under it
	bind /dev "$ROOT/dev"
	# read-only, so that nothing in the root can remove or replace the machine's own device
	# nodes (writing to them still works): a /dev/null made a regular file broke later runs
	mount -o remount,bind,ro "$ROOT/dev"
	bind /dev/pts "$ROOT/dev/pts"
	bind /dev/shm "$ROOT/dev/shm"
	bind "$CACHE/debs" "$ROOT/var/cache/apt/archives"
	bind "$CACHE/npm" "$ROOT/root/.npm"
	# the trixie root (JDK 21, Go 1.24, ...) setup.sh makes, from the host's cache when it has one
	# (.ci/run makes it first): a cache of downloads like the two above, made the same way
	TRIXIE=${TASKMEM_TRIXIE:-/var/cache/taskmem-trace/trixie}
	[ -f "$TRIXIE/root/.complete" ] && bind "$TRIXIE" "$ROOT$TRIXIE"
	mkdir -p "$CACHE/debs/partial"
	say "root ready in $(($(date +%s) - t)) s: $what in $SRC"

	# 3. the README's two commands, exactly as written, from the repository's directory
	run setup "scripts/setup.sh"
	run test "make test"
}
main "$@"
exit
