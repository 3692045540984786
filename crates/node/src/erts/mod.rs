//! The process core: what ERTS gives Erlang code as BIFs. The process
//! table and mailboxes ([`ptab`], [`mailbox`]), spawning with crash
//! semantics ([`spawn`]), exit signals, links and monitors ([`signals`]),
//! the name registry and aliases ([`registry`]), node monitoring
//! ([`node_monitor`]) and the table of functions peers may spawn
//! ([`spawnable`]).
//!
//! Nothing here knows a service: `net_kernel`'s process, `rex`, `global`,
//! `gen_server` and `supervisor` are written against the public API these
//! modules give [`crate::Node`] and [`crate::Process`], as OTP's kernel is
//! written against BIFs.

pub(crate) mod counter;
pub(crate) mod dest_cache;
pub(crate) mod fast_hash;
pub(crate) mod info;
pub(crate) mod mailbox;
pub(crate) mod node_monitor;
pub(crate) mod process_ref;
pub(crate) mod ptab;
pub(crate) mod reductions;
pub(crate) mod registry;
pub(crate) mod send;
pub(crate) mod signals;
pub(crate) mod spawn;
pub(crate) mod spawnable;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex, RwLock};

use nodus_term::{Atom, Pid, Term};

/// A monitor held by a local process.
pub(crate) struct Held {
    /// The process holding it.
    pub(crate) watcher: Pid,
    /// What it monitors: a pid or `{Name, Node}`.
    pub(crate) target: Term,
    /// The node of the target.
    pub(crate) node: Atom,
}

/// The node-wide state of the process core.
#[derive(Default)]
pub(crate) struct Erts {
    pub(crate) procs: ptab::ProcTable,
    pub(crate) names: RwLock<HashMap<Atom, Pid>>,
    pub(crate) aliases: Mutex<fast_hash::FastMap<Term, Pid>>,
    /// Monitors local processes hold, by reference.
    pub(crate) monitors: Mutex<fast_hash::FastMap<Term, Held>>,
    pub(crate) node_watchers: Mutex<Vec<node_monitor::NodeWatcher>>,
    pub(crate) spawnables: RwLock<HashMap<(Atom, Atom), spawnable::Spawnable>>,
    /// Per-node state of services, by type.
    pub(crate) extensions: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    pub(crate) next_ref: AtomicU32,
    /// Messages local processes have taken from their mailboxes.
    pub(crate) delivered: counter::StripedCounter,
}
