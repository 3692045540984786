//! The process table: every live local process by id, each with its
//! mailbox and the signals state ERTS keeps in a process control block
//! (links, monitors, `trap_exit`, registered name, aliases). Answers to
//! ERTS's `erl_ptab.c` and the link/monitor parts of `erl_process.c`.
//!
//! The table is sharded by id so that spawns, exits and sends on
//! different processes rarely meet on one lock; a process's own state has
//! its own lock, taken for a few instructions at a time and never across
//! an `.await`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use nodus_term::{Atom, Pid, Term};
use tokio::sync::oneshot;

use super::mailbox::Mailbox;

const SHARDS: usize = 64;

/// Who is told when a process exits.
pub(crate) enum Watcher {
    /// A process (here or remote) that gets `{'DOWN', Ref, process, Pid,
    /// Reason}`; the reference is kept beside it.
    Process(Pid, Term),
    /// A Rust [`crate::ExitHandle`] waiting for the reason.
    Handle(oneshot::Sender<Term>),
}

/// The largest buffer an emptied [`Slot`] keeps.
const KEPT_CAPACITY: usize = 8;

/// A list that costs one word while empty (most processes have no
/// links, monitors or aliases): a boxed `Vec` made on the first push.
#[derive(Clone)]
#[allow(
    clippy::box_collection,
    reason = "the box is the point: one word while empty, three once used"
)]
pub(crate) struct Slot<T>(Option<Box<Vec<T>>>);

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot(None)
    }
}

impl<T> std::ops::Deref for Slot<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl<T> Slot<T> {
    pub(crate) fn push(&mut self, v: T) {
        self.0.get_or_insert_with(Box::default).push(v);
    }

    /// Keeps the elements `f` accepts. A list left empty keeps its
    /// small buffer (a process that monitors or is monitored once, as
    /// every `gen_server` call does, usually does again: its next push
    /// then allocates nothing); a large one is freed.
    pub(crate) fn retain(&mut self, f: impl FnMut(&T) -> bool) {
        if let Some(v) = &mut self.0 {
            v.retain(f);
            if v.is_empty() && v.capacity() > KEPT_CAPACITY {
                self.0 = None;
            }
        }
    }
}

impl<'a, T> IntoIterator for &'a Slot<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> IntoIterator for Slot<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.map(|b| *b).unwrap_or_default().into_iter()
    }
}

/// What ERTS keeps for a process besides its heap.
#[derive(Default)]
pub(crate) struct ProcState {
    /// Linked processes, here or remote.
    pub(crate) links: Slot<Pid>,
    /// Monitors on this process.
    pub(crate) watchers: Slot<Watcher>,
    /// References of the monitors this process holds (keys of the node's
    /// monitor table).
    pub(crate) holds: Slot<Term>,
    /// `process_flag(trap_exit, true)`.
    pub(crate) trap_exit: bool,
    /// Its registered name.
    pub(crate) name: Option<Atom>,
    /// Its active aliases.
    pub(crate) aliases: Slot<Term>,
    /// It called `monitor_nodes`.
    pub(crate) watches_nodes: bool,
    /// The task of a spawned process, stopped when it is killed.
    pub(crate) task: Option<tokio::task::AbortHandle>,
}

/// One live process.
pub(crate) struct ProcEntry {
    pub(crate) mailbox: Mailbox,
    pub(crate) state: Mutex<ProcState>,
}

/// Hashes a process id so that the ids of one shard, given out in order,
/// fall into consecutive buckets: a spawn writes next to the last one
/// instead of at a random place in a large table (a cache miss per
/// spawn, a fifth of the spawner's time, measured), and a lookup of a
/// live id finds it in its own bucket. The top bits, which the table
/// compares before the keys, are mixed, so a probe rarely compares keys
/// that only share a neighbourhood. Ids are the node's own, dense and
/// given in order; none is chosen by a peer (a peer can only name ids,
/// and a miss costs a few probes).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        let mixed = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = (u64::from(n) / SHARDS as u64) | (mixed & (0x7F << 57));
    }
}

type IdMap = HashMap<u32, Arc<ProcEntry>, std::hash::BuildHasherDefault<IdHasher>>;

/// One shard of the table.
type Shard = RwLock<IdMap>;

/// The table of live processes.
pub(crate) struct ProcTable {
    shards: Box<[Shard]>,
    next_id: AtomicU32,
    count: AtomicUsize,
}

impl Default for ProcTable {
    fn default() -> Self {
        ProcTable {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            next_id: AtomicU32::new(1),
            count: AtomicUsize::new(0),
        }
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl ProcTable {
    fn shard(&self, id: u32) -> &Shard {
        &self.shards[id as usize % SHARDS]
    }

    /// A new process entry under a fresh id (15 + 16 bits of pid space,
    /// as a pid's id and serial; ids wrap, skipping live ones).
    pub(crate) fn insert(&self) -> (u32, Arc<ProcEntry>) {
        let entry = Arc::new(ProcEntry {
            mailbox: Mailbox::default(),
            state: Mutex::default(),
        });
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed) & 0x7FFF_FFFF;
            if id == 0 {
                continue;
            }
            let mut shard = write(self.shard(id));
            if let std::collections::hash_map::Entry::Vacant(v) = shard.entry(id) {
                v.insert(entry.clone());
                self.count.fetch_add(1, Ordering::Relaxed);
                return (id, entry);
            }
        }
    }

    /// The entry of a live process.
    pub(crate) fn get(&self, id: u32) -> Option<Arc<ProcEntry>> {
        read(self.shard(id)).get(&id).cloned()
    }

    /// Queues the message in `slot` for process `id`, moving it out (see
    /// [`Mailbox::push_from`]); false when it does not exist.
    pub(crate) fn deliver_from(&self, id: u32, slot: &mut Option<Term>) -> bool {
        match read(self.shard(id)).get(&id) {
            Some(e) => e.mailbox.push_from(slot),
            None => false,
        }
    }

    /// Takes process `id` out of the table.
    /// Its mailbox is marked closed before the shard's lock is let go,
    /// so no later process with the same id can be found while it looks
    /// open (what [`super::dest_cache`] relies on).
    pub(crate) fn remove(&self, id: u32) -> Option<Arc<ProcEntry>> {
        let mut shard = write(self.shard(id));
        let e = shard.remove(&id);
        if let Some(e) = &e {
            e.mailbox.mark_closed();
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
        e
    }

    /// Live processes.
    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// The ids of every live process, sorted.
    pub(crate) fn ids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .shards
            .iter()
            .flat_map(|s| read(s).keys().copied().collect::<Vec<_>>())
            .collect();
        v.sort_unstable();
        v
    }

    /// Every live process with its entry (a snapshot).
    pub(crate) fn entries(&self) -> Vec<(u32, Arc<ProcEntry>)> {
        self.shards
            .iter()
            .flat_map(|s| {
                read(s)
                    .iter()
                    .map(|(k, v)| (*k, v.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_found_while_live_and_not_after_whatever_the_hash_neighbourhood() {
        // Ids in order fill neighbouring buckets; lookups of live ids,
        // of removed ones and of ids never given must all be right, while
        // the live ids slide along as processes come and go.
        let t = ProcTable::default();
        let mut live = std::collections::VecDeque::new();
        for round in 0..20 {
            for _ in 0..5_000 {
                live.push_back(t.insert().0);
            }
            for _ in 0..4_000 {
                let id = live.pop_front().expect("live");
                let e = t.remove(id).expect("was live");
                assert!(e.mailbox.is_closed(), "closed as it leaves");
                assert!(t.get(id).is_none(), "round {round}: {id} removed");
            }
        }
        assert_eq!(t.len(), live.len());
        for id in &live {
            assert!(t.get(*id).is_some(), "{id} live");
        }
        let mut ids = t.ids();
        ids.sort_unstable();
        let mut want: Vec<u32> = live.iter().copied().collect();
        want.sort_unstable();
        assert_eq!(ids, want);
        let top = *want.last().expect("some");
        for absent in [0, top + 1, top + 64, top + 1_000_000, u32::MAX] {
            assert!(t.get(absent).is_none(), "{absent} never given");
        }
    }
}
