//! Supervisors: processes that start children, watch them, and restart
//! them by a strategy within a restart intensity. Answers to OTP's
//! `supervisor`, on the wire as BEAM's: `supervisor:which_children/1`,
//! `count_children/1`, `terminate_child/2`, `restart_child/2` and
//! `delete_child/2` work from iex against a nodus supervisor, and
//! `:sys.get_state/1` shows its children.
//!
//! Children start in order and stop in reverse order. A child that exits
//! is restarted as its [`Restart`] type says; more than `intensity`
//! restarts within `period` make the supervisor terminate every child
//! and exit with `shutdown`, which its own supervisor sees, as in OTP. A
//! supervisor traps exits; an exit signal from its parent stops it
//! (children first) with the parent's reason.

mod spec;

pub use spec::{ChildSpec, ChildType, Flags, Restart, Shutdown, StartFn, StartFuture, Strategy};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use nodus_term::{Atom, Pid, Term};
use tokio::sync::oneshot;

use crate::gen_server::{self, Call, CallError, ServerRef};
use crate::node::Node;
use crate::process::Process;
use crate::sys;

struct Child {
    spec: ChildSpec,
    pid: Option<Pid>,
}

struct Sup {
    me: Process,
    parent: Option<Pid>,
    flags: Flags,
    children: Vec<Child>,
    restarts: VecDeque<Instant>,
}

fn tuple(v: Vec<Term>) -> Term {
    Term::tuple(v)
}

fn ok(v: Term) -> Term {
    tuple(vec![Term::atom("ok"), v])
}

fn error(v: Term) -> Term {
    tuple(vec![Term::atom("error"), v])
}

/// `supervisor:start_link/2,3` from a process: starts a supervisor
/// linked to `parent`, starting `children` in order; its pid, or
/// `{shutdown, {failed_to_start_child, Id, Reason}}`.
pub async fn start_link(
    node: &Node,
    parent: &Pid,
    flags: Flags,
    children: Vec<ChildSpec>,
    name: Option<&str>,
) -> Result<Pid, Term> {
    start_opt(node, Some(parent.clone()), flags, children, name).await
}

/// `supervisor:start/2,3`: a supervisor with no parent (the top of a
/// tree; it runs until told to stop or it gives up).
pub async fn start(
    node: &Node,
    flags: Flags,
    children: Vec<ChildSpec>,
    name: Option<&str>,
) -> Result<Pid, Term> {
    start_opt(node, None, flags, children, name).await
}

async fn start_opt(
    node: &Node,
    parent: Option<Pid>,
    flags: Flags,
    children: Vec<ChildSpec>,
    name: Option<&str>,
) -> Result<Pid, Term> {
    let (tx, rx) = oneshot::channel::<Result<(), Term>>();
    let name = name.map(str::to_string);
    let p = parent.clone();
    let body = move |me: Process| async move {
        me.trap_exit(true);
        if let Some(n) = &name {
            if me.register(n).is_err() {
                let holder = me
                    .node()
                    .whereis(n)
                    .map_or_else(|| Term::atom("badarg"), Term::from);
                let reason = tuple(vec![Term::atom("already_started"), holder]);
                let _ = tx.send(Err(reason.clone()));
                return reason;
            }
        }
        let mut sup = Sup {
            me,
            parent: p,
            flags,
            children: children
                .into_iter()
                .map(|spec| Child { spec, pid: None })
                .collect(),
            restarts: VecDeque::new(),
        };
        if let Err((id, reason)) = sup.start_from(0).await {
            sup.terminate_all().await;
            let reason = tuple(vec![
                Term::atom("shutdown"),
                tuple(vec![
                    Term::atom("failed_to_start_child"),
                    Term::atom(&id),
                    reason,
                ]),
            ]);
            let _ = tx.send(Err(reason.clone()));
            return reason;
        }
        let _ = tx.send(Ok(()));
        sup.run().await
    };
    let pid = match &parent {
        Some(p) => node.spawn_reason(Some(p), body),
        None => node.spawn_reason(None, body),
    };
    match rx.await {
        Ok(Ok(())) => Ok(pid),
        Ok(Err(r)) => Err(r),
        Err(_) => Err(Term::atom("killed")),
    }
}

/// A normal end for a transient child: `normal`, `shutdown`,
/// `{shutdown, _}`.
fn is_normal(reason: &Term) -> bool {
    reason.is_atom("normal")
        || reason.is_atom("shutdown")
        || matches!(reason.as_tuple(), Some([s, _]) if s.is_atom("shutdown"))
}

impl Sup {
    /// Starts the children from index `from` on, in order.
    async fn start_from(&mut self, from: usize) -> Result<(), (String, Term)> {
        for i in from..self.children.len() {
            if self.children[i].pid.is_none() {
                self.start_child(i).await?;
            }
        }
        Ok(())
    }

    async fn start_child(&mut self, i: usize) -> Result<(), (String, Term)> {
        let spec = self.children[i].spec.clone();
        let node = self.me.node().clone();
        let started = crate::catch_panic((spec.start)(node, self.me.pid().clone())).await;
        match started {
            Ok(Ok(pid)) => {
                self.me.link(&pid).await;
                self.children[i].pid = Some(pid);
                Ok(())
            }
            Ok(Err(r)) | Err(r) => Err((spec.id, r)),
        }
    }

    /// Stops child `i` as its shutdown says; waits for it to be gone.
    async fn terminate_child(&mut self, i: usize) {
        let Some(pid) = self.children[i].pid.take() else {
            return;
        };
        let node = self.me.node().clone();
        let mref = self.me.monitor(&Term::from(pid.clone())).await;
        self.me.unlink(&pid);
        // An EXIT that came before the unlink is of no more interest.
        let p = pid.clone();
        let _ = self
            .me
            .recv_match(move |m| matches!(m.as_tuple(), Some([e, Term::Pid(f), _]) if e.is_atom("EXIT") && *f == p), Duration::ZERO)
            .await;
        let r = mref.clone();
        let is_down = move |m: &Term| matches!(m.as_tuple(), Some([d, rr, ..]) if d.is_atom("DOWN") && *rr == r);
        let me = self.me.pid().clone();
        match self.children[i].spec.shutdown {
            Shutdown::BrutalKill => {
                node.exit_pid(&me, &pid, Term::atom("kill"));
                let _ = self.me.recv_match(is_down, Duration::from_secs(3600)).await;
            }
            Shutdown::Timeout(t) => {
                node.exit_pid(&me, &pid, Term::atom("shutdown"));
                if self.me.recv_match(is_down.clone(), t).await.is_none() {
                    node.exit_pid(&me, &pid, Term::atom("kill"));
                    let _ = self.me.recv_match(is_down, Duration::from_secs(3600)).await;
                }
            }
            Shutdown::Infinity => {
                node.exit_pid(&me, &pid, Term::atom("shutdown"));
                let _ = self.me.recv_match(is_down, crate::process::FOREVER).await;
            }
        }
    }

    /// Stops every child, the last started first.
    async fn terminate_all(&mut self) {
        for i in (0..self.children.len()).rev() {
            self.terminate_child(i).await;
        }
    }

    /// Counts a restart; false when the intensity is exceeded.
    fn add_restart(&mut self) -> bool {
        let now = Instant::now();
        self.restarts.push_back(now);
        while self
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.flags.period)
        {
            self.restarts.pop_front();
        }
        self.restarts.len() <= self.flags.intensity as usize
    }

    /// Child `i` exited with `reason`: restart as the strategy says.
    /// `Err(shutdown)` when the supervisor must give up.
    async fn child_exited(&mut self, i: usize, reason: &Term) -> Result<(), Term> {
        self.children[i].pid = None;
        let restart = match self.children[i].spec.restart {
            Restart::Permanent => true,
            Restart::Transient => !is_normal(reason),
            Restart::Temporary => false,
        };
        if !restart {
            if self.children[i].spec.restart == Restart::Temporary {
                self.children.remove(i);
            }
            return Ok(());
        }
        let mut failed = i;
        loop {
            if !self.add_restart() {
                tracing::error!(
                    "supervisor {}: reached max restart intensity ({} in {:?}); shutting down",
                    self.me.pid(),
                    self.flags.intensity,
                    self.flags.period
                );
                return Err(Term::atom("shutdown"));
            }
            let first = match self.flags.strategy {
                Strategy::OneForOne => failed,
                Strategy::OneForAll => 0,
                Strategy::RestForOne => failed,
            };
            if self.flags.strategy != Strategy::OneForOne {
                for j in (first..self.children.len()).rev() {
                    self.terminate_child(j).await;
                }
            }
            let result = if self.flags.strategy == Strategy::OneForOne {
                self.start_child(failed).await
            } else {
                self.start_from(first).await
            };
            match result {
                Ok(()) => return Ok(()),
                Err((id, r)) => {
                    tracing::error!(
                        "supervisor {}: restarting child {id} failed: {r}",
                        self.me.pid()
                    );
                    failed = self
                        .children
                        .iter()
                        .position(|c| c.spec.id == id)
                        .unwrap_or(failed);
                }
            }
        }
    }

    async fn run(mut self) -> Term {
        loop {
            let Some(msg) = self.me.recv().await else {
                return Term::atom("killed");
            };
            if let Some([e, Term::Pid(from), reason]) = msg.as_tuple() {
                if e.is_atom("EXIT") {
                    if self.parent.as_ref() == Some(from) {
                        self.terminate_all().await;
                        return reason.clone();
                    }
                    if let Some(i) = self
                        .children
                        .iter()
                        .position(|c| c.pid.as_ref() == Some(&*from))
                    {
                        if let Err(r) = self.child_exited(i, reason).await {
                            self.terminate_all().await;
                            return r;
                        }
                    }
                    continue;
                }
            }
            if let Some((from, req)) = sys::parse(&msg) {
                if let Some(reason) = sys::terminate_reason(req) {
                    let reason = reason.clone();
                    gen_server::reply(self.me.node(), from, Term::atom("ok")).await;
                    self.terminate_all().await;
                    return reason;
                }
                let pid = self.me.pid().clone();
                let name = self
                    .me
                    .registered_name()
                    .map_or_else(|| Term::from(pid.clone()), Term::Atom);
                let state = self.children_term();
                let parent = self.parent.clone().unwrap_or_else(|| pid.clone());
                let reply = sys::reply_for(&pid, req, || sys::Status {
                    module: Term::atom("supervisor"),
                    name,
                    parent,
                    state,
                });
                gen_server::reply(self.me.node(), from, reply).await;
                continue;
            }
            if let Some(call) = Call::parse(&msg) {
                let reply = self.handle_call(&call.request).await;
                gen_server::reply(self.me.node(), &call.from, reply).await;
            }
        }
    }

    fn find(&self, id: &Term) -> Option<usize> {
        let id = id.as_atom()?;
        self.children.iter().position(|c| c.spec.id == id)
    }

    /// `[{Id, Child, Type, Modules}]`, the last started first.
    fn children_term(&self) -> Term {
        Term::List(
            self.children
                .iter()
                .rev()
                .map(|c| {
                    tuple(vec![
                        Term::atom(&c.spec.id),
                        c.pid
                            .clone()
                            .map_or_else(|| Term::atom("undefined"), Term::from),
                        Term::atom(match c.spec.kind {
                            ChildType::Worker => "worker",
                            ChildType::Supervisor => "supervisor",
                        }),
                        Term::list(vec![Term::atom(&c.spec.module)]),
                    ])
                })
                .collect(),
        )
    }

    async fn handle_call(&mut self, req: &Term) -> Term {
        if req.is_atom("which_children") {
            return self.children_term();
        }
        if req.is_atom("count_children") {
            let count = |f: &dyn Fn(&Child) -> bool| {
                Term::Int(self.children.iter().filter(|c| f(c)).count() as i64)
            };
            let kv = |k: &str, v: Term| tuple(vec![Term::atom(k), v]);
            return Term::list(vec![
                kv("specs", count(&|_| true)),
                kv("active", count(&|c| c.pid.is_some())),
                kv(
                    "supervisors",
                    count(&|c| c.spec.kind == ChildType::Supervisor),
                ),
                kv("workers", count(&|c| c.spec.kind == ChildType::Worker)),
            ]);
        }
        match req.as_tuple() {
            Some([op, id]) if op.is_atom("terminate_child") => match self.find(id) {
                Some(i) => {
                    self.terminate_child(i).await;
                    if self.children[i].spec.restart == Restart::Temporary {
                        self.children.remove(i);
                    }
                    Term::atom("ok")
                }
                None => error(Term::atom("not_found")),
            },
            Some([op, id]) if op.is_atom("restart_child") => match self.find(id) {
                Some(i) if self.children[i].pid.is_some() => error(Term::atom("running")),
                Some(i) => match self.start_child(i).await {
                    Ok(()) => ok(self.children[i]
                        .pid
                        .clone()
                        .map_or_else(|| Term::atom("undefined"), Term::from)),
                    Err((_, r)) => error(r),
                },
                None => error(Term::atom("not_found")),
            },
            Some([op, id]) if op.is_atom("delete_child") => match self.find(id) {
                Some(i) if self.children[i].pid.is_some() => error(Term::atom("running")),
                Some(i) => {
                    self.children.remove(i);
                    Term::atom("ok")
                }
                None => error(Term::atom("not_found")),
            },
            _ => {
                tracing::warn!("supervisor {}: unexpected call {req}", self.me.pid());
                error(tuple(vec![Term::atom("unknown_call"), req.clone()]))
            }
        }
    }
}

/// `supervisor:stop/1` (`gen:stop`): the supervisor stops its children,
/// the last started first, and exits `normal`; waits until it is gone.
pub async fn stop(node: &Node, sup: impl Into<ServerRef>) -> Result<(), Term> {
    sys::terminate(node, sup, Term::atom("normal"), crate::process::FOREVER).await
}

/// A child as `which_children` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildInfo {
    /// Its id.
    pub id: Atom,
    /// Its pid, `None` when not running.
    pub pid: Option<Pid>,
    /// Worker or supervisor.
    pub kind: ChildType,
}

async fn sup_call(node: &Node, sup: impl Into<ServerRef>, req: Term) -> Result<Term, CallError> {
    let mut me = node.process();
    gen_server::call_term(&mut me, sup, req, Duration::from_secs(3600)).await
}

/// `supervisor:which_children/1`: the children, the last started first.
pub async fn which_children(
    node: &Node,
    sup: impl Into<ServerRef>,
) -> Result<Vec<ChildInfo>, CallError> {
    let r = sup_call(node, sup, Term::atom("which_children")).await?;
    Ok(r.as_list()
        .unwrap_or(&[])
        .iter()
        .filter_map(|c| match c.as_tuple() {
            Some([Term::Atom(id), pid, kind, _]) => Some(ChildInfo {
                id: id.clone(),
                pid: match pid {
                    Term::Pid(p) => Some(p.clone()),
                    _ => None,
                },
                kind: if kind.is_atom("supervisor") {
                    ChildType::Supervisor
                } else {
                    ChildType::Worker
                },
            }),
            _ => None,
        })
        .collect())
}

/// `supervisor:terminate_child/2`: `{error, not_found}` as `Err`.
pub async fn terminate_child(node: &Node, sup: impl Into<ServerRef>, id: &str) -> Result<(), Term> {
    let r = sup_call(
        node,
        sup,
        tuple(vec![Term::atom("terminate_child"), Term::atom(id)]),
    )
    .await;
    match r {
        Ok(t) if t.is_atom("ok") => Ok(()),
        Ok(t) => Err(t),
        Err(e) => Err(Term::binary(e.to_string().into_bytes())),
    }
}

/// `supervisor:restart_child/2`: the new pid, or `{error, running |
/// not_found | Reason}` as `Err`.
pub async fn restart_child(node: &Node, sup: impl Into<ServerRef>, id: &str) -> Result<Pid, Term> {
    let r = sup_call(
        node,
        sup,
        tuple(vec![Term::atom("restart_child"), Term::atom(id)]),
    )
    .await;
    match r {
        Ok(Term::Tuple(v)) if v.len() == 2 && v[0].is_atom("ok") => match &v[1] {
            Term::Pid(p) => Ok(p.clone()),
            other => Err(other.clone()),
        },
        Ok(t) => Err(t),
        Err(e) => Err(Term::binary(e.to_string().into_bytes())),
    }
}
