//! The client side of `gen_server`: `call`, `cast`, `multi_call`,
//! `abcast`, `reply`. Answers to OTP's `gen` and the client functions of
//! `gen_server`.
//!
//! A call monitors the server, sends `{'$gen_call', {Self, Ref}, Request}`
//! and waits for `{Ref, Reply}` or the monitor's `DOWN`, as `gen:call/4`.
//! A Rust server answers BEAM's calls, plain or alias-tagged (`[alias |
//! Ref]`, OTP 24+), with [`reply`].

use std::time::Duration;

use nodus_term::{Atom, Pid, Term};
use serde::de::DeserializeOwned;
use serde::Serialize;

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
    /// The request could not be made a term, or the reply read back.
    #[error("{0}")]
    Serde(String),
}

/// Where a call or cast goes: a pid, a name here, a name on a node, or a
/// name in `global`.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerRef {
    /// A pid, here or remote.
    Pid(Pid),
    /// A locally registered name on this node.
    Local(Atom),
    /// `{Name, Node}`.
    Remote(Atom, Atom),
    /// `{global, Name}`.
    Global(Term),
}

impl From<Pid> for ServerRef {
    fn from(p: Pid) -> Self {
        ServerRef::Pid(p)
    }
}

impl From<&Pid> for ServerRef {
    fn from(p: &Pid) -> Self {
        ServerRef::Pid(p.clone())
    }
}

impl From<&str> for ServerRef {
    fn from(name: &str) -> Self {
        ServerRef::Local(Atom::new(name))
    }
}

impl From<(&str, &str)> for ServerRef {
    fn from((name, node): (&str, &str)) -> Self {
        ServerRef::Remote(Atom::new(name), Atom::new(node))
    }
}

impl From<(&str, &Atom)> for ServerRef {
    fn from((name, node): (&str, &Atom)) -> Self {
        ServerRef::Remote(Atom::new(name), node.clone())
    }
}

impl ServerRef {
    /// Reads a pid, `Name`, `{Name, Node}` or `{global, Name}`.
    pub fn from_term(t: &Term) -> Option<ServerRef> {
        match t {
            Term::Pid(p) => Some(ServerRef::Pid(p.clone())),
            Term::Atom(a) => Some(ServerRef::Local(a.clone())),
            Term::Tuple(v) => match v.as_slice() {
                [g, name] if g.is_atom("global") => Some(ServerRef::Global(name.clone())),
                [Term::Atom(n), Term::Atom(node)] => {
                    Some(ServerRef::Remote(n.clone(), node.clone()))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// The pid or `{Name, Node}` to monitor and send to.
    fn resolve(&self, node: &Node) -> Option<Term> {
        match self {
            ServerRef::Pid(p) => Some(Term::from(p.clone())),
            ServerRef::Local(a) => Some(Term::tuple(vec![
                Term::Atom(a.clone()),
                Term::Atom(node.name().clone()),
            ])),
            ServerRef::Remote(a, n) => Some(Term::tuple(vec![
                Term::Atom(a.clone()),
                Term::Atom(n.clone()),
            ])),
            ServerRef::Global(name) => crate::global::whereis_name(node, name).map(Term::from),
        }
    }
}

/// A call received by a server: who asked, and what.
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

/// `gen:reply/2`: sends `{Tag, Reply}` to the caller; to its alias when
/// the tag carries one (`[alias | Alias]`, OTP 24+), so that a reply after
/// the caller gave up is dropped, as on BEAM.
pub async fn reply(node: &Node, from: &Term, reply: Term) {
    let Some([Term::Pid(pid), tag]) = from.as_tuple() else {
        return;
    };
    let msg = Term::tuple(vec![tag.clone(), reply]);
    let alias = match tag {
        Term::ImproperList(l) if l.elements.first().is_some_and(|h| h.is_atom("alias")) => {
            Some(l.tail.clone())
        }
        _ => None,
    };
    match alias {
        Some(alias) if matches!(alias, Term::Ref(_)) => {
            let _ = node.send_alias(pid, &alias, msg).await;
        }
        _ => {
            let _ = node.send(pid, msg).await;
        }
    }
}

impl Process {
    /// `gen_server:call(To, Request, Timeout)` with terms, where `to` is
    /// a pid or a `{Name, Node}` tuple.
    pub async fn call(
        &mut self,
        to: &Term,
        request: Term,
        timeout: Duration,
    ) -> Result<Term, CallError> {
        let node = self.node().clone();
        let me: Pid = self.pid().clone();
        let mref = self.monitor(to).await;
        let msg = Term::tuple(vec![
            Term::atom("$gen_call"),
            Term::tuple(vec![Term::from(me.clone()), mref.clone()]),
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
            self.demonitor(&mref);
            return Err(CallError::Down(Term::atom("noconnection")));
        }
        // The server, just woken, usually runs next on this worker: give
        // it its turn first, and its reply is then found without a timer.
        crate::erts::reductions::requeue().await;
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
            Some(Term::Tuple(v)) if v.len() == 2 => {
                self.demonitor(&mref);
                Ok(v.into_vec().remove(1))
            }
            Some(Term::Tuple(v)) if v.len() == 5 => Err(CallError::Down(v.into_vec().remove(4))),
            _ => {
                self.demonitor(&mref);
                Err(CallError::Timeout)
            }
        }
    }
}

/// A `gen:call` with another label than `$gen_call` (`system` for `sys`
/// requests): `{Label, {Self, Ref}, Request}`.
pub(crate) async fn call_term_label(
    me: &mut Process,
    to: &Pid,
    label: &str,
    request: Term,
    timeout: Duration,
) -> Result<Term, CallError> {
    let node = me.node().clone();
    let mref = me.monitor(&Term::from(to.clone())).await;
    let msg = Term::tuple(vec![
        Term::atom(label),
        Term::tuple(vec![Term::from(me.pid().clone()), mref.clone()]),
        request,
    ]);
    let _ = node.send(to, msg).await;
    let r = mref.clone();
    let got = me
        .recv_match(
            move |m| matches!(m.as_tuple(), Some([tag, _]) if *tag == r),
            timeout,
        )
        .await;
    me.demonitor(&mref);
    match got {
        Some(Term::Tuple(v)) if v.len() == 2 => Ok(v.into_vec().remove(1)),
        _ => Err(CallError::Timeout),
    }
}

/// `gen_server:call(Server, Request, Timeout)` from this process, typed:
/// the request goes through serde ([`nodus_term::to_term`]) and the
/// reply comes back the same way.
pub async fn call<Req, Rep>(
    me: &mut Process,
    to: impl Into<ServerRef>,
    request: &Req,
    timeout: Duration,
) -> Result<Rep, CallError>
where
    Req: Serialize + ?Sized,
    Rep: DeserializeOwned,
{
    let req = nodus_term::to_term(request).map_err(|e| CallError::Serde(e.to_string()))?;
    let reply = call_term(me, to, req, timeout).await?;
    nodus_term::from_term(&reply).map_err(|e| CallError::Serde(format!("reply {reply}: {e}")))
}

/// `gen_server:call/3` with terms.
pub async fn call_term(
    me: &mut Process,
    to: impl Into<ServerRef>,
    request: Term,
    timeout: Duration,
) -> Result<Term, CallError> {
    let to = to.into();
    let Some(target) = to.resolve(me.node()) else {
        return Err(CallError::Down(Term::atom("noproc")));
    };
    me.call(&target, request, timeout).await
}

/// `gen_server:cast(Server, Request)`: `{'$gen_cast', Request}`, never
/// waiting for the server.
pub async fn cast<Req: Serialize + ?Sized>(
    node: &Node,
    to: impl Into<ServerRef>,
    request: &Req,
) -> Result<(), CallError> {
    let req = nodus_term::to_term(request).map_err(|e| CallError::Serde(e.to_string()))?;
    cast_term(node, to, req).await;
    Ok(())
}

/// `gen_server:cast/2` with a term.
pub async fn cast_term(node: &Node, to: impl Into<ServerRef>, request: Term) {
    let msg = Term::tuple(vec![Term::atom("$gen_cast"), request]);
    let from = node.process();
    match to.into() {
        ServerRef::Pid(p) => {
            let _ = node.send(&p, msg).await;
        }
        ServerRef::Local(a) => {
            if let Some(p) = node.whereis(a.as_str()) {
                let _ = node.send(&p, msg).await;
            }
        }
        ServerRef::Remote(a, n) => {
            let _ = node
                .send_named(from.pid(), a.as_str(), n.as_str(), msg)
                .await;
        }
        ServerRef::Global(name) => {
            if let Some(p) = crate::global::whereis_name(node, &name) {
                let _ = node.send(&p, msg).await;
            }
        }
    }
}

/// `gen_server:multi_call(Nodes, Name, Request, Timeout)`: calls `name`
/// on every node at once; the replies by node, and the nodes that did
/// not answer (down, no such server, timed out).
pub async fn multi_call(
    node: &Node,
    nodes: &[Atom],
    name: &str,
    request: Term,
    timeout: Duration,
) -> (Vec<(Atom, Term)>, Vec<Atom>) {
    let calls = nodes.iter().map(|n| {
        let node = node.clone();
        let request = request.clone();
        let n = n.clone();
        async move {
            let mut me = node.process();
            let r = call_term(&mut me, (name, &n), request, timeout).await;
            (n, r)
        }
    });
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (n, r) in join_all(calls).await {
        match r {
            Ok(v) => good.push((n, v)),
            Err(_) => bad.push(n),
        }
    }
    (good, bad)
}

/// `gen_server:abcast(Nodes, Name, Request)`: casts to `name` on every
/// node; never waits.
pub async fn abcast(node: &Node, nodes: &[Atom], name: &str, request: Term) {
    for n in nodes {
        cast_term(node, (name, n), request.clone()).await;
    }
}

/// Runs futures concurrently, keeping their order.
pub(crate) async fn join_all<F: std::future::Future>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
