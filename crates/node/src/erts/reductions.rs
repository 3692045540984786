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

/// The end of a sender's slice. On one thread, the sender goes to the
/// back of the run queue, behind the receivers it has woken, with no
/// system call. On a multi-thread runtime that would hand the sender to
/// an idle worker (a task going to the back of the queue wakes one to
/// steal it), and sender and receiver would then run at once on two
/// cores, every message's lines moving between them: half the throughput,
/// measured. There it yields as `tokio::task::yield_now` does instead:
/// woken again once the worker has run what is ready, into the worker's
/// own next-task slot, which nobody steals, so the pair stays on one
/// core as it does on BEAM's scheduler.
/// `None`: requeue (one thread); else the turn to await.
#[inline(never)]
pub(crate) fn slice_end() -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>
{
    use tokio::runtime::{Handle, RuntimeFlavor};
    let multi =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() != RuntimeFlavor::CurrentThread);
    multi.then(|| Box::pin(tokio::task::yield_now()) as _)
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
