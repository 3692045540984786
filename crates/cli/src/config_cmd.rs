//! `nodus config render|check`: between `nodus.toml` and `sys.config`.

use std::path::PathBuf;

use clap::Subcommand;
use nodus::config::{render_sys_config, render_toml, Config};

/// `nodus config ...`.
#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Print the equivalent of FILE in the other format: a nodus.toml as a
    /// sys.config, a sys.config as a nodus.toml.
    Render {
        /// A nodus.toml or a sys.config.
        file: PathBuf,
        /// The output format: sys (sys.config) or toml.
        #[arg(long)]
        to: Option<String>,
    },
    /// Validate FILE (nodus.toml or sys.config): prints what it sets, or
    /// each error with file, line and column (exit 1).
    Check {
        /// A nodus.toml or a sys.config.
        file: PathBuf,
    },
}

/// Runs a `nodus config` command.
pub fn run(cmd: ConfigCmd) -> anyhow::Result<()> {
    match cmd {
        ConfigCmd::Render { file, to } => {
            let cfg = Config::load(&file)?;
            let is_toml = file.extension().is_some_and(|e| e == "toml");
            let to_toml = match to.as_deref() {
                Some("toml") => true,
                Some("sys" | "sys.config" | "config") => false,
                Some(other) => anyhow::bail!("--to {other}: expected sys or toml"),
                None => !is_toml,
            };
            let text = if to_toml {
                render_toml(&cfg)
            } else {
                render_sys_config(&cfg)
            };
            {
                use std::io::Write as _;
                let _ = std::io::stdout().write_all(text.as_bytes());
            }
            Ok(())
        }
        ConfigCmd::Check { file } => {
            let cfg = Config::load(&file)?;
            say!("{}: ok", file.display());
            let k = &cfg.kernel;
            if let Some(n) = &cfg.node.name {
                say!(
                    "  node name: {n}{}",
                    if cfg.node.short_names { " (short)" } else { "" }
                );
            }
            let set = cfg.kernel_terms();
            if set.is_empty() {
                say!("  kernel: OTP's defaults");
            }
            for (key, value) in &set {
                say!("  {{{key}, {value}}}");
            }
            if k.sync_nodes_timeout.is_none() {
                say!("  (no sync_nodes_timeout: the boot does not wait for other nodes)");
            }
            for w in cfg.warnings() {
                say!("  warning: {w}");
            }
            Ok(())
        }
    }
}
