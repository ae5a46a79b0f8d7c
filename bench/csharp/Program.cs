// csharp_bench N [S]: N tasks, each Task.Run of an async lambda awaiting Task.Delay(S seconds,
// default 10), awaited with Task.WhenAll, then exit (the published 2023 C# program; Mono's mcs
// has no async Main, so Main waits on the WhenAll task).
// With TASKMEM_MEMSTATS set, at 0.8 S (or once all are started, if later) one
// `MEMSTATS {json}` line on stderr gives the runtime's own accounting: the managed heap
// (GC.GetTotalMemory), collections per generation, and thread counts.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

public static class Program
{
    static int Usage()
    {
        Console.Error.WriteLine("usage: csharp_bench N [S]  (N tasks that each wait S seconds, default 10)");
        return 2;
    }

    // Seconds since this process started (/proc/self/stat starttime), to find the profiler's
    // timeline sample taken at the same moment.
    static double Uptime()
    {
        double up = double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], CultureInfo.InvariantCulture);
        string stat = File.ReadAllText("/proc/self/stat");
        string[] f = stat.Substring(stat.LastIndexOf(')') + 1).Split(new char[] {' '}, StringSplitOptions.RemoveEmptyEntries);
        return Math.Round(up - long.Parse(f[19], CultureInfo.InvariantCulture) / 100.0, 2); // USER_HZ is 100
    }

    static void Report(int n)
    {
        int workers, io, maxWorkers, maxIo;
        ThreadPool.GetAvailableThreads(out workers, out io);
        ThreadPool.GetMaxThreads(out maxWorkers, out maxIo);
        Console.Error.WriteLine(string.Format(CultureInfo.InvariantCulture,
            "MEMSTATS {{\"runtime\": \"mono\", \"t_s\": {6}, \"tasks\": {0}, \"threads\": {1}, " +
            "\"threadpool_busy_workers\": {2}, \"gc_heap_bytes\": {3}, \"gc_collections\": [{4}, {5}]}}",
            n, Directory.GetDirectories("/proc/self/task").Length, maxWorkers - workers,
            GC.GetTotalMemory(false), GC.CollectionCount(0), GC.CollectionCount(1),
            Uptime()));
    }

    public static int Main(string[] args)
    {
        int numTasks;
        double secs = 10;
        if (args.Length < 1 || args.Length > 2
            || !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out numTasks)
            || (args.Length > 1 && (!double.TryParse(args[1], NumberStyles.Float, CultureInfo.InvariantCulture, out secs) || secs < 0)))
            return Usage();
        TimeSpan wait = TimeSpan.FromSeconds(secs);
        DateTime start = DateTime.UtcNow;

        List<Task> tasks = new List<Task>(numTasks);
        for (int i = 0; i < numTasks; i++)
        {
            Task task = Task.Run(async () =>
            {
                await Task.Delay(wait);
            });
            tasks.Add(task);
        }
        if (Environment.GetEnvironmentVariable("TASKMEM_MEMSTATS") != null)
        {
            TimeSpan left = start + TimeSpan.FromTicks((long)(wait.Ticks * 0.8)) - DateTime.UtcNow;
            if (left > TimeSpan.Zero)
                Thread.Sleep(left);
            Report(numTasks);
        }
        Task.WhenAll(tasks).Wait();
        return 0;
    }
}
