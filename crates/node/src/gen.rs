//! `gen_server`-style calls, both ways. Answers to OTP's `gen` (`call`,
//! `reply`).
//!
//! A call monitors the server, sends `{'$gen_call', {Self, Ref}, Request}`
//! and waits for `{Ref, Reply}` or the monitor's `DOWN`. A Rust server
//! answers BEAM's calls, plain or alias-tagged (`[alias | Ref]`, OTP 24+),
//! with [`reply`]: the answer goes to the caller's pid, which always
//! receives it.

use std::time::Duration;

use nodus_term::{Pid, Term};

use crate::node::Node;
use crate::process::Process;

/// Why a call failed, as `gen_server:call` exits.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// No answer within the timeout.
    #[error("call timed out")]
    Timeout,
    /// The server died or was not there (`noproc`, `noconnection`, ...).
    #[error("server down: {0}")]
    Down(Term),
    /// The target is neither a pid nor `{Name, Node}`.
    #[error("bad call target {0}")]
    BadTarget(Term),
}

/// A call received by a Rust server: who asked, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The `From` to pass to [`reply`]: `{Pid, Tag}`.
    pub from: Term,
    /// The request.
    pub request: Term,
}

impl Call {
    /// Reads `{'$gen_call', From, Request}`.
    pub fn parse(msg: &Term) -> Option<Call> {
        match msg.as_tuple() {
            Some([tag, from, request]) if tag.is_atom("$gen_call") => match from.as_tuple() {
                Some([Term::Pid(_), _]) => Some(Call {
                    from: from.clone(),
                    request: request.clone(),
                }),
                _ => None,
            },
            _ => None,
        }
    }
}

/// `gen:reply/2`: sends `{Tag, Reply}` to the caller.
pub async fn reply(node: &Node, from: &Term, reply: Term) {
    if let Some([Term::Pid(pid), tag]) = from.as_tuple() {
        let _ = node.send(pid, Term::Tuple(vec![tag.clone(), reply])).await;
    }
}

impl Process {
    /// `gen_server:call(To, Request, Timeout)`, where `to` is a pid or a
    /// `{Name, Node}` tuple.
    pub async fn call(
        &mut self,
        to: &Term,
        request: Term,
        timeout: Duration,
    ) -> Result<Term, CallError> {
        let node = self.node().clone();
        let me: Pid = self.pid().clone();
        let mref = self.monitor(to).await;
        let msg = Term::Tuple(vec![
            Term::atom("$gen_call"),
            Term::Tuple(vec![Term::from(me.clone()), mref.clone()]),
            request,
        ]);
        let sent = match to {
            Term::Pid(p) => node.send(p, msg).await.is_ok(),
            Term::Tuple(t) => match t.as_slice() {
                [Term::Atom(name), Term::Atom(n)] => node
                    .send_named(&me, name.as_str(), n.as_str(), msg)
                    .await
                    .is_ok(),
                _ => return Err(CallError::BadTarget(to.clone())),
            },
            _ => return Err(CallError::BadTarget(to.clone())),
        };
        if !sent {
            node.demonitor(&mref).await;
            return Err(CallError::Down(Term::atom("noconnection")));
        }
        let r = mref.clone();
        let got = self
            .recv_match(
                move |m| match m.as_tuple() {
                    Some([tag, _]) => *tag == r,
                    Some([down, rr, ..]) => down.is_atom("DOWN") && *rr == r,
                    _ => false,
                },
                timeout,
            )
            .await;
        match got {
            Some(Term::Tuple(mut v)) if v.len() == 2 => {
                node.demonitor(&mref).await;
                Ok(v.remove(1))
            }
            Some(Term::Tuple(mut v)) if v.len() == 5 => Err(CallError::Down(v.remove(4))),
            _ => {
                node.demonitor(&mref).await;
                Err(CallError::Timeout)
            }
        }
    }
}
