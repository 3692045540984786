//! `dist_auto_connect`, `inet_dist_listen_min/max` and hidden nodes, with
//! two nodus nodes in one process.

use std::time::Duration;

use nodus::net_kernel::AutoConnect;
use nodus::Node;
use nodus_term::{Atom, Term};

mod support;

async fn node(name: &str, epmd: u16, policy: AutoConnect) -> Node {
    Node::builder(name)
        .cookie("k")
        .epmd_port(epmd)
        .auto_connect(policy)
        .start()
        .await
        .expect("node")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_and_once_limit_automatic_connections() {
    let epmd = support::free_port();
    let b = node("acb@127.0.0.1", epmd, AutoConnect::Always).await;
    let mut inbox = b.process();
    b.register("inbox", inbox.pid()).expect("register");

    let never = node("acnever@127.0.0.1", epmd, AutoConnect::Never).await;
    let me = never.process();
    let sent = never
        .send_named(me.pid(), "inbox", "acb@127.0.0.1", Term::atom("x"))
        .await;
    assert!(sent.is_err(), "never: a send must not connect");
    assert!(
        !never.ping("acb@127.0.0.1").await,
        "never: ping is pang, as in OTP"
    );
    assert!(never.nodes().is_empty());
    // An explicit connect (net_kernel:connect_node) still works.
    assert!(never.connect("acb@127.0.0.1").await);
    never
        .send_named(
            me.pid(),
            "inbox",
            "acb@127.0.0.1",
            Term::atom("after_connect"),
        )
        .await
        .expect("send on the explicit connection");
    let got = inbox.recv_match(|_| true, Duration::from_secs(10)).await;
    assert_eq!(got, Some(Term::atom("after_connect")));

    let once = node("aconce@127.0.0.1", epmd, AutoConnect::Once).await;
    assert!(
        once.ping("acb@127.0.0.1").await,
        "once: the first connection is automatic"
    );
    assert!(once.disconnect("acb@127.0.0.1"));
    let me2 = once.process();
    let again = once
        .send_named(me2.pid(), "inbox", "acb@127.0.0.1", Term::atom("y"))
        .await;
    assert!(again.is_err(), "once: no automatic reconnection");
    assert!(once.connect("acb@127.0.0.1").await);
    for n in [&b, &never, &once] {
        n.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_port_range_and_hidden_nodes() {
    let epmd = support::free_port();
    let p = support::free_port();
    let a = Node::builder("lpa@127.0.0.1")
        .cookie("k")
        .epmd_port(epmd)
        .listen_ports(p, p)
        .start()
        .await
        .expect("a");
    assert_eq!(a.port(), p);
    let entry = nodus::erl_epmd::port_please("127.0.0.1", epmd, "lpa")
        .await
        .expect("epmd")
        .expect("registered");
    assert_eq!(entry.port, p);
    // The range is taken: a second node on it cannot start.
    let clash = Node::builder("lpb@127.0.0.1")
        .cookie("k")
        .epmd_port(epmd)
        .listen_ports(p, p)
        .start()
        .await;
    assert!(clash.is_err());
    // A hidden node is in nodes(hidden), not in nodes().
    let h = Node::builder("lph@127.0.0.1")
        .cookie("k")
        .epmd_port(epmd)
        .published(false)
        .start()
        .await
        .expect("h");
    assert!(h.ping("lpa@127.0.0.1").await);
    assert!(a.nodes().is_empty());
    assert_eq!(a.nodes_hidden(), vec![Atom::new("lph@127.0.0.1")]);
    assert_eq!(a.connected(), vec![Atom::new("lph@127.0.0.1")]);
    a.shutdown();
    h.shutdown();
}
