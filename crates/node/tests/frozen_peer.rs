//! A peer frozen with SIGSTOP (its TCP stack up, nothing answering): sends
//! to it never wait for a connection to be set up, the sender learns
//! `nodedown` from the tick timeout, and once the peer resumes messages
//! flow again.

use std::process::Command;
use std::time::{Duration, Instant};

use nodus::{Node, Term};

mod support;

const TICKTIME: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_to_a_frozen_peer_return_at_once_and_nodedown_comes_from_ticks() {
    let epmd = support::free_port();
    let dir = support::home("frozen");
    let (erl, rx) = support::erl(
        epmd,
        &dir,
        &[
            "-name",
            "frozen@127.0.0.1",
            "-setcookie",
            "c",
            "-kernel",
            "net_ticktime",
            "4",
            "-eval",
            "register(sink, spawn(fun Loop() -> receive {From, M} -> From ! {back, M}, Loop(); _ -> Loop() end end)), io:format(\"ready~n\").",
        ],
    );
    support::wait_line(&rx, "ready");
    let node = Node::builder("sender@127.0.0.1")
        .cookie("c")
        .epmd_port(epmd)
        .ticktime(TICKTIME)
        .start()
        .await
        .expect("node");
    let peer = "frozen@127.0.0.1";
    assert!(node.ping(peer).await, "erl answers before it is frozen");

    let mut me = node.process();
    node.monitor_nodes(me.pid());
    let stop = |sig: &str| {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &erl.0.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    };
    stop("STOP");
    let frozen_at = Instant::now();

    // Send for the tick timeout and a whole connection setup after it
    // (net_setuptime is 7 s): every send returns at once.
    let mut slowest = Duration::ZERO;
    let mut sends = 0;
    let mut nodedown_after = None;
    let pid = me.pid().clone();
    while frozen_at.elapsed() < TICKTIME * 2 + Duration::from_secs(9) {
        let t = Instant::now();
        let msg = Term::tuple(vec![Term::from(pid.clone()), Term::from(sends as i64)]);
        node.send_named(&pid, "sink", peer, msg)
            .await
            .expect("a send to an unreachable node is not an error");
        slowest = slowest.max(t.elapsed());
        sends += 1;
        while let Some(m) = me.try_recv() {
            if matches!(m.as_tuple(), Some([tag, n]) if tag.is_atom("nodedown") && n.is_atom(peer))
                && nodedown_after.is_none()
            {
                nodedown_after = Some(frozen_at.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        slowest < Duration::from_millis(500),
        "the slowest of {sends} sends took {slowest:?}"
    );
    let down = nodedown_after.expect("nodedown while the peer is frozen");
    // Ticks: the peer is declared down between 3/4 and 5/4 of the
    // ticktime after it stopped answering (a generous bound here).
    assert!(
        down < TICKTIME * 2 + Duration::from_secs(2),
        "nodedown after {down:?}"
    );

    // Resumed, the peer is reachable again and messages flow.
    stop("CONT");
    let mut back = false;
    for _ in 0..50 {
        if node.ping(peer).await {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(back, "erl answers again once resumed");
    let msg = Term::tuple(vec![Term::from(pid.clone()), Term::atom("after")]);
    node.send_named(&pid, "sink", peer, msg)
        .await
        .expect("send");
    let reply = me
        .recv_match(
            |m| matches!(m.as_tuple(), Some([tag, v]) if tag.is_atom("back") && v.is_atom("after")),
            Duration::from_secs(30),
        )
        .await;
    assert!(
        reply.is_some(),
        "a message sent after the resume is answered"
    );
    node.shutdown();
    drop(erl);
    let _ = std::fs::remove_dir_all(&dir);
}
