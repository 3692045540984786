//! Lightweight processes: a pid and a mailbox with selective receive.

use std::collections::VecDeque;
use std::time::Duration;

use nodus_term::{Pid, Term};
use tokio::sync::mpsc;

use crate::node::Node;

/// A process: its pid, its mailbox, and the node it lives on. Dropping it
/// ends the process (its pid stops receiving; remote monitors get `DOWN`).
pub struct Process {
    pub(crate) pid: Pid,
    pub(crate) rx: mpsc::UnboundedReceiver<Term>,
    pub(crate) saved: VecDeque<Term>,
    pub(crate) node: Node,
}

impl Process {
    /// This process's pid.
    pub fn pid(&self) -> &Pid {
        &self.pid
    }

    /// The node it runs on.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The next message, oldest first (`None` once the node is gone).
    pub async fn recv(&mut self) -> Option<Term> {
        if let Some(m) = self.saved.pop_front() {
            return Some(m);
        }
        self.rx.recv().await
    }

    /// The oldest message for which `pred` holds, waiting at most
    /// `timeout`; other messages stay in the mailbox, in order, as with
    /// Erlang's `receive`.
    pub async fn recv_match(
        &mut self,
        pred: impl Fn(&Term) -> bool,
        timeout: Duration,
    ) -> Option<Term> {
        if let Some(i) = self.saved.iter().position(&pred) {
            return self.saved.remove(i);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) if pred(&m) => return Some(m),
                Ok(Some(m)) => self.saved.push_back(m),
                Ok(None) | Err(_) => return None,
            }
        }
    }
}

impl Process {
    /// `process_flag(trap_exit, On)`: exit signals arrive as
    /// `{'EXIT', From, Reason}` messages instead of ending the process.
    pub fn trap_exit(&self, on: bool) {
        self.node.set_trap_exit(&self.pid, on);
    }

    /// `link/1`, to a process here or on another node.
    pub async fn link(&self, other: &Pid) {
        self.node.link(&self.pid, other).await;
    }

    /// `monitor(process, Target)`, where `target` is a pid or a
    /// `{Name, Node}` tuple; the `DOWN` message carries the returned ref.
    pub async fn monitor(&self, target: &Term) -> Term {
        self.node.monitor(&self.pid, target).await
    }

    /// `alias()`: a reference that other processes, here or on BEAM nodes,
    /// can send to (`Alias ! Msg`) until [`Process::unalias`].
    pub fn alias(&self) -> Term {
        let a = self.node.make_ref();
        crate::node::lock(&self.node.0.aliases).insert(a.clone(), self.pid.clone());
        a
    }

    /// `unalias(Alias)`: messages to it are dropped from now on.
    pub fn unalias(&self, alias: &Term) -> bool {
        crate::node::lock(&self.node.0.aliases)
            .remove(alias)
            .is_some()
    }

    /// True while the process has not been ended by an exit signal.
    pub fn is_alive(&self) -> bool {
        self.node.local_alive(&self.pid)
    }

    /// Ends the process with `reason` (`exit(Reason)`).
    pub fn exit(self, reason: Term) {
        self.node.process_exited(&self.pid, reason);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.node.process_exited(&self.pid, Term::atom("normal"));
    }
}
