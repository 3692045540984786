# The BEAM side of bench/pubsub.sh: what Phoenix.PubSub 2.x does (its PG2
# adapter on :pg, subscriptions in a duplicate-key Registry dispatched by
# Registry.dispatch), written out here because the library is not
# installable on these machines. Same measurements as
# crates/node/examples/pubsub_bench.rs.
#
#   elixir --name psbe2@127.0.0.1 bench/pubsub_bench.exs server
#   elixir --name psbe1@127.0.0.1 bench/pubsub_bench.exs main FANOUT SUBS MSGS psbe2@127.0.0.1

defmodule Bench.PS do
  @name Bench.PubSub
  def start do
    case :pg.start(Phoenix.PubSub) do
      {:ok, _} -> :ok
      {:error, {:already_started, _}} -> :ok
    end
    {:ok, _} = Registry.start_link(keys: :duplicate, name: @name, partitions: 1)
    adapter = Module.concat(@name, "Adapter")
    pid = spawn(fn -> worker() end)
    Process.register(pid, adapter)
    :ok = :pg.join(Phoenix.PubSub, adapter, pid)
  end

  def worker do
    receive do
      {:forward_to_local, topic, msg, _} -> local(topic, msg, :none)
      _ -> :ok
    end
    worker()
  end

  def broadcast(topic, msg, from) do
    for pid <- :pg.get_members(Phoenix.PubSub, Module.concat(@name, "Adapter")), node(pid) != node() do
      send(pid, {:forward_to_local, topic, msg, Phoenix.PubSub})
    end
    local(topic, msg, from)
  end

  def local(topic, msg, from) do
    Registry.dispatch(@name, topic, fn entries ->
      for {pid, _} <- entries, pid != from, do: send(pid, msg)
    end)
  end

  # A subscriber: subscribes when told, acks, then tells the collector
  # once it has `want` messages.
  def subscriber(collector, topic, want) do
    spawn(fn ->
      receive do
        :subscribe -> {:ok, _} = Registry.register(@name, topic, nil); send(collector, :subscribed)
      end
      count(collector, want, 0)
    end)
  end

  defp count(collector, want, n) do
    receive do
      _ ->
        n = n + 1
        if n == want, do: send(collector, :done)
        count(collector, want, n)
    end
  end

  def subscribers(collector, topic, n, want) do
    pids = for _ <- 1..n, do: subscriber(collector, topic, want)
    for p <- pids, do: send(p, :subscribe)
    pids
  end
end

defmodule Bench.Main do
  def wait(_msg, 0), do: :ok
  def wait(msg, n), do: (receive do ^msg -> wait(msg, n - 1) after 120_000 -> raise "timeout" end)
  def result(k, v), do: IO.puts("result #{k} #{v}")

  def run([fanout, subs, msgs, peer]) do
    [fanout, subs, msgs] = Enum.map([fanout, subs, msgs], &String.to_integer/1)
    peer = String.to_atom(peer)
    Bench.PS.start()
    me = self()
    pids = for _ <- 1..fanout, do: Bench.PS.subscriber(me, "fanout", 1)
    Process.sleep(300)
    m0 = :erlang.memory(:total)
    for p <- pids, do: send(p, :subscribe)
    wait(:subscribed, fanout)
    Process.sleep(300)
    m1 = :erlang.memory(:total)
    result("bytes_per_subscription", div(m1 - m0, fanout))
    t = System.monotonic_time(:microsecond)
    Bench.PS.broadcast("fanout", :hello, self())
    wait(:done, fanout)
    result("fanout_#{fanout}_ms", Float.round((System.monotonic_time(:microsecond) - t) / 1000, 1))
    for p <- pids, do: Process.exit(p, :kill)
    Process.sleep(500)

    msg = {:msg, "0123456789abcdef"}
    Bench.PS.subscribers(me, "local", subs, msgs)
    wait(:subscribed, subs)
    t = System.monotonic_time(:microsecond)
    for _ <- 1..msgs, do: Bench.PS.broadcast("local", msg, self())
    wait(:done, subs)
    secs = (System.monotonic_time(:microsecond) - t) / 1.0e6
    result("local_deliveries_per_s", round(subs * msgs / secs))

    true = Node.connect(peer)
    :rpc.call(peer, Bench.PS, :subscribers, [me, "remote", subs, msgs])
    wait(:subscribed, subs)
    wait_members(2)
    t = System.monotonic_time(:microsecond)
    for _ <- 1..msgs, do: Bench.PS.broadcast("remote", msg, self())
    wait(:done, subs)
    secs = (System.monotonic_time(:microsecond) - t) / 1.0e6
    result("remote_deliveries_per_s", round(subs * msgs / secs))
  end

  defp wait_members(n) do
    if length(:pg.get_members(Phoenix.PubSub, Bench.PubSub.Adapter)) < n do
      Process.sleep(10)
      wait_members(n)
    end
  end
end

case System.argv() do
  ["server"] ->
    Bench.PS.start()
    IO.puts("ready")
    Process.sleep(:infinity)
  ["main" | rest] ->
    Bench.Main.run(rest)
end
