//! A process's mailbox: a queue of terms with one reader. Answers to the
//! message queue of an ERTS process (`erts_queue_message`).
//!
//! Many senders push under a short lock; the one owner pops, and sleeps on
//! a waker when the queue is empty. An empty mailbox allocates nothing, so
//! an idle process costs a few words here.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use nodus_term::Term;

use crate::node::lock;

#[derive(Default)]
struct State {
    queue: VecDeque<Term>,
    waker: Option<Waker>,
    closed: bool,
}

/// The queue of one process.
#[derive(Default)]
pub(crate) struct Mailbox {
    state: Mutex<State>,
}

impl Mailbox {
    /// Queues `msg`; false when the process has exited (the message is
    /// dropped, as a send to a dead pid is).
    pub(crate) fn push(&self, msg: Term) -> bool {
        let waker = {
            let mut st = lock(&self.state);
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
        let mut st = lock(&self.state);
        if let Some(m) = st.queue.pop_front() {
            return Poll::Ready(Some(m));
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
        lock(&self.state).queue.pop_front()
    }

    /// Messages waiting (`message_queue_len`).
    pub(crate) fn len(&self) -> usize {
        lock(&self.state).queue.len()
    }

    /// Closes the mailbox: later pushes fail, queued messages are
    /// dropped, and a waiting owner wakes up to `None`.
    pub(crate) fn close(&self) {
        let (waker, _dropped) = {
            let mut st = lock(&self.state);
            st.closed = true;
            (st.waker.take(), std::mem::take(&mut st.queue))
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// True once closed.
    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }
}
