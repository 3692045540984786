//! A scope's membership table: what OTP keeps in the scope's ETS table
//! (`{Group, AllPids, LocalPids}`), written only by the scope process and
//! read by anyone (`get_members` does not call the scope).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use nodus_term::{Atom, Pid, Term};

/// The members of one group.
#[derive(Default, Clone, Debug)]
pub(crate) struct Members {
    /// Every member, here and on other nodes (a pid once per join).
    pub(crate) all: Vec<Pid>,
    /// The members on this node.
    pub(crate) local: Vec<Pid>,
}

/// One scope's groups.
#[derive(Default)]
pub(crate) struct Table {
    groups: RwLock<HashMap<Term, Members>>,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// Removes one occurrence of each of `pids` from `v` (`--` in Erlang).
fn subtract(v: &mut Vec<Pid>, pids: &[Pid]) {
    for p in pids {
        if let Some(i) = v.iter().position(|x| x == p) {
            v.remove(i);
        }
    }
}

impl Table {
    /// Every member of `group`.
    pub(crate) fn members(&self, group: &Term) -> Vec<Pid> {
        read(&self.groups)
            .get(group)
            .map(|m| m.all.clone())
            .unwrap_or_default()
    }

    /// Calls `f` with the members of `group` without copying them.
    pub(crate) fn with_members<R>(&self, group: &Term, f: impl FnOnce(&[Pid]) -> R) -> R {
        let g = read(&self.groups);
        f(g.get(group).map_or(&[][..], |m| m.all.as_slice()))
    }

    /// The members of `group` on this node.
    pub(crate) fn local_members(&self, group: &Term) -> Vec<Pid> {
        read(&self.groups)
            .get(group)
            .map(|m| m.local.clone())
            .unwrap_or_default()
    }

    /// Every group with at least one member.
    pub(crate) fn groups(&self) -> Vec<Term> {
        read(&self.groups).keys().cloned().collect()
    }

    /// Every group with its members.
    pub(crate) fn snapshot(&self) -> Vec<(Term, Vec<Pid>)> {
        read(&self.groups)
            .iter()
            .map(|(g, m)| (g.clone(), m.all.clone()))
            .collect()
    }

    /// Adds members (local ones to both lists).
    pub(crate) fn join(&self, group: &Term, pids: &[Pid], local: bool) {
        let mut g = write(&self.groups);
        let m = g.entry(group.clone()).or_default();
        // New members first, as OTP prepends them.
        m.all.splice(0..0, pids.iter().cloned());
        if local {
            m.local.splice(0..0, pids.iter().cloned());
        }
    }

    /// Removes members; a group left empty goes.
    pub(crate) fn leave(&self, group: &Term, pids: &[Pid], local: bool) -> bool {
        let mut g = write(&self.groups);
        let Some(m) = g.get_mut(group) else {
            return false;
        };
        subtract(&mut m.all, pids);
        if local {
            subtract(&mut m.local, pids);
        }
        if m.all.is_empty() {
            g.remove(group);
        }
        true
    }

    /// Replaces a remote peer's members of `group`: `old` out, `new` in.
    pub(crate) fn replace(&self, group: &Term, old: &[Pid], new: &[Pid]) {
        let mut g = write(&self.groups);
        let m = g.entry(group.clone()).or_default();
        subtract(&mut m.all, old);
        m.all.splice(0..0, new.iter().cloned());
        if m.all.is_empty() {
            g.remove(group);
        }
    }
}

/// The scopes running on a node, by name (a node extension).
#[derive(Default)]
pub(crate) struct Scopes(RwLock<HashMap<Atom, Arc<Table>>>);

impl Scopes {
    /// The table of scope `name`, if it runs.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Table>> {
        read(&self.0).get(name).cloned()
    }

    /// A new table for scope `name` (replacing a dead scope's).
    pub(crate) fn create(&self, name: &Atom) -> Arc<Table> {
        let t = Arc::new(Table::default());
        write(&self.0).insert(name.clone(), t.clone());
        t
    }

    /// Drops the table of a scope that stopped (only if it is `t`).
    pub(crate) fn remove(&self, name: &Atom, t: &Arc<Table>) {
        let mut s = write(&self.0);
        if s.get(name).is_some_and(|x| Arc::ptr_eq(x, t)) {
            s.remove(name);
        }
    }
}
