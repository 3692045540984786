//! The server loop of `gen_server`: start (with a name, linked to a
//! parent), `init`, then each message to its callback, `sys` messages
//! answered, and `terminate` on the way out. Answers to the server half
//! of OTP's `gen_server.erl`.

use std::time::Duration;

use nodus_term::{Atom, Pid, Term};
use tokio::sync::oneshot;

use super::{reply, Call, CallReply, Flow, GenServer, ReplyTo};
use crate::erts::spawn::catch_panic;
use crate::node::Node;
use crate::process::Process;
use crate::sys;

/// Where a server registers itself (`{local, Name}` or `{global, Name}`).
#[derive(Debug, Clone, PartialEq)]
pub enum Registration {
    /// `{local, Name}`.
    Local(Atom),
    /// `{global, Name}`, in the cluster-wide `global` registry.
    Global(Term),
}

/// How a server starts.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Its name, if any.
    pub name: Option<Registration>,
    /// A parent to link to before `init` runs (`start_link`): the parent's
    /// exit signal stops the server through `terminate` when it traps
    /// exits, and the server's crash reaches the parent.
    pub parent: Option<Pid>,
    /// How long `init` may take (default 5 s; `None` waits forever).
    pub init_timeout: Option<Duration>,
    /// Trap exits from the start (as `process_flag(trap_exit, true)` in
    /// `init`): a supervisor's `shutdown` then runs `terminate`.
    pub trap_exit: bool,
}

impl Options {
    /// A server registered locally as `name`.
    pub fn named(name: &str) -> Options {
        Options {
            name: Some(Registration::Local(Atom::new(name))),
            ..Options::default()
        }
    }

    /// A server registered in `global` as `name`.
    pub fn global(name: Term) -> Options {
        Options {
            name: Some(Registration::Global(name)),
            ..Options::default()
        }
    }

    /// Linked to `parent` (`start_link`).
    pub fn link(mut self, parent: &Pid) -> Options {
        self.parent = Some(parent.clone());
        self
    }

    /// Traps exits from the start.
    pub fn trap_exit(mut self) -> Options {
        self.trap_exit = true;
        self
    }
}

fn tuple(v: Vec<Term>) -> Term {
    Term::tuple(v)
}

/// `gen_server:start/3,4` (and `start_link` with [`Options::link`]):
/// starts a server, waits for its `init`, and returns its pid, or the
/// reason it did not start (`{already_started, Pid}` for a taken name,
/// `timeout`, or `init`'s error).
pub async fn start<S: GenServer>(node: &Node, args: S::Args, opts: Options) -> Result<Pid, Term> {
    let (tx, rx) = oneshot::channel::<Result<(), Term>>();
    let init_timeout = opts.init_timeout.or(Some(Duration::from_secs(5)));
    let parent = opts.parent.clone();
    let start_opts = opts.clone();
    let body = move |mut me: Process| async move {
        if start_opts.trap_exit {
            me.trap_exit(true);
        }
        if let Err(reason) = register(&me, &start_opts.name).await {
            let _ = tx.send(Err(reason.clone()));
            return reason;
        }
        let state = match catch_panic(S::init(args, &mut me)).await {
            Ok(Ok(s)) => s,
            Ok(Err(reason)) | Err(reason) => {
                let _ = tx.send(Err(reason.clone()));
                return reason;
            }
        };
        let _ = tx.send(Ok(()));
        run(me, state, start_opts.parent).await
    };
    let pid = match &parent {
        Some(p) if node.is_process_alive(p) => node.spawn_reason(Some(p), body),
        _ => node.spawn_reason(None, body),
    };
    let result = match init_timeout {
        Some(t) => tokio::time::timeout(t, rx)
            .await
            .unwrap_or(Ok(Err(Term::atom("timeout")))),
        None => rx.await,
    };
    match result {
        Ok(Ok(())) => Ok(pid),
        Ok(Err(reason)) => Err(reason),
        Err(_) => Err(Term::atom("killed")),
    }
}

async fn register(me: &Process, name: &Option<Registration>) -> Result<(), Term> {
    let node = me.node();
    match name {
        None => Ok(()),
        Some(Registration::Local(a)) => match node.register(a.as_str(), me.pid()) {
            Ok(()) => Ok(()),
            Err(_) => Err(match node.whereis(a.as_str()) {
                Some(p) => tuple(vec![Term::atom("already_started"), Term::from(p)]),
                None => Term::atom("badarg"),
            }),
        },
        Some(Registration::Global(n)) => {
            if crate::global::register_name(node, n.clone(), me.pid()).await {
                Ok(())
            } else {
                Err(match crate::global::whereis_name(node, n) {
                    Some(p) => tuple(vec![Term::atom("already_started"), Term::from(p)]),
                    None => Term::atom("badarg"),
                })
            }
        }
    }
}

/// `gen_server:stop(Server, Reason, Timeout)`: the server runs its
/// `terminate` and exits with `reason`; waits until it is gone.
pub async fn stop(
    node: &Node,
    server: impl Into<super::ServerRef>,
    reason: Term,
    timeout: Duration,
) -> Result<(), Term> {
    sys::terminate(node, server, reason, timeout).await
}

/// What a step of the loop decided.
enum Step {
    Go,
    Stop(Term),
}

async fn run<S: GenServer>(mut me: Process, mut state: S, parent: Option<Pid>) -> Term {
    loop {
        let Some(msg) = me.recv().await else {
            return Term::atom("killed");
        };
        let step = match catch_panic(step(&mut me, &mut state, &parent, msg)).await {
            Ok(s) => s,
            Err(panic) => Step::Stop(panic),
        };
        if let Step::Stop(reason) = step {
            if let Err(p) = catch_panic(state.terminate(&reason, &mut me)).await {
                tracing::error!("gen_server {}: terminate panicked: {p}", me.pid());
            }
            return reason;
        }
    }
}

async fn step<S: GenServer>(
    me: &mut Process,
    state: &mut S,
    parent: &Option<Pid>,
    msg: Term,
) -> Step {
    if let Some((from, req)) = sys::parse(&msg) {
        if let Some(reason) = sys::terminate_reason(req) {
            reply(me.node(), from, Term::atom("ok")).await;
            return Step::Stop(reason.clone());
        }
        let pid = me.pid().clone();
        let name = me
            .registered_name()
            .map_or_else(|| Term::from(pid.clone()), Term::Atom);
        let answer = sys::reply_for(&pid, req, || sys::Status {
            module: Term::atom("gen_server"),
            name,
            parent: parent.clone().unwrap_or_else(|| pid.clone()),
            state: state.format_state(),
        });
        reply(me.node(), from, answer).await;
        return Step::Go;
    }
    if let Some(call) = Call::parse(&msg) {
        let request = match nodus_term::from_term::<S::Call>(&call.request) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("gen_server {}: bad request {}: {e}", me.pid(), call.request);
                let err = tuple(vec![
                    Term::atom("error"),
                    tuple(vec![Term::atom("bad_request"), call.request.clone()]),
                ]);
                reply(me.node(), &call.from, err).await;
                return Step::Go;
            }
        };
        let from = ReplyTo { from: call.from };
        return match state.handle_call(request, from.clone(), me).await {
            CallReply::Reply(r) => {
                let t = super::reply_term(&r);
                reply(me.node(), &from.from, t).await;
                Step::Go
            }
            CallReply::NoReply => Step::Go,
            CallReply::Stop(reason, r) => {
                if let Some(r) = r {
                    let t = super::reply_term(&r);
                    reply(me.node(), &from.from, t).await;
                }
                Step::Stop(reason)
            }
        };
    }
    if let Some([tag, m]) = msg.as_tuple() {
        if tag.is_atom("$gen_cast") {
            let flow = match nodus_term::from_term::<S::Cast>(m) {
                Ok(c) => state.handle_cast(c, me).await,
                Err(e) => {
                    tracing::warn!("gen_server {}: bad cast {m}: {e}", me.pid());
                    Flow::Continue
                }
            };
            return flow_step(flow);
        }
    }
    if let Some([tag, Term::Pid(from), reason]) = msg.as_tuple() {
        if tag.is_atom("EXIT") && parent.as_ref() == Some(from) {
            // The parent's exit: stop with its reason (gen_server does
            // this for a server that traps exits).
            return Step::Stop(reason.clone());
        }
    }
    flow_step(state.handle_info(msg, me).await)
}

fn flow_step(f: Flow) -> Step {
    match f {
        Flow::Continue => Step::Go,
        Flow::Stop(r) => Step::Stop(r),
    }
}
