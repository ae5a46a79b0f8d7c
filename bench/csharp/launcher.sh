#!/bin/sh
# csharp_bench N [S]: Mono running bench/csharp/Program.cs (compiled by mcs into
# lib/csharp_bench.exe). --jitmap writes /tmp/perf-PID.map for JIT-compiled methods as they are
# compiled; exec, so the traced process is mono itself.
exec /usr/bin/mono --jitmap "${0%/*}/lib/csharp_bench.exe" "$@"
