#!/bin/sh
# java_threads_bench N [S]: OpenJDK 17 running Threads (bench/java/Threads.java, compiled into
# lib/java/). exec, so the traced process is the JVM itself.
# -XX:+PreserveFramePointer: compiled Java frames keep rbp, so the kernel's stack walk goes
# through them. -XX:+DumpPerfMapAtExit writes /tmp/perf-PID.map (JIT code) only when the JVM
# exits; while it runs, `jcmd PID Compiler.perfmap` writes the same file on demand.
# TASKMEM_MEMSTATS=1 adds Native Memory Tracking (itself a little memory: a header per malloc).
d=${0%/*}
nmt=
[ -n "${TASKMEM_MEMSTATS:-}" ] && nmt=-XX:NativeMemoryTracking=summary
exec /usr/lib/jvm/java-17-openjdk-amd64/bin/java -XX:+PreserveFramePointer \
	-XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit $nmt -cp "$d/lib/java" Threads "$@"
