//! The connection functions of `net_adm`, `net_kernel` and `erlang` that
//! tools call over rpc to steer a running node: `net_adm:ping/1`,
//! `net_kernel:connect_node/1`, `net_kernel:disconnect/1`,
//! `erlang:disconnect_node/1`, `net_adm:names/0,1`, `net_kernel:node_info/1,2`
//! and `net_kernel:nodes_info/0`. Answered as OTP 25's `net_kernel`
//! answers them (`lib/kernel/src/net_kernel.erl`).

use nodus_term::Term;

use crate::net_kernel::ConnInfo;
use crate::node::Node;
use crate::rpc::Exception;

fn badarg() -> Exception {
    Exception::Error(Term::atom("badarg"))
}

fn boolean(b: bool) -> Term {
    Term::atom(if b { "true" } else { "false" })
}

/// `Some(result)` when `m:f/arity` is one of these functions.
pub(crate) async fn call(
    node: &Node,
    m: &str,
    f: &str,
    args: &[Term],
) -> Option<Result<Term, Exception>> {
    let peer = || match args.first() {
        Some(Term::Atom(a)) => Ok(a.as_str().to_string()),
        _ => Err(badarg()),
    };
    Some(match (m, f, args.len()) {
        ("net_adm", "ping", 1) => match peer() {
            Ok(p) => Ok(Term::atom(if node.ping(&p).await {
                "pong"
            } else {
                "pang"
            })),
            Err(e) => Err(e),
        },
        ("net_kernel", "connect_node", 1) => match peer() {
            Ok(p) => Ok(boolean(node.connect(&p).await)),
            Err(e) => Err(e),
        },
        // Disconnecting from oneself is `false` in OTP.
        ("net_kernel", "disconnect", 1) | ("erlang", "disconnect_node", 1) => match peer() {
            Ok(p) => Ok(boolean(p != node.name().as_str() && node.disconnect(&p))),
            Err(e) => Err(e),
        },
        ("net_adm", "names", 0) => names(node, node.name().as_str().split('@').nth(1)).await,
        ("net_adm", "names", 1) => match args.first().and_then(host_of) {
            Some(h) => names(node, Some(&h)).await,
            None => Err(badarg()),
        },
        ("net_kernel", "nodes_info", 0) => Ok(ok(Term::List(
            node.nodes_info()
                .iter()
                .map(|i| Term::tuple(vec![Term::Atom(i.node.clone()), info_list(node, i)]))
                .collect(),
        ))),
        ("net_kernel", "node_info", 1) => match peer() {
            Ok(p) => Ok(match node.node_info(&p) {
                Some(i) => ok(info_list(node, &i)),
                None => error("bad_node"),
            }),
            Err(e) => Err(e),
        },
        ("net_kernel", "node_info", 2) => match (peer(), args.get(1)) {
            (Ok(p), Some(Term::Atom(key))) => Ok(match node.node_info(&p) {
                None => error("bad_node"),
                Some(i) => match info_list(node, &i).as_list().and_then(|l| {
                    l.iter().find_map(|kv| match kv.as_tuple() {
                        Some([k, v]) if k == &Term::Atom(key.clone()) => Some(v.clone()),
                        _ => None,
                    })
                }) {
                    Some(v) => ok(v),
                    None => error("invalid_key"),
                },
            }),
            _ => Err(badarg()),
        },
        _ => return None,
    })
}

fn ok(t: Term) -> Term {
    Term::tuple(vec![Term::atom("ok"), t])
}

fn error(reason: &str) -> Term {
    Term::tuple(vec![Term::atom("error"), Term::atom(reason)])
}

/// A host given as an atom or a string.
fn host_of(t: &Term) -> Option<String> {
    match t {
        Term::Atom(a) => Some(a.as_str().to_string()),
        other => other.as_charlist(),
    }
}

/// `net_adm:names/1`: `{ok, [{Name, Port}]}` from the EPMD on `host`
/// (names as strings, as `erl_epmd` gives them), `{error, address}` when
/// no EPMD answers.
async fn names(node: &Node, host: Option<&str>) -> Result<Term, Exception> {
    let host = host.unwrap_or("localhost");
    Ok(match crate::erl_epmd::names(host, node.epmd_port()).await {
        Ok(v) => ok(Term::List(
            v.into_iter()
                .map(|(n, p)| Term::tuple(vec![Term::charlist(&n), Term::from(i64::from(p))]))
                .collect(),
        )),
        Err(_) => error("address"),
    })
}

/// `[{owner, Pid}, {state, up}, {address, #net_address{}}, {type, T}, {in,
/// N}, {out, N}]`, as `net_kernel:node_info/1`. The owner is this node's
/// `net_kernel` (nodus has no controller process per connection); `in`
/// and `out` count messages.
fn info_list(node: &Node, i: &ConnInfo) -> Term {
    let kv = |k: &str, v: Term| Term::tuple(vec![Term::atom(k), v]);
    let address = match i.address {
        Some(a) => {
            let ip = match a.ip() {
                std::net::IpAddr::V4(v4) => Term::Tuple(
                    v4.octets()
                        .iter()
                        .map(|&o| Term::from(i64::from(o)))
                        .collect(),
                ),
                std::net::IpAddr::V6(v6) => Term::Tuple(
                    v6.segments()
                        .iter()
                        .map(|&s| Term::from(i64::from(s)))
                        .collect(),
                ),
            };
            let family = if a.is_ipv4() { "inet" } else { "inet6" };
            let host = i.node.as_str().split('@').nth(1).unwrap_or("");
            Term::tuple(vec![
                Term::atom("net_address"),
                Term::tuple(vec![ip, Term::from(i64::from(a.port()))]),
                Term::charlist(host),
                Term::atom("tcp"),
                Term::atom(family),
            ])
        }
        None => Term::atom("undefined"),
    };
    let owner = node
        .whereis("net_kernel")
        .map_or_else(|| Term::atom("undefined"), Term::from);
    Term::list(vec![
        kv("owner", owner),
        kv("state", Term::atom("up")),
        kv("address", address),
        kv(
            "type",
            Term::atom(if i.visible { "normal" } else { "hidden" }),
        ),
        kv("in", Term::from(i.messages_in as i64)),
        kv("out", Term::from(i.messages_out as i64)),
    ])
}
