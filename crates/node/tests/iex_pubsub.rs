//! nodus's PubSub in a cluster with an Elixir node running a STAND-IN for
//! Phoenix.PubSub 2.x (the library cannot be installed on these
//! machines): an Elixir module on the real `pg` and Elixir's `Registry`
//! that does exactly what `Phoenix.PubSub` and its PG2 adapter do (fact
//! sheet §9) — the same scope, group and registered names, the group
//! picked by `phash2(self(), N)`, the same `{forward_to_local, ...}`
//! messages. The acceptance check runs the real library.
//!
//! Three nodes with three pool sizes (nodus A: 4, nodus B: 2, Elixir E:
//! 3), one subscriber on each: broadcasts both ways reach every
//! subscriber exactly once, `broadcast_from` skips its sender,
//! `direct_broadcast` reaches one node, and 100,000 broadcasts from
//! several senders arrive in order, without loss or duplicates.

use std::collections::HashMap;
use std::time::Duration;

use nodus::pubsub::{Options, PubSub};
use nodus::{Node, Pid, Process, Term};

mod support;

const A: &str = "psa@127.0.0.1";
const B: &str = "psb@127.0.0.1";
const E: &str = "pse@127.0.0.1";
const WAIT: Duration = Duration::from_secs(60);

const STAND_IN: &str = r##"
defmodule StandIn.PubSub do
  # STAND-IN for Phoenix.PubSub 2.x + Phoenix.PubSub.PG2 (see the test).
  def start(name, pool_size) do
    case :pg.start(Phoenix.PubSub) do
      {:ok, _} -> :ok
      {:error, {:already_started, _}} -> :ok
    end
    {:ok, _} = Registry.start_link(keys: :duplicate, name: name)
    adapter = Module.concat(name, "Adapter")
    groups = [adapter | for(n <- 2..pool_size//1, do: :"#{adapter}_#{n}")]
    :persistent_term.put(adapter, List.to_tuple(groups))
    for g <- groups do
      pid = spawn(fn -> worker(name) end)
      Process.register(pid, g)
      :ok = :pg.join(Phoenix.PubSub, g, pid)
    end
    :ok
  end

  def worker(name) do
    receive do
      {:forward_to_local, topic, msg, dispatcher} -> local_dispatch(name, topic, msg, dispatcher, :none)
      _ -> :ok
    end
    worker(name)
  end

  def subscribe(name, topic), do: Registry.register(name, topic, nil)

  def broadcast(name, topic, msg, from \\ :none) do
    groups = :persistent_term.get(Module.concat(name, "Adapter"))
    group = elem(groups, :erlang.phash2(self(), tuple_size(groups)))
    for pid <- :pg.get_members(Phoenix.PubSub, group), node(pid) != node() do
      send(pid, {:forward_to_local, topic, msg, Phoenix.PubSub})
    end
    local_dispatch(name, topic, msg, Phoenix.PubSub, from)
  end

  def direct_broadcast(node, name, topic, msg) do
    send({Module.concat(name, "Adapter"), node}, {:forward_to_local, topic, msg, Phoenix.PubSub})
  end

  def local_dispatch(name, topic, msg, Phoenix.PubSub, from) do
    Registry.dispatch(name, topic, fn entries ->
      for {pid, _} <- entries, pid != from, do: send(pid, msg)
    end)
  end
end

defmodule Collector do
  # Keeps what it gets; checks {:seq, Sender, I} streams for order.
  def start(topic) do
    spawn(fn ->
      {:ok, _} = StandIn.PubSub.subscribe(Demo.PubSub, topic)
      loop([], %{}, 0, 0)
    end)
  end

  defp loop(got, last, n, bad) do
    receive do
      {:get, from} -> send(from, {:got, self(), Enum.reverse(got)}); loop(got, last, n, bad)
      {:stats, from} -> send(from, {:stats, self(), n, bad}); loop(got, last, n, bad)
      {:seq, s, i} ->
        ok = Map.get(last, s, 0) + 1 == i
        loop(got, Map.put(last, s, i), n + 1, if(ok, do: bad, else: bad + 1))
      m -> loop([m | got], last, n, bad)
    end
  end
end

:ok = StandIn.PubSub.start(Demo.PubSub, 3)
sub = Collector.start("t")
sub2 = Collector.start("t")
Process.register(sub, :sub)
Process.register(sub2, :sub2)
Process.register(self(), :ctl)
IO.puts("ready")

ctl = fn ctl ->
  receive do
    {:broadcast, reply, msg} -> StandIn.PubSub.broadcast(Demo.PubSub, "t", msg); send(reply, :done)
    {:broadcast_from, reply, msg} -> StandIn.PubSub.broadcast(Demo.PubSub, "t", msg, sub2); send(reply, :done)
    {:direct, reply, node, msg} -> StandIn.PubSub.direct_broadcast(node, Demo.PubSub, "t", msg); send(reply, :done)
    {:seq, reply, senders, each} ->
      me = self()
      for s <- 1..senders do
        spawn(fn ->
          for i <- 1..each, do: StandIn.PubSub.broadcast(Demo.PubSub, "t", {:seq, {:e, s}, i})
          send(me, :sent)
        end)
      end
      for _ <- 1..senders, do: (receive do :sent -> :ok end)
      send(reply, :done)
    {:groups, reply} -> send(reply, {:groups, :lists.sort(:pg.which_groups(Phoenix.PubSub))})
    :stop -> System.halt(0)
  end
  ctl.(ctl)
end
ctl.(ctl)
"##;

/// A nodus subscriber: keeps messages, checks `{seq, Sender, I}` order.
fn collector(node: &Node, ps: &PubSub) -> Pid {
    let pid = node.spawn(|mut me| async move {
        let mut got: Vec<Term> = Vec::new();
        let mut last: HashMap<Term, i64> = HashMap::new();
        let (mut n, mut bad) = (0i64, 0i64);
        while let Some(m) = me.recv().await {
            match m.as_tuple() {
                Some([tag, Term::Pid(from)]) if tag.is_atom("get") => {
                    let reply = Term::tuple(vec![
                        Term::atom("got"),
                        Term::from(me.pid().clone()),
                        Term::list(got.clone()),
                    ]);
                    let _ = me.send(from, reply).await;
                }
                Some([tag, Term::Pid(from)]) if tag.is_atom("stats") => {
                    let reply = Term::tuple(vec![
                        Term::atom("stats"),
                        Term::from(me.pid().clone()),
                        Term::from(n),
                        Term::from(bad),
                    ]);
                    let _ = me.send(from, reply).await;
                }
                Some([tag, s, Term::Int(i)]) if tag.is_atom("seq") => {
                    let l = last.entry(s.clone()).or_insert(0);
                    if *l + 1 != *i {
                        bad += 1;
                    }
                    *l = *i;
                    n += 1;
                }
                _ => got.push(m),
            }
        }
    });
    ps.subscribe(&pid, "t");
    pid
}

async fn ask(me: &mut Process, to: &Pid, what: &str) -> Vec<Term> {
    let _ = me
        .send(
            to,
            Term::tuple(vec![Term::atom(what), Term::from(me.pid().clone())]),
        )
        .await;
    let want = to.clone();
    let r = me
        .recv_match(
            move |m| matches!(m.as_tuple(), Some([_, Term::Pid(p), ..]) if *p == want),
            WAIT,
        )
        .await
        .expect("answer");
    r.as_tuple().map(|t| t[2..].to_vec()).unwrap_or_default()
}

async fn ask_named(me: &mut Process, name: &str, what: &str) -> Vec<Term> {
    let pid = match me
        .node()
        .rpc(E, "erlang", "whereis", vec![Term::atom(name)], WAIT)
        .await
        .expect("whereis")
    {
        Term::Pid(p) => p,
        other => panic!("{name}: {other:?}"),
    };
    ask(me, &pid, what).await
}

async fn ctl(me: &mut Process, msg: Vec<Term>) -> Term {
    let mut items = vec![msg[0].clone(), Term::from(me.pid().clone())];
    items.extend(msg[1..].iter().cloned());
    let pid = me.pid().clone();
    me.node()
        .send_named(&pid, "ctl", E, Term::tuple(items))
        .await
        .expect("send ctl");
    me.recv_match(
        |m| m.is_atom("done") || matches!(m.as_tuple(), Some([t, _]) if t.is_atom("groups")),
        WAIT,
    )
    .await
    .unwrap_or_else(|| {
        panic!(
            "ctl answer; mailbox: {:?}",
            std::iter::from_fn(|| me.try_recv()).collect::<Vec<_>>()
        )
    })
}

fn msgs(got: &[Term]) -> Vec<Term> {
    match got.first() {
        Some(Term::List(l)) => l.to_vec(),
        _ => Vec::new(),
    }
}

async fn node(name: &str, epmd: u16) -> Node {
    Node::builder(name)
        .cookie("c")
        .epmd_port(epmd)
        .start()
        .await
        .expect("node")
}

/// Polls until `cond` holds.
async fn until(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !cond().await {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_cross_nodus_and_a_phoenix_pubsub_stand_in() {
    let epmd = support::free_port();
    let dir = support::home("iex-pubsub");
    let a = node(A, epmd).await;
    let b = node(B, epmd).await;
    let (ex, rx) = support::elixir(epmd, &dir, E, "c", STAND_IN);
    support::wait_line(&rx, "ready");
    let psa = PubSub::start(
        &a,
        "Demo.PubSub",
        Options {
            pool_size: 4,
            broadcast_pool_size: None,
        },
    )
    .await
    .expect("pubsub a");
    let psb = PubSub::start(
        &b,
        "Demo.PubSub",
        Options {
            pool_size: 2,
            broadcast_pool_size: None,
        },
    )
    .await
    .expect("pubsub b");
    assert_eq!(psa.adapter_name().as_str(), "Elixir.Demo.PubSub.Adapter");
    assert!(a.ping(E).await && b.ping(E).await && a.ping(B).await);
    let mut me = a.process();

    // Membership: every node's workers in the scope, and B joined a
    // worker to E's third group.
    let groups = |n: usize| -> Vec<Term> {
        (1..=n)
            .map(|i| {
                if i == 1 {
                    Term::atom("Elixir.Demo.PubSub.Adapter")
                } else {
                    Term::atom(&format!("Elixir.Demo.PubSub.Adapter_{i}"))
                }
            })
            .collect()
    };
    until("B serves E's third group", async || {
        nodus::pg::get_local_members(&b, nodus::pubsub::SCOPE, &groups(3)[2]).len() == 1
    })
    .await;
    until("every worker seen by E", async || {
        let g = ctl(&mut me, vec![Term::atom("groups")]).await;
        let want = Term::tuple(vec![Term::atom("groups"), Term::list(groups(4))]);
        g == want
            && nodus::pg::get_members(&a, nodus::pubsub::SCOPE, &groups(1)[0]).len() == 3
            && nodus::pg::get_members(&b, nodus::pubsub::SCOPE, &groups(1)[0]).len() == 3
    })
    .await;

    let sa = collector(&a, &psa);
    let sb = collector(&b, &psb);

    // From nodus A, by several senders (each hashes to a group; E has no
    // fourth group and B no third or fourth: each node still gets one).
    let mut sent = Vec::new();
    for i in 0..12i64 {
        let sender = a.spawn(|_me| async move {});
        let m = Term::tuple(vec![Term::atom("from_a"), Term::from(i)]);
        psa.broadcast_from(&sender, "t", m.clone())
            .expect("broadcast");
        sent.push(m);
    }
    // From E (its stand-in picks one of its three groups).
    for i in 0..6i64 {
        let m = Term::tuple(vec![Term::atom("from_e"), Term::from(i)]);
        ctl(&mut me, vec![Term::atom("broadcast"), m.clone()]).await;
        sent.push(m);
    }
    // broadcast_from: skips the sender on its own node only.
    let skip_a = Term::atom("skip_a");
    psa.broadcast_from(&sa, "t", skip_a.clone())
        .expect("broadcast_from");
    let skip_e = Term::atom("skip_e");
    ctl(&mut me, vec![Term::atom("broadcast_from"), skip_e.clone()]).await;
    // direct_broadcast: one node.
    let to_e = Term::atom("direct_to_e");
    psa.direct_broadcast(E, "t", to_e.clone())
        .await
        .expect("direct");
    let to_b = Term::atom("direct_to_b");
    ctl(
        &mut me,
        vec![Term::atom("direct"), Term::atom(B), to_b.clone()],
    )
    .await;
    // local_broadcast: this node only.
    let local_b = Term::atom("local_b");
    psb.local_broadcast("t", &local_b);

    let count = |v: &[Term], t: &Term| v.iter().filter(|x| *x == t).count();
    let expect = |who: &str, got: &[Term], extra: &[(&Term, usize)]| {
        for m in &sent {
            assert_eq!(count(got, m), 1, "{who}: {m:?} in {got:?}");
        }
        for (m, n) in extra {
            assert_eq!(count(got, m), *n, "{who}: {m:?} in {got:?}");
        }
        let n: usize = sent.len() + extra.iter().map(|(_, n)| n).sum::<usize>();
        assert_eq!(got.len(), n, "{who}: {got:?}");
    };
    let total_a = sent.len() + 1; // skip_e
    until("A's subscriber has all", async || {
        msgs(&ask(&mut me, &sa, "get").await).len() >= total_a
    })
    .await;
    until("B's subscriber has all", async || {
        msgs(&ask(&mut me, &sb, "get").await).len() >= sent.len() + 4
    })
    .await;
    until("E's subscriber has all", async || {
        msgs(&ask_named(&mut me, "sub", "get").await).len() >= sent.len() + 3
    })
    .await;
    until("E's sub2 has all", async || {
        msgs(&ask_named(&mut me, "sub2", "get").await).len() >= sent.len() + 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // nothing more may come
    let ga = msgs(&ask(&mut me, &sa, "get").await);
    expect(
        "A",
        &ga,
        &[
            (&skip_a, 0),
            (&skip_e, 1),
            (&to_e, 0),
            (&to_b, 0),
            (&local_b, 0),
        ],
    );
    let gb = msgs(&ask(&mut me, &sb, "get").await);
    expect(
        "B",
        &gb,
        &[
            (&skip_a, 1),
            (&skip_e, 1),
            (&to_e, 0),
            (&to_b, 1),
            (&local_b, 1),
        ],
    );
    let ge = msgs(&ask_named(&mut me, "sub", "get").await);
    expect(
        "E",
        &ge,
        &[
            (&skip_a, 1),
            (&skip_e, 1),
            (&to_e, 1),
            (&to_b, 0),
            (&local_b, 0),
        ],
    );
    let ge2 = msgs(&ask_named(&mut me, "sub2", "get").await);
    expect(
        "E sub2",
        &ge2,
        &[
            (&skip_a, 1),
            (&skip_e, 0),
            (&to_e, 1),
            (&to_b, 0),
            (&local_b, 0),
        ],
    );

    // 100,000 broadcasts: 2 senders on A, 1 on B, 2 on E, 20,000 each;
    // every subscriber gets each once, each sender's in order.
    const EACH: i64 = 20_000;
    let mut tasks = Vec::new();
    for (k, ps) in [(1, psa.clone()), (2, psa.clone()), (3, psb.clone())] {
        let node = ps.node().clone();
        tasks.push(tokio::spawn(async move {
            let me = node.process();
            for i in 1..=EACH {
                let m = Term::tuple(vec![Term::atom("seq"), Term::from(k as i64), Term::from(i)]);
                ps.broadcast_from(me.pid(), "t", m).expect("broadcast");
                if i % 1000 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    let done = ctl(
        &mut me,
        vec![Term::atom("seq"), Term::from(2i64), Term::from(EACH)],
    )
    .await;
    assert!(done.is_atom("done"));
    for t in tasks {
        t.await.expect("sender");
    }
    let total = 5 * EACH;
    let stats_ok = |s: &[Term]| s == [Term::from(total), Term::from(0i64)];
    until("A's subscriber has 100,000 in order", async || {
        stats_ok(&ask(&mut me, &sa, "stats").await)
    })
    .await;
    until("B's subscriber has 100,000 in order", async || {
        stats_ok(&ask(&mut me, &sb, "stats").await)
    })
    .await;
    until("E's subscriber has 100,000 in order", async || {
        stats_ok(&ask_named(&mut me, "sub", "stats").await)
    })
    .await;

    // A subscriber that exits is dropped from the registry.
    let gone = a.spawn(|_me| async move {});
    psa.subscribe(&gone, "t");
    until("a dead subscriber is dropped", async || {
        psa.subscribers("t").len() == 1
    })
    .await;

    let pid = me.pid().clone();
    let _ = a.send_named(&pid, "ctl", E, Term::atom("stop")).await;
    a.shutdown();
    b.shutdown();
    drop(ex);
    let _ = std::fs::remove_dir_all(&dir);
}
