//! A process's mailbox: a queue of terms with one reader. Answers to the
//! message queue of an ERTS process (`erts_queue_message`), which also
//! keeps an outer queue that senders append to and an inner one that the
//! owner reads.
//!
//! Many senders push on the outer queue under a short lock; the one owner
//! reads the inner queue, and when it is empty takes the whole outer
//! queue in one swap, so a burst of messages costs the owner one shared
//! lock, not one per message. It sleeps on a waker when both are empty.
//! An empty mailbox allocates nothing, so an idle process costs a few
//! words here.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use nodus_term::Term;

use crate::node::lock;

#[derive(Default)]
struct Outer {
    queue: VecDeque<Term>,
    waker: Option<Waker>,
    closed: bool,
}

/// The queue of one process.
#[derive(Default)]
pub(crate) struct Mailbox {
    outer: Mutex<Outer>,
    /// Taken by the owner (and by `len`), never by a sender.
    inner: Mutex<VecDeque<Term>>,
}

impl Mailbox {
    /// Queues `msg`; false when the process has exited (the message is
    /// dropped, as a send to a dead pid is).
    pub(crate) fn push(&self, msg: Term) -> bool {
        let waker = {
            let mut st = lock(&self.outer);
            if st.closed {
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

    /// The oldest message, or `Pending` (the waker is kept), or `None`
    /// once closed and empty.
    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Option<Term>> {
        let mut inner = lock(&self.inner);
        if let Some(m) = inner.pop_front() {
            return Poll::Ready(Some(m));
        }
        let mut st = lock(&self.outer);
        if !st.queue.is_empty() {
            std::mem::swap(&mut st.queue, &mut *inner);
            drop(st);
            return Poll::Ready(inner.pop_front());
        }
        if st.closed {
            return Poll::Ready(None);
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The oldest message, if any, without waiting.
    pub(crate) fn try_pop(&self) -> Option<Term> {
        let mut inner = lock(&self.inner);
        if let Some(m) = inner.pop_front() {
            return Some(m);
        }
        let mut st = lock(&self.outer);
        std::mem::swap(&mut st.queue, &mut *inner);
        drop(st);
        inner.pop_front()
    }

    /// Messages waiting (`message_queue_len`).
    pub(crate) fn len(&self) -> usize {
        let inner = lock(&self.inner);
        inner.len() + lock(&self.outer).queue.len()
    }

    /// Closes the mailbox: later pushes fail, queued messages are
    /// dropped, and a waiting owner wakes up to `None`.
    pub(crate) fn close(&self) {
        let (waker, _dropped) = {
            let mut st = lock(&self.outer);
            st.closed = true;
            (st.waker.take(), std::mem::take(&mut st.queue))
        };
        let _dropped_inner = std::mem::take(&mut *lock(&self.inner));
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// True once closed.
    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.outer).closed
    }
}
