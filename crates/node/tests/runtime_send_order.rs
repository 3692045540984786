//! The order in which local messages and signals arrive, as BEAM keeps
//! it, with the mailbox's two queues (senders' and owner's): a process
//! sees its own sends at once; what it sent before a signal, a crash or
//! a message that led to another arrives first; per pair, order holds
//! under load from several threads.

use std::time::Duration;

use nodus::{Node, Pid, Term};

mod support;

const T: Duration = Duration::from_secs(20);

async fn node(name: &str) -> Node {
    Node::builder(format!("{name}@127.0.0.1"))
        .cookie("order")
        .epmd_port(support::free_port())
        .start()
        .await
        .expect("node")
}

fn pair(tag: &str, i: i64) -> Term {
    Term::tuple(vec![Term::atom(tag), Term::Int(i)])
}

fn int_of(m: &Term) -> Option<i64> {
    match m.as_tuple() {
        Some([_, Term::Int(i)]) => Some(*i),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_sees_what_it_sent_itself_at_once() {
    let n = node("order_self").await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    n.spawn(move |mut me| async move {
        let pid = me.pid().clone();
        for i in 0..3 {
            let _ = me.send(&pid, pair("self", i)).await;
        }
        let len = me.queue_len();
        let info_len = me.node().process_info(&pid).map(|i| i.message_queue_len);
        // `receive ... after 0`: nothing waited for in between.
        let first = me.try_recv();
        let _ = tx.send((len, info_len, first));
    });
    let (len, info_len, first) = tokio::time::timeout(T, rx)
        .await
        .expect("in time")
        .expect("answer");
    assert_eq!(len, 3, "queue_len right after three sends to itself");
    assert_eq!(info_len, Some(3), "process_info's message_queue_len");
    assert_eq!(first, Some(pair("self", 0)));
    n.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_process_sent_before_it_crashed_arrives_before_its_exit() {
    let n = node("order_crash").await;
    let mut watcher = n.process();
    watcher.trap_exit(true);
    let to = watcher.pid().clone();
    const N: i64 = 5_000;
    let crasher = n.spawn(move |mut me| async move {
        let _ = me.recv().await; // "go", once linked
        for i in 0..N {
            let _ = me.send(&to, pair("n", i)).await;
        }
        panic!("after {N} sends");
    });
    watcher.link(&crasher).await;
    watcher.send(&crasher, Term::atom("go")).await.expect("go");
    for i in 0..N {
        let m = tokio::time::timeout(T, watcher.recv())
            .await
            .expect("in time")
            .expect("message");
        assert_eq!(
            int_of(&m),
            Some(i),
            "message {i} of {N}, in order, before the EXIT: got {m}"
        );
    }
    let exit = tokio::time::timeout(T, watcher.recv())
        .await
        .expect("in time")
        .expect("EXIT");
    match exit.as_tuple() {
        Some([e, Term::Pid(p), reason]) if e.is_atom("EXIT") && *p == crasher => {
            assert!(reason.to_string().contains("panic"), "{reason}");
        }
        _ => panic!("expected the EXIT after the messages, got {exit}"),
    }
    n.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_before_an_exit_signal_arrives_first() {
    let n = node("order_signal").await;
    for round in 0..200 {
        let mut b = n.process();
        b.trap_exit(true);
        let to = b.pid().clone();
        let a = n.spawn(move |me| async move {
            let _ = me.send(&to, pair("before", round)).await;
            me.node().exit_pid(me.pid(), &to, Term::atom("bye"));
        });
        let m = tokio::time::timeout(T, b.recv())
            .await
            .expect("in time")
            .expect("message");
        assert_eq!(m, pair("before", round), "round {round}: the message first");
        let e = tokio::time::timeout(T, b.recv())
            .await
            .expect("in time")
            .expect("EXIT");
        assert!(
            matches!(e.as_tuple(), Some([x, Term::Pid(p), r]) if x.is_atom("EXIT") && *p == a && r.is_atom("bye")),
            "round {round}: then the exit signal, got {e}"
        );
    }
    n.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_arrives_before_one_it_caused_through_a_third_process() {
    // A sends x to B, then asks C to send y to B: B gets x before y.
    let n = node("order_causal").await;
    let relay = n.spawn(|mut me| async move {
        while let Some(m) = me.recv().await {
            if let Some([Term::Pid(to), y]) = m.as_tuple() {
                let _ = me.send(to, y.clone()).await;
            }
        }
    });
    let mut b = n.process();
    for round in 0..500 {
        let to = b.pid().clone();
        let relay = relay.clone();
        n.spawn(move |me| async move {
            let _ = me.send(&to, pair("x", round)).await;
            let fwd = Term::tuple(vec![Term::from(to.clone()), pair("y", round)]);
            let _ = me.send(&relay, fwd).await;
        });
        let first = tokio::time::timeout(T, b.recv())
            .await
            .expect("in time")
            .expect("x");
        let second = tokio::time::timeout(T, b.recv())
            .await
            .expect("in time")
            .expect("y");
        assert_eq!(
            (first, second),
            (pair("x", round), pair("y", round)),
            "round {round}"
        );
    }
    n.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_pair_order_holds_with_senders_on_several_threads() {
    let n = node("order_pairs").await;
    const SENDERS: i64 = 4;
    const EACH: i64 = 50_000;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let sink: Pid = n.spawn(move |mut me| async move {
        let mut next = vec![0i64; SENDERS as usize];
        let mut wrong = None;
        for _ in 0..SENDERS * EACH {
            let Some(m) = me.recv().await else { break };
            let Some([Term::Int(s), Term::Int(i)]) = m.as_tuple() else {
                wrong = Some(format!("unexpected {m}"));
                break;
            };
            let slot = &mut next[*s as usize];
            if *i != *slot {
                wrong = Some(format!("sender {s}: got {i}, expected {slot}"));
                break;
            }
            *slot += 1;
        }
        let _ = tx.send((next, wrong));
    });
    for s in 0..SENDERS {
        let sink = sink.clone();
        n.spawn(move |me| async move {
            for i in 0..EACH {
                let _ = me
                    .send(&sink, Term::tuple(vec![Term::Int(s), Term::Int(i)]))
                    .await;
                if i % 997 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
    }
    let (next, wrong) = tokio::time::timeout(Duration::from_secs(60), rx)
        .await
        .expect("in time")
        .expect("answer");
    assert_eq!(wrong, None);
    assert_eq!(
        next,
        vec![EACH; SENDERS as usize],
        "every message of every sender"
    );
    n.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_is_made_when_called_as_erlangs_is() {
    // `To ! Msg` sends at once; the returned future only paces the
    // sender. Dropped unawaited, the message is still there.
    let n = node("order_eager").await;
    let mut me = n.process();
    let pid = me.pid().clone();
    let pending = me.send(&pid, pair("eager", 1));
    assert_eq!(me.queue_len(), 1, "queued before the future is awaited");
    drop(pending);
    assert_eq!(me.try_recv(), Some(pair("eager", 1)));
    n.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_sends_to_a_process_that_exits_are_dropped_and_the_next_one_gets_its_own() {
    // A process sending to one other over and over sends past the
    // process table (its last destination is cached): once that process
    // has exited, what is sent to it is dropped, as on BEAM, and the
    // sender's sends to the next process reach that one only.
    let n = node("order_cache").await;
    let (first, first_done) = n.spawn_monitor(|mut me| async move {
        for _ in 0..3 {
            let _ = me.recv().await;
        }
    });
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (second, second_done) = n.spawn_monitor(move |mut me| async move {
        let mut got = Vec::new();
        while let Some(m) = me.recv().await {
            if m.is_atom("stop") {
                break;
            }
            got.push(m);
        }
        let _ = tx.send(got);
    });
    let (f, s) = (first.clone(), second.clone());
    let (sent_tx, sent_rx) = tokio::sync::oneshot::channel();
    n.spawn(move |me| async move {
        for i in 0..3 {
            me.send(&f, pair("first", i)).await.expect("local send");
        }
        assert_eq!(first_done.await, Term::atom("normal"));
        for i in 3..6 {
            // To a dead pid: no error, no delivery anywhere.
            me.send(&f, pair("first", i)).await.expect("local send");
        }
        for i in 0..4 {
            me.send(&s, pair("second", i)).await.expect("local send");
        }
        me.send(&s, Term::atom("stop")).await.expect("local send");
        let _ = sent_tx.send(());
    });
    tokio::time::timeout(T, sent_rx)
        .await
        .expect("in time")
        .expect("sender ran");
    let got = tokio::time::timeout(T, rx)
        .await
        .expect("in time")
        .expect("answer");
    assert_eq!(got, (0..4).map(|i| pair("second", i)).collect::<Vec<_>>());
    assert_eq!(second_done.await, Term::atom("normal"));
    assert!(!n.is_process_alive(&first));
    n.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taken_messages_are_counted_in_the_nodes_reductions() {
    let n = node("order_count").await;
    let before = n.delivered();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let receiver = n.spawn(move |mut me| async move {
        for _ in 0..100 {
            let _ = me.recv().await;
        }
        let _ = tx.send(());
    });
    let me = n.process();
    for i in 0..100 {
        me.send(&receiver, pair("count", i))
            .await
            .expect("local send");
    }
    tokio::time::timeout(T, rx)
        .await
        .expect("in time")
        .expect("received");
    let after = n.delivered();
    assert!(after >= before + 100, "{before} then {after}");
    n.shutdown();
}
