//! A handle on a local process that sends to it without looking its pid
//! up in the process table, and costs one word: what a service that
//! delivers to many processes over and over (a PubSub's subscribers)
//! keeps instead of pids.

use std::sync::{Arc, Weak};

use nodus_term::{Pid, Term};

use super::ptab::ProcEntry;
use crate::node::Node;

/// A local process, held weakly: it does not keep the process alive, and
/// sends to it fail once it has exited.
#[derive(Clone)]
pub struct ProcessRef(Weak<ProcEntry>);

impl ProcessRef {
    /// Queues `msg`; false once the process has exited (the message is
    /// dropped, as a send to a dead pid is).
    pub fn send(&self, msg: Term) -> bool {
        self.0.upgrade().is_some_and(|e| e.mailbox.push(msg))
    }

    /// True while the process lives.
    pub fn is_alive(&self) -> bool {
        self.0.upgrade().is_some_and(|e| !e.mailbox.is_closed())
    }
}

impl std::fmt::Debug for ProcessRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProcessRef(alive: {})", self.is_alive())
    }
}

impl Node {
    /// A [`ProcessRef`] for local process `pid`, if it lives.
    pub fn process_ref(&self, pid: &Pid) -> Option<ProcessRef> {
        self.local_entry(pid)
            .map(|e| ProcessRef(Arc::downgrade(&e)))
    }
}
