//! What a process and the node say of themselves: `process_info/1,2`
//! and the counters behind `statistics/1`. Answers to ERTS's
//! `process_info` BIF and its statistics counters.

use nodus_term::{Atom, Pid, Term};

use super::ptab::Watcher;
use crate::node::{lock, Node};

/// A snapshot of one live process.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessInfo {
    /// Its registered name.
    pub registered_name: Option<Atom>,
    /// Messages waiting.
    pub message_queue_len: usize,
    /// Its links.
    pub links: Vec<Pid>,
    /// What it monitors: pids or `{Name, Node}`.
    pub monitors: Vec<Term>,
    /// Who monitors it (processes; Rust exit handles are not listed).
    pub monitored_by: Vec<Pid>,
    /// `process_flag(trap_exit)`.
    pub trap_exit: bool,
    /// About how many bytes it holds: its table entry and the messages
    /// queued (an approximation; a Rust task's own state is not seen).
    pub memory: usize,
}

impl Node {
    /// `process_info(Pid)` for a local process; `None` when it is not alive.
    pub fn process_info(&self, pid: &Pid) -> Option<ProcessInfo> {
        let e = self.local_entry(pid)?;
        let queued = e.mailbox.len();
        let st = lock(&e.state);
        let monitors_table = lock(&self.0.erts.monitors);
        let monitors = st
            .holds
            .iter()
            .filter_map(|r| monitors_table.get(r).map(|h| h.target.clone()))
            .collect();
        drop(monitors_table);
        let monitored_by = st
            .watchers
            .iter()
            .filter_map(|w| match w {
                Watcher::Process(p, _) => Some(p.clone()),
                Watcher::Handle(_) => None,
            })
            .collect();
        let memory = std::mem::size_of_val(&*e)
            + queued * std::mem::size_of::<Term>()
            + st.links.len() * std::mem::size_of::<Pid>()
            + st.holds.len() * std::mem::size_of::<Term>();
        Some(ProcessInfo {
            registered_name: st.name.clone(),
            message_queue_len: queued,
            links: st.links.to_vec(),
            monitors,
            monitored_by,
            trap_exit: st.trap_exit,
            memory,
        })
    }

    /// Messages local processes have taken from their mailboxes since
    /// the node started (the `reductions` of `statistics/1`,
    /// approximated); counted as a process takes a batch of them, so
    /// messages still queued are not counted yet.
    pub fn delivered(&self) -> u64 {
        self.0.erts.delivered.get()
    }

    /// How long the node has run.
    pub fn uptime(&self) -> std::time::Duration {
        self.0.started.elapsed()
    }
}
