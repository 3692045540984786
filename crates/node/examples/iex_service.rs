//! A Rust service that iex calls: a gen_server registered locally as
//! `:counter` and in `global` as `:rust_svc`, under a supervisor, and an
//! async rpc function `demo:slow_hello/1`. Runs until Ctrl-C.
//!
//! ```sh
//! cargo run --release -p nodus --example iex_service
//! # in another terminal:
//! iex --name me@127.0.0.1 --cookie example
//! iex> Node.connect(:"rust@127.0.0.1")
//! iex> GenServer.call({:counter, :"rust@127.0.0.1"}, {:add, 5})
//! iex> GenServer.call({:global, :rust_svc}, :get)
//! iex> :sys.get_state({:counter, :"rust@127.0.0.1"})
//! iex> :rpc.call(:"rust@127.0.0.1", :demo, :slow_hello, ["Ada"])
//! ```

use std::time::Duration;

use nodus::gen_server::{self, CallReply, GenServer, Options, ReplyTo};
use nodus::supervisor::{self, ChildSpec, Flags, Strategy};
use nodus::{Exception, Node, Process, Term};
use serde::Deserialize;

struct Counter(i64);

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Req {
    Get,
    Add(i64),
}

impl GenServer for Counter {
    type Args = ();
    type Call = Req;
    type Reply = i64;
    type Cast = Term;
    async fn init(_: (), _me: &mut Process) -> Result<Self, Term> {
        Ok(Counter(0))
    }
    async fn handle_call(&mut self, req: Req, _from: ReplyTo, _me: &mut Process) -> CallReply<i64> {
        if let Req::Add(n) = req {
            self.0 += n;
        }
        CallReply::Reply(self.0)
    }
    fn format_state(&self) -> Term {
        Term::from((Term::atom("count"), self.0))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The default EPMD port (4369), as iex uses; one is embedded if none runs.
    let node = Node::builder("rust@127.0.0.1")
        .cookie("example")
        .start()
        .await?;
    let kids = vec![ChildSpec::gen_server::<Counter>(
        "counter",
        (),
        Some("counter"),
    )];
    supervisor::start(
        &node,
        Flags::new(Strategy::OneForOne),
        kids,
        Some("demo_sup"),
    )
    .await
    .map_err(|r| format!("supervisor: {r}"))?;
    gen_server::start::<Counter>(&node, (), Options::global(Term::atom("rust_svc")))
        .await
        .map_err(|r| format!("global server: {r}"))?;
    node.register_fn("demo", "slow_hello", |_node, args| async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        match args.first().and_then(Term::as_binary) {
            Some(name) => Ok(Term::from(format!(
                "hello, {}",
                String::from_utf8_lossy(name)
            ))),
            None => Err(Exception::Error(Term::atom("badarg"))),
        }
    });
    println!(
        "rust@127.0.0.1 up (cookie example); from iex: iex --name me@127.0.0.1 --cookie example"
    );
    tokio::signal::ctrl_c().await?;
    node.shutdown();
    Ok(())
}
