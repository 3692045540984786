//! Channel broadcasts between a nodus endpoint and a BEAM node. The BEAM
//! node is a real `elixir` running a STAND-IN for Phoenix.PubSub 2.x (the
//! library cannot be installed on these machines): a module on the real
//! `pg` and Elixir's `Registry` that does what Phoenix.PubSub's PG2
//! adapter does (fact sheet §9): the scope `Phoenix.PubSub`, the group and
//! registered name `Demo.PubSub.Adapter`, `{forward_to_local, Topic, Msg,
//! Dispatcher}` to the members of the group. The acceptance check runs the
//! real library.
//!
//! 1. The BEAM node broadcasts `%Phoenix.Socket.Broadcast{}` with the
//!    dispatcher `Phoenix.Channel.Server`; a raw `ws` client of the nodus
//!    endpoint receives `[null,null,topic,event,payload]`.
//! 2. The client's `shout` (the channel calls `Endpoint::broadcast`)
//!    reaches the BEAM node as exactly that term and dispatcher.

use std::process::Command;
use std::time::Duration;

mod common;

const STAND_IN: &str = r##"
defmodule StandIn.PubSub do
  # STAND-IN for Phoenix.PubSub 2.x + its PG2 adapter (see the test).
  def start(name) do
    {:ok, _} = :pg.start(Phoenix.PubSub)
    {:ok, _} = Registry.start_link(keys: :duplicate, name: name)
    adapter = Module.concat(name, "Adapter")
    pid = spawn(fn -> worker(name) end)
    Process.register(pid, adapter)
    :ok = :pg.join(Phoenix.PubSub, adapter, pid)
  end

  def worker(name) do
    receive do
      {:forward_to_local, topic, msg, dispatcher} ->
        Registry.dispatch(name, topic, fn entries -> for {pid, _} <- entries, do: send(pid, {:dispatched, dispatcher, msg}) end)
      _ -> :ok
    end
    worker(name)
  end

  def broadcast(name, topic, msg, dispatcher) do
    for pid <- :pg.get_members(Phoenix.PubSub, Module.concat(name, "Adapter")), node(pid) != node() do
      send(pid, {:forward_to_local, topic, msg, dispatcher})
    end
  end
end

nodus = String.to_atom(System.get_env("NODUS_NODE"))
:ok = StandIn.PubSub.start(Demo.PubSub)
{:ok, _} = Registry.register(Demo.PubSub, "room:lobby", nil)
true = Node.connect(nodus)
wait = fn wait, n ->
  if Enum.any?(:pg.get_members(Phoenix.PubSub, Demo.PubSub.Adapter), &(node(&1) == nodus)) do :ok
  else if n == 0, do: raise("no nodus worker in pg"), else: (Process.sleep(50); wait.(wait, n - 1)) end
end
wait.(wait, 400)
IO.puts("ready")
StandIn.PubSub.broadcast(Demo.PubSub, "room:lobby",
  %{:__struct__ => Phoenix.Socket.Broadcast, :topic => "room:lobby", :event => "shout",
    :payload => %{"body" => "from beam", :n => 1}}, Phoenix.Channel.Server)
IO.puts("broadcast")
receive do
  {:dispatched, d, msg} ->
    want = %{:__struct__ => Phoenix.Socket.Broadcast, :topic => "room:lobby", :event => "shout", :payload => %{"body" => "from js"}}
    IO.puts("dispatched #{inspect(d)} #{inspect(msg == want)} #{inspect(msg)}")
after 30_000 -> IO.puts("dispatched none")
end
"##;

const CLIENT: &str = r#"
const WS = require("ws");
const ws = new WS.WebSocket(process.env.URL + "/websocket?vsn=2.0.0");
ws.on("open", () => ws.send(JSON.stringify(["1", "1", "room:lobby", "phx_join", {}])));
ws.on("message", (d) => {
  const s = d.toString();
  console.log("frame " + s);
  const m = JSON.parse(s);
  if (m[3] === "phx_reply" && m[1] === "1") console.log("joined");
  if (m[3] === "shout" && m[4].body === "from beam") ws.send(JSON.stringify(["1", "2", "room:lobby", "shout", { body: "from js" }]));
  if (m[3] === "shout" && m[4].body === "from js") { console.log("echo"); }
});
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_between_beam_and_js_clients_of_a_nodus_node() {
    let epmd = common::free_port();
    let home = std::env::temp_dir().join(format!("nodus-chbeam-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("home");
    let (node, _ep, addr) =
        common::start("chn@127.0.0.1", epmd, "Demo.PubSub", common::test_config()).await;

    let mut js = Command::new("node");
    js.args(["-e", CLIENT])
        .current_dir(common::js_dir())
        .env("URL", format!("ws://{addr}/socket"));
    let js_err = home.join("client.err");
    let client = common::Child::spawn(js, &js_err);
    let wait = Duration::from_secs(60);
    let c = tokio::task::spawn_blocking(move || {
        client.line("joined", wait, &js_err);
        client
    })
    .await
    .expect("client");

    let script = home.join("standin.exs");
    std::fs::write(
        &script,
        format!("Code.eval_string(~S\"\"\"\n{STAND_IN}\n\"\"\")\n"),
    )
    .expect("script");
    let mut ex = Command::new("elixir");
    ex.args(["--name", "che@127.0.0.1", "--cookie", "chan"])
        .arg(&script)
        .env("ERL_EPMD_PORT", epmd.to_string())
        .env("HOME", &home)
        .env("NODUS_NODE", "chn@127.0.0.1")
        .env("ERL_CRASH_DUMP_SECONDS", "0");
    let ex_err = home.join("standin.err");
    let beam = common::Child::spawn(ex, &ex_err);
    let js_err = home.join("client.err");
    let (frame, dispatched) = tokio::task::spawn_blocking(move || {
        beam.line("broadcast", wait, &ex_err);
        let frame = c.line("frame [null,null", wait, &js_err);
        let dispatched = beam.line("dispatched", wait, &ex_err);
        c.line("echo", wait, &js_err);
        (frame, dispatched)
    })
    .await
    .expect("run");
    node.shutdown();
    let _ = std::fs::remove_dir_all(&home);

    let frame = frame.trim_start_matches("frame ");
    let v: serde_json::Value = serde_json::from_str(frame).expect("json");
    assert_eq!(
        v,
        serde_json::json!([null, null, "room:lobby", "shout", {"body": "from beam", "n": 1}]),
        "{frame}"
    );
    assert!(
        dispatched.starts_with("dispatched Phoenix.Channel.Server true"),
        "the BEAM node got: {dispatched}"
    );
}
