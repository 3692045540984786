//! The tables `global_name_server` keeps: locks (`global_locks`) and
//! registered names (`global_names`). Shared between the server, which
//! answers other nodes, and the locker, which takes locks on this node
//! directly.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use nodus_term::{Atom, Pid, Term};

use crate::node::lock;

/// A lock: who requested it, and the processes holding it.
#[derive(Debug, Clone)]
struct Lock {
    requester: Term,
    holders: Vec<Pid>,
}

/// Locks and names, as `global` stores them on each node.
#[derive(Default)]
pub(crate) struct Tables {
    locks: Mutex<HashMap<Term, Lock>>,
    names: Mutex<BTreeMap<Term, (Pid, Term)>>,
}

/// Splits a lock id `{ResourceId, LockRequesterId}`.
fn split(id: &Term) -> Option<(&Term, &Term)> {
    match id.as_tuple() {
        Some([res, req]) => Some((res, req)),
        _ => None,
    }
}

impl Tables {
    /// `can_set_lock/1`: whether `id` could be taken here now.
    pub(crate) fn can_set(&self, id: &Term) -> bool {
        let Some((res, req)) = split(id) else {
            return false;
        };
        match lock(&self.locks).get(res) {
            Some(l) => l.requester == *req,
            None => true,
        }
    }

    /// `handle_set_lock/3`: takes `id` for `pid`; false when another
    /// requester holds the resource.
    pub(crate) fn set(&self, id: &Term, pid: &Pid) -> bool {
        let Some((res, req)) = split(id) else {
            return false;
        };
        let mut locks = lock(&self.locks);
        match locks.get_mut(res) {
            Some(l) if l.requester == *req => {
                if !l.holders.contains(pid) {
                    l.holders.push(pid.clone());
                }
                true
            }
            Some(_) => false,
            None => {
                locks.insert(
                    res.clone(),
                    Lock {
                        requester: req.clone(),
                        holders: vec![pid.clone()],
                    },
                );
                true
            }
        }
    }

    /// `handle_del_lock/3`: `pid` lets go of `id`.
    pub(crate) fn del(&self, id: &Term, pid: &Pid) {
        let Some((res, req)) = split(id) else {
            return;
        };
        let mut locks = lock(&self.locks);
        if let Some(l) = locks.get_mut(res) {
            if l.requester == *req {
                l.holders.retain(|p| p != pid);
                if l.holders.is_empty() {
                    locks.remove(res);
                }
            }
        }
    }

    /// `is_global_lock_set/0`: the resource `global` is locked here.
    pub(crate) fn global_lock_set(&self) -> bool {
        lock(&self.locks).contains_key(&Term::atom("global"))
    }

    /// Drops every lock held by processes on `node` (its `DOWN`s).
    pub(crate) fn node_down(&self, node: &Atom) {
        lock(&self.locks).retain(|_, l| {
            l.holders.retain(|p| &p.node != node);
            !l.holders.is_empty()
        });
        lock(&self.names).retain(|_, (p, _)| &p.node != node);
    }

    /// `pid` ended: it holds no lock and no name any more (the `DOWN` of
    /// OTP's monitors).
    pub(crate) fn pid_down(&self, pid: &Pid) {
        lock(&self.locks).retain(|_, l| {
            l.holders.retain(|p| p != pid);
            !l.holders.is_empty()
        });
        lock(&self.names).retain(|_, (p, _)| p != pid);
    }

    /// Registers `name` (what `{register, Name, Pid, Method}` does).
    pub(crate) fn insert_name(&self, name: Term, pid: Pid, method: Term) {
        lock(&self.names).insert(name, (pid, method));
    }

    /// Unregisters `name`.
    pub(crate) fn delete_name(&self, name: &Term) {
        lock(&self.names).remove(name);
    }

    /// The pid and method registered as `name`.
    pub(crate) fn name(&self, name: &Term) -> Option<(Pid, Term)> {
        lock(&self.names).get(name).cloned()
    }

    /// `get_names/0`: `[{Name, Pid, Method}]`.
    pub(crate) fn names(&self) -> Term {
        Term::List(
            lock(&self.names)
                .iter()
                .map(|(n, (p, m))| Term::tuple(vec![n.clone(), Term::from(p.clone()), m.clone()]))
                .collect(),
        )
    }

    /// Every process holding a lock or a name.
    pub(crate) fn owners(&self) -> Vec<Pid> {
        let mut v: Vec<Pid> = lock(&self.locks)
            .values()
            .flat_map(|l| l.holders.iter().cloned())
            .collect();
        v.extend(lock(&self.names).values().map(|(p, _)| p.clone()));
        v.sort_by(|a, b| Term::from(a.clone()).cmp(&Term::from(b.clone())));
        v.dedup();
        v
    }

    /// The registered names, for the API.
    pub(crate) fn name_list(&self) -> Vec<(Term, Pid)> {
        lock(&self.names)
            .iter()
            .map(|(n, (p, _))| (n.clone(), p.clone()))
            .collect()
    }
}
