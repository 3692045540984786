//! The PubSub from Rust on one node and between two nodus nodes: typed
//! stream subscriptions, metadata and a custom dispatcher, unsubscribe,
//! dead subscribers dropped, a subscriber that never reads blocking no
//! one, and a panicking dispatcher losing only its message.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nodus::pubsub::{Dispatcher, Options, PubSub, Subscribers};
use nodus::{Node, Pid, Term};
use serde::Deserialize;

mod support;

const WAIT: Duration = Duration::from_secs(30);

async fn node(name: &str, epmd: u16) -> Node {
    Node::builder(name)
        .cookie("c")
        .epmd_port(epmd)
        .start()
        .await
        .expect("node")
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Chat {
    Said(String, i64),
}

struct Counting(Arc<AtomicUsize>);

impl Dispatcher for Counting {
    fn dispatch(&self, _node: &Node, subs: &Subscribers<'_>, _from: Option<&Pid>, message: &Term) {
        if message.is_atom("boom") {
            panic!("dispatcher boom");
        }
        for s in subs.iter() {
            // Only subscribers that asked for it (metadata `fastlane`).
            if s.metadata().is_atom("fastlane") {
                self.0.fetch_add(1, Ordering::SeqCst);
                s.send(Term::tuple(vec![Term::atom("custom"), message.clone()]));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_between_two_nodus_nodes() {
    let epmd = support::free_port();
    let a = node("rpa@127.0.0.1", epmd).await;
    let b = node("rpb@127.0.0.1", epmd).await;
    let psa = PubSub::start(&a, "Chat.PubSub", Options::default())
        .await
        .expect("a");
    let psb = PubSub::start(
        &b,
        "Chat.PubSub",
        Options {
            pool_size: 2,
            broadcast_pool_size: Some(1),
        },
    )
    .await
    .expect("b");
    assert!(matches!(
        PubSub::start(&a, "Chat.PubSub", Options::default()).await,
        Err(nodus::pubsub::Error::AlreadyStarted(_))
    ));
    assert!(matches!(
        PubSub::start(
            &a,
            "Other.PubSub",
            Options {
                pool_size: 1,
                broadcast_pool_size: Some(2)
            }
        )
        .await,
        Err(nodus::pubsub::Error::Options { .. })
    ));
    assert!(a.ping(b.name().as_str()).await);
    let adapter = Term::atom("Elixir.Chat.PubSub.Adapter");
    let deadline = std::time::Instant::now() + WAIT;
    while nodus::pg::get_members(&a, nodus::pubsub::SCOPE, &adapter).len() < 2 {
        assert!(std::time::Instant::now() < deadline, "workers not seen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A typed stream on b gets a's broadcasts, decoded.
    let mut chat = psb.stream::<Chat>("chat");
    let said = Term::tuple(vec![
        Term::atom("said"),
        Term::binary("hi"),
        Term::from(7i64),
    ]);
    psa.broadcast("chat", said).expect("broadcast");
    let got = tokio::time::timeout(WAIT, chat.next())
        .await
        .expect("in time");
    assert_eq!(
        got.expect("open").expect("decoded"),
        Chat::Said("hi".into(), 7)
    );
    // A message of another shape is an error, and the stream goes on.
    psa.broadcast("chat", Term::atom("noise"))
        .expect("broadcast");
    let got = tokio::time::timeout(WAIT, chat.next())
        .await
        .expect("in time");
    assert!(got.expect("open").is_err());

    // A subscriber that never reads blocks neither the broadcast nor the
    // other subscriber.
    let _lazy = {
        let p = b.process();
        psb.subscribe(p.pid(), "flood");
        p
    };
    let mut eager = psb.stream::<i64>("flood");
    for i in 0..20_000i64 {
        psa.broadcast("flood", Term::from(i)).expect("broadcast");
    }
    for i in 0..20_000i64 {
        let got = tokio::time::timeout(WAIT, eager.next())
            .await
            .expect("in time");
        assert_eq!(got.expect("open").expect("int"), i);
    }

    // A custom dispatcher sees the subscribers and their metadata.
    let count = Arc::new(AtomicUsize::new(0));
    psb.set_dispatcher("Elixir.Test.Dispatcher", Arc::new(Counting(count.clone())))
        .expect("set");
    let mut fast = b.process();
    psb.subscribe_with(fast.pid(), "custom", Term::atom("fastlane"));
    let plain = b.process();
    psb.subscribe(plain.pid(), "custom");
    psa.broadcast_with(None, "custom", Term::atom("boom"), "Elixir.Test.Dispatcher")
        .expect("broadcast");
    psa.broadcast_with(None, "custom", Term::atom("x"), "Elixir.Test.Dispatcher")
        .expect("broadcast");
    let m = fast
        .recv_match(|_| true, WAIT)
        .await
        .expect("custom delivery");
    assert_eq!(m, Term::tuple(vec![Term::atom("custom"), Term::atom("x")]));
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(plain.queue_len(), 0);

    // Unsubscribe, and a subscriber that exits, are gone from the list.
    psb.unsubscribe(fast.pid(), "custom");
    assert_eq!(psb.subscribers("custom").len(), 1);
    drop(plain);
    let deadline = std::time::Instant::now() + WAIT;
    while !psb.subscribers("custom").is_empty() {
        assert!(std::time::Instant::now() < deadline, "dead subscriber kept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // broadcast_from skips the sender; local_broadcast stays local;
    // direct_broadcast reaches one node.
    let mut a_sub = a.process();
    psa.subscribe(a_sub.pid(), "t");
    let mut b_sub = b.process();
    psb.subscribe(b_sub.pid(), "t");
    psa.broadcast_from(a_sub.pid(), "t", Term::atom("from"))
        .expect("from");
    psa.local_broadcast("t", &Term::atom("local"));
    psb.direct_broadcast(a.name().as_str(), "t", Term::atom("direct"))
        .await
        .expect("direct");
    let m = b_sub.recv_match(|_| true, WAIT).await;
    assert_eq!(m, Some(Term::atom("from")));
    let m1 = a_sub.recv_match(|_| true, WAIT).await;
    let m2 = a_sub.recv_match(|_| true, WAIT).await;
    assert_eq!(
        (m1, m2),
        (Some(Term::atom("local")), Some(Term::atom("direct")))
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(b_sub.queue_len(), 0);
    assert_eq!(a_sub.queue_len(), 0);

    a.shutdown();
    b.shutdown();
}
