//! Local subscriptions: topic -> subscribers (with their metadata), as the
//! `Registry` a Phoenix.PubSub starts (duplicate keys: a process may
//! subscribe to a topic more than once). Sharded by topic so that
//! broadcasts on different topics do not contend.
//!
//! A subscription costs 24 bytes: a [`ProcessRef`] (one word, sends
//! without a table lookup), the process number, and the metadata boxed
//! only when there is some. Subscribers are not monitored: one that has
//! exited is dropped when a broadcast finds it dead, and by a sweep of
//! every topic once a second, so memory never holds them for long.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::RwLock;

use nodus_term::{Atom, Pid, Term};

use crate::ProcessRef;

/// One subscription, as a [`super::Dispatcher`] sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscriber {
    /// The subscribed process.
    pub pid: Pid,
    /// What it subscribed with (`:metadata`; `nil` when none was given).
    pub metadata: Term,
}

/// One subscription as stored.
pub(crate) struct Sub {
    pub(crate) proc: ProcessRef,
    pub(crate) id: u32,
    serial: u32,
    meta: Option<Box<Term>>,
}

impl Sub {
    /// A subscription of `pid` (a local process, `proc`).
    pub(crate) fn new(proc: ProcessRef, pid: &Pid, metadata: Term) -> Sub {
        Sub {
            proc,
            id: pid.id,
            serial: pid.serial,
            meta: (!metadata.is_atom("nil")).then(|| Box::new(metadata)),
        }
    }

    /// True for `pid`'s subscription.
    pub(crate) fn is(&self, pid: &Pid) -> bool {
        self.id == pid.id && self.serial == pid.serial
    }

    /// The metadata (`nil` when none was given).
    pub(crate) fn metadata(&self) -> &Term {
        static NIL: std::sync::LazyLock<Term> = std::sync::LazyLock::new(|| Term::atom("nil"));
        self.meta.as_deref().unwrap_or(&NIL)
    }

    /// The public view, with the node's name and creation.
    pub(crate) fn view(&self, node: &Atom, creation: u32) -> Subscriber {
        Subscriber {
            pid: Pid {
                node: node.clone(),
                id: self.id,
                serial: self.serial,
                creation,
            },
            metadata: self
                .meta
                .as_deref()
                .cloned()
                .unwrap_or_else(|| Term::atom("nil")),
        }
    }
}

const SHARDS: usize = 16;

type Shard = RwLock<HashMap<Term, Vec<Sub>>>;

/// The subscriptions of one PubSub.
pub(crate) struct Registry {
    shards: Vec<Shard>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
        }
    }
}

fn read(s: &Shard) -> std::sync::RwLockReadGuard<'_, HashMap<Term, Vec<Sub>>> {
    s.read().unwrap_or_else(|e| e.into_inner())
}

fn write(s: &Shard) -> std::sync::RwLockWriteGuard<'_, HashMap<Term, Vec<Sub>>> {
    s.write().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    fn shard(&self, topic: &Term) -> &Shard {
        let mut h = DefaultHasher::new();
        topic.hash(&mut h);
        &self.shards[(h.finish() as usize) % SHARDS]
    }

    /// Adds a subscription.
    pub(crate) fn subscribe(&self, topic: Term, sub: Sub) {
        write(self.shard(&topic))
            .entry(topic)
            .or_default()
            .push(sub);
    }

    /// Removes every subscription of `pid` to `topic`; true if there was
    /// one.
    pub(crate) fn unsubscribe(&self, topic: &Term, pid: &Pid) -> bool {
        let mut s = write(self.shard(topic));
        let Some(v) = s.get_mut(topic) else {
            return false;
        };
        let before = v.len();
        v.retain(|x| !x.is(pid));
        let removed = v.len() != before;
        if v.is_empty() {
            s.remove(topic);
        }
        removed
    }

    /// Calls `f` with the subscriptions of `topic` under the shard's read
    /// lock (`f` must not subscribe); when `f` reports dead subscribers
    /// (returns true), they are dropped.
    pub(crate) fn dispatch(&self, topic: &Term, f: impl FnOnce(&[Sub]) -> bool) {
        let shard = self.shard(topic);
        let saw_dead = {
            let s = read(shard);
            f(s.get(topic).map_or(&[][..], Vec::as_slice))
        };
        if saw_dead {
            let mut s = write(shard);
            if let Some(v) = s.get_mut(topic) {
                v.retain(|x| x.proc.is_alive());
                if v.is_empty() {
                    s.remove(topic);
                }
            }
        }
    }

    /// The live subscribers of `topic`.
    pub(crate) fn subscribers(&self, topic: &Term, node: &Atom, creation: u32) -> Vec<Subscriber> {
        read(self.shard(topic))
            .get(topic)
            .map(|v| {
                v.iter()
                    .filter(|x| x.proc.is_alive())
                    .map(|x| x.view(node, creation))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Drops the subscriptions of processes that have exited, in every
    /// topic; returns how many went.
    pub(crate) fn sweep(&self) -> usize {
        let mut gone = 0;
        for shard in &self.shards {
            // Looked at under the read lock first: most sweeps find
            // nothing and take no write lock.
            let dead = read(shard)
                .values()
                .any(|v| v.iter().any(|x| !x.proc.is_alive()));
            if !dead {
                continue;
            }
            let mut s = write(shard);
            s.retain(|_, v| {
                let before = v.len();
                v.retain(|x| x.proc.is_alive());
                gone += before - v.len();
                if v.capacity() > 2 * v.len() + 4 {
                    v.shrink_to_fit();
                }
                !v.is_empty()
            });
        }
        gone
    }

    /// How many subscriptions there are in all (dead ones not yet swept
    /// included).
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| read(s).values().map(Vec::len).sum::<usize>())
            .sum()
    }
}
