//! The last destination a process sent to, kept by the process so that
//! its next send there skips the process table (the shard's lock and the
//! hash probe): a process that sends to one other over and over (a
//! producer feeding a consumer, a client calling one server) does so at
//! the cost of the mailbox's push alone.
//!
//! The cache belongs to a spawned process's task and is reached through
//! a thread-local pointer set while that task is being polled, so it
//! needs no lock: one thread at a time polls a task. A destination is
//! cached the second time in a row it is sent to, so a process that
//! sends to many processes in turn pays nothing for the cache. A cached
//! entry is used only while its mailbox is open: a process's mailbox is
//! closed when it leaves the table (under the table's lock, before its
//! id can be given to another process), so an open cached mailbox is the
//! one the table would give.

use std::cell::Cell;
use std::sync::Arc;

use nodus_term::Term;

use super::ptab::{ProcEntry, ProcTable};

/// One process's cache: the last destination it sent to twice in a row.
#[derive(Default)]
pub(crate) struct DestCache {
    /// The id of the cached entry (0: none).
    id: u32,
    /// The id sent to last that was not cached.
    missed: u32,
    entry: Option<Arc<ProcEntry>>,
}

thread_local! {
    /// While a process's task is polled: the table of its node and its
    /// cache; null pointers otherwise (or while the cache is in use).
    static CURRENT: Cell<(*const ProcTable, *mut DestCache)> =
        const { Cell::new((std::ptr::null(), std::ptr::null_mut())) };
}

/// Runs `f` (a poll of the task that owns `cache`) with `cache` as the
/// sending process's cache for sends on `table`.
#[inline]
pub(crate) fn with_cache<R>(table: &ProcTable, cache: &mut DestCache, f: impl FnOnce() -> R) -> R {
    let prev = CURRENT.replace((table as *const ProcTable, cache as *mut DestCache));
    let r = f();
    CURRENT.set(prev);
    r
}

/// Queues the message in `slot` (moving it out) for process `id` of
/// `table`, through the polling process's cache when it has one for
/// `table`; false when the process does not exist.
#[inline(always)]
pub(crate) fn deliver(table: &ProcTable, id: u32, slot: &mut Option<Term>) -> bool {
    let (t, c) = CURRENT.get();
    if !std::ptr::eq(t, table) || c.is_null() {
        return table.deliver_from(id, slot);
    }
    // Taken out while in use: a send made from inside this one (by a
    // waker) goes through the table.
    CURRENT.set((std::ptr::null(), std::ptr::null_mut()));
    // SAFETY: `c` was set by `with_cache` from a `&mut DestCache` that
    // lives for the whole call of `f` on this thread, which this call is
    // inside of (the pointer is reset when `f` returns), and nothing else
    // reaches it while it is taken out of `CURRENT`.
    let cache = unsafe { &mut *c };
    let ok = cache.deliver(table, id, slot);
    CURRENT.set((t, c));
    ok
}

impl DestCache {
    #[inline(always)]
    fn deliver(&mut self, table: &ProcTable, id: u32, slot: &mut Option<Term>) -> bool {
        if self.id == id {
            if let Some(e) = &self.entry {
                if !e.mailbox.is_closed() {
                    return e.mailbox.push_from(slot);
                }
            }
        }
        self.miss(table, id, slot)
    }

    /// A send to a process not cached: through the table, caching the
    /// process the second time in a row.
    #[inline(never)]
    fn miss(&mut self, table: &ProcTable, id: u32, slot: &mut Option<Term>) -> bool {
        if self.missed != id {
            self.missed = id;
            return table.deliver_from(id, slot);
        }
        let Some(e) = table.get(id) else {
            return false;
        };
        let ok = e.mailbox.push_from(slot);
        self.id = id;
        // The old entry is dropped after the new one is in place.
        let _old = self.entry.replace(e);
        ok
    }
}
