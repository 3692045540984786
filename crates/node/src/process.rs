//! A process as its own code sees it: its pid, its mailbox with
//! selective receive, and the BIFs that act on the calling process
//! (`link`, `monitor`, `process_flag(trap_exit)`, `alias`, `exit`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use nodus_term::{Pid, Term};

use crate::erts::ptab::ProcEntry;
use crate::node::Node;

/// About thirty years: "forever" for a timeout.
pub(crate) const FOREVER: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// A process: its pid, its mailbox, and the node it lives on.
///
/// A process made with [`Node::process`] ends (`normal`) when this value
/// is dropped; one started with [`Node::spawn`] ends when its future
/// completes, with the reason the future gives, or `{panic, Message}`
/// when it panics.
pub struct Process {
    pub(crate) pid: Pid,
    pub(crate) entry: Arc<ProcEntry>,
    pub(crate) saved: VecDeque<Term>,
    pub(crate) node: Node,
    /// Ended by its task's guard, not by drop.
    pub(crate) spawned: bool,
}

impl Process {
    /// This process's pid (`self()`).
    pub fn pid(&self) -> &Pid {
        &self.pid
    }

    /// The node it runs on.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The next message, oldest first; `None` once the process has been
    /// ended (by an exit signal, or the node stopping).
    #[inline]
    pub async fn recv(&mut self) -> Option<Term> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next message, polled: for [`futures_core::Stream`]s built on a
    /// process. `Ready(None)` once the process has been ended.
    #[inline]
    pub fn poll_recv(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Term>> {
        use std::task::Poll;
        if self.entry.mailbox.is_closed() {
            self.saved.clear();
            return Poll::Ready(None);
        }
        if self.saved.is_empty() {
            match self.entry.mailbox.poll_take(cx, &mut self.saved) {
                Poll::Ready(true) => self.count_taken(0),
                Poll::Ready(false) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(self.pop(0))
    }

    /// Takes message `i` of the process's own queue, saying the new
    /// length to the mailbox (for `message_queue_len`).
    fn pop(&mut self, i: usize) -> Option<Term> {
        let m = if i == 0 {
            self.saved.pop_front()
        } else {
            self.saved.remove(i)
        };
        self.entry.mailbox.set_owned(self.saved.len());
        m
    }

    /// Moves what senders have queued to the process's own queue; false
    /// when there was nothing.
    pub(crate) fn take_queued(&mut self) -> bool {
        let before = self.saved.len();
        let got = self.entry.mailbox.take(&mut self.saved);
        if got {
            self.count_taken(before);
            self.entry.mailbox.set_owned(self.saved.len());
        }
        got
    }

    /// Counts the messages a take has moved to the process's own queue,
    /// which held `before` (the node's `statistics(reductions)`).
    fn count_taken(&self, before: usize) {
        let n = self.saved.len().saturating_sub(before) as u64;
        self.node.0.erts.delivered.add(n);
    }

    /// The next message if one is waiting (`receive ... after 0`).
    pub fn try_recv(&mut self) -> Option<Term> {
        if self.saved.is_empty() && !self.take_queued() {
            return None;
        }
        self.pop(0)
    }

    /// The oldest message already here for which `pred` holds, without
    /// waiting.
    pub(crate) fn try_recv_match(&mut self, pred: impl Fn(&Term) -> bool) -> Option<Term> {
        self.take_queued();
        let i = self.saved.iter().position(pred)?;
        self.pop(i)
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
            return self.pop(i);
        }
        // What is already queued needs no timer.
        let mut scanned = self.saved.len();
        if self.take_queued() {
            if let Some(i) = self.saved.iter().skip(scanned).position(&pred) {
                return self.pop(scanned + i);
            }
            scanned = self.saved.len();
        }
        // A timeout too long to add to the clock waits forever.
        let deadline = tokio::time::Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| tokio::time::Instant::now() + FOREVER);
        loop {
            let entry = &self.entry;
            let saved = &mut self.saved;
            let next = std::future::poll_fn(|cx| entry.mailbox.poll_take(cx, saved));
            match tokio::time::timeout_at(deadline, next).await {
                Ok(true) => {
                    self.count_taken(scanned);
                    if let Some(i) = self.saved.iter().skip(scanned).position(&pred) {
                        return self.pop(scanned + i);
                    }
                    scanned = self.saved.len();
                    self.entry.mailbox.set_owned(scanned);
                }
                Ok(false) | Err(_) => return None,
            }
        }
    }

    /// Messages waiting in the mailbox (`message_queue_len`).
    pub fn queue_len(&self) -> usize {
        self.entry.mailbox.len()
    }

    /// Sends `msg` to `to` (`To ! Msg`); see [`Node::send`].
    #[inline]
    pub fn send(
        &self,
        to: &Pid,
        msg: Term,
    ) -> impl std::future::Future<Output = Result<(), crate::Error>> + Send + 'static {
        crate::erts::send::SendFuture::start(&self.node, to, msg)
    }

    /// `process_flag(trap_exit, On)`: exit signals arrive as
    /// `{'EXIT', From, Reason}` messages instead of ending the process.
    pub fn trap_exit(&self, on: bool) {
        self.node.set_trap_exit(&self.pid, on);
    }

    /// `link/1`, to a process here or on another node.
    pub async fn link(&self, other: &Pid) {
        self.node.link(&self.pid, other).await;
    }

    /// `unlink/1`.
    pub fn unlink(&self, other: &Pid) {
        self.node.unlink(&self.pid, other);
    }

    /// `monitor(process, Target)`, where `target` is a pid, a local
    /// registered name or a `{Name, Node}` tuple; the `DOWN` message
    /// carries the returned reference.
    pub async fn monitor(&self, target: &Term) -> Term {
        self.node.monitor(&self.pid, target).await
    }

    /// `demonitor(Ref, [flush])`: the monitor is gone and no `DOWN` of it
    /// stays in the mailbox.
    pub fn demonitor(&mut self, reference: &Term) {
        self.node.demonitor(reference);
        self.take_queued();
        let is_down = |m: &Term| matches!(m.as_tuple(), Some([d, r, ..]) if d.is_atom("DOWN") && r == reference);
        self.saved.retain(|m| !is_down(m));
        self.entry.mailbox.set_owned(self.saved.len());
    }

    /// `alias()`: a reference that other processes, here or on BEAM nodes,
    /// can send to (`Alias ! Msg`) until [`Process::unalias`].
    pub fn alias(&self) -> Term {
        self.node.add_alias(&self.pid)
    }

    /// `unalias(Alias)`: messages to it are dropped from now on.
    pub fn unalias(&self, alias: &Term) -> bool {
        self.node.remove_alias(&self.pid, alias)
    }

    /// Its registered name (`process_info(self(), registered_name)`).
    pub fn registered_name(&self) -> Option<nodus_term::Atom> {
        crate::node::lock(&self.entry.state).name.clone()
    }

    /// `register(Name, self())`.
    pub fn register(&self, name: &str) -> Result<(), crate::Error> {
        self.node.register(name, &self.pid)
    }

    /// True while the process has not been ended.
    pub fn is_alive(&self) -> bool {
        !self.entry.mailbox.is_closed()
    }

    /// Ends the process with `reason` (`exit(Reason)`).
    pub fn exit(self, reason: Term) {
        self.node.process_exited(&self.pid, reason);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if !self.spawned {
            self.node.process_exited(&self.pid, Term::atom("normal"));
        }
    }
}
