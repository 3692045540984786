//! OTP's `sys` protocol, so that `sys:get_state/1` and `sys:get_status/1`
//! (`:sys.get_state(pid)` in iex) work against nodus processes. Answers
//! to `sys.erl`'s side in a process: a `{system, From, Request}` message
//! is answered with `{Tag, Reply}`.
//!
//! - `get_state` answers the state term the process gives;
//! - `get_status` answers `{status, Pid, {module, Module}, [PDict,
//!   running, Parent, [], Status]}`, with `Status` laid out as
//!   `gen_server:format_status/2` lays it out;
//! - `suspend`, `resume` answer `ok` (a nodus process is never
//!   suspended: it keeps serving);
//! - anything else answers `{error, {unknown_system_msg, Request}}`, as
//!   `sys` does.

use nodus_term::{Pid, Term};

use crate::gen_server;
use crate::process::Process;

/// A `{system, From, Request}` message: `(From, Request)`.
pub fn parse(msg: &Term) -> Option<(&Term, &Term)> {
    match msg.as_tuple() {
        Some([tag, from, req]) if tag.is_atom("system") => match from.as_tuple() {
            Some([Term::Pid(_), _]) => Some((from, req)),
            _ => None,
        },
        _ => None,
    }
}

/// What a process says of itself to `sys:get_status/1`.
pub struct Status {
    /// The module name it shows (`gen_server`, or a Rust type's name).
    pub module: Term,
    /// Its registered name or pid, for the header.
    pub name: Term,
    /// Its parent (`self()` when it has none, as `gen` does).
    pub parent: Pid,
    /// Its state.
    pub state: Term,
}

fn charlist(s: &str) -> Term {
    Term::List(
        s.chars()
            .map(|c| Term::Int(i64::from(u32::from(c))))
            .collect(),
    )
}

/// The reply to `get_status`.
pub fn status_reply(me: &Pid, status: Status) -> Term {
    let t = Term::tuple;
    let header = match &status.name {
        Term::Atom(a) => charlist(&format!("Status for generic server {a}")),
        _ => charlist(&format!("Status for generic server {}", status.name)),
    };
    let formatted = Term::list(vec![
        t(vec![Term::atom("header"), header]),
        t(vec![
            Term::atom("data"),
            Term::list(vec![
                t(vec![charlist("Status"), Term::atom("running")]),
                t(vec![charlist("Parent"), Term::from(status.parent.clone())]),
                t(vec![charlist("Logged events"), Term::nil()]),
            ]),
        ]),
        t(vec![
            Term::atom("data"),
            Term::list(vec![t(vec![charlist("State"), status.state])]),
        ]),
    ]);
    t(vec![
        Term::atom("status"),
        Term::from(me.clone()),
        t(vec![Term::atom("module"), status.module]),
        Term::list(vec![
            Term::nil(),
            Term::atom("running"),
            Term::from(status.parent),
            Term::nil(),
            formatted,
        ]),
    ])
}

/// The reply to a system request, given how to read the state.
pub fn reply_for(me: &Pid, req: &Term, status: impl FnOnce() -> Status) -> Term {
    match req.as_atom() {
        Some("get_state") => status().state,
        Some("get_status") => status_reply(me, status()),
        Some("suspend") | Some("resume") => Term::atom("ok"),
        _ => Term::tuple(vec![
            Term::atom("error"),
            Term::tuple(vec![Term::atom("unknown_system_msg"), req.clone()]),
        ]),
    }
}

/// `{terminate, Reason}`: the reason to stop with, for the loops that
/// answer it (`gen_server`, `supervisor`).
pub fn terminate_reason(req: &Term) -> Option<&Term> {
    match req.as_tuple() {
        Some([t, reason]) if t.is_atom("terminate") => Some(reason),
        _ => None,
    }
}

/// `sys:terminate(Name, Reason)` / `gen_server:stop/3`: tells the process
/// to stop with `reason` (running its `terminate`) and waits until it is
/// gone; `Err` with the reason if it was not there, or `timeout`.
pub async fn terminate(
    node: &crate::Node,
    target: impl Into<gen_server::ServerRef>,
    reason: Term,
    timeout: std::time::Duration,
) -> Result<(), Term> {
    let mut me = node.process();
    let target = target.into();
    let Some(pid) = target_pid(node, &target) else {
        return Err(Term::atom("noproc"));
    };
    let mref = me.monitor(&Term::from(pid.clone())).await;
    let req = Term::tuple(vec![Term::atom("terminate"), reason]);
    let _ = gen_server::client::call_term_label(&mut me, &pid, "system", req, timeout).await;
    let r = mref.clone();
    let down = me
        .recv_match(
            move |m| matches!(m.as_tuple(), Some([d, rr, ..]) if d.is_atom("DOWN") && *rr == r),
            timeout,
        )
        .await;
    match down {
        Some(Term::Tuple(v)) if v.get(4).is_some_and(|r| r.is_atom("noproc")) => {
            Err(Term::atom("noproc"))
        }
        Some(_) => Ok(()),
        None => Err(Term::atom("timeout")),
    }
}

fn target_pid(node: &crate::Node, t: &gen_server::ServerRef) -> Option<Pid> {
    match t {
        gen_server::ServerRef::Pid(p) => Some(p.clone()),
        gen_server::ServerRef::Local(a) => node.whereis(a.as_str()),
        gen_server::ServerRef::Remote(a, n) if n == node.name() => node.whereis(a.as_str()),
        gen_server::ServerRef::Remote(..) => None,
        gen_server::ServerRef::Global(name) => crate::global::whereis_name(node, name),
    }
}

/// Answers `msg` if it is a system message for a plain process whose
/// state is `state()`; true when it was one.
pub async fn handle(me: &mut Process, msg: &Term, state: impl FnOnce() -> Term) -> bool {
    let Some((from, req)) = parse(msg) else {
        return false;
    };
    let pid = me.pid().clone();
    let name = me
        .registered_name()
        .map_or_else(|| Term::from(pid.clone()), Term::Atom);
    let reply = reply_for(&pid, req, || Status {
        module: Term::atom("gen_server"),
        name,
        parent: pid.clone(),
        state: state(),
    });
    gen_server::reply(me.node(), from, reply).await;
    true
}
