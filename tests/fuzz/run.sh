#!/usr/bin/env bash
# Run every fuzzer built in DIR (by `make fuzz`) for SECONDS each on its seed corpus, then replay
# its seeds and its regression inputs (every crash ever found). Exits non-zero on any crash.
# usage: tests/fuzz/run.sh DIR SECONDS
set -u
cd "$(dirname "$0")/../.."
dir=$1 secs=$2 fail=0 ran=0
for bin in "$dir"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz_}
	ran=$((ran + 1))
	work=$dir/work/$name log=$dir/$name.log
	mkdir -p "$work" "tests/fuzz/regressions/$name"
	if [ "$secs" -gt 0 ]; then
		# new inputs go to the scratch dir (first), never into the committed seeds
		if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix="$dir/crash-$name-" "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1; then
			echo "fuzz $name: $(sed -n 's/^stat::number_of_executed_units: *//p' "$log") execs in ${secs}s," \
				"$(ls "$work" | wc -l) inputs in its scratch corpus, no crash"
		else
			echo "fuzz $name: CRASH (log $log; input saved as $dir/crash-$name-*: add it to tests/fuzz/regressions/$name)"
			grep -E '^(==[0-9]+==ERROR|SUMMARY|    #[0-9] )' "$log" | head -20
			fail=1
		fi
	fi
	# -runs=0: execute the given corpora once, no mutation
	if "$bin" -runs=0 -timeout=10 -artifact_prefix="$dir/replay-crash-$name-" "tests/fuzz/corpus/$name" "tests/fuzz/regressions/$name" >"$log.replay" 2>&1; then
		echo "fuzz $name: $(ls "tests/fuzz/corpus/$name" | wc -l) seeds and $(ls "tests/fuzz/regressions/$name" | wc -l) regressions replayed, no crash"
	else
		echo "fuzz $name: a seed or regression input CRASHES (log $log.replay)"
		grep -E '^(==[0-9]+==ERROR|SUMMARY)' "$log.replay" | head -5
		fail=1
	fi
done
[ "$ran" -gt 0 ] || { echo "fuzz: no fuzzer in $dir"; fail=1; }
exit $fail
