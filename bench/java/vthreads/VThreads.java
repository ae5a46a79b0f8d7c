// java_vthreads_bench N [S]: N virtual threads (JDK 21) that each sleep S seconds (default 10),
// then exit: the published Java virtual-threads program. A sleeping virtual thread is unmounted
// from its carrier: Continuation freeze copies its frames into a jdk.internal.vm.StackChunk
// object in the Java heap, which is the task's stack (taskmem-trace: stack/virtual-thread).
// With TASKMEM_MEMSTATS set, at 0.8 S (or once all are started, if that took longer) one
// `MEMSTATS {json}` line on stderr gives the JVM's own figure for those chunks: the bytes and
// count of jdk.internal.vm.StackChunk in GC.class_histogram (what `jcmd PID GC.class_histogram
// -all` prints; -all: no full GC first, which would move the objects it counts), read in-process
// through the DiagnosticCommand MBean, and the Java heap's use.
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.ObjectName;

public class VThreads {
    static void usage() {
        System.err.println("usage: java_vthreads_bench N [S]  (N virtual threads that each sleep S seconds, default 10)");
        System.exit(2);
    }

    static String json(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    // Seconds since this process started (/proc/self/stat starttime), to find the profiler's
    // timeline sample taken at the same moment.
    static double uptime() {
        try {
            double up = Double.parseDouble(Files.readString(Path.of("/proc/uptime")).split(" ")[0]);
            String stat = Files.readString(Path.of("/proc/self/stat"));
            long start = Long.parseLong(stat.substring(stat.lastIndexOf(')') + 1).trim().split("\\s+")[19]);
            return Math.round((up - start / 100.0) * 100) / 100.0; // USER_HZ is 100 on Linux
        } catch (Exception e) {
            return -1;
        }
    }

    static void report(int n) {
        StringBuilder out = new StringBuilder("MEMSTATS {\"runtime\": \"jvm-vthreads\"");
        out.append(", \"t_s\": ").append(uptime()).append(", \"tasks\": ").append(n);
        out.append(", \"threads\": ").append(Thread.activeCount());
        Runtime rt = Runtime.getRuntime();
        out.append(", \"heap_committed\": ").append(rt.totalMemory());
        out.append(", \"heap_used\": ").append(rt.totalMemory() - rt.freeMemory());
        // collections so far: one that copies chunks makes the GC workers their pages' first toucher
        long gcs = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans())
            gcs += Math.max(0, gc.getCollectionCount());
        out.append(", \"gc_count\": ").append(gcs);
        try {
            String h = (String) ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
                    new Object[] {new String[] {"-all"}}, new String[] {String[].class.getName()});
            // " 12:        100000        8000000  jdk.internal.vm.StackChunk (java.base@21...)"
            Matcher m = Pattern.compile("(?m)^\\s*\\d+:\\s+(\\d+)\\s+(\\d+)\\s+(jdk\\.internal\\.vm\\.StackChunk|java\\.lang\\.VirtualThread|jdk\\.internal\\.vm\\.Continuation|Total)(?=\\s|$)")
                    .matcher(h);
            while (m.find())
                out.append(", ").append(json(m.group(3) + ".count")).append(": ").append(m.group(1))
                        .append(", ").append(json(m.group(3) + ".bytes")).append(": ").append(m.group(2));
            Matcher t = Pattern.compile("(?m)^Total\\s+(\\d+)\\s+(\\d+)").matcher(h);
            if (t.find())
                out.append(", \"histogram_objects\": ").append(t.group(1)).append(", \"histogram_bytes\": ").append(t.group(2));
        } catch (Exception e) {
            out.append(", \"histogram_error\": ").append(json(String.valueOf(e)));
        }
        System.err.println(out.append("}"));
    }

    public static void main(String[] args) throws Exception {
        int n = 0;
        double secs = 10;
        try {
            if (args.length < 1 || args.length > 2)
                usage();
            n = Integer.parseInt(args[0]);
            if (args.length > 1)
                secs = Double.parseDouble(args[1]);
        } catch (NumberFormatException e) {
            usage();
        }
        if (n < 0 || !(secs >= 0))
            usage();
        final Duration sleep = Duration.ofMillis((long) (secs * 1000));
        final long start = System.nanoTime();
        List<Thread> threads = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    Thread.sleep(sleep);
                } catch (InterruptedException e) {
                }
            }));
        }
        if (System.getenv("TASKMEM_MEMSTATS") != null) {
            long left = start + (long) (sleep.toNanos() * 0.8) - System.nanoTime();
            if (left > 0)
                Thread.sleep(Duration.ofNanos(left));
            report(n);
        }
        for (Thread thread : threads)
            thread.join();
    }
}
