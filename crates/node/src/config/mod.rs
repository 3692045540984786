//! Node configuration: the `kernel` parameters of a `sys.config`, and the
//! same settings as a Rust-native TOML file (`nodus.toml`), which renders
//! to and from `sys.config` as Mix config does through a release.
//!
//! Errors name the file, line and column. Parameters nodus does not
//! implement are kept and reported by [`Config::unknown`], so that a
//! caller can warn about each once, by name.

mod pubsub;
mod suggest;
mod sys_config;
mod toml_config;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nodus_term::Term;

pub use sys_config::render as render_sys_config;
pub use toml_config::{render as render_toml, ENV_PREFIX};

use crate::net_kernel::AutoConnect;

/// `sync_nodes_timeout`: milliseconds or `infinity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncTimeout {
    /// Wait at most this long.
    Millis(u64),
    /// Wait until every listed node is up.
    Infinity,
}

/// The `kernel` parameters nodus implements, with OTP's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Kernel {
    /// `sync_nodes_optional`.
    pub sync_nodes_optional: Vec<String>,
    /// `sync_nodes_mandatory`.
    pub sync_nodes_mandatory: Vec<String>,
    /// `sync_nodes_timeout`; `None`: nothing waits at boot (OTP's default).
    pub sync_nodes_timeout: Option<SyncTimeout>,
    /// `net_ticktime` in seconds (default 60).
    pub net_ticktime: u64,
    /// `net_setuptime` in seconds (default 7).
    pub net_setuptime: f64,
    /// `connect_all` (default true).
    pub connect_all: bool,
    /// `prevent_overlapping_partitions` (default true, as in OTP 25).
    pub prevent_overlapping_partitions: bool,
    /// `start_pg` (default false, as in OTP): start the default `pg`
    /// scope.
    pub start_pg: bool,
    /// `dist_auto_connect` (default: always).
    pub dist_auto_connect: AutoConnect,
    /// `inet_dist_listen_min`.
    pub inet_dist_listen_min: Option<u16>,
    /// `inet_dist_listen_max`.
    pub inet_dist_listen_max: Option<u16>,
    /// `inet_dist_use_interface`.
    pub inet_dist_use_interface: Option<IpAddr>,
    /// `distributed`: the distributed applications, `{App, Nodes}` or
    /// `{App, Time, Nodes}` each (checked when read).
    pub distributed: Vec<crate::application::DistSpec>,
    /// `start_dist_ac` (implied by a non-empty `distributed`).
    pub start_dist_ac: bool,
    /// `permissions`: `{App, Bool}`; an application with `false` is not
    /// run here until `application:permit(App, true)`.
    pub permissions: Vec<(String, bool)>,
}

impl Default for Kernel {
    fn default() -> Self {
        Kernel {
            sync_nodes_optional: Vec::new(),
            sync_nodes_mandatory: Vec::new(),
            sync_nodes_timeout: None,
            net_ticktime: 60,
            net_setuptime: 7.0,
            connect_all: true,
            prevent_overlapping_partitions: true,
            start_pg: false,
            dist_auto_connect: AutoConnect::Always,
            inet_dist_listen_min: None,
            inet_dist_listen_max: None,
            inet_dist_use_interface: None,
            distributed: Vec::new(),
            start_dist_ac: false,
            permissions: Vec::new(),
        }
    }
}

impl Kernel {
    /// The distribution port range (`max` defaults to `min`, as in OTP).
    pub fn listen_ports(&self) -> Option<(u16, u16)> {
        let min = self.inet_dist_listen_min?;
        Some((min, self.inet_dist_listen_max.unwrap_or(min).max(min)))
    }

    /// `net_setuptime` as a duration.
    pub fn setup_time(&self) -> Duration {
        Duration::from_secs_f64(self.net_setuptime)
    }
}

/// Node settings that a release passes in `vm.args` rather than
/// `sys.config`: the name and the cookie.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeSettings {
    /// `-name` (long) or `-sname` (short) name.
    pub name: Option<String>,
    /// True for `-sname`.
    pub short_names: bool,
    /// `-setcookie`.
    pub cookie: Option<String>,
    /// The EPMD port.
    pub epmd_port: Option<u16>,
}

/// A whole configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// The file it came from.
    pub source: Option<PathBuf>,
    /// The kernel parameters.
    pub kernel: Kernel,
    /// Name and cookie (TOML only; `sys.config` has none).
    pub node: NodeSettings,
    /// Parameters of other applications, `{App, [{Key, Value}]}` as
    /// written, for the application to read.
    pub env: Vec<(String, Vec<(String, Term)>)>,
    /// Kernel parameters nodus does not implement, by name.
    pub unknown: Vec<String>,
}

/// A configuration error: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// 1-based column, when known.
    pub column: Option<u32>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl ConfigError {
    pub(crate) fn new(file: &Path, at: Option<(u32, u32)>, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: at.map(|a| a.0),
            column: at.map(|a| a.1),
            message: message.into(),
        }
    }
}

/// Largest configuration file read (a `sys.config` is small).
pub const MAX_FILE: u64 = 4 * 1024 * 1024;

pub(crate) fn read_file(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| ConfigError::new(path, None, format!("cannot read: {e}")))?;
    let mut s = String::new();
    f.take(MAX_FILE + 1)
        .read_to_string(&mut s)
        .map_err(|e| ConfigError::new(path, None, format!("cannot read: {e}")))?;
    if s.len() as u64 > MAX_FILE {
        return Err(ConfigError::new(
            path,
            None,
            format!("larger than {MAX_FILE} bytes"),
        ));
    }
    Ok(s)
}

impl Config {
    /// Reads a `sys.config` (`.config`) or a `nodus.toml` (`.toml`), by
    /// extension; TOML settings then take `NODUS_*` environment overrides.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        if path.extension().is_some_and(|e| e == "toml") {
            toml_config::load(path, &|k| std::env::var(k).ok())
        } else {
            sys_config::load(path)
        }
    }

    /// The kernel parameters that differ from OTP's defaults, as the
    /// Erlang terms a `sys.config` holds.
    pub fn kernel_terms(&self) -> Vec<(String, Term)> {
        sys_config::kernel_terms(&self.kernel)
    }

    /// Sets one kernel parameter from its Erlang value, checked as in a
    /// `sys.config` (what `erl -kernel Key Value` does).
    pub fn set_kernel(&mut self, key: &str, value: &Term) -> Result<(), String> {
        sys_config::set_kernel(self, key, value)
    }

    /// One warning per parameter or application name nodus does not use,
    /// with the nearest known name when one is close (`sync_nodes_timout`:
    /// did you mean `sync_nodes_timeout`?).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for u in &self.unknown {
            out.push(match suggest::nearest(u, suggest::KERNEL_IMPLEMENTED) {
                Some(s) => format!("unknown kernel parameter {u} (did you mean {s}?); ignored"),
                None if suggest::KERNEL_OTHER.contains(&u.as_str()) => {
                    format!("kernel parameter {u} is not implemented by nodus; ignored")
                }
                None => format!("unknown kernel parameter {u}; ignored"),
            });
        }
        for (app, _) in &self.env {
            if let Some(s) = suggest::nearest(app, suggest::APPLICATIONS) {
                out.push(format!("application {app} (did you mean {s}?): its parameters are not kernel's; ignored by nodus"));
            }
        }
        out
    }

    /// Parses `sys.config` text (`path` names it in errors).
    pub fn from_sys_config(path: &Path, text: &str) -> Result<Config, ConfigError> {
        sys_config::parse(path, text, 0)
    }

    /// Parses `nodus.toml` text with environment overrides from `env`.
    pub fn from_toml(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        toml_config::parse(path, text, env)
    }
}
