// java_threads_bench N [S]: N platform threads that each sleep S seconds (default 10), then
// exit (the published Java threads program, on JDK 17: Thread.sleep(long) instead of the
// Duration overload that came in 19).
// With TASKMEM_MEMSTATS set (the launcher then adds -XX:NativeMemoryTracking=summary), at 0.8 S
// (or once all are started, if that took longer) one `MEMSTATS {json}` line on stderr gives Native Memory Tracking's summary, read in-process
// through the DiagnosticCommand MBean (what `jcmd PID VM.native_memory summary` prints), and
// the Java heap's use. NMT's "committed" is not "resident", except for thread stacks, whose
// committed size NMT measures with mincore.
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.ObjectName;

public class Threads {
    static void usage() {
        System.err.println("usage: java_threads_bench N [S]  (N threads that each sleep S seconds, default 10)");
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
        StringBuilder out = new StringBuilder("MEMSTATS {\"runtime\": \"jvm-threads\"");
        out.append(", \"t_s\": ").append(uptime()).append(", \"tasks\": ").append(n);
        out.append(", \"threads\": ").append(Thread.activeCount());
        Runtime rt = Runtime.getRuntime();
        out.append(", \"heap_committed\": ").append(rt.totalMemory());
        out.append(", \"heap_used\": ").append(rt.totalMemory() - rt.freeMemory());
        try {
            String nmt = (String) ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), "vmNativeMemory",
                    new Object[] {new String[] {"summary"}}, new String[] {String[].class.getName()});
            // "-   Thread (reserved=10486KB, committed=10486KB)" per category; "Total: reserved=..."
            Matcher m = Pattern.compile("(?m)^(?:-\\s+(\\S.*?) \\(|(Total): )reserved=(\\d+)KB, committed=(\\d+)KB")
                    .matcher(nmt);
            StringBuilder committed = new StringBuilder(), reserved = new StringBuilder();
            while (m.find()) {
                String name = m.group(1) != null ? m.group(1) : m.group(2);
                String sep = committed.length() == 0 ? "" : ", ";
                committed.append(sep).append(json(name)).append(": ").append(Long.parseLong(m.group(4)) * 1024);
                reserved.append(sep).append(json(name)).append(": ").append(Long.parseLong(m.group(3)) * 1024);
            }
            Matcher st = Pattern.compile("\\(stack: reserved=(\\d+)KB, committed=(\\d+)KB\\)").matcher(nmt);
            if (st.find())
                out.append(", \"nmt_thread_stack_committed\": ").append(Long.parseLong(st.group(2)) * 1024);
            out.append(", \"nmt_committed\": {").append(committed).append("}");
            out.append(", \"nmt_reserved\": {").append(reserved).append("}");
        } catch (Exception e) {
            out.append(", \"nmt_error\": ").append(json(String.valueOf(e)));
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
        final long millis = (long) (secs * 1000);
        final long start = System.nanoTime();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Thread thread = new Thread(() -> {
                try {
                    Thread.sleep(millis);
                } catch (InterruptedException e) {
                }
            });
            thread.start();
            threads.add(thread);
        }
        if (System.getenv("TASKMEM_MEMSTATS") != null) {
            long left = start + (long) (millis * 0.8e6) - System.nanoTime();
            if (left > 0)
                Thread.sleep(left / 1000000, (int) (left % 1000000));
            report(n);
        }
        for (Thread thread : threads)
            thread.join();
    }
}
