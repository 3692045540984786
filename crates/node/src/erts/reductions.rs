//! What a local send costs its sender: BEAM charges reductions for a send
//! and preempts a process whose reductions run out, so a process sending
//! in a loop lets its receivers run. A nodus process is a task that is
//! only ever preempted at an `.await`; a local send is one that never
//! waits, so this counts sends on the worker thread and the send yields
//! every [`SENDS_PER_SLICE`].

use std::cell::Cell;

/// Local sends a task may make before it yields its worker.
pub(crate) const SENDS_PER_SLICE: u32 = 1024;

thread_local! {
    static SENT: Cell<u32> = const { Cell::new(0) };
}

/// Counts one local send: true when the slice is used up and the sender
/// should yield (go to the back of the run queue, as [`requeue`] does).
#[inline]
pub(crate) fn charge_send() -> bool {
    SENT.with(|c| {
        let n = c.get() + 1;
        if n >= SENDS_PER_SLICE {
            c.set(0);
            true
        } else {
            c.set(n);
            false
        }
    })
}

/// Lets the tasks already woken on this worker run before the caller
/// goes on: the caller wakes itself and so goes to the back of the run
/// queue (a task woken while it runs is requeued as a yield, behind the
/// one it has just woken, which is in the worker's next-task slot).
/// Unlike `tokio::task::yield_now`, which parks its task until the
/// worker has polled its I/O driver (a system call each time), this
/// costs no system call: what a `gen_server` call needs between sending
/// its request and looking for the reply.
pub(crate) fn requeue() -> impl std::future::Future<Output = ()> {
    let mut done = false;
    std::future::poll_fn(move |cx| {
        if done {
            return std::task::Poll::Ready(());
        }
        done = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
}
