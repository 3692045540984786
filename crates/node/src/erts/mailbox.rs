//! A process's mailbox: the queue that senders append to. Answers to the
//! outer message queue of an ERTS process (`erts_queue_message`); the
//! inner queue, the one the owner reads and scans in a selective receive,
//! is the owner's own ([`crate::Process`] keeps it, no lock).
//!
//! Senders push under a short lock. The owner, when its own queue is
//! used up, takes the whole sender queue in one swap, so a burst of
//! messages costs it one shared lock, not one per message; it sleeps on
//! a waker when both are empty. The owner publishes the length of its own
//! queue (a relaxed store) so that `message_queue_len` counts both. An
//! empty mailbox allocates nothing: an idle process costs a few words
//! here.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use nodus_term::Term;

use crate::node::lock;

#[derive(Default)]
struct Outer {
    queue: VecDeque<Term>,
    waker: Option<Waker>,
}

/// The queue of one process.
#[derive(Default)]
pub(crate) struct Mailbox {
    outer: Mutex<Outer>,
    /// Set once, by `close`; read without the lock.
    closed: AtomicBool,
    /// The length of the owner's own queue, as the owner last said.
    owned: AtomicUsize,
}

impl Mailbox {
    /// Queues `msg`; false when the process has exited (the message is
    /// dropped, as a send to a dead pid is).
    pub(crate) fn push(&self, msg: Term) -> bool {
        let waker = {
            let mut st = lock(&self.outer);
            if self.closed.load(Ordering::Relaxed) {
                return false;
            }
            st.queue.push_back(msg);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// Moves every queued message to the back of `into` (the owner's
    /// queue): `Ready(true)` when there were some, `Pending` (the waker
    /// is kept) when there were none, `Ready(false)` once closed.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>, into: &mut VecDeque<Term>) -> Poll<bool> {
        let mut st = lock(&self.outer);
        if self.closed.load(Ordering::Relaxed) {
            return Poll::Ready(false);
        }
        if !st.queue.is_empty() {
            append(&mut st.queue, into);
            return Poll::Ready(true);
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Moves every queued message to the back of `into` without waiting;
    /// false when there were none.
    pub(crate) fn take(&self, into: &mut VecDeque<Term>) -> bool {
        let mut st = lock(&self.outer);
        if st.queue.is_empty() {
            return false;
        }
        append(&mut st.queue, into);
        true
    }

    /// The owner says how many messages its own queue holds.
    pub(crate) fn set_owned(&self, n: usize) {
        self.owned.store(n, Ordering::Relaxed);
    }

    /// Messages waiting (`message_queue_len`): the sender queue and the
    /// owner's.
    pub(crate) fn len(&self) -> usize {
        lock(&self.outer).queue.len() + self.owned.load(Ordering::Relaxed)
    }

    /// Closes the mailbox: later pushes fail, queued messages are
    /// dropped, and a waiting owner wakes up to `None`.
    pub(crate) fn close(&self) {
        let (waker, _dropped) = {
            let mut st = lock(&self.outer);
            self.closed.store(true, Ordering::Relaxed);
            (st.waker.take(), std::mem::take(&mut st.queue))
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// True once closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}

/// Appends all of `from` to `into`, leaving `from` empty: a swap when
/// `into` is empty (the common case), so the owner reuses the sender
/// queue's buffer and the senders get the owner's empty one.
fn append(from: &mut VecDeque<Term>, into: &mut VecDeque<Term>) {
    if into.is_empty() {
        std::mem::swap(from, into);
    } else {
        into.append(from);
    }
}
