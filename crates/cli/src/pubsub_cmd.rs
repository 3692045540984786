//! `nodus pg` and `nodus pubsub`: the process groups and the PubSub of a
//! running node, nodus or BEAM (Phoenix), seen from a hidden node.

use std::time::Duration;

use clap::{Args, Subcommand};
use nodus_term::Term;

use crate::dist_cmd::hidden_node;
use crate::runtime;

const TIMEOUT: Duration = Duration::from_secs(30);

/// Arguments of `nodus pg`.
#[derive(Args)]
pub struct PgArgs {
    /// The node to ask, `name@host`.
    node: String,
    /// The scope (default `pg`; Phoenix.PubSub's is `Elixir.Phoenix.PubSub`).
    #[arg(default_value = "pg")]
    scope: String,
    /// The cookie (default: ~/.erlang.cookie).
    #[arg(long)]
    cookie: Option<String>,
    /// The EPMD port (default: ERL_EPMD_PORT or 4369).
    #[arg(long)]
    epmd_port: Option<u16>,
}

/// Prints each group of SCOPE that NODE sees, with its members, one line
/// each as Erlang text: `Group [Pid, ...]`.
pub fn pg(args: PgArgs) -> anyhow::Result<()> {
    let scope = Term::try_atom(&args.scope).map_err(|e| anyhow::anyhow!("SCOPE: {e}"))?;
    runtime()?.block_on(async {
        let node = hidden_node(&args.node, args.cookie, args.epmd_port).await?;
        let r = async {
            let groups = node
                .rpc(
                    &args.node,
                    "pg",
                    "which_groups",
                    vec![scope.clone()],
                    TIMEOUT,
                )
                .await?;
            let Some(groups) = groups.as_list() else {
                anyhow::bail!("{}: pg:which_groups returned {groups}", args.node);
            };
            let mut groups = groups.to_vec();
            groups.sort();
            for g in groups {
                let members = node
                    .rpc(
                        &args.node,
                        "pg",
                        "get_members",
                        vec![scope.clone(), g.clone()],
                        TIMEOUT,
                    )
                    .await?;
                say!("{g} {members}");
            }
            Ok(())
        }
        .await;
        node.shutdown();
        r
    })
}

/// Arguments of `nodus pubsub`.
#[derive(Args)]
pub struct PubSubArgs {
    /// The node, `name@host` (nodus, or BEAM running Phoenix.PubSub).
    node: String,
    /// The PubSub's name, as in Elixir (`MyApp.PubSub`).
    name: String,
    #[command(subcommand)]
    action: PubSubAction,
    /// The cookie (default: ~/.erlang.cookie).
    #[arg(long, global = true)]
    cookie: Option<String>,
    /// The EPMD port (default: ERL_EPMD_PORT or 4369).
    #[arg(long, global = true)]
    epmd_port: Option<u16>,
}

/// What `nodus pubsub` does.
#[derive(Subcommand)]
pub enum PubSubAction {
    /// Broadcast TERM (Erlang text) on TOPIC from NODE (Phoenix.PubSub.broadcast/3 there).
    Broadcast {
        /// The topic.
        topic: String,
        /// The message as Erlang text, such as '{hello, <<"world">>}'.
        term: String,
    },
    /// Print every message broadcast on TOPIC in NODE's cluster, one line each as Erlang text, until stopped.
    Subscribe {
        /// The topic.
        topic: String,
    },
}

/// Runs `nodus pubsub`.
pub fn pubsub(args: PubSubArgs) -> anyhow::Result<()> {
    let full = nodus::pubsub::full_name(&args.name);
    let name = Term::try_atom(&full).map_err(|e| anyhow::anyhow!("NAME: {e}"))?;
    match args.action {
        PubSubAction::Broadcast { topic, term } => {
            let msg =
                nodus_term::text::parse_term(&term).map_err(|e| anyhow::anyhow!("TERM: {e}"))?;
            runtime()?.block_on(async {
                let node = hidden_node(&args.node, args.cookie, args.epmd_port).await?;
                let r = node
                    .rpc(
                        &args.node,
                        "Elixir.Phoenix.PubSub",
                        "broadcast",
                        vec![name, Term::binary(topic.as_bytes()), msg],
                        TIMEOUT,
                    )
                    .await;
                node.shutdown();
                let r = r?;
                say!("{r}");
                if !r.is_atom("ok") {
                    anyhow::bail!("{}: broadcast returned {r}", args.node);
                }
                Ok(())
            })
        }
        PubSubAction::Subscribe { topic } => runtime()?.block_on(async {
            let node = hidden_node(&args.node, args.cookie, args.epmd_port).await?;
            let ps = nodus::pubsub::PubSub::start(&node, &full, nodus::pubsub::Options::default())
                .await?;
            // A hidden node is not discovered by `pg`: it introduces
            // itself to the scope of every node of the cluster.
            let others = node
                .rpc(&args.node, "erlang", "nodes", vec![], TIMEOUT)
                .await?;
            let mut peers = vec![args.node.clone()];
            for n in others.as_list().unwrap_or(&[]) {
                if let Some(a) = n.as_atom() {
                    peers.push(a.to_string());
                }
            }
            for p in &peers {
                if node.connect(p).await {
                    nodus::pg::discover(&node, nodus::pubsub::SCOPE, p)?;
                } else {
                    tracing::warn!("cannot reach {p}: its broadcasts will not be shown");
                }
            }
            let mut sub = ps.stream::<Term>(&topic);
            eprintln!(
                "subscribed to {topic} on {} ({} nodes); Ctrl-C stops",
                ps.name(),
                peers.len()
            );
            loop {
                tokio::select! {
                    m = sub.next() => match m {
                        Some(Ok(t)) => say!("{t}"),
                        Some(Err(e)) => tracing::warn!("{e}"),
                        None => break,
                    },
                    r = crate::start_cmd::wait_for_signal() => { r?; break; }
                }
            }
            node.shutdown();
            Ok(())
        }),
    }
}
