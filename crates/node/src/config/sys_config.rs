//! `sys.config`: `[{App, [{Key, Value}]} | "other.config"].`, read with
//! OTP's rules for the `kernel` parameters nodus implements.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use nodus_term::{text, Term};

use super::{read_file, Config, ConfigError, Kernel, SyncTimeout};
use crate::net_kernel::AutoConnect;

/// The largest `net_ticktime`: Erlang timers hold at most 2^31 ms.
const MAX_TICKTIME: i64 = 2_147_483;

/// How deep `sys.config` files may include each other.
const MAX_INCLUDE: usize = 8;

pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = read_file(path)?;
    parse(path, &text, 0)
}

/// Where `{key` first appears in `src`, as line and column.
fn locate(src: &str, key: &str) -> Option<(u32, u32)> {
    let bytes = src.as_bytes();
    let mut from = 0;
    while let Some(i) = src[from..].find(key) {
        let at = from + i;
        let end = at + key.len();
        let before = src[..at].trim_end();
        let ends_word = bytes
            .get(end)
            .is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'));
        if before.ends_with('{') && ends_word {
            let line = src[..at].matches('\n').count() as u32 + 1;
            let col = src[..at]
                .rsplit('\n')
                .next()
                .map_or(0, |l| l.chars().count()) as u32
                + 1;
            return Some((line, col));
        }
        from = end;
    }
    None
}

pub(crate) fn parse(path: &Path, src: &str, depth: usize) -> Result<Config, ConfigError> {
    let terms = text::parse_terms(src)
        .map_err(|e| ConfigError::new(path, Some((e.line, e.column)), e.message))?;
    let top = match terms.as_slice() {
        [t] => t,
        [] => {
            return Err(ConfigError::new(
                path,
                None,
                "empty file: expected [{App, [{Key, Value}]}].",
            ))
        }
        _ => {
            return Err(ConfigError::new(
                path,
                None,
                "expected exactly one term, [{App, [{Key, Value}]}], followed by '.'",
            ))
        }
    };
    let Some(items) = top.as_list() else {
        return Err(ConfigError::new(
            path,
            Some((1, 1)),
            format!("expected a list of {{App, [{{Key, Value}}]}}, got {top}"),
        ));
    };
    let mut cfg = Config {
        source: Some(path.to_path_buf()),
        ..Config::default()
    };
    for item in items {
        if let Some(file) = string_of(item) {
            if depth >= MAX_INCLUDE {
                return Err(ConfigError::new(
                    path,
                    None,
                    format!("{file}: included more than {MAX_INCLUDE} files deep"),
                ));
            }
            let inc = include_path(path, &file);
            let text = read_file(&inc)?;
            let other = parse(&inc, &text, depth + 1)?;
            merge(&mut cfg, other);
            continue;
        }
        let Some([Term::Atom(app), params]) = item.as_tuple() else {
            return Err(ConfigError::new(
                path,
                None,
                format!("expected {{App, [{{Key, Value}}]}} or a file name, got {item}"),
            ));
        };
        let Some(params) = params.as_list() else {
            return Err(ConfigError::new(
                path,
                locate(src, app.as_str()),
                format!("the parameters of {app} must be a list of {{Key, Value}}"),
            ));
        };
        let mut pairs = Vec::new();
        for p in params {
            let Some([Term::Atom(k), v]) = p.as_tuple() else {
                return Err(ConfigError::new(
                    path,
                    locate(src, app.as_str()),
                    format!("in {app}: expected {{Key, Value}}, got {p}"),
                ));
            };
            pairs.push((k.as_str().to_string(), v.clone()));
        }
        if app.as_str() == "kernel" {
            for (k, v) in &pairs {
                set_kernel(&mut cfg, k, v)
                    .map_err(|m| ConfigError::new(path, locate(src, k), m))?;
            }
        } else {
            add_env(&mut cfg, app.as_str(), pairs);
        }
    }
    cfg.pubsub()
        .map_err(|m| ConfigError::new(path, locate(src, super::pubsub::KEY), m))?;
    Ok(cfg)
}

fn include_path(from: &Path, file: &str) -> PathBuf {
    let mut p = PathBuf::from(file);
    if p.extension().is_none() {
        p.set_extension("config");
    }
    if p.is_relative() && !p.exists() {
        if let Some(dir) = from.parent() {
            return dir.join(p);
        }
    }
    p
}

fn merge(into: &mut Config, other: Config) {
    // Later entries win, parameter by parameter, as in OTP.
    into.kernel = other.kernel;
    for (app, pairs) in other.env {
        add_env(into, &app, pairs);
    }
    for u in other.unknown {
        if !into.unknown.contains(&u) {
            into.unknown.push(u);
        }
    }
}

/// Adds parameters of `app`; a key given twice keeps its last value, as
/// OTP merges application environments.
fn add_env(cfg: &mut Config, app: &str, pairs: Vec<(String, Term)>) {
    let i = match cfg.env.iter().position(|(a, _)| a == app) {
        Some(i) => i,
        None => {
            cfg.env.push((app.to_string(), Vec::new()));
            cfg.env.len() - 1
        }
    };
    let env = &mut cfg.env[i].1;
    for (k, v) in pairs {
        match env.iter_mut().find(|(ek, _)| *ek == k) {
            Some(slot) => slot.1 = v,
            None => env.push((k, v)),
        }
    }
}

fn string_of(t: &Term) -> Option<String> {
    match t {
        Term::List(l) if !l.is_empty() => l
            .iter()
            .map(|c| {
                c.as_i64()
                    .and_then(|i| u32::try_from(i).ok())
                    .and_then(char::from_u32)
            })
            .collect(),
        Term::Binary(b) => std::str::from_utf8(b).ok().map(str::to_string),
        _ => None,
    }
}

fn node_list(key: &str, v: &Term) -> Result<Vec<String>, String> {
    let l = v
        .as_list()
        .ok_or_else(|| format!("{key} must be a list of node names, got {v}"))?;
    l.iter()
        .map(|n| match n.as_atom() {
            Some(a) if a.contains('@') => Ok(a.to_string()),
            _ => Err(format!(
                "{key} must be a list of node names (atoms such as 'n1@127.0.0.1'), got {n}"
            )),
        })
        .collect()
}

fn port(key: &str, v: &Term) -> Result<u16, String> {
    v.as_i64()
        .and_then(|i| u16::try_from(i).ok())
        .ok_or_else(|| format!("{key} must be a port number (0..65535), got {v}"))
}

fn ip(v: &Term) -> Option<IpAddr> {
    let parts: Vec<i64> = v
        .as_tuple()?
        .iter()
        .map(Term::as_i64)
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [a, b, c, d] => {
            let o: Vec<u8> = [a, b, c, d]
                .iter()
                .map(|x| u8::try_from(**x).ok())
                .collect::<Option<_>>()?;
            Some(IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3])))
        }
        p if p.len() == 8 => {
            let s: Vec<u16> = p
                .iter()
                .map(|x| u16::try_from(*x).ok())
                .collect::<Option<_>>()?;
            Some(IpAddr::V6(Ipv6Addr::new(
                s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
            )))
        }
        _ => None,
    }
}

/// Sets one kernel parameter, checked as OTP checks it.
pub(crate) fn set_kernel(cfg: &mut Config, key: &str, v: &Term) -> Result<(), String> {
    let k = &mut cfg.kernel;
    match key {
        "sync_nodes_optional" => k.sync_nodes_optional = node_list(key, v)?,
        "sync_nodes_mandatory" => k.sync_nodes_mandatory = node_list(key, v)?,
        "sync_nodes_timeout" => {
            k.sync_nodes_timeout = Some(match v {
                Term::Int(i) if *i > 0 => SyncTimeout::Millis(*i as u64),
                t if t.is_atom("infinity") => SyncTimeout::Infinity,
                _ => return Err(format!("sync_nodes_timeout must be a positive integer (milliseconds) or infinity, got {v}")),
            })
        }
        "net_ticktime" => {
            k.net_ticktime = match v {
                Term::Int(i) if *i > 0 && *i <= MAX_TICKTIME => *i as u64,
                _ => return Err(format!("net_ticktime must be a positive integer of seconds up to {MAX_TICKTIME}, got {v}")),
            }
        }
        "net_setuptime" => {
            k.net_setuptime = match v {
                Term::Int(i) if *i > 0 => (*i).min(120) as f64,
                Term::Float(f) if *f > 0.0 => f.min(120.0),
                _ => return Err(format!("net_setuptime must be a positive number (seconds), got {v}")),
            }
        }
        "connect_all" => {
            k.connect_all = match v.as_atom() {
                Some("true") => true,
                Some("false") => false,
                _ => return Err(format!("connect_all must be true or false, got {v}")),
            }
        }
        "prevent_overlapping_partitions" => {
            k.prevent_overlapping_partitions = match v.as_atom() {
                Some("true") => true,
                Some("false") => false,
                _ => return Err(format!("prevent_overlapping_partitions must be true or false, got {v}")),
            }
        }
        "distributed" => {
            let l = v
                .as_list()
                .ok_or_else(|| format!("distributed must be a list of {{App, Nodes}} or {{App, Time, Nodes}}, got {v}"))?;
            k.distributed = l
                .iter()
                .map(crate::application::DistSpec::from_term)
                .collect::<Result<_, _>>()?;
        }
        "start_dist_ac" => {
            k.start_dist_ac = match v.as_atom() {
                Some("true") => true,
                Some("false") => false,
                _ => return Err(format!("start_dist_ac must be true or false, got {v}")),
            }
        }
        "permissions" => {
            let bad = || format!("permissions must be a list of {{App, true | false}}, got {v}");
            k.permissions = v
                .as_list()
                .ok_or_else(bad)?
                .iter()
                .map(|e| match e.as_tuple() {
                    Some([Term::Atom(a), b]) if b.is_atom("true") || b.is_atom("false") => {
                        Ok((a.as_str().to_string(), b.is_atom("true")))
                    }
                    _ => Err(bad()),
                })
                .collect::<Result<_, _>>()?;
        }
        "start_pg" => {
            k.start_pg = match v.as_atom() {
                Some("true") => true,
                Some("false") => false,
                _ => return Err(format!("start_pg must be true or false, got {v}")),
            }
        }
        "dist_auto_connect" => {
            k.dist_auto_connect = match v.as_atom() {
                Some("never") => AutoConnect::Never,
                Some("once") => AutoConnect::Once,
                Some("always") => AutoConnect::Always,
                _ => return Err(format!("dist_auto_connect must be never or once, got {v}")),
            }
        }
        "inet_dist_listen_min" => k.inet_dist_listen_min = Some(port(key, v)?),
        "inet_dist_listen_max" => k.inet_dist_listen_max = Some(port(key, v)?),
        "inet_dist_use_interface" => {
            k.inet_dist_use_interface = Some(ip(v).ok_or_else(|| {
                format!("inet_dist_use_interface must be an IP address tuple such as {{127,0,0,1}}, got {v}")
            })?)
        }
        other => {
            if !cfg.unknown.iter().any(|u| u == other) {
                cfg.unknown.push(other.to_string());
            }
        }
    }
    Ok(())
}

fn atoms(l: &[String]) -> Term {
    Term::List(l.iter().map(|n| Term::atom(n)).collect())
}

/// The kernel parameters that differ from OTP's defaults, as terms.
pub(crate) fn kernel_terms(k: &Kernel) -> Vec<(String, Term)> {
    let d = Kernel::default();
    let mut out = Vec::new();
    if !k.sync_nodes_optional.is_empty() {
        out.push(("sync_nodes_optional".into(), atoms(&k.sync_nodes_optional)));
    }
    if !k.sync_nodes_mandatory.is_empty() {
        out.push((
            "sync_nodes_mandatory".into(),
            atoms(&k.sync_nodes_mandatory),
        ));
    }
    match k.sync_nodes_timeout {
        Some(SyncTimeout::Millis(ms)) => {
            out.push(("sync_nodes_timeout".into(), Term::Int(ms as i64)))
        }
        Some(SyncTimeout::Infinity) => {
            out.push(("sync_nodes_timeout".into(), Term::atom("infinity")))
        }
        None => {}
    }
    if k.net_ticktime != d.net_ticktime {
        out.push(("net_ticktime".into(), Term::Int(k.net_ticktime as i64)));
    }
    if k.net_setuptime != d.net_setuptime {
        let v = if k.net_setuptime.fract() == 0.0 {
            Term::Int(k.net_setuptime as i64)
        } else {
            Term::Float(k.net_setuptime)
        };
        out.push(("net_setuptime".into(), v));
    }
    if !k.connect_all {
        out.push(("connect_all".into(), Term::atom("false")));
    }
    if !k.prevent_overlapping_partitions {
        out.push(("prevent_overlapping_partitions".into(), Term::atom("false")));
    }
    if k.start_pg {
        out.push(("start_pg".into(), Term::atom("true")));
    }
    if !k.distributed.is_empty() {
        out.push((
            "distributed".into(),
            Term::List(
                k.distributed
                    .iter()
                    .map(crate::application::DistSpec::to_term)
                    .collect(),
            ),
        ));
    }
    if k.start_dist_ac {
        out.push(("start_dist_ac".into(), Term::atom("true")));
    }
    if !k.permissions.is_empty() {
        out.push((
            "permissions".into(),
            Term::List(
                k.permissions
                    .iter()
                    .map(|(a, b)| Term::tuple(vec![Term::atom(a), Term::from(*b)]))
                    .collect(),
            ),
        ));
    }
    match k.dist_auto_connect {
        AutoConnect::Always => {}
        AutoConnect::Once => out.push(("dist_auto_connect".into(), Term::atom("once"))),
        AutoConnect::Never => out.push(("dist_auto_connect".into(), Term::atom("never"))),
    }
    if let Some(p) = k.inet_dist_listen_min {
        out.push(("inet_dist_listen_min".into(), Term::Int(p.into())));
    }
    if let Some(p) = k.inet_dist_listen_max {
        out.push(("inet_dist_listen_max".into(), Term::Int(p.into())));
    }
    if let Some(ip) = k.inet_dist_use_interface {
        let t = match ip {
            IpAddr::V4(a) => {
                Term::Tuple(a.octets().iter().map(|o| Term::Int((*o).into())).collect())
            }
            IpAddr::V6(a) => Term::Tuple(
                a.segments()
                    .iter()
                    .map(|o| Term::Int((*o).into()))
                    .collect(),
            ),
        };
        out.push(("inet_dist_use_interface".into(), t));
    }
    out
}

/// The configuration as a `sys.config`, laid out like the one in
/// Phoenix's clustering guide. Name and cookie, which belong in
/// `vm.args`, come first as a comment.
pub fn render(cfg: &Config) -> String {
    let mut s = String::new();
    let n = &cfg.node;
    if n.name.is_some() || n.cookie.is_some() {
        s.push_str("%% vm.args:");
        if let Some(name) = &n.name {
            s.push_str(if n.short_names { " -sname " } else { " -name " });
            s.push_str(name);
        }
        if n.cookie.is_some() {
            s.push_str(" -setcookie <cookie>");
        }
        s.push('\n');
    }
    let mut apps: Vec<(String, Vec<(String, Term)>)> =
        vec![("kernel".into(), kernel_terms(&cfg.kernel))];
    apps.extend(cfg.env.iter().cloned());
    s.push('[');
    for (i, (app, params)) in apps.iter().enumerate() {
        if i > 0 {
            s.push_str(",\n ");
        }
        s.push('{');
        s.push_str(&text::to_text(&Term::atom(app)));
        s.push_str(",\n  [");
        for (j, (k, v)) in params.iter().enumerate() {
            if j > 0 {
                s.push_str(",\n   ");
            }
            s.push_str(&format!(
                "{{{}, {}}}",
                text::to_text(&Term::atom(k)),
                text::to_text(v)
            ));
        }
        s.push_str("]}");
    }
    s.push_str("].\n");
    s
}
