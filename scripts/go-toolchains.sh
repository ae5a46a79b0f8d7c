#!/bin/sh
# Fetch newer Go toolchains from Debian's own suites, for tests/integration/test_go_versions.py
# (issue 14: "version changes must not break labels"): golang-1.22-go and golang-1.23-go from
# bookworm-backports, golang-1.24-go from trixie (Go's toolchain is static, so trixie's runs on
# bookworm's glibc; checked below by running it). The system's apt sources are not touched: a
# sources list and lists directory of this script's own (docs in /work/shared/ENVIRONMENT.md's
# way), `apt-get download` and `dpkg -x` into a cache outside the repository, reused between runs.
#
# usage: scripts/go-toolchains.sh [CACHE]   (default $TASKMEM_GO_CACHE or /var/cache/taskmem-trace/go)
# Prints one line per toolchain: VERSION GOROOT. Exits 1 when none could be had.
set -eu
CACHE=${1:-${TASKMEM_GO_CACHE:-/var/cache/taskmem-trace/go}}
# the same mirror as the system's sources (deb.debian.org unless they say otherwise)
MIRROR=$(sed -n 's/^URIs: *\([^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# version suite: what each toolchain is and where it comes from
WANT="1.22:bookworm-backports 1.23:bookworm-backports 1.24:trixie"

mkdir -p "$CACHE/apt/lists/partial" "$CACHE/apt/archives/partial" "$CACHE/debs"
cat > "$CACHE/apt/sources.list" <<SRC
deb [signed-by=$KEYRING] $MIRROR bookworm-backports main
deb [signed-by=$KEYRING] $MIRROR trixie main
SRC
APT_OPTS="-o Dir::Etc::SourceList=$CACHE/apt/sources.list -o Dir::Etc::SourceParts=/dev/null
	-o Dir::State::Lists=$CACHE/apt/lists -o Dir::Cache::Archives=$CACHE/apt/archives
	-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root"

goroot() { echo "$CACHE/$1/usr/lib/go-$1"; }
# the extracted go, from its own tree (Debian's has /usr/lib/go-1.2x built in) and never
# fetching another toolchain itself
gocmd() ( r=$(goroot "$1"); shift; GOROOT="$r" GOTOOLCHAIN=local "$r/bin/go" "$@" )

# a toolchain is there when its go runs and says its version (a marker written after dpkg -x)
have() { [ -f "$CACHE/$1/.complete" ] && gocmd "$1" version >/dev/null 2>&1; }

updated=
fetched=0
for w in $WANT; do
	v=${w%%:*}
	suite=${w#*:}
	if ! have "$v"; then
		if [ -z "$updated" ]; then
			echo "go-toolchains: apt-get update of bookworm-backports and trixie into $CACHE/apt" >&2
			# shellcheck disable=SC2086
			apt-get $APT_OPTS -qq update >&2 || { echo "go-toolchains: cannot reach $MIRROR" >&2; exit 1; }
			updated=1
		fi
		rm -rf "${CACHE:?}/$v"
		mkdir -p "$CACHE/$v"
		# -go is the toolchain, -src the standard library's sources it compiles
		for pkg in "golang-$v-go" "golang-$v-src"; do
			# shellcheck disable=SC2086
			(cd "$CACHE/debs" && apt-get $APT_OPTS -qq download "$pkg/$suite" >&2) ||
				{ echo "go-toolchains: $pkg not found in $suite" >&2; continue 2; }
			deb=$(ls -t "$CACHE/debs/${pkg}_"*.deb | head -n1)
			echo "go-toolchains: $(basename "$deb")" >&2
			dpkg -x "$deb" "$CACHE/$v"
			rm -f "$deb"  # the tree is what is kept
		done
		if ! gocmd "$v" version >/dev/null 2>&1; then
			echo "go-toolchains: go $v from $suite does not run here" >&2
			continue
		fi
		touch "$CACHE/$v/.complete"
	fi
	echo "$(gocmd "$v" env GOVERSION) $(goroot "$v")"
	fetched=$((fetched + 1))
done
[ "$fetched" -gt 0 ]
