# elixir_bench N [S]: N processes (Task.async) that each sleep S seconds (default 10), awaited
# with Task.await_many, then exit (the published Elixir program).
# With TASKMEM_MEMSTATS set, at 0.8 S (or once all are started, if later) one `MEMSTATS {json}`
# line on stderr gives the VM's own accounting: :erlang.memory(), the allocators' carrier sizes
# (:instrument.carriers()) and the process count.
defmodule Main do
  def usage do
    IO.puts(:stderr, "usage: elixir_bench N [S]  (N processes that each sleep S seconds, default 10)")
    System.halt(2)
  end

  def parse(argv) do
    with [n | rest] when length(rest) <= 1 <- argv,
         {n, ""} when n >= 0 <- Integer.parse(n),
         {s, ""} when s >= 0 <- Float.parse(List.first(rest, "10")) do
      {n, s}
    else
      _ -> usage()
    end
  end

  # Seconds since this process started (/proc/self/stat starttime), to find the profiler's
  # timeline sample taken at the same moment.
  def uptime do
    [up | _] = File.read!("/proc/uptime") |> String.split()
    stat = File.read!("/proc/self/stat")
    [_, after_comm] = :binary.split(stat, ")", [:global]) |> Enum.take(-2)
    start = after_comm |> String.split() |> Enum.at(19) |> String.to_integer()
    # USER_HZ is 100 on Linux
    Float.round(String.to_float(up) - start / 100, 2)
  end

  def report(n) do
    mem =
      :erlang.memory()
      |> Enum.map(fn {k, v} -> ~s("#{k}": #{v}) end)
      |> Enum.join(", ")

    # the erts allocators' carriers: what they have mapped (not all of it resident), by type
    {:ok, {_, carriers}} = :instrument.carriers()

    by_type =
      carriers
      |> Enum.reduce(%{}, fn c, acc -> Map.update(acc, elem(c, 0), elem(c, 2), &(&1 + elem(c, 2))) end)
      |> Enum.map(fn {k, v} -> ~s("#{k}": #{v}) end)
      |> Enum.join(", ")

    IO.puts(
      :stderr,
      ~s(MEMSTATS {"runtime": "beam", "t_s": #{uptime()}, "tasks": #{n}, "process_count": #{:erlang.system_info(:process_count)}, ) <>
        ~s("memory": {#{mem}}, "carriers": {#{by_type}}})
    )
  end

  def start do
    {num_tasks, secs} = parse(System.argv())
    ms = round(secs * 1000)
    start = System.monotonic_time(:millisecond)

    tasks =
      for _ <- 1..num_tasks//1 do
        Task.async(fn -> :timer.sleep(ms) end)
      end

    if System.get_env("TASKMEM_MEMSTATS") do
      :timer.sleep(max(0, start + round(ms * 0.8) - System.monotonic_time(:millisecond)))
      report(num_tasks)
    end

    Task.await_many(tasks, :infinity)
  end
end

Main.start()
