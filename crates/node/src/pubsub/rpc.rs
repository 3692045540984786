//! `Phoenix.PubSub`'s functions over rpc, so that a tool (or
//! `nodus pubsub NODE NAME broadcast`) calls a nodus node as it calls a
//! Phoenix node: `'Elixir.Phoenix.PubSub':broadcast/3,4`,
//! `broadcast_from/4,5`, `local_broadcast/3,4` and `direct_broadcast/4,5`.

use nodus_term::Term;

use super::{PubSub, DEFAULT_DISPATCHER};
use crate::node::Node;
use crate::rpc::Exception;

fn badarg() -> Exception {
    Exception::Error(Term::atom("badarg"))
}

fn text(t: &Term) -> Option<&str> {
    std::str::from_utf8(t.as_binary()?).ok()
}

/// `Some(result)` when `'Elixir.Phoenix.PubSub':f/arity` is one of these.
pub(crate) async fn call(node: &Node, f: &str, args: &[Term]) -> Option<Result<Term, Exception>> {
    let ok = Ok(Term::atom("ok"));
    let find = |t: &Term| t.as_atom().and_then(|n| PubSub::lookup(node, n));
    let disp = |t: Option<&Term>| {
        t.and_then(Term::as_atom)
            .unwrap_or(DEFAULT_DISPATCHER)
            .to_string()
    };
    Some(match (f, args) {
        ("broadcast", [name, topic, msg]) | ("broadcast", [name, topic, msg, _]) => {
            match (find(name), text(topic)) {
                (Some(ps), Some(t)) => ps
                    .broadcast_with(None, t, msg.clone(), &disp(args.get(3)))
                    .map_or_else(|_| Err(badarg()), |()| ok),
                _ => Err(badarg()),
            }
        }
        ("broadcast_from", [name, Term::Pid(from), topic, msg])
        | ("broadcast_from", [name, Term::Pid(from), topic, msg, _]) => {
            match (find(name), text(topic)) {
                (Some(ps), Some(t)) => ps
                    .broadcast_with(Some(from), t, msg.clone(), &disp(args.get(4)))
                    .map_or_else(|_| Err(badarg()), |()| ok),
                _ => Err(badarg()),
            }
        }
        ("local_broadcast", [name, topic, msg]) | ("local_broadcast", [name, topic, msg, _]) => {
            match (find(name), text(topic)) {
                (Some(ps), Some(t)) => {
                    let d = nodus_term::Atom::new(&disp(args.get(3)));
                    ps.local_dispatch(&super::topic_term(t), msg, &d, None);
                    ok
                }
                _ => Err(badarg()),
            }
        }
        ("direct_broadcast", [Term::Atom(n), name, topic, msg])
        | ("direct_broadcast", [Term::Atom(n), name, topic, msg, _]) => {
            match (find(name), text(topic)) {
                (Some(ps), Some(t)) => ps
                    .direct_broadcast(n.as_str(), t, msg.clone())
                    .await
                    .map_or_else(|_| Err(badarg()), |()| ok),
                _ => Err(badarg()),
            }
        }
        _ => return None,
    })
}
