//! `nodus`: the command-line tool of nodus, as a library so that a
//! binary of your own can be `nodus` with applications of its own:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     // `my_app start --name a@127.0.0.1 --config sys.config` boots as
//!     // `nodus start` does, then loads and starts these applications
//!     // (distributed ones through dist_ac, as the kernel's
//!     // `distributed` parameter says).
//!     nodus_cli::main_with(vec![/* nodus::application::AppSpec::new("demo", Demo) */])
//! }
//! ```

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `println!` that does not panic when stdout is gone (a closed pipe, a
/// daemon's closed terminal): the line is dropped.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

mod apps_boot;
mod apps_cmd;
mod chat;
mod cluster_cmd;
mod config_cmd;
mod dist_cmd;
mod pubsub_cmd;
mod start_cmd;
mod term_cmd;

/// Erlang-style clustering for Rust.
#[derive(Parser)]
#[command(name = "nodus", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert terms between Erlang text and the External Term Format.
    #[command(subcommand)]
    Term(term_cmd::TermCmd),
    /// Ping a node as a hidden node, like `net_adm:ping/1`: prints pong (exit 0) or pang (exit 1).
    Ping(dist_cmd::PingArgs),
    /// Call MOD:FUN(ARGS...) on NODE through its rex server, as a hidden node; prints the result as Erlang text.
    Rpc(dist_cmd::RpcArgs),
    /// Tell a running NODE to connect to PEER (net_kernel:connect_node/1): prints true (exit 0) or false (exit 1).
    Connect(dist_cmd::PeerArgs),
    /// Tell a running NODE to disconnect from PEER (erlang:disconnect_node/1): prints true (exit 0) or false (exit 1).
    Disconnect(dist_cmd::PeerArgs),
    /// Print the pg groups of SCOPE (default pg) that NODE sees, with their members.
    Pg(pubsub_cmd::PgArgs),
    /// Broadcast on, or subscribe to, a Phoenix.PubSub-compatible PubSub through NODE.
    Pubsub(pubsub_cmd::PubSubArgs),
    /// Run an EPMD server (honours ERL_EPMD_PORT).
    Epmd(dist_cmd::EpmdArgs),
    /// Start a node that boots from a sys.config (or nodus.toml) and runs until SIGINT/SIGTERM.
    Start(start_cmd::StartArgs),
    /// Print the nodes NODE is connected to, one per line (its Node.list).
    Nodes(dist_cmd::NodesArgs),
    /// List the applications of NODE (nodus or BEAM): running, standing by (and where each distributed one runs), loaded.
    Apps(apps_cmd::AppsArgs),
    /// Render or check a nodus.toml or sys.config.
    #[command(subcommand)]
    Config(config_cmd::ConfigCmd),
    /// Start a local cluster (n1@127.0.0.1 ...) on the embedded default sys.config.
    Cluster(cluster_cmd::ClusterArgs),
}

/// Runs the `nodus` command line; `nodus start` also loads and starts
/// `apps` (in order, after the node has booted and synced).
pub fn main_with(apps: Vec<nodus::application::AppSpec>) -> ExitCode {
    let cli = Cli::parse_from(start_cmd::erlang_spellings(std::env::args().collect()));
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colours only on a terminal: a log file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
    let result = match cli.command {
        Command::Term(cmd) => term_cmd::run(
            cmd,
            &mut std::io::stdin().lock(),
            &mut std::io::stdout().lock(),
        ),
        Command::Ping(args) => match dist_cmd::ping(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        Command::Connect(args) => match dist_cmd::connect(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        Command::Disconnect(args) => match dist_cmd::disconnect(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        Command::Pg(args) => pubsub_cmd::pg(args),
        Command::Pubsub(args) => pubsub_cmd::pubsub(args),
        Command::Epmd(args) => dist_cmd::epmd(args),
        Command::Rpc(args) => dist_cmd::rpc(args),
        Command::Start(args) => start_cmd::start(args, apps),
        Command::Nodes(args) => dist_cmd::nodes(args),
        Command::Apps(args) => apps_cmd::apps(args),
        Command::Config(cmd) => config_cmd::run(cmd),
        Command::Cluster(args) => cluster_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "nodus: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The runtime of every networked command: one thread, which gives a
/// node's connections the shortest round trips (no hand-offs between
/// worker threads; see the two nodus columns of `bench/dist.sh`).
/// `NODUS_WORKER_THREADS=N` (N > 1) runs on N worker threads instead.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let workers = std::env::var("NODUS_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(1);
    let mut builder = if workers > 1 {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(workers);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    Ok(builder.enable_all().build()?)
}

/// Reads all of standard input, up to `limit` bytes.
pub(crate) fn read_limited(input: &mut dyn Read, limit: usize) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    input.take(limit as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > limit {
        anyhow::bail!("input is larger than {limit} bytes");
    }
    Ok(buf)
}
