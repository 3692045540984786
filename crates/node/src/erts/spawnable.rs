//! Functions a peer may spawn by name: what a BEAM node's
//! `spawn(Node, M, F, A)`, `spawn_link/4` or `erpc` asks for with a
//! `SPAWN_REQUEST`. Answers to ERTS's handling of spawn requests (which
//! runs `M:F(A...)` as a new process).
//!
//! Services register their entry points here (`rpc` registers
//! `erpc:execute_call/4`); a request for a function nobody registered
//! starts a process that exits at once with `{undef, [{M, F, Args, []}]}`,
//! as a BEAM node's spawn of an undefined function does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use nodus_proto::dist::Control;
use nodus_term::{Atom, Term};

use crate::node::Node;
use crate::process::Process;

/// A boxed process body: ends with its exit reason.
pub type ProcessFuture = Pin<Box<dyn Future<Output = Term> + Send>>;

/// A function a peer may spawn: the new process and the arguments in,
/// its body out.
pub type SpawnFn = Arc<dyn Fn(Process, Vec<Term>) -> ProcessFuture + Send + Sync>;

#[derive(Clone)]
pub(crate) struct Spawnable(pub(crate) SpawnFn);

fn has_opt(opts: &Term, name: &str) -> bool {
    opts.as_list().is_some_and(|l| {
        l.iter()
            .any(|o| o.is_atom(name) || matches!(o.as_tuple(), Some([k, ..]) if k.is_atom(name)))
    })
}

impl Node {
    /// Lets peers spawn `module:function(Args...)` on this node (any
    /// arity): `f` gets the new process and the arguments and returns
    /// the process body. Replaces an earlier registration.
    pub fn register_spawnable(&self, module: &str, function: &str, f: SpawnFn) {
        let key = (Atom::new(module), Atom::new(function));
        self.0
            .erts
            .spawnables
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Spawnable(f));
    }

    fn spawnable(&self, m: &Atom, f: &Atom) -> Option<Spawnable> {
        self.0
            .erts
            .spawnables
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(m.clone(), f.clone()))
            .cloned()
    }

    /// Serves a `SPAWN_REQUEST` from `peer`: starts the process (linked
    /// and monitored as asked), answers `SPAWN_REPLY` with its pid.
    pub(crate) fn spawn_request(&self, peer: &Atom, req: Control, args: Term) {
        let Control::SpawnRequest {
            req_id,
            from,
            module,
            function,
            opts,
            ..
        } = req
        else {
            return;
        };
        let process = self.spawned_process();
        let pid = process.pid().clone();
        let entry = process.entry.clone();
        let mut flags = 0;
        if has_opt(&opts, "monitor") {
            self.add_monitor(&pid, from.clone(), req_id.clone());
            flags |= 2;
        }
        if has_opt(&opts, "link") {
            self.add_link(&pid, &from);
            flags |= 1;
        }
        self.send_control(
            peer,
            Control::SpawnReply {
                req_id,
                to: from,
                flags,
                result: Term::from(pid.clone()),
            },
        );
        let list = args.as_list().map(<[Term]>::to_vec).unwrap_or_default();
        let body: ProcessFuture = match self.spawnable(&module, &function) {
            Some(s) => (s.0)(process, list),
            None => Box::pin(async move {
                let _process = process;
                let frame = Term::tuple(vec![
                    Term::Atom(module),
                    Term::Atom(function),
                    Term::list(list),
                    Term::nil(),
                ]);
                Term::tuple(vec![Term::atom("undef"), Term::list(vec![frame])])
            }),
        };
        self.run_process(pid, entry, body);
    }
}
