//! A node for the fault suite (`faults/suite.py`); its BEAM twin is
//! `faults/fault_peer.erl`, and both print the same lines on stdout, each
//! with the wall-clock time in milliseconds:
//!
//! - `ready NAME MS` once the node runs;
//! - `up PEER MS` / `down PEER MS` for every visible node that comes and
//!   goes (`net_kernel:monitor_nodes(true)`);
//! - as the registered process `sink`, which expects `{seq, I}` with I =
//!   1, 2, 3 …: `got I MS` every 10,000 messages and `gap EXPECTED GOT MS`
//!   if one is missing, duplicated or out of order;
//! - with `--stream PEER COUNT`, `{seq, 1..COUNT}` sent to `{sink, PEER}`
//!   while monitoring PEER: `sent COUNT MS` at the end, or `stream-down
//!   SENT MS` when PEER goes down first;
//! - with `--connect PEER`, the node pings PEER every 200 ms while it is
//!   not connected (so a healed partition re-forms by itself).
//!
//! `cargo run --release -p nodus --example fault_peer -- NAME COOKIE
//! [--ticktime S] [--connect PEER] [--stream PEER COUNT]`; EPMD's port is
//! `ERL_EPMD_PORT` (default 4369).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nodus::{Node, Term};

fn ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// One line on stdout, flushed at once (the suite reads it live).
fn say(line: String) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line} {}", ms());
    let _ = out.flush();
}

struct Args {
    name: String,
    cookie: String,
    ticktime: Option<u64>,
    connect: Option<String>,
    stream: Option<(String, u64)>,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let usage =
        "usage: fault_peer NAME COOKIE [--ticktime S] [--connect PEER] [--stream PEER COUNT]";
    let name = it.next().ok_or(usage)?;
    let cookie = it.next().ok_or(usage)?;
    let mut a = Args {
        name,
        cookie,
        ticktime: None,
        connect: None,
        stream: None,
    };
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--ticktime" => {
                let s = it.next().ok_or(usage)?;
                a.ticktime = Some(s.parse().map_err(|e| format!("--ticktime {s}: {e}"))?);
            }
            "--connect" => a.connect = Some(it.next().ok_or(usage)?),
            "--stream" => {
                let peer = it.next().ok_or(usage)?;
                let n = it.next().ok_or(usage)?;
                let n = n.parse().map_err(|e| format!("--stream count {n}: {e}"))?;
                a.stream = Some((peer, n));
            }
            other => return Err(format!("unknown argument {other}; {usage}")),
        }
    }
    Ok(a)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = parse()?;
    let epmd = std::env::var("ERL_EPMD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(4369);
    let mut b = Node::builder(a.name.as_str())
        .cookie(a.cookie.as_str())
        .epmd_port(epmd);
    if let Some(t) = a.ticktime {
        b = b.ticktime(Duration::from_secs(t));
    }
    let node = b.start().await?;

    // The node watcher.
    let mut watcher = node.process();
    node.monitor_nodes(watcher.pid());
    // A peer may have connected (through EPMD, as soon as the node
    // registered) before the subscription: it is up too.
    for peer in node.nodes() {
        say(format!("up {}", peer.as_str()));
    }
    tokio::spawn(async move {
        while let Some(m) = watcher.recv().await {
            if let Some([kind, Term::Atom(peer)]) = m.as_tuple() {
                if kind.is_atom("nodeup") {
                    say(format!("up {}", peer.as_str()));
                } else if kind.is_atom("nodedown") {
                    say(format!("down {}", peer.as_str()));
                }
            }
        }
    });

    // The sink.
    let mut sink = node.process();
    sink.register("sink")?;
    tokio::spawn(async move {
        let mut next: i64 = 1;
        while let Some(m) = sink.recv().await {
            let Some([tag, Term::Int(i)]) = m.as_tuple() else {
                continue;
            };
            if !tag.is_atom("seq") {
                continue;
            }
            let i = *i;
            if i != next {
                say(format!("gap {next} {i}"));
            }
            next = i + 1;
            if i % 10_000 == 0 {
                say(format!("got {i}"));
            }
        }
    });
    say(format!("ready {}", a.name));

    if let Some(peer) = a.connect.clone() {
        let n = node.clone();
        tokio::spawn(async move {
            loop {
                if !n.nodes().iter().any(|p| p.as_str() == peer.as_str()) {
                    n.ping(&peer).await;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }

    if let Some((peer, count)) = a.stream {
        let me = node.process();
        while !node.ping(&peer).await {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let peer_atom = nodus::Atom::try_new(&peer)?;
        let mut sent = 0;
        let mut down = false;
        for i in 1..=count {
            if !node.is_visible(&peer_atom) {
                down = true;
                break;
            }
            let msg = Term::tuple(vec![Term::atom("seq"), Term::from(i as i64)]);
            if node.send_named(me.pid(), "sink", &peer, msg).await.is_err() {
                down = true;
                break;
            }
            sent = i;
        }
        if down {
            say(format!("stream-down {sent}"));
        } else {
            say(format!("sent {sent}"));
        }
    }
    node.stopped().await;
    Ok(())
}
