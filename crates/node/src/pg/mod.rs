//! `pg`: process groups in named scopes, shared with BEAM nodes. Answers
//! to OTP's `pg` module (OTP 23+; wire-compatible with OTP 25's and 27's
//! scopes, and with Phoenix.PubSub, which runs on the scope
//! `'Elixir.Phoenix.PubSub'`).
//!
//! A scope is a process registered under the scope's name. It discovers
//! the scope of the same name on every visible node that comes up
//! (`{discover, Pid}`), sends it its local members (`sync`), and tells
//! every known peer scope of each local join and leave. Members that die
//! leave every group; when a peer scope goes down, or its node
//! disconnects, all that peer's members go.
//!
//! ```no_run
//! # async fn demo(node: nodus::Node, me: nodus::Process) -> Result<(), nodus::pg::Error> {
//! use nodus::{pg, Term};
//! pg::start(&node, "chat").await?;
//! let room = Term::atom("room");
//! pg::join(&node, "chat", &room, &[me.pid().clone()]).await?;
//! let everyone = pg::get_members(&node, "chat", &room); // here and on other nodes
//! # Ok(()) }
//! ```
//!
//! Reads (`get_members`, `get_local_members`, `which_groups`) do not call
//! the scope process: they read its table, as OTP's read its ETS table.

mod scope;
mod table;

use std::time::Duration;

use nodus_term::{Atom, Pid, Term};

use crate::gen_server::{self, CallError, Options, Registration};
use crate::node::Node;
use crate::process::Process;

pub(crate) use scope::pids_of;
use table::Scopes;

/// The scope `pg:join/2` and friends use, started when the kernel
/// parameter `start_pg` is true.
pub const DEFAULT_SCOPE: &str = "pg";

/// What can go wrong with a `pg` call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No scope of that name runs on this node.
    #[error("no pg scope {0} runs on this node")]
    NoScope(String),
    /// `join` and `leave` take processes of this node only.
    #[error("{0} is not a process of this node (pg only takes local members)")]
    NotLocal(Pid),
    /// The scope is already running.
    #[error("pg scope {0} is already running")]
    AlreadyStarted(String),
    /// The scope process did not answer.
    #[error("pg scope {scope}: {error}")]
    Call {
        /// The scope.
        scope: String,
        /// Why.
        error: CallError,
    },
    /// The scope answered something unexpected.
    #[error("pg scope {scope} answered {reply}")]
    Reply {
        /// The scope.
        scope: String,
        /// The answer.
        reply: Term,
    },
}

/// `pg:start(Scope)`: starts the scope process, registered under `scope`.
pub async fn start(node: &Node, scope: &str) -> Result<Pid, Error> {
    let name = Atom::try_new(scope).map_err(|_| Error::NoScope(scope.to_string()))?;
    if node.whereis(scope).is_some() {
        return Err(Error::AlreadyStarted(scope.to_string()));
    }
    let opts = Options {
        name: Some(Registration::Local(name.clone())),
        ..Options::default()
    };
    gen_server::start::<scope::Scope>(node, name, opts)
        .await
        .map_err(|reply| Error::Reply {
            scope: scope.to_string(),
            reply,
        })
}

fn check_local(node: &Node, pids: &[Pid]) -> Result<(), Error> {
    match pids.iter().find(|p| &p.node != node.name()) {
        Some(p) => Err(Error::NotLocal(p.clone())),
        None => Ok(()),
    }
}

/// One pid as itself, several as a list (the two forms `pg` sends).
fn pid_or_pids(pids: &[Pid]) -> Term {
    match pids {
        [one] => Term::from(one.clone()),
        many => Term::List(many.iter().cloned().map(Term::from).collect()),
    }
}

async fn call(node: &Node, scope: &str, request: Term) -> Result<Term, Error> {
    let mut me = node.process();
    call_as(&mut me, scope, request).await
}

async fn call_as(me: &mut Process, scope: &str, request: Term) -> Result<Term, Error> {
    let name = Atom::try_new(scope).map_err(|_| Error::NoScope(scope.to_string()))?;
    if me.node().whereis(scope).is_none() {
        return Err(Error::NoScope(scope.to_string()));
    }
    gen_server::call_term(
        me,
        gen_server::ServerRef::Local(name),
        request,
        Duration::from_secs(60),
    )
    .await
    .map_err(|error| Error::Call {
        scope: scope.to_string(),
        error,
    })
}

/// `pg:join(Scope, Group, Pids)`: each of `pids` (processes of this node)
/// joins `group` once more (a process may join a group several times and
/// then counts as that many members).
pub async fn join(node: &Node, scope: &str, group: &Term, pids: &[Pid]) -> Result<(), Error> {
    check_local(node, pids)?;
    let req = Term::tuple(vec![
        Term::atom("join_local"),
        group.clone(),
        pid_or_pids(pids),
    ]);
    match call(node, scope, req).await? {
        r if r.is_atom("ok") => Ok(()),
        reply => Err(Error::Reply {
            scope: scope.to_string(),
            reply,
        }),
    }
}

/// `pg:leave(Scope, Group, Pids)`: each of `pids` leaves `group` once;
/// false (`not_joined`) when none of them was a member.
pub async fn leave(node: &Node, scope: &str, group: &Term, pids: &[Pid]) -> Result<bool, Error> {
    check_local(node, pids)?;
    let req = Term::tuple(vec![
        Term::atom("leave_local"),
        group.clone(),
        pid_or_pids(pids),
    ]);
    match call(node, scope, req).await? {
        r if r.is_atom("ok") => Ok(true),
        r if r.is_atom("not_joined") => Ok(false),
        reply => Err(Error::Reply {
            scope: scope.to_string(),
            reply,
        }),
    }
}

/// `pg:get_members(Scope, Group)`: every member, on every node of the
/// scope's overlay (empty when the scope does not run).
pub fn get_members(node: &Node, scope: &str, group: &Term) -> Vec<Pid> {
    table(node, scope).map_or_else(Vec::new, |t| t.members(group))
}

/// Calls `f` with the members of `group` without copying the list (for
/// hot paths such as a broadcast).
pub fn with_members<R>(node: &Node, scope: &str, group: &Term, f: impl FnOnce(&[Pid]) -> R) -> R {
    match table(node, scope) {
        Some(t) => t.with_members(group, f),
        None => f(&[]),
    }
}

/// `pg:get_local_members(Scope, Group)`: the members on this node.
pub fn get_local_members(node: &Node, scope: &str, group: &Term) -> Vec<Pid> {
    table(node, scope).map_or_else(Vec::new, |t| t.local_members(group))
}

/// `pg:which_groups(Scope)`: every group with a member somewhere.
pub fn which_groups(node: &Node, scope: &str) -> Vec<Term> {
    let mut v = table(node, scope).map_or_else(Vec::new, |t| t.groups());
    v.sort();
    v
}

/// Makes scope `scope` of this node known to the same scope on `peer`
/// (`{discover, ScopePid}`), as a hidden node must: `pg` discovers
/// visible nodes only. The peer answers with its members and learns ours.
pub fn discover(node: &Node, scope: &str, peer: &str) -> Result<(), Error> {
    let Some(me) = node.whereis(scope) else {
        return Err(Error::NoScope(scope.to_string()));
    };
    let peer = Atom::try_new(peer).map_err(|_| Error::NoScope(scope.to_string()))?;
    let msg = Term::tuple(vec![Term::atom("discover"), Term::from(me.clone())]);
    node.send_named_noconnect(&me, scope, &peer, msg);
    Ok(())
}

fn table(node: &Node, scope: &str) -> Option<std::sync::Arc<table::Table>> {
    node.try_extension::<Scopes>()?.get(scope)
}

/// `pg:monitor_scope(Scope)`: the calling process gets `{Ref, join,
/// Group, Pids}` and `{Ref, leave, Group, Pids}` for every change in the
/// scope; returns the reference and the groups as they are now.
pub async fn monitor_scope(
    me: &mut Process,
    scope: &str,
) -> Result<(Term, Vec<(Term, Vec<Pid>)>), Error> {
    let reply = call_as(me, scope, Term::atom("monitor")).await?;
    match reply.as_tuple() {
        Some([r, Term::Map(m)]) => Ok((
            r.clone(),
            m.iter()
                .map(|(g, p)| (g.clone(), pids_of(p).unwrap_or_default()))
                .collect(),
        )),
        _ => Err(Error::Reply {
            scope: scope.to_string(),
            reply,
        }),
    }
}

/// `pg:monitor(Scope, Group)`: as [`monitor_scope`], for one group;
/// returns the reference and its members now.
pub async fn monitor(
    me: &mut Process,
    scope: &str,
    group: &Term,
) -> Result<(Term, Vec<Pid>), Error> {
    let req = Term::tuple(vec![Term::atom("monitor"), group.clone()]);
    let reply = call_as(me, scope, req).await?;
    match reply.as_tuple() {
        Some([r, pids]) => Ok((r.clone(), pids_of(pids).unwrap_or_default())),
        _ => Err(Error::Reply {
            scope: scope.to_string(),
            reply,
        }),
    }
}

/// `pg:demonitor(Scope, Ref)`: ends a monitor and flushes its queued
/// notifications; false when the reference was not a monitor.
pub async fn demonitor(me: &mut Process, scope: &str, reference: &Term) -> Result<bool, Error> {
    let req = Term::tuple(vec![Term::atom("demonitor"), reference.clone()]);
    let ok = call_as(me, scope, req).await?.is_atom("ok");
    if ok {
        let is_note = |m: &Term| matches!(m.as_tuple(), Some([r, v, _, _]) if r == reference && (v.is_atom("join") || v.is_atom("leave")));
        while me.recv_match(is_note, Duration::ZERO).await.is_some() {}
    }
    Ok(ok)
}
