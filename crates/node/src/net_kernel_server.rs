//! The `net_kernel` process: answers `net_adm:ping/1` (`{is_auth,
//! Node}` calls) with `yes`. Answers to the process side of OTP's
//! `net_kernel.erl`; written against the public process API only.

use nodus_term::Term;

use crate::node::Node;

/// Starts the `net_kernel` process, which answers `is_auth` calls.
pub(crate) fn start(node: &Node) {
    let pid = node.spawn(|mut me| async move {
        while let Some(msg) = me.recv().await {
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
                let reply = Term::Tuple(vec![call_tag.clone(), Term::atom("yes")]);
                let _ = me.node().clone().send(caller, reply).await;
            }
        }
    });
    let _ = node.register("net_kernel", &pid);
}
