//! A gen_server in Rust: a counter with typed calls and casts, called
//! from Rust here (and from iex the same way: see `iex_service.rs`).
//!
//! `cargo run --release -p nodus --example gen_server`

use std::time::Duration;

use nodus::gen_server::{self, CallReply, Flow, GenServer, Options, ReplyTo};
use nodus::{Node, Process, Term};
use serde::{Deserialize, Serialize};

struct Counter(i64);

/// Calls: `:get` and `{:add, N}` from iex.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Req {
    Get,
    Add(i64),
}

impl GenServer for Counter {
    type Args = i64;
    type Call = Req;
    type Reply = i64;
    type Cast = i64;

    async fn init(start: i64, _me: &mut Process) -> Result<Self, Term> {
        Ok(Counter(start))
    }

    async fn handle_call(&mut self, req: Req, _from: ReplyTo, _me: &mut Process) -> CallReply<i64> {
        match req {
            Req::Get => CallReply::Reply(self.0),
            Req::Add(n) => {
                self.0 += n;
                CallReply::Reply(self.0)
            }
        }
    }

    async fn handle_cast(&mut self, n: i64, _me: &mut Process) -> Flow {
        self.0 -= n;
        Flow::Continue
    }

    fn format_state(&self) -> Term {
        Term::from(self.0)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A private EPMD port: an embedded EPMD starts if none runs there.
    let node = Node::builder("gs_example@127.0.0.1")
        .cookie("example")
        .epmd_port(4391)
        .start()
        .await?;
    let pid = gen_server::start::<Counter>(&node, 10, Options::named("counter"))
        .await
        .map_err(|r| format!("start: {r}"))?;
    let mut me = node.process();
    let t = Duration::from_secs(5);
    let v: i64 = gen_server::call(&mut me, "counter", &Req::Add(5), t).await?;
    println!("add 5 -> {v}");
    gen_server::cast(&node, &pid, &3i64).await?;
    let v: i64 = gen_server::call(&mut me, &pid, &Req::Get, t).await?;
    println!("after cast 3 -> {v}");
    assert_eq!(v, 12);
    gen_server::stop(&node, &pid, Term::atom("normal"), t)
        .await
        .map_err(|r| format!("stop: {r}"))?;
    println!("stopped");
    node.shutdown();
    Ok(())
}
