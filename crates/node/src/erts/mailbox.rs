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
use std::task::{Context, Poll, Waker};

use nodus_term::Term;

use parking_lot::Mutex;

#[derive(Default)]
struct Outer {
    /// Pushed to at the back only, so a `Vec` (a push is a bounds check
    /// and a write); it becomes the owner's `VecDeque` without a copy.
    queue: Vec<Term>,
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
    #[inline]
    pub(crate) fn push(&self, msg: Term) -> bool {
        self.push_from(&mut Some(msg))
    }

    /// Queues the message in `slot`, moving it out; false (and `slot`
    /// left as it was) when the process has exited. The send path hands
    /// its message over this way so that it is moved once, from where
    /// the sender put it to the queue, however many calls lie between.
    #[inline(always)]
    pub(crate) fn push_from(&self, slot: &mut Option<Term>) -> bool {
        let waker = {
            let mut st = self.outer.lock();
            if self.closed.load(Ordering::Relaxed) {
                return false;
            }
            move_into(slot, &mut st.queue);
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
        let mut st = self.outer.lock();
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
        let mut st = self.outer.lock();
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
        self.outer.lock().queue.len() + self.owned.load(Ordering::Relaxed)
    }

    /// Closes the mailbox: later pushes fail, queued messages are
    /// dropped, and a waiting owner wakes up to `None`.
    pub(crate) fn close(&self) {
        let (waker, _dropped) = {
            let mut st = self.outer.lock();
            self.closed.store(true, Ordering::Release);
            (st.waker.take(), std::mem::take(&mut st.queue))
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Refuses later pushes, without waking the owner or dropping what
    /// is queued (that is [`Mailbox::close`]'s part).
    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// True once closed (or marked closed).
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// Moves the term in `slot` to the back of `queue`, leaving `slot` empty.
///
/// The same as `queue.push(slot.take())` but with one copy of the term,
/// straight from `slot` to the queue's buffer: moved through a temporary,
/// the term is written in one pattern of stores and read back in another
/// before the stores have left the store buffer, and the processor stalls
/// on each such copy (measured: a third of a local send's time).
#[inline(always)]
fn move_into(slot: &mut Option<Term>, queue: &mut Vec<Term>) {
    let Some(msg) = slot.as_ref() else {
        return;
    };
    queue.reserve(1);
    let len = queue.len();
    // SAFETY: `reserve` made room for one more element at `len`; `msg`
    // is a valid term, copied bit for bit to that slot, and then
    // forgotten where it was (`slot` is overwritten with `None` without
    // dropping its old value), so the term has exactly one owner, the
    // queue, which counts it once `set_len` says so.
    unsafe {
        std::ptr::copy_nonoverlapping(msg as *const Term, queue.as_mut_ptr().add(len), 1);
        std::ptr::write(slot, None);
        queue.set_len(len + 1);
    }
}

/// Appends all of `from` to `into`, leaving `from` empty: when `into`
/// is empty (the common case) the two buffers change places, so the
/// owner reuses the sender queue's buffer and the senders get the owner's
/// empty one, and nothing is copied.
fn append(from: &mut Vec<Term>, into: &mut VecDeque<Term>) {
    if into.is_empty() {
        let spare = Vec::from(std::mem::take(into));
        *into = VecDeque::from(std::mem::replace(from, spare));
    } else {
        into.extend(from.drain(..));
    }
}
