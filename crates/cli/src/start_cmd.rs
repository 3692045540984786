//! `nodus start`: a node that boots from a `sys.config` (or `nodus.toml`)
//! as a release does, waits for its `sync_nodes_*`, and runs until
//! SIGINT or SIGTERM.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use nodus::config::Config;

/// Arguments of `nodus start`. The Erlang spellings `-name`, `-sname`,
/// `-setcookie`, `-config` and `--erl "-config FILE"` are accepted too.
#[derive(Args, Debug, Default)]
pub struct StartArgs {
    /// A long name, `name@host` (a bare `name` gets this host's full name).
    #[arg(long, conflicts_with = "sname")]
    pub name: Option<String>,
    /// A short name, `name` or `name@host`.
    #[arg(long)]
    pub sname: Option<String>,
    /// The cookie (default: the TOML file's, else ~/.erlang.cookie).
    #[arg(long)]
    pub cookie: Option<String>,
    /// A sys.config (or nodus.toml) to boot from.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The EPMD port (default: ERL_EPMD_PORT or 4369).
    #[arg(long)]
    pub epmd_port: Option<u16>,
    /// Lowest distribution port (inet_dist_listen_min).
    #[arg(long)]
    pub listen_min: Option<u16>,
    /// Highest distribution port (inet_dist_listen_max).
    #[arg(long)]
    pub listen_max: Option<u16>,
    /// Start as a hidden node (`-hidden`).
    #[arg(long)]
    pub hidden: bool,
    /// Erlang emulator flags, as `iex --erl "-config sys.config"`.
    #[arg(long, allow_hyphen_values = true)]
    pub erl: Vec<String>,
    /// A kernel parameter, `KEY=VALUE` with an Erlang value (`erl -kernel
    /// KEY VALUE`); overrides the configuration file.
    #[arg(long = "kernel", value_name = "KEY=VALUE")]
    pub kernel: Vec<String>,
    /// Serve the demo chat page and Phoenix socket (`room:*`) on this
    /// HTTP port of 127.0.0.1 (as each node of `nodus cluster` does).
    #[arg(long)]
    pub http_port: Option<u16>,
    /// The PubSub the demo socket broadcasts through (with --http-port).
    #[arg(long, default_value = "Demo.PubSub")]
    pub pubsub: String,
}

/// Rewrites Erlang-style flags of `nodus start` into ours, and expands
/// `--erl "..."` into the flags it holds: `-name`, `-sname`,
/// `-setcookie`, `-config`, `-hidden`, and `-kernel Key Value` (into
/// `--kernel Key=Value`). Other emulator flags (`+P 1000`, `-noshell`,
/// `-pa dir`, ...) are warned about once each and dropped with their
/// values.
pub fn erlang_spellings(args: Vec<String>) -> Vec<String> {
    if args.get(1).map(String::as_str) != Some("start") {
        return args;
    }
    let mut out: Vec<String> = args[..2].to_vec();
    let mut rest: Vec<String> = Vec::new();
    let mut it = args.into_iter().skip(2);
    while let Some(a) = it.next() {
        if a == "--erl" {
            if let Some(v) = it.next() {
                rest.extend(v.split_whitespace().map(str::to_string));
            }
        } else if let Some(v) = a.strip_prefix("--erl=") {
            rest.extend(v.split_whitespace().map(str::to_string));
        } else {
            rest.push(a);
        }
    }
    let mut it = rest.into_iter().peekable();
    while let Some(a) = it.next() {
        let mapped = match a.as_str() {
            "-name" => "--name",
            "-sname" => "--sname",
            "-setcookie" => "--cookie",
            "-config" => "--config",
            "-hidden" => "--hidden",
            "-kernel" => {
                let key = it.next().unwrap_or_default();
                let value = it.next().unwrap_or_default();
                out.push("--kernel".into());
                out.push(format!("{key}={value}"));
                continue;
            }
            s if (s.starts_with('-') && !s.starts_with("--") && s.len() > 1)
                || (s.starts_with('+') && s.len() > 1) =>
            {
                let mut dropped = vec![a.clone()];
                while let Some(v) = it.peek() {
                    if v.starts_with('-') || v.starts_with('+') {
                        break;
                    }
                    dropped.push(it.next().unwrap_or_default());
                }
                eprintln!(
                    "nodus: warning: emulator flag {} has no meaning for nodus; ignored",
                    dropped.join(" ")
                );
                continue;
            }
            _ => {
                out.push(a);
                continue;
            }
        };
        out.push(mapped.into());
    }
    out
}

/// This host's name as `inet:gethostname/0` gives it (short).
pub fn short_host() -> String {
    let full = full_host();
    full.split('.').next().unwrap_or("localhost").to_string()
}

fn full_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn full_name(name: &str, short: bool) -> String {
    if name.contains('@') {
        name.to_string()
    } else if short {
        format!("{name}@{}", short_host())
    } else {
        format!("{name}@{}", full_host())
    }
}

/// The file `-config NAME` means: as `erl`, `.config` is added to a name
/// without it (`-config sys` reads `sys.config`); a `.toml` stays.
pub fn config_path(path: &std::path::Path) -> PathBuf {
    let ext = path.extension().and_then(|e| e.to_str());
    if matches!(ext, Some("config") | Some("toml")) {
        return path.to_path_buf();
    }
    let mut with = path.as_os_str().to_owned();
    with.push(".config");
    PathBuf::from(with)
}

/// Loads the configuration and reports unknown parameters once each.
pub fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let cfg = Config::load(&config_path(path))?;
    for w in cfg.warnings() {
        tracing::warn!("{}: {w}", path.display());
    }
    Ok(cfg)
}

/// The Erlang list text of node names, as `Node.list` prints them.
pub fn node_list_text(nodes: &[nodus_term::Atom]) -> String {
    let items: Vec<String> = nodes
        .iter()
        .map(|n| nodus_term::text::to_text(&nodus_term::Term::Atom(n.clone())))
        .collect();
    format!("[{}]", items.join(", "))
}

/// Builds a node from the configuration ([`nodus::NodeBuilder::from_config`]),
/// with the command line's cookie and EPMD port over the file's.
pub fn builder(
    name: &str,
    cfg: &Config,
    cookie: Option<String>,
    epmd_port: Option<u16>,
) -> nodus::NodeBuilder {
    let mut b = nodus::NodeBuilder::from_config(name, cfg);
    if let Some(c) = cookie {
        b = b.cookie(c);
    }
    if let Some(p) = epmd_port {
        b = b.epmd_port(p);
    }
    b
}

/// Picks the first free `nodus`, `nodus2`, ... name on this host.
async fn default_name(epmd_port: u16) -> String {
    let host = short_host();
    let taken: Vec<String> = nodus::erl_epmd::names("127.0.0.1", epmd_port)
        .await
        .map(|v| v.into_iter().map(|(n, _)| n).collect())
        .unwrap_or_default();
    for i in 1..100 {
        let alive = if i == 1 {
            "nodus".to_string()
        } else {
            format!("nodus{i}")
        };
        if !taken.contains(&alive) {
            return format!("{alive}@{host}");
        }
    }
    format!("nodus{}@{host}", std::process::id())
}

/// Connects to the other `nodus*` nodes registered on this host: how
/// flag-less nodes find each other.
async fn join_local_defaults(node: &nodus::Node) {
    let Ok(names) = nodus::erl_epmd::names("127.0.0.1", node.epmd_port()).await else {
        return;
    };
    let host = short_host();
    for (alive, _) in names {
        let peer = format!("{alive}@{host}");
        let is_default = alive == "nodus"
            || alive
                .strip_prefix("nodus")
                .is_some_and(|d| d.parse::<u32>().is_ok());
        if is_default && peer != node.name().as_str() {
            node.connect(&peer).await;
        }
    }
}

/// Waits for SIGINT or SIGTERM.
pub(crate) async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// Prints `nodeup`/`nodedown` lines as the node sees them.
fn print_node_events(node: &nodus::Node) {
    let mut watcher = node.process();
    node.monitor_nodes(watcher.pid());
    let n = node.clone();
    tokio::spawn(async move {
        let mut shown = std::collections::HashSet::new();
        while let Some(m) = watcher.recv().await {
            if let Some([what, nodus_term::Term::Atom(peer)]) = m.as_tuple() {
                let show = if what.is_atom("nodeup") {
                    n.is_visible(peer) && shown.insert(peer.clone())
                } else {
                    shown.remove(peer)
                };
                if show {
                    say!("{} {peer}", what.as_atom().unwrap_or("?"));
                }
            }
        }
    });
}

/// Runs `nodus start`.
pub fn start(args: StartArgs, apps: Vec<nodus::application::AppSpec>) -> anyhow::Result<()> {
    let mut args = args;
    let mut cfg = load_config(args.config.as_ref())?;
    for kv in &args.kernel {
        let Some((key, value)) = kv.split_once('=') else {
            anyhow::bail!("-kernel {kv}: expected a key and a value");
        };
        let term = nodus_term::text::parse_term(value)
            .map_err(|e| anyhow::anyhow!("-kernel {key} {value}: {e}"))?;
        cfg.set_kernel(key, &term)
            .map_err(|e| anyhow::anyhow!("-kernel {key}: {e}"))?;
        for w in cfg.warnings() {
            tracing::warn!("-kernel: {w}");
        }
        cfg.unknown.clear();
    }
    crate::runtime()?.block_on(async move {
        let epmd_port = args
            .epmd_port
            .or(cfg.node.epmd_port)
            .unwrap_or_else(nodus::erl_epmd::default_port);
        let mut kernel_cfg = cfg.clone();
        if args.listen_min.is_some() {
            kernel_cfg.kernel.inet_dist_listen_min = args.listen_min;
        }
        if args.listen_max.is_some() {
            kernel_cfg.kernel.inet_dist_listen_max = args.listen_max;
        }
        let flagless = args.name.is_none() && args.sname.is_none() && cfg.node.name.is_none();
        let name = match (args.name.take(), args.sname.take(), &cfg.node.name) {
            (Some(n), _, _) => {
                let full = full_name(&n, false);
                nodus::node_name::check_long(&full)?;
                full
            }
            (None, Some(n), _) => full_name(&n, true),
            (None, None, Some(n)) => full_name(n, cfg.node.short_names),
            (None, None, None) => default_name(epmd_port).await,
        };
        if flagless {
            let cookie_file = nodus::cookie::cookie_path()?;
            say!(
                "nodus: no name given: starting as {name} (short name), cookie from {}",
                cookie_file.display()
            );
        }
        let node = builder(&name, &kernel_cfg, args.cookie.take(), Some(epmd_port))
            .published(!args.hidden)
            .start()
            .await
            .with_context(|| format!("cannot start {name}"))?;
        print_node_events(&node);
        if flagless {
            join_local_defaults(&node).await;
        }
        match nodus::kernel_config::sync_nodes(&node, &kernel_cfg.kernel).await {
            Ok(report) => {
                for m in &report.missing_optional {
                    tracing::info!(
                        "sync_nodes_optional: {m} did not come up within sync_nodes_timeout"
                    );
                }
            }
            Err(e) => {
                node.shutdown();
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                anyhow::bail!("{name}: boot failed: {e}");
            }
        }
        for (ps, opts) in kernel_cfg.pubsub().map_err(anyhow::Error::msg)? {
            let started = nodus::pubsub::PubSub::start(&node, &ps, opts.clone())
                .await
                .with_context(|| format!("{name}: cannot start PubSub {ps}"))?;
            say!(
                "pubsub {} started (pool_size {})",
                started.name().as_str(),
                opts.pool_size
            );
        }
        if let Some(port) = args.http_port {
            let addr = crate::chat::serve(&node, &args.pubsub, port).await?;
            say!(
                "node {name} chat: http://{addr}/ (socket ws://{addr}/socket, pubsub {})",
                args.pubsub
            );
        }
        if let Err(e) = crate::apps_boot::boot(&node, &kernel_cfg, apps).await {
            node.shutdown();
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            anyhow::bail!("{name}: boot failed: {e:#}");
        }
        say!(
            "node {name} booted; nodes: {}",
            node_list_text(&node.nodes())
        );
        tokio::select! {
            r = wait_for_signal() => r?,
            _ = node.stopped() => {
                // A permanent application exited (logged where it did).
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                anyhow::bail!("{name} stopped");
            }
        }
        say!("node {name} stopping");
        node.shutdown();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        Ok(())
    })
}
