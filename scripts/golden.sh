#!/usr/bin/env bash
# Record the runs whose replays tests/unit/test_replay.c checks (as root: it traces), and write
# each one's golden JSON from its replay (`make golden`). Each replay is made twice and must
# give the same bytes in every output: a golden file that depends on the replay is worthless.
# Commit tests/data/*.tmt and *.json together; keep each recording under ~1 MB.
# usage: scripts/golden.sh [NAME...]   (default: all of go python tree_frees)
set -eu
cd "$(dirname "$0")/.."
tool=$PWD/taskmem-trace bin=$PWD/bench/bin data=$PWD/tests/data
tmp=$(mktemp -d /tmp/taskmem-golden.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
head -c $((8 << 20)) /dev/urandom >"$tmp/known.dat"
record() { # NAME CMD...
	local name=$1
	shift
	"$tool" record -q -o "$data/$name.tmt" --json "$tmp/$name.live.json" -- "$@" >/dev/null
	for i in 1 2; do
		"$tool" report -q "$data/$name.tmt" --json "$tmp/$name.$i.json" --html "$tmp/$name.$i.html" \
			--folded "$tmp/$name.$i.folded" --pprof "$tmp/$name.$i.pb.gz" --trace "$tmp/$name.$i.trace"
	done
	for f in json html folded pb.gz trace; do
		cmp "$tmp/$name.1.$f" "$tmp/$name.2.$f" || { echo "$name: two replays differ in $f" >&2; exit 1; }
	done
	cmp "$tmp/$name.live.json" "$tmp/$name.1.json" || { echo "$name: the replay differs from the live run" >&2; exit 1; }
	cp "$tmp/$name.1.json" "$data/$name.json"
	echo "$name: $(stat -c %s "$data/$name.tmt") bytes recorded, $(stat -c %s "$data/$name.json") bytes of JSON"
}
names=${*:-go python tree_frees}
for n in $names; do
	case $n in
	go) record go "$bin/go_bench" 2000 ;;
	python) record python "$bin/python_bench" 300 ;; # asyncio tasks
	# a shell's fork tree: c_frees gives pages back every way (mremap shrink and move,
	# madvise(DONTNEED), munmap, brk) while c_known runs threads, a mapped file and a heap
	tree_frees) record tree_frees sh -c "$bin/c_frees & $bin/c_known $tmp/known.dat 8 1 2 8 8; wait" ;;
	*) echo "unknown golden run: $n" >&2; exit 2 ;;
	esac
done
