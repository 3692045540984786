//! `nodus cluster`: a local cluster on an embedded default, with no
//! setup: N nodes `n1@127.0.0.1` ... in this process, booted from the
//! seed's `sys.config` (every node in `sync_nodes_optional`).

use clap::Args;
use nodus::config::Config;

use crate::start_cmd::{builder, node_list_text};

/// Arguments of `nodus cluster`.
#[derive(Args)]
pub struct ClusterArgs {
    /// How many nodes.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// The EPMD port (default: ERL_EPMD_PORT or 4369; an embedded EPMD is
    /// started when none runs).
    #[arg(long)]
    epmd_port: Option<u16>,
    /// The cookie (default: a fresh random one).
    #[arg(long)]
    cookie: Option<String>,
    /// Stop once the cluster has formed instead of running until Ctrl-C.
    #[arg(long)]
    exit: bool,
    /// The first node's HTTP port for the chat page and Phoenix socket
    /// (node i gets BASE+i-1; 0: any free port for each).
    #[arg(long, default_value_t = 4000)]
    http_port: u16,
    /// The PubSub the channels broadcast through (name it as a Phoenix
    /// app's PubSub to share topics with it).
    #[arg(long, default_value = "Demo.PubSub")]
    pubsub: String,
    /// Serve no chat page or socket.
    #[arg(long)]
    no_http: bool,
}

/// The embedded default `sys.config` for `n` nodes.
pub fn default_sys_config(n: usize) -> String {
    let names: Vec<String> = (1..=n).map(|i| format!("'n{i}@127.0.0.1'")).collect();
    format!(
        "[{{kernel,\n[\n{{sync_nodes_optional, [{}]}},\n{{sync_nodes_timeout, 10000}}\n]}}\n].\n",
        names.join(", ")
    )
}

/// Runs `nodus cluster`.
pub fn run(args: ClusterArgs) -> anyhow::Result<()> {
    if args.nodes == 0 || args.nodes > 64 {
        anyhow::bail!("--nodes must be between 1 and 64");
    }
    let text = default_sys_config(args.nodes);
    let cfg = Config::from_sys_config(std::path::Path::new("<embedded sys.config>"), &text)?;
    say!("embedded sys.config:\n{text}");
    let cookie = args
        .cookie
        .unwrap_or_else(|| format!("nodus{:016x}", rand_u64()));
    crate::runtime()?.block_on(async move {
        let mut boots = Vec::new();
        for i in 1..=args.nodes {
            let name = format!("n{i}@127.0.0.1");
            let b = builder(&name, &cfg, Some(cookie.clone()), args.epmd_port);
            let kernel = cfg.kernel.clone();
            boots.push(tokio::spawn(async move {
                let node = b.start().await?;
                nodus::kernel_config::sync_nodes(&node, &kernel).await?;
                say!(
                    "node {name} booted; nodes: {}",
                    node_list_text(&node.nodes())
                );
                anyhow::Ok(node)
            }));
        }
        let mut nodes = Vec::new();
        for b in boots {
            nodes.push(b.await??);
        }
        if !args.no_http {
            for (i, n) in nodes.iter().enumerate() {
                let port = if args.http_port == 0 { 0 } else { args.http_port.checked_add(i as u16).ok_or_else(|| anyhow::anyhow!("--http-port {} + {i} is over 65535", args.http_port))? };
                let addr = crate::chat::serve(n, &args.pubsub, port).await?;
                say!("node {} chat: http://{addr}/ (socket ws://{addr}/socket, pubsub {})", n.name().as_str(), args.pubsub);
            }
        }
        say!("cluster formed:");
        for n in &nodes {
            say!("  {} Node.list = {}", n.name(), node_list_text(&n.nodes()));
        }
        say!("cookie: {cookie}");
        let epmd = nodes.first().map_or(4369, |n| n.epmd_port());
        let env = if epmd == 4369 { String::new() } else { format!("ERL_EPMD_PORT={epmd} ") };
        say!("join from iex: {env}iex --name me@127.0.0.1 --cookie {cookie} -e 'Node.connect(:\"n1@127.0.0.1\") |> IO.inspect(); IO.inspect(Node.list())'");
        if !args.exit {
            say!("running; Ctrl-C or SIGTERM to stop");
            crate::start_cmd::wait_for_signal().await?;
        }
        // The node that embeds the EPMD goes last, so that the others do
        // not see their EPMD vanish (and warn) while they stop.
        let (embedding, others): (Vec<_>, Vec<_>) = nodes.iter().partition(|n| n.embedded_epmd_names().is_some());
        for n in others.into_iter().chain(embedding) {
            n.shutdown();
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        Ok(())
    })
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
