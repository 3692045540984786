//! The Rust runtime seen from a real Elixir node: a panicking nodus
//! process (links, monitors, rpc, erpc), a nodus gen_server under a
//! one_for_all nodus supervisor (GenServer.call, :sys.get_state,
//! restarts counted against intensity, an Elixir process linked to a
//! worker), a slow async rpc that delays nothing else, `global` names
//! registered from Rust and a name clash resolved as OTP resolves it, and
//! monitor_nodes with and without node_type.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nodus::gen_server::{self, CallReply, GenServer, Options, ReplyTo};
use nodus::supervisor::{self, ChildSpec, Flags, Strategy};
use nodus::{global, Exception, MonitorNodesOpts, Node, NodeType, Process, Term};
use serde::Deserialize;

mod support;

const NODUS: &str = "rt@127.0.0.1";
const EX: &str = "zex@127.0.0.1";

struct Counter(i64);

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Req {
    Get,
    Add(i64),
    Crash,
}

impl GenServer for Counter {
    type Args = Arc<AtomicU64>;
    type Call = Req;
    type Reply = i64;
    type Cast = Term;
    async fn init(starts: Arc<AtomicU64>, _me: &mut Process) -> Result<Self, Term> {
        starts.fetch_add(1, Ordering::SeqCst);
        Ok(Counter(0))
    }
    async fn handle_call(&mut self, req: Req, _f: ReplyTo, _me: &mut Process) -> CallReply<i64> {
        match req {
            Req::Get => CallReply::Reply(self.0),
            Req::Add(k) => {
                self.0 += k;
                CallReply::Reply(self.0)
            }
            Req::Crash => panic!("counter crash"),
        }
    }
    fn format_state(&self) -> Term {
        Term::from((Term::atom("count"), self.0))
    }
}

const SCRIPT: &str = r#"
n = :"rt@127.0.0.1"
# A name this partition holds before the clash.
clasher = spawn(fn -> receive do _ -> :ok end end)
:yes = :global.register_name(:clash, clasher)
clash_ref = Process.monitor(clasher)
true = Node.connect(n)
:ok = :global.sync()
IO.puts("connected")

# 1. A panicking nodus process.
crasher = :rpc.call(n, :demo, :spawn_crasher, [])
parent = self()
watcher = spawn(fn -> Process.link(crasher); send(parent, :linked); receive do _ -> :ok end end)
wref = Process.monitor(watcher)
receive do :linked -> :ok end
cref = Process.monitor(crasher)
send(crasher, :go)
receive do {:DOWN, ^cref, :process, _, r} -> IO.puts("monitor_reason #{inspect(r)}") after 10000 -> IO.puts("monitor_reason timeout") end
receive do {:DOWN, ^wref, :process, _, r} -> IO.puts("linked_reason #{inspect(r)}") after 10000 -> IO.puts("linked_reason timeout") end
IO.puts("rpc_panic #{inspect(:rpc.call(n, :demo, :boom, []))}")
IO.puts("erpc_panic #{inspect(try do :erpc.call(n, :demo, :boom, []) catch k, r -> {k, r} end)}")
spawned = Node.spawn(n, :demo, :fast, [])
IO.puts("node_spawn #{inspect(is_pid(spawned) and node(spawned) == n)}")

# 2. The gen_server under the supervisor.
IO.puts("call #{inspect(GenServer.call({:counter, n}, {:add, 5}))}")
IO.puts("get_state #{inspect(:sys.get_state({:counter, n}))}")
{:status, _, {:module, mod}, _} = :sys.get_status({:counter, n})
IO.puts("get_status #{inspect(mod)}")
IO.puts("sup_state #{inspect(length(:sys.get_state({:demo_sup, n})))}")
IO.puts("children #{inspect(Enum.map(:supervisor.which_children({:demo_sup, n}), &elem(&1, 0)))}")
w2 = :rpc.call(n, :erlang, :whereis, [:w2])
linked = spawn(fn ->
  Process.flag(:trap_exit, true)
  Process.link(w2)
  send(parent, :linked2)
  receive do {:EXIT, ^w2, r} -> send(parent, {:w2_exit, r}) end
end)
receive do :linked2 -> :ok end
_ = linked
sup_ref = Process.monitor({:demo_sup, n})
crash = fn ->
  old = :rpc.call(n, :erlang, :whereis, [:counter])
  try do GenServer.call({:counter, n}, :crash) catch :exit, r -> r end
  wait = fn wait, k ->
    case :rpc.call(n, :erlang, :whereis, [:counter]) do
      p when is_pid(p) and p != old -> p
      _ when k > 0 -> Process.sleep(10); wait.(wait, k - 1)
      _ -> :gone
    end
  end
  {old, wait.(wait, 100)}
end
{_, new1} = crash.()
IO.puts("restarted #{inspect(is_pid(new1))}")
receive do {:w2_exit, r} -> IO.puts("w2_exit #{inspect(r)}") after 10000 -> IO.puts("w2_exit timeout") end
IO.puts("starts #{inspect(:rpc.call(n, :demo, :starts, []))}")
_ = crash.()
_ = crash.()
try do GenServer.call({:counter, n}, :crash) catch :exit, _ -> :ok end
receive do {:DOWN, ^sup_ref, :process, _, r} -> IO.puts("sup_down #{inspect(r)}") after 10000 -> IO.puts("sup_down timeout") end

# 3. A slow async rpc delays nothing else.
slow = Task.async(fn -> :rpc.call(n, :demo, :slow, [3000]) end)
Process.sleep(100)
time = fn f -> t0 = System.monotonic_time(:millisecond); r = f.(); {System.monotonic_time(:millisecond) - t0, r} end
{t_ping, ping} = time.(fn -> :net_adm.ping(n) end)
{t_rpc, fast} = time.(fn -> :rpc.call(n, :demo, :fast, []) end)
{t_call, g} = time.(fn -> GenServer.call({:global, :rust_svc}, :get) end)
IO.puts("ping #{inspect(ping)} #{t_ping}")
IO.puts("fast #{inspect(fast)} #{t_rpc}")
IO.puts("global_call #{inspect(g)} #{t_call}")
IO.puts("slow #{inspect(Task.await(slow, 10000))}")

# 4. global: the clash.
receive do {:DOWN, ^clash_ref, :process, _, r} -> IO.puts("clash_loser #{inspect(r)}") after 10000 -> IO.puts("clash_loser timeout") end
IO.puts("clash_owner #{inspect(node(:global.whereis_name(:clash)))}")
IO.puts("done")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iex_sees_rust_processes_servers_supervisors_and_global_names() {
    let home = support::home("iexrt");
    let epmd = support::free_port();
    let node = Node::builder(NODUS)
        .cookie("iexrt")
        .epmd_port(epmd)
        .start()
        .await
        .expect("node");
    let starts = Arc::new(AtomicU64::new(0));
    node.register_fn("demo", "spawn_crasher", |node, _| async move {
        let pid = node.spawn(|mut me| async move {
            let _ = me.recv().await;
            panic!("boom now");
        });
        Ok(Term::from(pid))
    });
    node.register_fn("demo", "boom", |_, _| async move {
        if true {
            panic!("boom now");
        }
        Ok(Term::nil())
    });
    node.register_fn("demo", "slow", |_, args| async move {
        let ms = args.first().and_then(Term::as_i64).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
        Ok(Term::atom("slow_done"))
    });
    node.register_sync_fn("demo", "fast", |_, _| Ok(Term::atom("fast_done")));
    let s2 = starts.clone();
    node.register_sync_fn("demo", "starts", move |_, _| {
        Ok(Term::from(s2.load(Ordering::SeqCst)))
    });
    node.register_sync_fn("demo", "nothing", |_, _| {
        Err(Exception::Error(Term::atom("unused")))
    });

    let flags = Flags::new(Strategy::OneForAll).intensity(3, Duration::from_secs(60));
    let w2 = ChildSpec::task("w2", |mut me| async move {
        let _ = me.register("w2");
        while me.recv().await.is_some() {}
    });
    let children = vec![
        ChildSpec::gen_server::<Counter>("counter", starts.clone(), Some("counter")),
        w2,
    ];
    supervisor::start(&node, flags, children, Some("demo_sup"))
        .await
        .expect("supervisor");
    let svc = gen_server::start::<Counter>(
        &node,
        Arc::default(),
        Options::global(Term::atom("rust_svc")),
    )
    .await
    .expect("global server");
    assert_eq!(
        global::whereis_name(&node, &Term::atom("rust_svc")),
        Some(svc.clone())
    );
    let holder = node.spawn(|mut me| async move { while me.recv().await.is_some() {} });
    assert!(global::register_name(&node, Term::atom("clash"), &holder).await);
    assert!(
        !global::register_name(&node, Term::atom("clash"), &svc).await,
        "a taken name"
    );

    // monitor_nodes: visible only by default; every kind with node_type all.
    let mut plain = node.process();
    node.monitor_nodes(plain.pid());
    let mut all = node.process();
    node.monitor_nodes_with(
        all.pid(),
        MonitorNodesOpts {
            node_type: Some(NodeType::All),
            nodedown_reason: true,
        },
    );
    let hidden = Node::builder("rthidden@127.0.0.1")
        .cookie("iexrt")
        .epmd_port(epmd)
        .published(false)
        .start()
        .await
        .expect("hidden");
    assert!(hidden.ping(NODUS).await);
    let up = all
        .recv_match(|_| true, Duration::from_secs(10))
        .await
        .expect("nodeup hidden");
    assert_eq!(
        up.to_string(),
        "{nodeup,'rthidden@127.0.0.1',[{node_type,hidden}]}"
    );
    hidden.shutdown();
    let down = all
        .recv_match(|_| true, Duration::from_secs(10))
        .await
        .expect("nodedown hidden");
    assert!(
        down.to_string()
            .starts_with("{nodedown,'rthidden@127.0.0.1',[{node_type,hidden},{nodedown_reason,"),
        "{down}"
    );

    let (_ex, out) = support::elixir(epmd, &home, EX, "iexrt", SCRIPT);
    support::wait_line(&out, "connected");
    let r = support::collect_until(&out, "done");
    let get = |k: &str| {
        r.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("no {k} in {r:?}"))
    };
    // The default watcher heard of the Elixir node, not the hidden one.
    let first = plain
        .recv_match(|_| true, Duration::from_secs(10))
        .await
        .expect("nodeup");
    assert_eq!(first.to_string(), "{nodeup,'zex@127.0.0.1'}");

    assert_eq!(get("monitor_reason"), r#"{:panic, "boom now"}"#);
    assert_eq!(get("linked_reason"), r#"{:panic, "boom now"}"#);
    assert!(
        get("rpc_panic")
            .starts_with(r#"{:badrpc, {:EXIT, {{:panic, "boom now"}, [{:demo, :boom, [], []}]}}}"#),
        "{}",
        get("rpc_panic")
    );
    // erpc raises error:{exception, Reason, Stack} for a remote error.
    assert_eq!(
        get("erpc_panic"),
        r#"{:error, {:exception, {:panic, "boom now"}, [{:demo, :boom, [], []}]}}"#
    );
    assert_eq!(get("node_spawn"), "true");
    assert_eq!(get("call"), "5");
    assert_eq!(get("get_state"), "{:count, 5}");
    assert_eq!(get("get_status"), ":gen_server");
    assert_eq!(get("sup_state"), "2");
    assert_eq!(get("children"), "[:w2, :counter]");
    assert_eq!(get("restarted"), "true");
    assert_eq!(get("w2_exit"), ":shutdown");
    assert_eq!(get("starts"), "2");
    assert_eq!(get("sup_down"), ":shutdown");
    // Generous bounds: the slow call takes 3 s; each of these must not
    // wait for it.
    for k in ["ping", "fast", "global_call"] {
        let v = get(k);
        let (val, ms) = v.rsplit_once(' ').expect("value and time");
        let ms: u64 = ms.parse().expect("ms");
        assert!(ms < 1500, "{k} took {ms} ms behind a 3 s rpc");
        assert!(!val.contains("badrpc"), "{k}: {val}");
    }
    assert_eq!(get("slow"), ":slow_done");
    // The clash: this node is the smaller name, so it ran the resolve
    // function (random_exit_name): the pid on the smaller node keeps the
    // name; the other is killed.
    assert_eq!(get("clash_loser"), ":killed");
    assert_eq!(get("clash_owner"), ":\"rt@127.0.0.1\"");
    assert_eq!(
        global::whereis_name(&node, &Term::atom("clash")),
        Some(holder)
    );
    node.shutdown();
}
