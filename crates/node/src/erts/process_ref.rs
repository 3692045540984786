//! A handle on a local process that sends to it without looking its pid
//! up in the process table, and costs one word: what a service that
//! delivers to many processes over and over (a PubSub's subscribers)
//! keeps instead of pids.
//!
//! The handle holds the process's mailbox, not the process: a send is
//! the mailbox's short lock and nothing else (no table lookup, no
//! reference count touched). After the process has exited the mailbox
//! is closed and empty, and sends to it are dropped, as sends to a dead
//! pid are; what stays allocated until the handle is dropped is the
//! table entry of the dead process (a few hundred bytes), so a service
//! drops its handles when it learns of the exit (PubSub does, from the
//! `DOWN` of its monitor).

use std::sync::Arc;

use nodus_term::{Pid, Term};

use super::ptab::ProcEntry;
use crate::node::Node;

/// A local process's mailbox: sends to it fail once the process has
/// exited (it does not keep the process running).
#[derive(Clone)]
pub struct ProcessRef(Arc<ProcEntry>);

impl ProcessRef {
    /// Queues `msg`; false once the process has exited (the message is
    /// dropped, as a send to a dead pid is).
    pub fn send(&self, msg: Term) -> bool {
        self.0.mailbox.push(msg)
    }

    /// True while the process lives.
    pub fn is_alive(&self) -> bool {
        !self.0.mailbox.is_closed()
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
        self.local_entry(pid).map(ProcessRef)
    }
}
