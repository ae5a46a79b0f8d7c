#!/bin/sh
# node_bench N [S]: Debian's Node running bench/node/main.js (copied as lib/node_bench.js).
# --perf-basic-prof writes /tmp/perf-PID.map (JIT code, builtins, and interpreted functions with
# --interpreted-frames-native-stack) for the profiler to symbolize V8 frames. It also turns on
# V8's log, which would land as isolate-*-v8.log in the working directory: send it to
# /tmp/node_bench-PID-v8.log instead (exec keeps the PID, so the traced process is node itself).
exec /usr/bin/node --perf-basic-prof --interpreted-frames-native-stack \
	--no-logfile-per-isolate --logfile="/tmp/node_bench-$$-v8.log" \
	"${0%/*}/lib/node_bench.js" "$@"
