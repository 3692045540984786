//! The processes of a PubSub: its workers (`Phoenix.PubSub.PG2Worker`:
//! registered under their group's name, members of that `pg` group, and
//! dispatching what other nodes forward), the sweeper that drops the
//! subscriptions of processes that exited, and the pool watcher that joins
//! a worker to each bigger-pool group another node uses.

use std::sync::{Arc, Weak};

use nodus_term::{Atom, Pid, Term};

use super::{Error, Inner, PubSub, SCOPE};
use crate::pg;

/// Group `i` (from 1) of a pool: the adapter name, then `…Adapter_I`.
pub(super) fn group_name(adapter: &Atom, i: usize) -> Result<Term, Error> {
    if i == 1 {
        return Ok(Term::Atom(adapter.clone()));
    }
    let name = format!("{}_{i}", adapter.as_str());
    Atom::try_new(&name)
        .map(Term::Atom)
        .map_err(|e| Error::BadName(name, e.to_string()))
}

/// Starts the worker of `group`: registered under the group's name,
/// joined to it in the scope.
pub(super) async fn start_worker(ps: &PubSub, group: &Term) -> Result<Pid, Error> {
    let node = ps.0.node.clone();
    let weak = Arc::downgrade(&ps.0);
    let pid = node.spawn(move |mut me| async move {
        while let Some(m) = me.recv().await {
            let Some(inner) = weak.upgrade() else {
                return;
            };
            forwarded(&PubSub(inner), &m);
        }
    });
    if let Some(name) = group.as_atom() {
        if let Err(error) = node.register(name, &pid) {
            node.exit_pid(&pid, &pid, Term::atom("kill"));
            return Err(Error::Register {
                name: ps.0.name.as_str().to_string(),
                error,
            });
        }
    }
    pg::join(&node, SCOPE, group, std::slice::from_ref(&pid)).await?;
    Ok(pid)
}

/// A worker's message: `{forward_to_local, Topic, Message, Dispatcher}`
/// is dispatched here; anything else is ignored, as by `PG2Worker`. A
/// panicking dispatcher loses that message, not the worker.
fn forwarded(ps: &PubSub, m: &Term) {
    let Some([tag, topic, message, Term::Atom(dispatcher)]) = m.as_tuple() else {
        return;
    };
    if !tag.is_atom("forward_to_local") {
        return;
    }
    let run = std::panic::AssertUnwindSafe(|| ps.local_dispatch(topic, message, dispatcher, None));
    if let Err(p) = std::panic::catch_unwind(run) {
        tracing::warn!(
            "PubSub {}: dispatcher {dispatcher} panicked: {}",
            ps.0.name,
            crate::panic_reason(&*p)
        );
    }
}

/// Drops the subscriptions of exited processes once a second, until the
/// PubSub is dropped or the node stops.
pub(super) fn sweep_every_second(ps: &PubSub) {
    let weak: Weak<Inner> = Arc::downgrade(&ps.0);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            if inner.node.is_stopping() {
                return;
            }
            inner.registry.sweep();
        }
    });
}

/// The pool number of `group` if it is `…Adapter_N` of this PubSub.
fn pool_index(adapter: &Atom, group: &Term) -> Option<usize> {
    let g = group.as_atom()?;
    let n = g.strip_prefix(adapter.as_str())?.strip_prefix('_')?;
    n.parse().ok().filter(|&n| n > 1 && n <= 1024)
}

/// Watches the scope for groups of a bigger pool on other nodes and joins
/// a worker to each, so that their senders reach this node whatever group
/// they pick.
pub(super) fn watch_pool(ps: &PubSub) {
    let weak: Weak<Inner> = Arc::downgrade(&ps.0);
    let have = ps.0.groups.len();
    let adapter = ps.0.adapter.clone();
    ps.0.node.spawn(move |mut me| async move {
        let Ok((mref, now)) = pg::monitor_scope(&mut me, SCOPE).await else {
            return;
        };
        let mut joined: Vec<usize> = (1..=have).collect();
        let mut groups: Vec<Term> = now.into_iter().map(|(g, _)| g).collect();
        loop {
            for g in groups.drain(..) {
                let Some(i) = pool_index(&adapter, &g) else {
                    continue;
                };
                if joined.contains(&i) {
                    continue;
                }
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                joined.push(i);
                if let Err(e) = start_worker(&PubSub(inner), &g).await {
                    tracing::warn!("PubSub: no worker for {g:?}: {e}");
                }
            }
            let Some(m) = me.recv().await else {
                return;
            };
            if let Some([r, verb, g, _]) = m.as_tuple() {
                if *r == mref && verb.is_atom("join") {
                    groups.push(g.clone());
                }
            }
        }
    });
}
