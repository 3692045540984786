//! The nodus side of `bench/pubsub.sh`: one broadcast to 100,000 local
//! subscribers (until the last has it), sustained deliveries/s on one
//! node and with the subscribers on another node (two nodes in this OS
//! process, over loopback TCP), and memory per subscription. Prints
//! `result <metric> <value>` lines.
//!
//! `pubsub_bench EPMD_PORT [FANOUT] [SUBSCRIBERS] [MESSAGES]` (defaults
//! 100,000, 1,000, 1,000). Tokio's multi-thread runtime with 2 workers
//! (BEAM has 2 schedulers on these machines).
//!
//! Each subscriber is a process that counts what it gets and, at the
//! count it waits for, tells a collector; the time is until the collector
//! has heard from every subscriber, as on the BEAM side.

#[path = "common/bench_runtime.rs"]
mod bench_runtime;

use std::time::{Duration, Instant};

use nodus::pubsub::{Options, PubSub};
use nodus::{Node, Pid, Term};

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |p| p * 4096)
}

/// A subscriber that tells `collector` once it has `want` messages.
fn subscriber(node: &Node, collector: Pid, want: usize) -> Pid {
    node.spawn(move |mut me| async move {
        let mut n = 0;
        while me.recv().await.is_some() {
            n += 1;
            if n == want {
                let _ = me.send(&collector, Term::atom("done")).await;
            }
        }
    })
}

async fn wait_done(me: &mut nodus::Process, n: usize) {
    for _ in 0..n {
        me.recv_match(|m| m.is_atom("done"), Duration::from_secs(120))
            .await
            .expect("every subscriber done");
    }
}

async fn start(
    name: &str,
    epmd: u16,
) -> Result<(Node, PubSub), Box<dyn std::error::Error + Send + Sync>> {
    let node = Node::builder(name)
        .cookie("bench")
        .epmd_port(epmd)
        .start()
        .await?;
    let ps = PubSub::start(&node, "Bench.PubSub", Options::default()).await?;
    Ok((node, ps))
}

async fn run(
    epmd: u16,
    fanout: usize,
    subs: usize,
    msgs: usize,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (a, psa) = start("psbench1@127.0.0.1", epmd).await?;

    // Memory per subscription, then one broadcast to all of them.
    let mut me = a.process();
    let pids: Vec<Pid> = (0..fanout)
        .map(|_| subscriber(&a, me.pid().clone(), 1))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m0 = rss_bytes();
    for p in &pids {
        psa.subscribe(p, "fanout");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m1 = rss_bytes();
    println!(
        "result bytes_per_subscription {}",
        (m1.saturating_sub(m0)) / fanout as u64
    );
    let t = Instant::now();
    psa.broadcast("fanout", Term::atom("hello"))?;
    wait_done(&mut me, fanout).await;
    println!(
        "result fanout_{fanout}_ms {:.1}",
        t.elapsed().as_secs_f64() * 1e3
    );
    for p in &pids {
        a.exit_pid(me.pid(), p, Term::atom("kill"));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Sustained: MSGS broadcasts to SUBS local subscribers.
    for _ in 0..subs {
        let p = subscriber(&a, me.pid().clone(), msgs);
        psa.subscribe(&p, "local");
    }
    let msg = Term::tuple(vec![Term::atom("msg"), Term::binary(b"0123456789abcdef")]);
    let t = Instant::now();
    for _ in 0..msgs {
        psa.broadcast_from(me.pid(), "local", msg.clone())?;
    }
    wait_done(&mut me, subs).await;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "result local_deliveries_per_s {:.0}",
        (subs * msgs) as f64 / secs
    );

    // The same with the subscribers on another node.
    let (b, psb) = start("psbench2@127.0.0.1", epmd).await?;
    assert!(a.ping(b.name().as_str()).await);
    for _ in 0..subs {
        let p = subscriber(&b, me.pid().clone(), msgs);
        psb.subscribe(&p, "remote");
    }
    let adapter = Term::atom("Elixir.Bench.PubSub.Adapter");
    while nodus::pg::get_members(&a, nodus::pubsub::SCOPE, &adapter).len() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t = Instant::now();
    for _ in 0..msgs {
        psa.broadcast_from(me.pid(), "remote", msg.clone())?;
    }
    wait_done(&mut me, subs).await;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "result remote_deliveries_per_s {:.0}",
        (subs * msgs) as f64 / secs
    );
    a.shutdown();
    b.shutdown();
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().collect();
    let epmd: u16 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(4369);
    let arg = |i: usize, d: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let rt = bench_runtime::build()?;
    // The driver (the broadcaster) runs on a runtime worker, as BEAM's
    // runs in a process on a scheduler, not on the thread that waits.
    let driver = run(epmd, arg(2, 100_000), arg(3, 1000), arg(4, 1000));
    rt.block_on(async { tokio::spawn(driver).await? })
}
