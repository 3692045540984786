//! Remote procedure calls both ways. Answers to OTP's `erpc` and `rpc`.
//!
//! Into nodus: OTP 25's `rpc:call/4` and `erpc:call/4` send a
//! `SPAWN_REQUEST` for `erpc:execute_call(Ref, M, F, A)` with a monitor;
//! nodus runs the registered Rust function (or a built-in), replies with
//! `SPAWN_REPLY`, and ends the spawned process with `{Ref, return,
//! Result}` (or `{Ref, error, Reason, Stack}`), which reaches the caller as
//! the monitor's `DOWN`. `erpc:cast/4` (`execute_cast/3`) runs the function
//! and drops the result. Any other spawn request is refused with
//! `notsup`.
//!
//! Out of nodus: [`Node::rpc`] calls the `rex` server of a BEAM node, as
//! `rpc:call/4` did before OTP 23.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use nodus_term::{Atom, Term};

use crate::error::Error;
use crate::erts::spawnable::{ProcessFuture, SpawnFn};
use crate::gen_server::{self, Call};
use crate::node::Node;
use crate::process::Process;

/// How a Rust function called over rpc fails, as an Erlang exception.
#[derive(Debug, Clone, PartialEq)]
pub enum Exception {
    /// `error(Reason)`.
    Error(Term),
    /// `throw(Value)`.
    Throw(Term),
    /// `exit(Reason)`.
    Exit(Term),
}

/// What an rpc function returns.
pub type RpcFuture = Pin<Box<dyn Future<Output = Result<Term, Exception>> + Send>>;

/// A function callable over rpc: the node and the arguments in, a result
/// or an exception out.
pub type RpcFn = Arc<dyn Fn(Node, Vec<Term>) -> RpcFuture + Send + Sync>;

/// The registered rpc functions, by module and function name (a node
/// extension).
#[derive(Default)]
struct Functions(RwLock<HashMap<(Atom, Atom), RpcFn>>);

impl Node {
    /// Makes `module:function(Args...)` callable from BEAM's `rpc:call/4`,
    /// `erpc:call/4` and `spawn(Node, M, F, Args)`, for any arity. `f` is
    /// async: each call runs as its own process, so a slow function
    /// delays nothing else. A panic in it fails that call with
    /// `error:{panic, Message}` (`rpc:call` gives `{badrpc, {'EXIT',
    /// {{panic, Message}, Stack}}}`).
    pub fn register_fn<F, Fut>(&self, module: &str, function: &str, f: F)
    where
        F: Fn(Node, Vec<Term>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Term, Exception>> + Send + 'static,
    {
        let func: RpcFn = Arc::new(move |node, args| Box::pin(f(node, args)));
        let key = (Atom::new(module), Atom::new(function));
        self.extension(Functions::default)
            .0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), func);
        // `spawn(Node, M, F, A)`: the function as the body of a process.
        let (m, f) = key;
        let body: SpawnFn = Arc::new(move |process, args| {
            let (m, f) = (m.clone(), f.clone());
            Box::pin(async move {
                let node = process.node().clone();
                let r = node.apply(&m, &f, args.clone()).await;
                drop(process);
                match r {
                    Ok(_) => Term::atom("normal"),
                    Err(Exception::Exit(r)) => r,
                    Err(Exception::Error(r)) => Term::tuple(vec![r, stack(&m, &f, &args)]),
                    Err(Exception::Throw(v)) => Term::tuple(vec![
                        Term::tuple(vec![Term::atom("nocatch"), v]),
                        stack(&m, &f, &args),
                    ]),
                }
            })
        });
        self.register_spawnable(module, function, body);
    }

    /// [`Node::register_fn`] for a plain function that needs no `.await`
    /// (it still runs on the call's own process).
    pub fn register_sync_fn<F>(&self, module: &str, function: &str, f: F)
    where
        F: Fn(&Node, &[Term]) -> Result<Term, Exception> + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        self.register_fn(module, function, move |node, args| {
            let f = f.clone();
            async move { f(&node, &args) }
        });
    }

    /// Runs `m:f(args)` here: a registered function or a built-in;
    /// `undef` otherwise. A panic becomes `error:{panic, Message}`.
    pub async fn apply(&self, m: &Atom, f: &Atom, args: Vec<Term>) -> Result<Term, Exception> {
        let registered = self.try_extension::<Functions>().and_then(|fs| {
            fs.0.read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&(m.clone(), f.clone()))
                .cloned()
        });
        match registered {
            Some(func) => match crate::erts::spawn::catch_panic(func(self.clone(), args)).await {
                Ok(r) => r,
                Err(panic) => Err(Exception::Error(panic)),
            },
            None => {
                if let Some(r) = crate::rpc_net::call(self, m.as_str(), f.as_str(), &args).await {
                    return r;
                }
                if m.as_str() == "global" {
                    if let Some(r) = crate::global::rpc_call(self, f.as_str(), &args).await {
                        return r;
                    }
                }
                if m.as_str() == "Elixir.Phoenix.PubSub" {
                    if let Some(r) = crate::pubsub::rpc::call(self, f.as_str(), &args).await {
                        return r;
                    }
                }
                crate::rpc_builtins::call(self, m.as_str(), f.as_str(), &args)
                    .unwrap_or_else(|| Err(Exception::Error(Term::atom("undef"))))
            }
        }
    }

    /// `rpc:call(Node, M, F, Args, Timeout)` into a BEAM node through its
    /// `rex` server: the result, or `{badrpc, Reason}` as `rex` gives it.
    pub async fn rpc(
        &self,
        node: &str,
        m: &str,
        f: &str,
        args: Vec<Term>,
        timeout: Duration,
    ) -> Result<Term, Error> {
        let mut me = self.process();
        let r = self.make_ref();
        let me_pid = me.pid().clone();
        let call = Term::tuple(vec![
            Term::atom("$gen_call"),
            Term::tuple(vec![Term::from(me_pid.clone()), r.clone()]),
            Term::tuple(vec![
                Term::atom("call"),
                Term::atom(m),
                Term::atom(f),
                Term::list(args),
                Term::from(me_pid.clone()),
            ]),
        ]);
        self.send_named(&me_pid, "rex", node, call).await?;
        let reply = me
            .recv_match(
                |m| matches!(m.as_tuple(), Some([tag, _]) if *tag == r),
                timeout,
            )
            .await;
        match reply {
            Some(Term::Tuple(v)) if v.len() == 2 => Ok(v.into_vec().remove(1)),
            _ => Ok(Term::tuple(vec![
                Term::atom("badrpc"),
                Term::atom("timeout"),
            ])),
        }
    }
}

/// `[{M, F, Args, []}]`: the stack of an exception in `M:F(Args)`.
fn stack(m: &Atom, f: &Atom, args: &[Term]) -> Term {
    Term::list(vec![Term::tuple(vec![
        Term::Atom(m.clone()),
        Term::Atom(f.clone()),
        Term::list(args.to_vec()),
        Term::nil(),
    ])])
}

/// Starts the `rex` server: answers `{From, features_request}` (sent by
/// BEAM's rpc to every visible node) with `[erpc]`, and
/// `{call, M, F, Args, GroupLeader}` gen_server calls (what
/// [`Node::rpc`] and pre-OTP-23 `rpc:call/4` send) with the result of
/// [`Node::apply`], or `{badrpc, {'EXIT', {Reason, Stack}}}`; each call
/// runs as its own process, as `rex` does. Registers `erpc`'s entry
/// points for `SPAWN_REQUEST`s.
pub(crate) fn start_rex(node: &Node) {
    node.register_spawnable("erpc", "execute_call", Arc::new(execute_call));
    node.register_spawnable("erpc", "execute_cast", Arc::new(execute_cast));
    let pid = node.spawn(|mut me| async move {
        while let Some(msg) = me.recv().await {
            // rpc's node observer on a BEAM peer asks what we support.
            if let Some([Term::Pid(from), req]) = msg.as_tuple() {
                if req.is_atom("features_request") {
                    let node = me.node().clone();
                    let reply = Term::tuple(vec![
                        Term::atom("features_reply"),
                        Term::Atom(node.name().clone()),
                        Term::list(vec![Term::atom("erpc")]),
                    ]);
                    let _ = node.send(from, reply).await;
                    continue;
                }
            }
            if crate::sys::handle(&mut me, &msg, || Term::Map(nodus_term::Map::new())).await {
                continue;
            }
            let Some(call) = Call::parse(&msg) else {
                continue;
            };
            // A call rex does not know gets no answer, as BEAM's rex.
            if !matches!(call.request.as_tuple(), Some([op, Term::Atom(_), Term::Atom(_), Term::List(_), _]) if op.is_atom("call")) {
                tracing::debug!("rex: ignored call {}", call.request);
                continue;
            }
            let node = me.node().clone();
            node.spawn(move |worker| async move {
                let answer = rex_answer(worker.node(), call.request).await;
                gen_server::reply(worker.node(), &call.from, answer).await;
            });
        }
    });
    let _ = node.register("rex", &pid);
}

async fn rex_answer(node: &Node, request: Term) -> Term {
    let Some([op, Term::Atom(m), Term::Atom(f), Term::List(args), _]) = request.as_tuple() else {
        return badrpc(Term::atom("notsup"));
    };
    if !op.is_atom("call") {
        return badrpc(Term::atom("notsup"));
    }
    match node.apply(m, f, args.to_vec()).await {
        Ok(v) => v,
        Err(Exception::Throw(v)) => v,
        Err(Exception::Exit(r)) => badrpc(Term::tuple(vec![Term::atom("EXIT"), r])),
        Err(Exception::Error(r)) => badrpc(Term::tuple(vec![
            Term::atom("EXIT"),
            Term::tuple(vec![r, stack(m, f, args)]),
        ])),
    }
}

fn badrpc(reason: Term) -> Term {
    Term::tuple(vec![Term::atom("badrpc"), reason])
}

/// `erpc:execute_call(Ref, M, F, A)`: ends with `{Ref, return, Result}`
/// (or `throw`, `exit`, `error` with a stack), which reaches the caller
/// as its monitor's `DOWN`.
fn execute_call(process: Process, args: Vec<Term>) -> ProcessFuture {
    Box::pin(async move {
        let node = process.node().clone();
        let t = Term::tuple;
        let reason = match args.as_slice() {
            [res, Term::Atom(m), Term::Atom(f), Term::List(a)] => {
                match node.apply(m, f, a.to_vec()).await {
                    Ok(v) => t(vec![res.clone(), Term::atom("return"), v]),
                    Err(Exception::Throw(v)) => t(vec![res.clone(), Term::atom("throw"), v]),
                    Err(Exception::Exit(v)) => t(vec![res.clone(), Term::atom("exit"), v]),
                    Err(Exception::Error(r)) => {
                        t(vec![res.clone(), Term::atom("error"), r, stack(m, f, a)])
                    }
                }
            }
            _ => t(vec![Term::atom("badarg"), Term::list(args.clone())]),
        };
        drop(process);
        reason
    })
}

/// `erpc:execute_cast(M, F, A)`: runs it, drops the result.
fn execute_cast(process: Process, args: Vec<Term>) -> ProcessFuture {
    Box::pin(async move {
        if let [Term::Atom(m), Term::Atom(f), Term::List(a)] = args.as_slice() {
            let _ = process.node().apply(m, f, a.to_vec()).await;
        }
        Term::atom("normal")
    })
}
