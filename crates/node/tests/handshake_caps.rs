//! Handshakes in progress are capped, in total and per source address:
//! a burst of connections past the cap is closed at once, established
//! peers are not delayed, and the cap frees up when the burst goes.

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use nodus::Node;

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_past_the_cap_is_refused_and_peers_keep_talking() {
    let epmd = support::free_port();
    let a = Node::builder("capa@127.0.0.1")
        .cookie("c")
        .epmd_port(epmd)
        .max_handshakes(50, 20)
        .start()
        .await
        .expect("a");
    let b = Node::builder("capb@127.0.0.1")
        .cookie("c")
        .epmd_port(epmd)
        .start()
        .await
        .expect("b");
    assert!(b.ping("capa@127.0.0.1").await, "b reaches a");
    let port = a.port();
    // 200 connections from 127.0.0.1 that never say a word.
    let flood = tokio::task::spawn_blocking(move || {
        let socks: Vec<TcpStream> = (0..200)
            .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
            .collect();
        // Those over the per-address cap (20) are closed at once.
        let mut closed = 0;
        for s in &socks {
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .expect("timeout");
            let mut buf = [0u8; 8];
            if matches!((&*s).read(&mut buf), Ok(0)) {
                closed += 1;
            }
        }
        (socks, closed)
    });
    // Meanwhile the established connection serves calls as before.
    let t0 = Instant::now();
    for _ in 0..20 {
        let r = b
            .rpc(
                "capa@127.0.0.1",
                "erlang",
                "node",
                vec![],
                Duration::from_secs(10),
            )
            .await
            .expect("rpc during the flood");
        assert!(r.is_atom("capa@127.0.0.1"));
    }
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "calls were held up: {:?}",
        t0.elapsed()
    );
    let (socks, closed) = flood.await.expect("flood");
    assert!(
        socks.len() >= 150,
        "only {} connections opened",
        socks.len()
    );
    assert!(
        closed >= socks.len() - 20,
        "{closed} of {} closed at once",
        socks.len()
    );
    drop(socks);
    // The cap is free again: a new peer connects.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = Node::builder("capc@127.0.0.1")
        .cookie("c")
        .epmd_port(epmd)
        .start()
        .await
        .expect("c");
    assert!(
        c.ping("capa@127.0.0.1").await,
        "a new handshake gets through after the burst"
    );
    for n in [&a, &b, &c] {
        n.shutdown();
    }
}
