//! Local subscriptions: topic -> subscribers (with their metadata), as the
//! `Registry` a Phoenix.PubSub starts (duplicate keys: a process may
//! subscribe to a topic more than once). Sharded by topic so that
//! broadcasts on different topics do not contend.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::RwLock;

use nodus_term::{Pid, Term};

/// One subscription.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscriber {
    /// The subscribed process.
    pub pid: Pid,
    /// What it subscribed with (`:metadata`; `nil` when none was given).
    pub metadata: Term,
}

const SHARDS: usize = 16;

/// The subscriptions of one PubSub.
pub(crate) struct Registry {
    shards: Vec<RwLock<HashMap<Term, Vec<Subscriber>>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
        }
    }
}

impl Registry {
    fn shard(&self, topic: &Term) -> &RwLock<HashMap<Term, Vec<Subscriber>>> {
        let mut h = DefaultHasher::new();
        topic.hash(&mut h);
        &self.shards[(h.finish() as usize) % SHARDS]
    }

    /// Adds a subscription.
    pub(crate) fn subscribe(&self, topic: Term, sub: Subscriber) {
        let mut s = self
            .shard(&topic)
            .write()
            .unwrap_or_else(|e| e.into_inner());
        s.entry(topic).or_default().push(sub);
    }

    /// Removes every subscription of `pid` to `topic`; true if there was
    /// one.
    pub(crate) fn unsubscribe(&self, topic: &Term, pid: &Pid) -> bool {
        let mut s = self.shard(topic).write().unwrap_or_else(|e| e.into_inner());
        let Some(v) = s.get_mut(topic) else {
            return false;
        };
        let before = v.len();
        v.retain(|x| &x.pid != pid);
        let removed = v.len() != before;
        if v.is_empty() {
            s.remove(topic);
        }
        removed
    }

    /// Calls `f` with the subscribers of `topic`, under the shard's read
    /// lock (`f` must not subscribe).
    pub(crate) fn with<R>(&self, topic: &Term, f: impl FnOnce(&[Subscriber]) -> R) -> R {
        let s = self.shard(topic).read().unwrap_or_else(|e| e.into_inner());
        f(s.get(topic).map_or(&[][..], Vec::as_slice))
    }

    /// The subscribers of `topic`.
    pub(crate) fn subscribers(&self, topic: &Term) -> Vec<Subscriber> {
        self.with(topic, <[Subscriber]>::to_vec)
    }

    /// How many subscriptions there are in all.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.read()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .map(Vec::len)
                    .sum::<usize>()
            })
            .sum()
    }
}
