//! The nodus side of `bench/dist.sh`.
//!
//! `dist_bench server NAME COOKIE EPMD_PORT` runs a node with the bench
//! services (`sink` counts messages and answers `{done, From}` with
//! `{count, N}`; `echo` answers `{From, Msg}` with `Msg`; `srv` answers
//! gen_server calls with `ok`). `dist_bench client NAME COOKIE EPMD_PORT
//! PEER` measures against a peer running the same services (nodus or
//! `bench/dist_bench.erl`) and prints `result <metric> <value>` lines.
//!
//! Environment: `NODUS_RUNTIME=current` (one thread instead of two
//! workers), `NODUS_BUSY_POLL_US=N` (the busy-poll window, see
//! `NodeBuilder::busy_poll`), `NODUS_BUSY_LIMIT=BYTES`
//! (`NodeBuilder::dist_buf_busy_limit`), `NODUS_BENCH_ONLY=small,1KiB,1MiB,rtt,call` (only these phases).

#[path = "common/bench_runtime.rs"]
mod bench_runtime;

use std::time::{Duration, Instant};

use nodus::gen_server::{reply, Call};
use nodus::Node;
use nodus_term::Term;

const SMALL: usize = 200_000;
const KIB: usize = 50_000;
const MIB: usize = 200;
const RTT: usize = 5_000;
/// Untimed round trips before the timed ones (in every client alike).
const WARMUP: usize = 1_000;

fn args() -> Vec<String> {
    std::env::args().skip(1).collect()
}

/// The runtime: `NODUS_RUNTIME=current` runs the node on one thread,
/// otherwise two worker threads.
fn main() {
    // Logs (to stderr) only when asked for with RUST_LOG.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    match bench_runtime::build() {
        Ok(rt) => rt.block_on(run()),
        Err(e) => eprintln!("dist_bench: {e}"),
    }
}

async fn run() {
    let a = args();
    if a.len() < 4 {
        eprintln!("usage: dist_bench server|client NAME COOKIE EPMD_PORT [PEER]");
        std::process::exit(2);
    }
    let epmd: u16 = a[3].parse().unwrap_or(4369);
    let mut builder = Node::builder(a[1].clone());
    if let Some(us) = std::env::var("NODUS_BUSY_POLL_US")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        builder = builder.busy_poll(Duration::from_micros(us));
    }
    if let Some(bytes) = std::env::var("NODUS_BUSY_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        builder = builder.dist_buf_busy_limit(bytes);
    }
    let node = match builder.cookie(a[2].clone()).epmd_port(epmd).start().await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("dist_bench: {e}");
            std::process::exit(1);
        }
    };
    match (a[0].as_str(), a.get(4)) {
        ("server", _) => server(&node).await,
        ("client", Some(peer)) => {
            // The client is a process like any other: a task on the
            // runtime's workers, not the thread that started the runtime.
            let (node, peer) = (node.clone(), peer.clone());
            let _ = tokio::spawn(async move { client(&node, &peer).await }).await;
        }
        _ => std::process::exit(2),
    }
}

async fn server(node: &Node) {
    let sink = node.spawn(|mut me| async move {
        let mut n: i64 = 0;
        while let Some(m) = me.recv().await {
            match m.as_tuple() {
                Some([t, Term::Pid(from)]) if t.is_atom("done") => {
                    let _ = me
                        .node()
                        .clone()
                        .send(from, Term::tuple(vec![Term::atom("count"), Term::Int(n)]))
                        .await;
                    n = 0;
                }
                _ => n += 1,
            }
        }
    });
    let echo = node.spawn(|mut me| async move {
        while let Some(m) = me.recv().await {
            if let Some([Term::Pid(from), msg]) = m.as_tuple() {
                let _ = me.node().clone().send(from, msg.clone()).await;
            }
        }
    });
    let srv = node.spawn(|mut me| async move {
        while let Some(m) = me.recv().await {
            if let Some(Call { from, .. }) = Call::parse(&m) {
                reply(me.node(), &from, Term::atom("ok")).await;
            }
        }
    });
    for (n, p) in [("sink", sink), ("echo", echo), ("srv", srv)] {
        let _ = node.register(n, &p);
    }
    println!("ready");
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

fn pct(mut v: Vec<Duration>, p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1e6
}

async fn client(node: &Node, peer: &str) {
    let mut me = node.process();
    let pid = me.pid().clone();
    if !node.ping(peer).await {
        eprintln!("dist_bench: {peer} does not answer");
        std::process::exit(1);
    }
    let only = std::env::var("NODUS_BENCH_ONLY").unwrap_or_default();
    let run = |phase: &str| only.is_empty() || only.split(',').any(|p| p == phase);
    let mut one_way = async |label: &str, msg: Term, n: usize, bytes: usize| {
        let t0 = Instant::now();
        for _ in 0..n {
            let _ = node.send_named(&pid, "sink", peer, msg.clone()).await;
        }
        let done = Term::tuple(vec![Term::atom("done"), Term::from(pid.clone())]);
        let _ = node.send_named(&pid, "sink", peer, done).await;
        let got = me
            .recv_match(
                |m| matches!(m.as_tuple(), Some([t, _]) if t.is_atom("count")),
                Duration::from_secs(300),
            )
            .await;
        let secs = t0.elapsed().as_secs_f64();
        let count = got
            .as_ref()
            .and_then(Term::as_tuple)
            .and_then(|t| t[1].as_i64())
            .unwrap_or(0);
        assert_eq!(
            count as usize, n,
            "{label}: the sink counted {count} of {n}"
        );
        if bytes == 0 {
            println!("result {label}_msgs_per_s {:.0}", n as f64 / secs);
        } else {
            println!(
                "result {label}_MB_per_s {:.1}",
                (n * bytes) as f64 / secs / 1e6
            );
        }
    };
    if run("small") {
        let small = Term::tuple(vec![Term::atom("hello"), Term::Int(42)]);
        one_way("small", small, SMALL, 0).await;
    }
    if run("1KiB") {
        one_way("1KiB", Term::binary(vec![1u8; 1024]), KIB, 1024).await;
    }
    if run("1MiB") {
        one_way("1MiB", Term::binary(vec![1u8; 1 << 20]), MIB, 1 << 20).await;
    }
    if run("rtt") {
        ping_pong(node, &mut me, peer).await;
    }
    if run("call") {
        calls(&mut me, peer).await;
    }
    node.shutdown();
}

async fn ping_pong(node: &Node, me: &mut nodus::Process, peer: &str) {
    let pid = me.pid().clone();
    let mut lat = Vec::with_capacity(WARMUP + RTT);
    for i in 0..WARMUP + RTT {
        let t0 = Instant::now();
        let msg = Term::tuple(vec![Term::from(pid.clone()), Term::Int(i as i64)]);
        let _ = node.send_named(&pid, "echo", peer, msg).await;
        let want = Term::Int(i as i64);
        let got = me
            .recv_match(move |m| *m == want, Duration::from_secs(10))
            .await;
        if got.is_none() {
            eprintln!("dist_bench: no reply to ping {i} within 10 s");
        }
        lat.push(t0.elapsed());
    }
    let lat = lat.split_off(WARMUP);
    println!("result rtt_p50_us {:.1}", pct(lat.clone(), 0.5));
    println!("result rtt_p99_us {:.1}", pct(lat, 0.99));
}

async fn calls(me: &mut nodus::Process, peer: &str) {
    let target = Term::tuple(vec![Term::atom("srv"), Term::atom(peer)]);
    let mut lat = Vec::with_capacity(WARMUP + RTT);
    for _ in 0..WARMUP + RTT {
        let t0 = Instant::now();
        let _ = me
            .call(&target, Term::atom("ping"), Duration::from_secs(10))
            .await;
        lat.push(t0.elapsed());
    }
    let lat = lat.split_off(WARMUP);
    println!("result call_p50_us {:.1}", pct(lat.clone(), 0.5));
    println!("result call_p99_us {:.1}", pct(lat, 0.99));
}
