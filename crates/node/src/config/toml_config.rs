//! `nodus.toml`: the settings of a `sys.config` (and of `vm.args`) in
//! TOML, the way Mix config carries them for a release:
//!
//! ```toml
//! [node]
//! name = "n1@127.0.0.1"      # or sname = "n1"
//! cookie = "secret"          # default: ~/.erlang.cookie
//!
//! [kernel]                   # config :kernel, ...
//! sync_nodes_optional = ["n1@127.0.0.1", "n2@127.0.0.1"]
//! sync_nodes_timeout = 10000 # or "infinity"
//! ```
//!
//! Any `[kernel]` key, and `name`, `sname`, `cookie`, `epmd_port` of
//! `[node]`, can be overridden by an environment variable
//! `NODUS_KERNEL_<KEY>` / `NODUS_NODE_<KEY>` (upper case), holding a TOML
//! value (`10000`, `true`, `["a@h"]`) or a bare string; node lists also
//! take a comma-separated string. Other tables become the environment of
//! the application they name (`[apps.NAME]` for a name taken here).

use std::collections::BTreeMap;
use std::path::Path;

use nodus_term::Term;
use toml::{Spanned, Value};

use super::sys_config::{kernel_terms, set_kernel};
use super::{read_file, Config, ConfigError};

/// The prefix of environment overrides.
pub const ENV_PREFIX: &str = "NODUS_";

type Tables = BTreeMap<String, BTreeMap<String, Spanned<Value>>>;

pub(crate) fn load(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let text = read_file(path)?;
    parse(path, &text, env)
}

fn line_col(src: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    (line, col)
}

/// A name that becomes an atom (an application, a key).
fn atom_of(name: &str) -> Result<Term, String> {
    nodus_term::Atom::try_new(name)
        .map(Term::Atom)
        .map_err(|_| format!("{name:?} is longer than 255 characters"))
}

/// A TOML value as the term a `sys.config` would hold: strings are atoms
/// in `[kernel]` (node names, `infinity`) and binaries elsewhere.
fn to_term(v: &Value, strings_are_atoms: bool) -> Result<Term, String> {
    Ok(match v {
        Value::String(s) if strings_are_atoms => Term::Atom(
            nodus_term::Atom::try_new(s)
                .map_err(|_| format!("{s:?} is longer than 255 characters"))?,
        ),
        Value::String(s) => Term::binary(s.as_bytes()),
        Value::Integer(i) => Term::Int(*i),
        Value::Float(f) if f.is_finite() => Term::Float(*f),
        Value::Float(f) => return Err(format!("{f} is not a number Erlang can hold")),
        Value::Boolean(b) => Term::atom(if *b { "true" } else { "false" }),
        Value::Array(a) => Term::List(
            a.iter()
                .map(|x| to_term(x, strings_are_atoms))
                .collect::<Result<_, _>>()?,
        ),
        Value::Table(t) => Term::List(
            t.iter()
                .map(|(k, x)| {
                    Ok(Term::tuple(vec![
                        atom_of(k)?,
                        to_term(x, strings_are_atoms)?,
                    ]))
                })
                .collect::<Result<_, String>>()?,
        ),
        Value::Datetime(d) => Term::binary(d.to_string().as_bytes()),
    })
}

/// A kernel value: as [`to_term`], with an IP address string read as
/// the tuple OTP expects.
fn kernel_term(key: &str, v: &Value) -> Result<Term, String> {
    if key == "distributed" || key == "permissions" {
        // Erlang text: the whole list in one string, or one string per
        // entry (`["{demo, 500, ['a@h', {'b@h', 'c@h'}]}"]`); permissions
        // may also be a table (`{ demo = false }`).
        let parse =
            |s: &str| nodus_term::text::parse_term(s).map_err(|e| format!("{key}: {s:?}: {e}"));
        match v {
            Value::String(s) => return parse(s),
            Value::Array(items) if items.iter().all(|x| matches!(x, Value::String(_))) => {
                return items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(parse)
                    .collect::<Result<Vec<_>, _>>()
                    .map(Term::list);
            }
            _ => {}
        }
    }
    if key == "inet_dist_use_interface" {
        if let Value::String(s) = v {
            let ip: std::net::IpAddr = s
                .parse()
                .map_err(|_| format!("inet_dist_use_interface: {s:?} is not an IP address"))?;
            return Ok(match ip {
                std::net::IpAddr::V4(a) => {
                    Term::Tuple(a.octets().iter().map(|o| Term::Int((*o).into())).collect())
                }
                std::net::IpAddr::V6(a) => Term::Tuple(
                    a.segments()
                        .iter()
                        .map(|o| Term::Int((*o).into()))
                        .collect(),
                ),
            });
        }
    }
    to_term(v, true)
}

/// An environment override's text as a TOML value.
fn env_value(key: &str, raw: &str) -> Value {
    if let Ok(t) = toml::from_str::<BTreeMap<String, Value>>(&format!("v = {raw}")) {
        if let Some(v) = t.get("v") {
            return v.clone();
        }
    }
    if key.starts_with("sync_nodes_") && key != "sync_nodes_timeout" {
        return Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        );
    }
    Value::String(raw.to_string())
}

const KERNEL_KEYS: &[&str] = &[
    "sync_nodes_optional",
    "sync_nodes_mandatory",
    "sync_nodes_timeout",
    "net_ticktime",
    "net_setuptime",
    "connect_all",
    "prevent_overlapping_partitions",
    "start_pg",
    "dist_auto_connect",
    "inet_dist_listen_min",
    "inet_dist_listen_max",
    "inet_dist_use_interface",
    "distributed",
    "start_dist_ac",
    "permissions",
];

pub(crate) fn parse(
    path: &Path,
    src: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let tables: Tables = toml::from_str(src).map_err(|e| {
        let at = e.span().map(|s| line_col(src, s.start));
        ConfigError::new(path, at, e.message().to_string())
    })?;
    let mut cfg = Config {
        source: Some(path.to_path_buf()),
        ..Config::default()
    };
    for (table, entries) in &tables {
        match table.as_str() {
            "node" => {
                for (k, v) in entries {
                    let at = Some(line_col(src, v.span().start));
                    set_node(&mut cfg, k, v.get_ref())
                        .map_err(|m| ConfigError::new(path, at, m))?;
                }
            }
            "kernel" => {
                for (k, v) in entries {
                    let at = Some(line_col(src, v.span().start));
                    let t =
                        kernel_term(k, v.get_ref()).map_err(|m| ConfigError::new(path, at, m))?;
                    set_kernel(&mut cfg, k, &t).map_err(|m| ConfigError::new(path, at, m))?;
                }
            }
            "apps" => {
                // `[apps.NAME]`: an application whose name is taken here
                // (`node`, `kernel`, `apps`).
                for (app, v) in entries {
                    let at = Some(line_col(src, v.span().start));
                    let Value::Table(t) = v.get_ref() else {
                        return Err(ConfigError::new(
                            path,
                            at,
                            format!("apps.{app} must be a table"),
                        ));
                    };
                    atom_of(app).map_err(|m| ConfigError::new(path, at, m))?;
                    let mut pairs = Vec::new();
                    for (k, x) in t {
                        atom_of(k).map_err(|m| ConfigError::new(path, at, m))?;
                        pairs.push((
                            k.clone(),
                            to_term(x, false).map_err(|m| ConfigError::new(path, at, m))?,
                        ));
                    }
                    cfg.env.push((app.clone(), pairs));
                }
            }
            "pubsub" => {
                // `[pubsub."Demo.PubSub"]`: the `pubsub` parameter of the
                // `nodus` application.
                let mut list = Vec::new();
                for (name, v) in entries {
                    let at = Some(line_col(src, v.span().start));
                    atom_of(name).map_err(|m| ConfigError::new(path, at, m))?;
                    let opts =
                        to_term(v.get_ref(), false).map_err(|m| ConfigError::new(path, at, m))?;
                    // Each option checked alone, so that an error points
                    // at its line.
                    for item in opts.as_list().unwrap_or(&[]) {
                        let one = Term::list(vec![item.clone()]);
                        if let Err(m) = super::pubsub::entry(name, &one) {
                            let key = item
                                .as_tuple()
                                .and_then(|t| t.first())
                                .and_then(Term::as_atom);
                            let start = v.span().start;
                            let off = key
                                .and_then(|k| src[start..].find(k))
                                .map_or(start, |o| start + o);
                            return Err(ConfigError::new(path, Some(line_col(src, off)), m));
                        }
                    }
                    super::pubsub::entry(name, &opts).map_err(|m| ConfigError::new(path, at, m))?;
                    list.push(Term::tuple(vec![Term::atom(name), opts]));
                }
                cfg.env.push((
                    super::pubsub::APP.to_string(),
                    vec![(super::pubsub::KEY.to_string(), Term::list(list))],
                ));
            }
            app => {
                atom_of(app).map_err(|m| ConfigError::new(path, None, m))?;
                let mut pairs = Vec::new();
                for (k, v) in entries {
                    let at = Some(line_col(src, v.span().start));
                    atom_of(k).map_err(|m| ConfigError::new(path, at, m))?;
                    pairs.push((
                        k.clone(),
                        to_term(v.get_ref(), false).map_err(|m| ConfigError::new(path, at, m))?,
                    ));
                }
                cfg.env.push((app.to_string(), pairs));
            }
        }
    }
    for key in ["name", "sname", "cookie", "epmd_port"] {
        let var = format!("{ENV_PREFIX}NODE_{}", key.to_uppercase());
        if let Some(raw) = env(&var) {
            set_node(&mut cfg, key, &env_value(key, &raw))
                .map_err(|m| ConfigError::new(Path::new(&format!("${var}")), None, m))?;
        }
    }
    for key in KERNEL_KEYS {
        let var = format!("{ENV_PREFIX}KERNEL_{}", key.to_uppercase());
        if let Some(raw) = env(&var) {
            let err = |m: String| ConfigError::new(Path::new(&format!("${var}")), None, m);
            let t = kernel_term(key, &env_value(key, &raw)).map_err(err)?;
            set_kernel(&mut cfg, key, &t).map_err(err)?;
        }
    }
    Ok(cfg)
}

fn set_node(cfg: &mut Config, key: &str, v: &Value) -> Result<(), String> {
    let n = &mut cfg.node;
    if let (Some("name" | "sname"), Value::String(s)) = (Some(key), v) {
        if s.is_empty() || s.len() > 255 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{key} must be a node name such as n1@127.0.0.1, got {s:?}"
            ));
        }
    }
    match (key, v) {
        ("name", Value::String(s)) => {
            n.name = Some(s.clone());
            n.short_names = false;
        }
        ("sname", Value::String(s)) => {
            n.name = Some(s.clone());
            n.short_names = true;
        }
        ("cookie", Value::String(s)) => n.cookie = Some(s.clone()),
        ("epmd_port", Value::Integer(p)) => {
            n.epmd_port = Some(
                u16::try_from(*p)
                    .map_err(|_| format!("epmd_port must be a port number, got {p}"))?,
            )
        }
        ("name" | "sname" | "cookie", other) => {
            return Err(format!("{key} must be a string, got {other}"))
        }
        ("epmd_port", other) => {
            return Err(format!("epmd_port must be a port number, got {other}"))
        }
        (other, _) => {
            return Err(format!(
                "unknown key {other:?} in [node] (expected name, sname, cookie, epmd_port)"
            ))
        }
    }
    Ok(())
}

fn toml_value(t: &Term) -> Value {
    match t {
        Term::Atom(a) => match a.as_str() {
            "true" => Value::Boolean(true),
            "false" => Value::Boolean(false),
            s => Value::String(s.to_string()),
        },
        Term::Int(i) => Value::Integer(*i),
        Term::Float(f) => Value::Float(*f),
        Term::Binary(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        Term::List(l) => Value::Array(l.iter().map(toml_value).collect()),
        Term::Tuple(t)
            if t.iter().all(|x| x.as_i64().is_some()) && (t.len() == 4 || t.len() == 8) =>
        {
            let parts: Vec<i64> = t.iter().filter_map(Term::as_i64).collect();
            let s = if parts.len() == 4 {
                parts
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(".")
            } else {
                parts
                    .iter()
                    .map(|p| format!("{p:x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            };
            Value::String(s)
        }
        other => Value::String(other.to_string()),
    }
}

/// A TOML key: bare when it can be, else quoted.
fn key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        return k.to_string();
    }
    // A basic string on one line (a key cannot be a multi-line string).
    let mut q = String::from("\"");
    for c in k.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            '\r' => q.push_str("\\r"),
            c if c.is_control() => q.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// The configuration as a `nodus.toml`.
pub fn render(cfg: &Config) -> String {
    let mut s = String::new();
    let n = &cfg.node;
    if n.name.is_some() || n.cookie.is_some() || n.epmd_port.is_some() {
        s.push_str("[node]\n");
        if let Some(name) = &n.name {
            let key = if n.short_names { "sname" } else { "name" };
            s.push_str(&format!("{key} = {}\n", Value::String(name.clone())));
        }
        if let Some(c) = &n.cookie {
            s.push_str(&format!("cookie = {}\n", Value::String(c.clone())));
        }
        if let Some(p) = n.epmd_port {
            s.push_str(&format!("epmd_port = {p}\n"));
        }
        s.push('\n');
    }
    s.push_str("[kernel]\n");
    for (k, v) in kernel_terms(&cfg.kernel) {
        s.push_str(&format!("{k} = {}\n", toml_value(&v)));
    }
    if let Ok(list) = cfg.pubsub() {
        for (name, o) in list {
            s.push_str(&format!("\n[pubsub.{}]\n", key(&name)));
            s.push_str(&format!("pool_size = {}\n", o.pool_size));
            if let Some(b) = o.broadcast_pool_size {
                s.push_str(&format!("broadcast_pool_size = {b}\n"));
            }
        }
    }
    for (app, params) in &cfg.env {
        let params: Vec<&(String, Term)> = params
            .iter()
            .filter(|(k, _)| !(app == super::pubsub::APP && k == super::pubsub::KEY))
            .collect();
        if params.is_empty() && app == super::pubsub::APP {
            continue;
        }
        if matches!(app.as_str(), "node" | "kernel" | "apps" | "pubsub") {
            s.push_str(&format!("\n[apps.{}]\n", key(app)));
        } else {
            s.push_str(&format!("\n[{}]\n", key(app)));
        }
        for (k, v) in params {
            s.push_str(&format!("{} = {}\n", key(k), toml_value(v)));
        }
    }
    s
}
