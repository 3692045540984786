//! The functions every nodus node answers over rpc without registering
//! them: the BIFs and kernel functions BEAM tools call (`erlang:node/0`,
//! `nodes/1`, `registered/0`, `whereis/1`, `term_to_binary`, `global`'s
//! name lookups, ...). Answers to those functions of `erlang` and
//! `kernel`.

use nodus_term::{etf, Atom, Term};

use crate::node::Node;
use crate::rpc::Exception;

/// `Some(result)` when `m:f/arity` is a built-in.
pub(crate) fn call(
    node: &Node,
    m: &str,
    f: &str,
    args: &[Term],
) -> Option<Result<Term, Exception>> {
    crate::introspection::call(node, m, f, args).or_else(|| builtin(node, m, f, args))
}

fn badarg() -> Exception {
    Exception::Error(Term::atom("badarg"))
}

/// The built-in functions every node answers.
fn builtin(node: &Node, m: &str, f: &str, args: &[Term]) -> Option<Result<Term, Exception>> {
    if m == "global" {
        return global_builtin(node, f, args);
    }
    if m == "pg" {
        return pg_builtin(node, f, args);
    }
    if m != "erlang" {
        return None;
    }
    let list = |v: Vec<Atom>| Term::List(v.into_iter().map(Term::Atom).collect());
    Some(match (f, args) {
        ("node", []) => Ok(Term::Atom(node.name().clone())),
        ("nodes", []) => Ok(list(node.nodes())),
        ("nodes", [arg]) => nodes_of_kind(node, arg).map(list),
        ("is_alive", []) => Ok(Term::atom("true")),
        ("registered", []) => Ok(list(node.registered())),
        ("whereis", [Term::Atom(a)]) => Ok(node
            .whereis(a.as_str())
            .map_or_else(|| Term::atom("undefined"), Term::from)),
        ("term_to_binary", [t]) | ("term_to_binary", [t, _]) => {
            let compressed = matches!(args.get(1), Some(Term::List(o)) if o.iter().any(|x| x.is_atom("compressed")));
            let opts = etf::EncodeOptions {
                compressed: compressed.then_some(6),
                ..Default::default()
            };
            etf::encode_with(t, opts)
                .map(Term::binary)
                .map_err(|_| badarg())
        }
        ("binary_to_term", [Term::Binary(b)]) | ("binary_to_term", [Term::Binary(b), _]) => {
            etf::decode(b).map_err(|_| badarg())
        }
        _ => return None,
    })
}

/// `erlang:nodes/1`: `visible`, `hidden`, `connected`, `this`, `known`,
/// or a list of these.
fn nodes_of_kind(node: &Node, arg: &Term) -> Result<Vec<Atom>, Exception> {
    let kinds: Vec<&Term> = match arg {
        Term::List(l) => l.iter().collect(),
        t => vec![t],
    };
    let mut out: Vec<Atom> = Vec::new();
    for k in kinds {
        let add = match k.as_atom() {
            Some("visible") => node.nodes(),
            Some("hidden") => node.nodes_hidden(),
            Some("connected") => node.connected(),
            Some("this") => vec![node.name().clone()],
            Some("known") => {
                let mut v = node.connected();
                v.push(node.name().clone());
                v
            }
            _ => return Err(badarg()),
        };
        for n in add {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    Ok(out)
}

/// `global:whereis_name/1` and `global:registered_names/0`, from the
/// names this node's `global` keeps.
fn global_builtin(node: &Node, f: &str, args: &[Term]) -> Option<Result<Term, Exception>> {
    let names = node.global_names();
    Some(Ok(match (f, args) {
        ("whereis_name", [name]) => names
            .into_iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| Term::atom("undefined"), |(_, p)| Term::from(p)),
        ("registered_names", []) => Term::List(names.into_iter().map(|(n, _)| n).collect()),
        _ => return None,
    }))
}

/// `pg`'s reads: `which_groups/0,1`, `get_members/1,2`,
/// `get_local_members/1,2` (the default scope when none is given).
fn pg_builtin(node: &Node, f: &str, args: &[Term]) -> Option<Result<Term, Exception>> {
    use crate::pg;
    let pids = |v: Vec<nodus_term::Pid>| Term::List(v.into_iter().map(Term::from).collect());
    let (scope, rest) = match (f, args) {
        ("which_groups", []) | ("get_members", [_]) | ("get_local_members", [_]) => {
            (pg::DEFAULT_SCOPE.to_string(), args)
        }
        (_, [Term::Atom(s), rest @ ..]) => (s.as_str().to_string(), rest),
        _ => return None,
    };
    Some(match (f, rest) {
        ("which_groups", []) => Ok(Term::list(pg::which_groups(node, &scope))),
        ("get_members", [g]) => Ok(pids(pg::get_members(node, &scope, g))),
        ("get_local_members", [g]) => Ok(pids(pg::get_local_members(node, &scope, g))),
        _ => return None,
    })
}
