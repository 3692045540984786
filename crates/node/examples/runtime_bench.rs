//! The nodus side of `bench/runtime.sh`: spawn rate and memory per idle
//! process, local send throughput, local gen_server call round trip and
//! calls/s, and the same call across two nodes (two nodes in this OS
//! process, over loopback TCP). Prints `result <metric> <value>` lines.
//!
//! `runtime_bench EPMD_PORT [PROCESSES]` (default 1,000,000 processes).
//! Runs on tokio's multi-thread runtime with 2 workers (BEAM has 2
//! schedulers on these machines); `NODUS_RUNTIME=current` runs it on one
//! thread. The sender and the caller are spawned nodus processes, as in
//! BEAM's side (`bench/runtime_bench.erl`). `NODUS_BENCH_ONLY=spawn,send,call,remote`
//! runs the named phases only (`call` is the local call, `remote` the
//! call across nodes).

#[path = "common/bench_runtime.rs"]
mod bench_runtime;

use std::time::{Duration, Instant};

use nodus::gen_server::{self, CallReply, GenServer, Options, ReplyTo};
use nodus::{Node, Process, Term};

const SENDS: usize = 2_000_000;
const CALLS: usize = 100_000;
const REMOTE_CALLS: usize = 20_000;

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

struct Srv;

impl GenServer for Srv {
    type Args = ();
    type Call = Term;
    type Reply = Term;
    type Cast = Term;
    async fn init(_: (), _me: &mut Process) -> Result<Self, Term> {
        Ok(Srv)
    }
    async fn handle_call(
        &mut self,
        _req: Term,
        _from: ReplyTo,
        _me: &mut Process,
    ) -> CallReply<Term> {
        CallReply::Reply(Term::atom("ok"))
    }
}

/// `n` calls from a process of `node` to `to`: (p50 in µs, calls/s).
async fn calls(
    node: &Node,
    to: gen_server::ServerRef,
    n: usize,
) -> Result<(f64, f64), tokio::sync::oneshot::error::RecvError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    node.spawn(move |mut me| async move {
        let t = Duration::from_secs(10);
        for _ in 0..1000 {
            let _ = gen_server::call_term(&mut me, to.clone(), Term::atom("ping"), t).await;
        }
        let mut lat = Vec::with_capacity(n);
        let start = Instant::now();
        for _ in 0..n {
            let t0 = Instant::now();
            let r = gen_server::call_term(&mut me, to.clone(), Term::atom("ping"), t).await;
            lat.push(t0.elapsed());
            assert!(r.is_ok(), "call failed: {r:?}");
        }
        let total = start.elapsed().as_secs_f64();
        lat.sort();
        let _ = tx.send((lat[n / 2].as_secs_f64() * 1e6, n as f64 / total));
    });
    rx.await
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let rt = bench_runtime::build()?;
    // The driver (the spawner) runs on a runtime worker, as BEAM's runs
    // in a process on a scheduler, not on the thread that waits.
    rt.block_on(async { tokio::spawn(run()).await? })
}

async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let epmd: u16 = args
        .first()
        .and_then(|a| a.parse().ok())
        .ok_or("usage: runtime_bench EPMD_PORT [PROCESSES]")?;
    let n: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let node = Node::builder("rtb1@127.0.0.1")
        .cookie("bench")
        .epmd_port(epmd)
        .start()
        .await?;

    // Spawn rate and memory per idle process: N processes waiting in recv.
    if only("spawn") {
        spawn_phase(&node, n).await?;
    }
    if only("send") {
        send_phase(&node).await?;
    }
    if only("call") || only("remote") {
        call_phase(&node, epmd).await?;
    }
    node.shutdown();
    Ok(())
}

/// True when `NODUS_BENCH_ONLY` (a comma-separated list of `spawn`,
/// `send`, `call`, `remote`) is unset or names `phase`.
fn only(phase: &str) -> bool {
    std::env::var("NODUS_BENCH_ONLY").map_or(true, |v| v.split(',').any(|p| p == phase))
}

async fn spawn_phase(
    node: &Node,
    n: usize,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let live = node.process_count();
    let before = rss_bytes();
    let start = Instant::now();
    let mut pids = Vec::with_capacity(n);
    for _ in 0..n {
        pids.push(node.spawn(|mut me| async move {
            let _ = me.recv().await;
        }));
    }
    let spawn_s = start.elapsed().as_secs_f64();
    // Let every process run to its first recv.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_bytes();
    println!("result spawn_per_s {:.0}", n as f64 / spawn_s);
    println!(
        "result bytes_per_idle_process {:.0}",
        after.saturating_sub(before) as f64 / n as f64
    );
    for p in &pids {
        node.send(p, Term::atom("stop")).await?;
    }
    drop(pids);
    // Until every one has exited (a fixed wait let the next phase run
    // beside the last exits: 40,000-70,000 were still going after 500 ms
    // on 2 workers), as long as 60 s at most.
    let deadline = Instant::now() + Duration::from_secs(60);
    while node.process_count() > live && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}

async fn send_phase(node: &Node) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Local send throughput: one sender, one receiver, both processes
    // (as on BEAM, where the sender is the benchmark's process).
    let (tx, rx) = tokio::sync::oneshot::channel();
    node.spawn(move |me| async move {
        let (rx_pid, done) = me.node().spawn_monitor(|mut me| async move {
            let mut got = 0usize;
            while got < SENDS {
                if me.recv().await.is_none() {
                    break;
                }
                got += 1;
            }
        });
        let start = Instant::now();
        let msg = Term::tuple(vec![Term::atom("msg"), Term::Int(1)]);
        for _ in 0..SENDS {
            let _ = me.send(&rx_pid, msg.clone()).await;
        }
        done.await;
        let _ = tx.send(SENDS as f64 / start.elapsed().as_secs_f64());
    });
    println!("result local_send_per_s {:.0}", rx.await?);
    Ok(())
}

async fn call_phase(
    node: &Node,
    epmd: u16,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Local gen_server calls, made by a process.
    let srv = gen_server::start::<Srv>(node, (), Options::named("srv"))
        .await
        .map_err(|r| r.to_string())?;
    if only("call") {
        let (p50, rate) = calls(node, gen_server::ServerRef::Pid(srv), CALLS).await?;
        println!("result local_call_p50_us {p50:.2}");
        println!("result local_calls_per_s {rate:.0}");
    }
    if !only("remote") {
        return Ok(());
    }

    // The same call across two nodes.
    let node2 = Node::builder("rtb2@127.0.0.1")
        .cookie("bench")
        .epmd_port(epmd)
        .start()
        .await?;
    let to = gen_server::ServerRef::Remote(nodus::Atom::new("srv"), node.name().clone());
    let (p50, rate) = calls(&node2, to, REMOTE_CALLS).await?;
    println!("result remote_call_p50_us {p50:.2}");
    println!("result remote_calls_per_s {rate:.0}");
    node2.shutdown();
    Ok(())
}
