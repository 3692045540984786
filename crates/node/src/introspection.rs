//! BEAM's introspection functions answered by a nodus node, so that
//! `:rpc.call(node, :erlang, :processes, [])`, `process_info/1,2`,
//! `system_info/1`, `memory/0,1`, `statistics/1`, `os:getpid/0` and
//! `application:which_applications/0` work from iex and BEAM tools.
//! An argument nodus does not support gives `badarg`, as BEAM does.
//!
//! Approximations (documented in the README): `memory` and
//! `process_info(P, memory)` count the process table and queued
//! messages, not a Rust task's own state; `reductions` counts messages
//! delivered; `status` is `waiting` with an empty mailbox, else
//! `runnable`; `current_function` is `{nodus, process, 0}`.

use nodus_term::{Atom, Pid, Term};

use crate::node::Node;
use crate::rpc::Exception;

fn badarg() -> Exception {
    Exception::Error(Term::atom("badarg"))
}

fn charlist(s: &str) -> Term {
    Term::List(
        s.chars()
            .map(|c| Term::Int(i64::from(u32::from(c))))
            .collect(),
    )
}

fn kv(k: &str, v: Term) -> Term {
    Term::tuple(vec![Term::atom(k), v])
}

/// The process-info items `process_info/1` lists.
const ITEMS: &[&str] = &[
    "registered_name",
    "current_function",
    "initial_call",
    "status",
    "message_queue_len",
    "links",
    "dictionary",
    "trap_exit",
    "memory",
];

/// `Some(result)` when `m:f/arity` is one of these functions.
pub(crate) fn call(
    node: &Node,
    m: &str,
    f: &str,
    args: &[Term],
) -> Option<Result<Term, Exception>> {
    Some(match (m, f, args) {
        ("erlang", "processes", []) => Ok(Term::List(
            node.processes().into_iter().map(Term::from).collect(),
        )),
        ("erlang", "process_info", [Term::Pid(p)]) => Ok(match info_list(node, p, ITEMS) {
            Some(Ok(l)) => Term::list(l),
            _ => Term::atom("undefined"),
        }),
        ("erlang", "process_info", [Term::Pid(p), Term::Atom(item)]) => {
            match info_list(node, p, &[item.as_str()]) {
                None => Ok(Term::atom("undefined")),
                Some(Ok(mut l)) => Ok(l.pop().unwrap_or_else(Term::nil)),
                Some(Err(e)) => Err(e),
            }
        }
        ("erlang", "process_info", [Term::Pid(p), Term::List(items)]) => {
            let names: Option<Vec<&str>> = items.iter().map(Term::as_atom).collect();
            let Some(names) = names else {
                return Some(Err(badarg()));
            };
            match info_list(node, p, &names) {
                None => Ok(Term::atom("undefined")),
                Some(r) => r.map(Term::list),
            }
        }
        ("erlang", "system_info", [Term::Atom(a)]) => system_info(node, a),
        ("erlang", "memory", []) => Ok(Term::List(
            memory(node)
                .into_iter()
                .map(|(k, v)| kv(k, Term::from(v)))
                .collect(),
        )),
        ("erlang", "memory", [Term::Atom(a)]) => memory(node)
            .into_iter()
            .find(|(k, _)| *k == a.as_str())
            .map(|(_, v)| Term::from(v))
            .ok_or_else(badarg),
        ("erlang", "statistics", [Term::Atom(a)]) => statistics(node, a.as_str()),
        ("os", "getpid", []) => Ok(charlist(&std::process::id().to_string())),
        ("application", "info", []) => Ok(crate::application::info(node)),
        ("application", "which_applications", []) | ("application", "which_applications", [_]) => {
            Ok(Term::List(
                crate::application::which_applications(node)
                    .into_iter()
                    .map(|(n, d, v)| Term::tuple(vec![Term::atom(&n), charlist(&d), charlist(&v)]))
                    .collect(),
            ))
        }
        _ => return None,
    })
}

/// `process_info(P, Items)`: `None` for a process that is not alive.
fn info_list(node: &Node, pid: &Pid, items: &[&str]) -> Option<Result<Vec<Term>, Exception>> {
    let info = node.process_info(pid)?;
    let mut out = Vec::new();
    for item in items {
        let v = match *item {
            "registered_name" => match &info.registered_name {
                Some(n) => Term::Atom(n.clone()),
                // BEAM gives [] for a process without a name.
                None => {
                    if items.len() == 1 {
                        return Some(Ok(vec![Term::nil()]));
                    }
                    Term::nil()
                }
            },
            "current_function" | "initial_call" => Term::tuple(vec![
                Term::atom("nodus"),
                Term::atom("process"),
                Term::Int(0),
            ]),
            "status" => Term::atom(if info.message_queue_len == 0 {
                "waiting"
            } else {
                "runnable"
            }),
            "message_queue_len" => Term::from(info.message_queue_len as u64),
            "messages" => Term::nil(),
            "links" => Term::List(info.links.iter().cloned().map(Term::from).collect()),
            "monitors" => Term::List(
                info.monitors
                    .iter()
                    .map(|t| Term::tuple(vec![Term::atom("process"), t.clone()]))
                    .collect(),
            ),
            "monitored_by" => {
                Term::List(info.monitored_by.iter().cloned().map(Term::from).collect())
            }
            "dictionary" => Term::nil(),
            "trap_exit" => Term::from(info.trap_exit),
            "memory" => Term::from(info.memory as u64),
            "group_leader" => Term::from(pid.clone()),
            "reductions" => Term::Int(0),
            _ => return Some(Err(badarg())),
        };
        out.push(kv(item, v));
    }
    Some(Ok(out))
}

fn system_info(node: &Node, what: &Atom) -> Result<Term, Exception> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    Ok(match what.as_str() {
        "process_count" => Term::from(node.process_count() as u64),
        // nodus has no process limit but memory; this is BEAM's largest.
        "process_limit" => Term::Int(134_217_727),
        "schedulers"
        | "schedulers_online"
        | "logical_processors"
        | "logical_processors_available" => Term::Int(threads),
        "otp_release" => charlist("25"),
        "version" => charlist(env!("CARGO_PKG_VERSION")),
        "system_version" => charlist(&format!(
            "nodus {} (Erlang distribution, OTP 25 compatible)\n",
            env!("CARGO_PKG_VERSION")
        )),
        "machine" => charlist("nodus"),
        "wordsize" => Term::Int(8),
        "port_count" => Term::Int(0),
        "atom_count" => Term::Int(0),
        _ => return Err(badarg()),
    })
}

/// Resident memory of this OS process, from `/proc/self/statm`.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn memory(node: &Node) -> Vec<(&'static str, u64)> {
    let total = rss_bytes();
    let processes: u64 = node
        .processes()
        .iter()
        .filter_map(|p| node.process_info(p))
        .map(|i| i.memory as u64)
        .sum();
    vec![
        ("total", total),
        ("processes", processes),
        ("processes_used", processes),
        ("system", total.saturating_sub(processes)),
        ("atom", 0),
        ("atom_used", 0),
        ("binary", 0),
        ("code", 0),
        ("ets", 0),
    ]
}

/// CPU time of this OS process in ms, from `/proc/self/stat`.
fn cpu_ms() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    // The fields after the command name (which may hold spaces).
    let Some(rest) = s.rsplit_once(')').map(|(_, r)| r) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 (11 and 12 after the state).
    (ticks(11) + ticks(12)) * 10
}

fn statistics(node: &Node, what: &str) -> Result<Term, Exception> {
    let pair = |a: u64, b: u64| Term::tuple(vec![Term::from(a), Term::from(b)]);
    Ok(match what {
        "runtime" => pair(cpu_ms(), 0),
        "wall_clock" => pair(node.uptime().as_millis() as u64, 0),
        "reductions" | "exact_reductions" => pair(node.delivered(), 0),
        "total_active_tasks" | "total_run_queue_lengths" | "run_queue" => Term::Int(0),
        "context_switches" => pair(node.delivered(), 0),
        _ => return Err(badarg()),
    })
}
