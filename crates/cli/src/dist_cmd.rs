//! `nodus ping` and `nodus epmd`.

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

/// Arguments of `nodus epmd`.
#[derive(Args)]
pub struct EpmdArgs {
    /// The port (default: ERL_EPMD_PORT or 4369).
    #[arg(long)]
    port: Option<u16>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Pings `args.node` from a hidden node named after this process, using
/// the same naming mode (long or short) as the target. Prints pong or pang.
pub fn ping(args: PingArgs) -> anyhow::Result<bool> {
    let host = args
        .node
        .split_once('@')
        .map(|(_, h)| h.to_string())
        .ok_or_else(|| anyhow::anyhow!("{}: expected name@host", args.node))?;
    let me = format!("nodus_ping_{}@{host}", std::process::id());
    runtime()?.block_on(async {
        let mut b = nodus::Node::builder(me);
        if let Some(c) = args.cookie {
            b = b.cookie(c);
        }
        if let Some(p) = args.epmd_port {
            b = b.epmd_port(p);
        }
        let node = b.start().await?;
        let pong = node.ping(&args.node).await;
        println!("{}", if pong { "pong" } else { "pang" });
        node.shutdown();
        Ok(pong)
    })
}

/// Runs an EPMD server until interrupted.
pub fn epmd(args: EpmdArgs) -> anyhow::Result<()> {
    let port = args.port.unwrap_or_else(nodus::erl_epmd::default_port);
    runtime()?.block_on(async {
        let server = nodus::epmd_server::EpmdServer::start(port).await?;
        eprintln!("nodus epmd listening on port {}", server.port());
        tokio::signal::ctrl_c().await?;
        Ok(())
    })
}
