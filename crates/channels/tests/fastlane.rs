//! Fastlane: a channel broadcast is encoded once per serializer, not once
//! per client. Two V2 sockets' processes get the very same bytes (one
//! buffer, shared), a V1 socket gets its own encoding; an intercepted
//! event and a subscriber without fastlane get the broadcast struct.

use std::time::Duration;

use nodus::pubsub::{Options, PubSub};
use nodus::{Node, Pid, Term};
use nodus_channels::{parse_broadcast, Endpoint, Payload, Vsn};

mod common;

fn fastlane(pid: &Pid, vsn: Vsn, intercepts: &[&str]) -> Term {
    Term::tuple(vec![
        Term::atom("fastlane"),
        Term::Pid(pid.clone()),
        Term::atom(vsn.module()),
        Term::List(
            intercepts
                .iter()
                .map(|e| Term::binary(e.as_bytes()))
                .collect(),
        ),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_encoding_per_serializer() {
    let epmd = common::free_port();
    let node = Node::builder("chfl@127.0.0.1")
        .cookie("c")
        .epmd_port(epmd)
        .start()
        .await
        .expect("node");
    let ps = PubSub::start(&node, "Fl.PubSub", Options::default())
        .await
        .expect("pubsub");
    let ep = Endpoint::builder(&node, &ps).build().expect("endpoint");
    let mut a = node.process();
    let mut b = node.process();
    let mut v1 = node.process();
    let mut icpt = node.process();
    let mut plain = node.process();
    ps.subscribe_with(a.pid(), "room:f", fastlane(a.pid(), Vsn::V2, &[]));
    ps.subscribe_with(b.pid(), "room:f", fastlane(b.pid(), Vsn::V2, &[]));
    ps.subscribe_with(v1.pid(), "room:f", fastlane(v1.pid(), Vsn::V1, &[]));
    ps.subscribe_with(
        icpt.pid(),
        "room:f",
        fastlane(icpt.pid(), Vsn::V2, &["new"]),
    );
    ps.subscribe(plain.pid(), "room:f");
    ep.broadcast(
        "room:f",
        "new",
        Payload::json(serde_json::json!({"body": "hi"})),
    )
    .expect("broadcast");
    let wait = Duration::from_secs(10);
    let frame = |t: Term| -> bytes::Bytes {
        match t.as_tuple() {
            Some([tag, op, Term::Binary(b)])
                if tag.is_atom("socket_push") && op.is_atom("text") =>
            {
                b.clone()
            }
            _ => panic!("not a fastlane frame: {t}"),
        }
    };
    let fa = frame(
        tokio::time::timeout(wait, a.recv())
            .await
            .expect("a")
            .expect("a"),
    );
    let fb = frame(
        tokio::time::timeout(wait, b.recv())
            .await
            .expect("b")
            .expect("b"),
    );
    let f1 = frame(
        tokio::time::timeout(wait, v1.recv())
            .await
            .expect("v1")
            .expect("v1"),
    );
    assert_eq!(&fa[..], br#"[null,null,"room:f","new",{"body":"hi"}]"#);
    assert_eq!(
        fa.as_ptr(),
        fb.as_ptr(),
        "the two V2 sockets share one encoding"
    );
    assert_eq!(
        &f1[..],
        br#"{"event":"new","payload":{"body":"hi"},"ref":null,"topic":"room:f"}"#
    );
    for p in [&mut icpt, &mut plain] {
        let t = tokio::time::timeout(wait, p.recv())
            .await
            .expect("struct")
            .expect("struct");
        let br = parse_broadcast(&t).expect("the broadcast struct");
        assert_eq!((br.topic, br.event), ("room:f", "new"));
    }
    node.shutdown();
}
