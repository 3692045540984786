//! Two nodus nodes in one process: ping, messages, rpc through rex, links
//! across the connection, and the embedded EPMD shared between them.

use std::time::Duration;

use nodus::{Exception, Node};
use nodus_term::Term;

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodus_nodes_talk() {
    let epmd = support::free_port();
    let n1 = Node::builder("nn1@127.0.0.1")
        .cookie("k")
        .epmd_port(epmd)
        .start()
        .await
        .expect("n1");
    let n2 = Node::builder("nn2@127.0.0.1")
        .cookie("k")
        .epmd_port(epmd)
        .start()
        .await
        .expect("n2");
    assert!(n1.embedded_epmd_names().is_some() && n2.embedded_epmd_names().is_none());
    n1.register_sync_fn("m", "double", |_, a| match a {
        [Term::Int(i)] => Ok(Term::Int(i * 2)),
        _ => Err(Exception::Error(Term::atom("badarg"))),
    });

    assert!(n2.ping("nn1@127.0.0.1").await);
    assert_eq!(n1.nodes(), vec![nodus_term::Atom::new("nn2@127.0.0.1")]);
    let t = Duration::from_secs(5);
    assert_eq!(
        n2.rpc("nn1@127.0.0.1", "m", "double", vec![Term::Int(21)], t)
            .await
            .expect("rpc"),
        Term::Int(42)
    );
    assert!(n2
        .rpc("nn1@127.0.0.1", "erlang", "node", vec![], t)
        .await
        .expect("rpc")
        .is_atom("nn1@127.0.0.1"));
    let bad = n2
        .rpc("nn1@127.0.0.1", "m", "nope", vec![], t)
        .await
        .expect("rpc");
    assert!(
        bad.to_string().starts_with("{badrpc,{'EXIT',{undef,"),
        "{bad}"
    );

    // A message and a link across the connection.
    let mut inbox = n1.process();
    let target = inbox.pid().clone();
    n2.send(&target, Term::atom("hello")).await.expect("send");
    assert_eq!(
        inbox.recv_match(|_| true, t).await,
        Some(Term::atom("hello"))
    );
    let watcher = n2.process();
    watcher.trap_exit(true);
    watcher.link(&target).await;
    let mut watcher = watcher;
    tokio::time::sleep(Duration::from_millis(100)).await;
    inbox.exit(Term::atom("done"));
    let exit = watcher
        .recv_match(
            |m| matches!(m.as_tuple(), Some([t, ..]) if t.is_atom("EXIT")),
            t,
        )
        .await;
    assert_eq!(
        exit,
        Some(Term::tuple(vec![
            Term::atom("EXIT"),
            Term::from(target),
            Term::atom("done")
        ]))
    );

    // A wrong cookie is refused between nodus nodes too.
    let n3 = Node::builder("nn3@127.0.0.1")
        .cookie("other")
        .epmd_port(epmd)
        .start()
        .await
        .expect("n3");
    assert!(!n3.ping("nn1@127.0.0.1").await);
    n3.shutdown();
    n2.shutdown();
    n1.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_connects_end_with_one_connection() {
    for round in 0..20 {
        // A fresh EPMD each round: a stopping node stops the EPMD it embeds.
        let epmd = support::free_port();
        let a = Node::builder(format!("sa{round}@127.0.0.1"))
            .cookie("k")
            .epmd_port(epmd)
            .start()
            .await
            .expect("a");
        let b = Node::builder(format!("sb{round}@127.0.0.1"))
            .cookie("k")
            .epmd_port(epmd)
            .start()
            .await
            .expect("b");
        let (na, nb) = (
            format!("sa{round}@127.0.0.1"),
            format!("sb{round}@127.0.0.1"),
        );
        let (pa, pb) = tokio::join!(a.ping(&nb), b.ping(&na));
        assert!(pa && pb, "round {round}: both pings answer pong");
        assert_eq!(a.nodes().len(), 1);
        assert_eq!(b.nodes().len(), 1);
        b.shutdown();
        a.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_of_a_disconnected_connection_arrives_after_its_down() {
    // B streams to a process of A; A disconnects. The DOWN of B's sender
    // (noconnection) must be the last thing that came over that
    // connection: no message of it is delivered after the DOWN. Neither
    // node connects again by itself (dist_auto_connect never).
    use nodus::net_kernel::AutoConnect;
    let epmd = support::free_port();
    let start = |name: &'static str| async move {
        Node::builder(name)
            .cookie("k")
            .epmd_port(epmd)
            .auto_connect(AutoConnect::Never)
            .start()
            .await
            .expect("node")
    };
    let a = start("nda@127.0.0.1").await;
    let b = start("ndb@127.0.0.1").await;
    for round in 0..20 {
        assert!(b.connect("nda@127.0.0.1").await, "round {round}: connect");
        let mut sink = a.process();
        let to = sink.pid().clone();
        let streamer = b.spawn(move |me| async move {
            let mut i = 0i64;
            while me.send(&to, Term::Int(i)).await.is_ok() {
                i += 1;
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        let mref = sink.monitor(&Term::from(streamer.clone())).await;
        // Some messages first, so the connection is busy when it goes.
        for _ in 0..200 {
            sink.recv_match(|m| matches!(m, Term::Int(_)), Duration::from_secs(10))
                .await
                .expect("streamed message");
        }
        assert!(a.disconnect("ndb@127.0.0.1"));
        // In arrival order: messages, then the DOWN, then nothing.
        let is_down =
            |m: &Term| matches!(m.as_tuple(), Some([d, r, ..]) if d.is_atom("DOWN") && *r == mref);
        loop {
            let m = sink
                .recv_match(|_| true, Duration::from_secs(10))
                .await
                .expect("messages, then the DOWN after the disconnect");
            if is_down(&m) {
                assert!(m.to_string().contains("noconnection"), "{m}");
                break;
            }
            assert!(matches!(m, Term::Int(_)), "round {round}: {m}");
        }
        let late = sink.recv_match(|_| true, Duration::from_millis(300)).await;
        assert_eq!(
            late, None,
            "round {round}: a message of the closed connection after its DOWN"
        );
        b.exit_pid(&streamer, &streamer, Term::atom("kill"));
    }
    a.shutdown();
    b.shutdown();
}
