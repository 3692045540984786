//! The `net_kernel` process: answers `net_adm:ping/1` (`{is_auth,
//! Node}` calls) with `yes`. Answers to the process side of OTP's
//! `net_kernel.erl`; written against the public process API only.

use nodus_term::Term;

use crate::node::Node;

/// What `sys:get_state(net_kernel)` shows: `#{node, ticktime,
/// connections}`.
fn state(node: &Node) -> Term {
    let conns = Term::List(node.connected().into_iter().map(Term::Atom).collect());
    let mut m = nodus_term::Map::new();
    m.insert(Term::atom("node"), Term::Atom(node.name().clone()));
    m.insert(
        Term::atom("ticktime"),
        Term::Int(node.ticktime().as_secs() as i64),
    );
    m.insert(Term::atom("connections"), conns);
    Term::Map(m)
}

/// Starts the `net_kernel` process, which answers `is_auth` calls.
pub(crate) fn start(node: &Node) {
    let pid = node.spawn(|mut me| async move {
        while let Some(msg) = me.recv().await {
            let node = me.node().clone();
            if crate::sys::handle(&mut me, &msg, || state(&node)).await {
                continue;
            }
            // Any other call is ignored, as BEAM's net_kernel ignores it.
            let Some([tag, from, req]) = msg.as_tuple() else {
                continue;
            };
            if !tag.is_atom("$gen_call") {
                continue;
            }
            let (Some([Term::Pid(caller), call_tag]), Some([op, _])) =
                (from.as_tuple(), req.as_tuple())
            else {
                continue;
            };
            if op.is_atom("is_auth") {
                let reply = Term::tuple(vec![call_tag.clone(), Term::atom("yes")]);
                let _ = me.node().clone().send(caller, reply).await;
            }
        }
    });
    let _ = node.register("net_kernel", &pid);
}
