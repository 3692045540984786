//! The send BIF: `To ! Msg`. As in Erlang, the message is sent when the
//! send is called: to a local process it is the mailbox's push and
//! nothing else (the message is moved once, from the caller to the
//! queue); to another node it is queued on the connection, set up in the
//! background if need be. The future the send returns only paces the
//! sender: after a slice of local sends it yields once, as a process
//! whose reductions run out is preempted on BEAM (see
//! [`super::reductions`]), and while the connection to the other node is
//! busy it waits, as a process sending to a busy distribution port is
//! suspended.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use nodus_proto::dist::Control;
use nodus_term::{Pid, Term};

use crate::error::Error;
use crate::node::Node;

/// What is left of a send once it is made: the future [`Node::send`] and
/// [`crate::Process::send`] return. One word (so that it is moved in a
/// register, not through memory): nothing for the common send, which has
/// nothing to wait for; the rarer cases are boxed.
pub(crate) struct SendFuture(Option<Box<Slow>>);

/// A send that has to wait, or failed.
enum Slow {
    /// The sender's slice of local sends is used up: it goes to the back
    /// of the run queue once (true once it has).
    Yield(bool),
    /// The send failed.
    Failed(Option<Error>),
    /// Waits: for its next turn on a multi-thread runtime, or until the
    /// connection is not busy.
    Wait(Pin<Box<dyn Future<Output = ()> + Send>>),
}

impl SendFuture {
    /// Sends `msg` to `to` from `node`.
    #[inline(always)]
    pub(crate) fn start(node: &Node, to: &Pid, msg: Term) -> Self {
        if to.node == node.0.name {
            node.deliver_local_from(to, &mut Some(msg));
            if super::reductions::charge_send() {
                let slow = match super::reductions::slice_end() {
                    Some(turn) => Slow::Wait(turn),
                    None => Slow::Yield(false),
                };
                return SendFuture(Some(Box::new(slow)));
            }
            return SendFuture(None);
        }
        Self::remote(node, to, msg)
    }

    #[inline(never)]
    fn remote(node: &Node, to: &Pid, msg: Term) -> Self {
        let control = Control::Send { to: to.clone() };
        match crate::dist_setup::send(node, &to.node, control, Some(msg)) {
            Err(e) => SendFuture(Some(Box::new(Slow::Failed(Some(e))))),
            Ok(Some(conn)) if conn.is_busy(node.0.busy_limit) => {
                let limit = node.0.busy_limit;
                let wait = Box::pin(async move { conn.not_busy(limit).await });
                SendFuture(Some(Box::new(Slow::Wait(wait))))
            }
            Ok(_) => SendFuture(None),
        }
    }
}

impl Future for SendFuture {
    type Output = Result<(), Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(slow) = &mut self.get_mut().0 else {
            return Poll::Ready(Ok(()));
        };
        match &mut **slow {
            Slow::Yield(true) => Poll::Ready(Ok(())),
            Slow::Yield(done) => {
                // The sender goes to the back of the run queue, behind
                // the receivers it has woken.
                *done = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Slow::Failed(e) => Poll::Ready(e.take().map_or(Ok(()), Err)),
            Slow::Wait(wait) => wait.as_mut().poll(cx).map(Ok),
        }
    }
}
