//! `nodus ping`, `rpc`, `nodes`, `connect`, `disconnect` and `epmd`.

use clap::Args;

/// Arguments of `nodus ping`.
#[derive(Args)]
pub struct PingArgs {
    /// The node to ping, `name@host`.
    node: String,
    /// The cookie (default: ~/.erlang.cookie).
    #[arg(long)]
    cookie: Option<String>,
    /// The EPMD port (default: ERL_EPMD_PORT or 4369).
    #[arg(long)]
    epmd_port: Option<u16>,
}

/// Arguments of `nodus rpc`.
#[derive(Args)]
pub struct RpcArgs {
    /// The node, `name@host`.
    node: String,
    /// The module.
    module: String,
    /// The function.
    function: String,
    /// The argument list as Erlang text, such as '[1, <<"a">>]' (default []).
    args: Option<String>,
    /// The cookie (default: ~/.erlang.cookie).
    #[arg(long)]
    cookie: Option<String>,
    /// The EPMD port (default: ERL_EPMD_PORT or 4369).
    #[arg(long)]
    epmd_port: Option<u16>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

/// Arguments of `nodus epmd`.
#[derive(Args)]
pub struct EpmdArgs {
    /// The port (default: ERL_EPMD_PORT or 4369).
    #[arg(long)]
    port: Option<u16>,
}

use crate::runtime;

pub(crate) async fn hidden_node(
    target: &str,
    cookie: Option<String>,
    epmd_port: Option<u16>,
) -> anyhow::Result<nodus::Node> {
    nodus::node_name::check(target)?;
    let host = target.split_once('@').map_or("", |(_, h)| h);
    // A query never starts an EPMD: with none running, no node can be
    // reached by name anyway.
    let mut b = nodus::Node::builder(format!("nodus_cli_{}@{host}", std::process::id()))
        .published(false)
        .embed_epmd(false);
    if let Some(c) = cookie {
        b = b.cookie(c);
    }
    if let Some(p) = epmd_port {
        b = b.epmd_port(p);
    }
    Ok(b.start().await?)
}

/// Calls a function on a node and prints the result as Erlang text.
pub fn rpc(args: RpcArgs) -> anyhow::Result<()> {
    let list = nodus_term::text::parse_term(args.args.as_deref().unwrap_or("[]"))
        .map_err(|e| anyhow::anyhow!("ARGS: {e}"))?;
    let Some(list) = list.as_list().map(<[nodus_term::Term]>::to_vec) else {
        anyhow::bail!("ARGS must be a list, such as '[1, 2]'");
    };
    runtime()?.block_on(async {
        let node = hidden_node(&args.node, args.cookie, args.epmd_port).await?;
        let t = std::time::Duration::from_secs(args.timeout);
        let r = node
            .rpc(&args.node, &args.module, &args.function, list, t)
            .await;
        node.shutdown();
        let r = r?;
        say!("{r}");
        // `{badrpc, Reason}` is a failure: exit non-zero, as the README says.
        if matches!(r.as_tuple(), Some([tag, _]) if tag.is_atom("badrpc")) {
            anyhow::bail!("rpc to {} failed (badrpc)", args.node);
        }
        Ok(())
    })
}

/// Pings `args.node` from a hidden node named after this process, using
/// the same naming mode (long or short) as the target. Prints pong or pang.
pub fn ping(args: PingArgs) -> anyhow::Result<bool> {
    runtime()?.block_on(async {
        let node = hidden_node(&args.node, args.cookie, args.epmd_port).await?;
        let pong = node.ping(&args.node).await;
        say!("{}", if pong { "pong" } else { "pang" });
        node.shutdown();
        Ok(pong)
    })
}

/// Arguments of `nodus nodes`.
#[derive(Args)]
pub struct NodesArgs {
    /// The node to ask, `name@host`.
    node: String,
    /// The cookie (default: ~/.erlang.cookie).
    #[arg(long)]
    cookie: Option<String>,
    /// The EPMD port (default: ERL_EPMD_PORT or 4369).
    #[arg(long)]
    epmd_port: Option<u16>,
}

/// Prints the nodes NODE is connected to (its `nodes()`, `Node.list`),
/// one per line, asking as a hidden node.
pub fn nodes(args: NodesArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let node = hidden_node(&args.node, args.cookie, args.epmd_port).await?;
        let r = node
            .rpc(
                &args.node,
                "erlang",
                "nodes",
                vec![],
                std::time::Duration::from_secs(30),
            )
            .await;
        node.shutdown();
        let r = r?;
        let Some(list) = r.as_list() else {
            anyhow::bail!("{}: nodes() returned {r}", args.node);
        };
        for n in list {
            match n.as_atom() {
                Some(a) => say!("{a}"),
                None => say!("{n}"),
            }
        }
        Ok(())
    })
}

/// Arguments of `nodus connect` and `nodus disconnect`.
#[derive(Args)]
pub struct PeerArgs {
    /// The running node to steer, `name@host` (nodus or BEAM).
    node: String,
    /// The node it should connect to or disconnect from.
    peer: String,
    /// The cookie (default: ~/.erlang.cookie).
    #[arg(long)]
    cookie: Option<String>,
    /// The EPMD port (default: ERL_EPMD_PORT or 4369).
    #[arg(long)]
    epmd_port: Option<u16>,
}

/// Tells NODE to connect to PEER (`net_kernel:connect_node/1` over rpc):
/// prints `true` and succeeds, or prints `false` and fails.
pub fn connect(args: PeerArgs) -> anyhow::Result<bool> {
    steer(args, "net_kernel", "connect_node")
}

/// Tells NODE to drop its connection to PEER (`erlang:disconnect_node/1`
/// over rpc): `true`, or `false` (and failure) when it was not connected.
pub fn disconnect(args: PeerArgs) -> anyhow::Result<bool> {
    steer(args, "erlang", "disconnect_node")
}

fn steer(args: PeerArgs, m: &str, f: &str) -> anyhow::Result<bool> {
    nodus::node_name::check(&args.peer)?;
    let peer = nodus_term::Term::try_atom(&args.peer)
        .map_err(|e| anyhow::anyhow!("PEER {}: {e}", args.peer))?;
    runtime()?.block_on(async {
        let node = hidden_node(&args.node, args.cookie, args.epmd_port).await?;
        let r = node
            .rpc(
                &args.node,
                m,
                f,
                vec![peer],
                std::time::Duration::from_secs(30),
            )
            .await;
        node.shutdown();
        let r = r?;
        say!("{r}");
        if r.is_atom("true") {
            return Ok(true);
        }
        if matches!(r.as_tuple(), Some([tag, _]) if tag.is_atom("badrpc")) {
            anyhow::bail!("rpc to {} failed (badrpc)", args.node);
        }
        Ok(false)
    })
}

/// Runs an EPMD server until interrupted.
pub fn epmd(args: EpmdArgs) -> anyhow::Result<()> {
    let port = args.port.unwrap_or_else(nodus::erl_epmd::default_port);
    runtime()?.block_on(async {
        let server = nodus::epmd_server::EpmdServer::start(port)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on 0.0.0.0:{port} for EPMD: {e}"))?;
        eprintln!("nodus epmd listening on port {}", server.port());
        tokio::signal::ctrl_c().await?;
        Ok(())
    })
}
