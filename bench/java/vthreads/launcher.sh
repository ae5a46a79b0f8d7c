#!/bin/sh
# java_vthreads_bench N [S]: OpenJDK 21 running VThreads (bench/java/vthreads/VThreads.java),
# installed in the trixie root (bench/Makefile's `trixie` target) and run there:
#   scripts/trixie-root.sh --run DIR /opt/taskmem-bench/java_vthreads_bench N S
# exec, so the traced process is the JVM itself. -XX:+PreserveFramePointer: compiled Java frames
# keep rbp; -XX:+DumpPerfMapAtExit writes /tmp/perf-PID.map (JIT code, in the root's /tmp) when
# the JVM exits (bench/java/launcher.sh says more).
d=${0%/*}
exec /usr/lib/jvm/java-21-openjdk-amd64/bin/java -XX:+PreserveFramePointer \
	-XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -cp "$d/java" VThreads "$@"
