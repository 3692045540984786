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
use std::sync::Arc;
use std::time::Duration;

use nodus_proto::dist::Control;
use nodus_term::{etf, Atom, Term};

use crate::error::Error;
use crate::node::{lock, Node};

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

/// A function callable over rpc: its arguments in, a result or an
/// exception out.
pub type RpcFn = Arc<dyn Fn(&Node, &[Term]) -> Result<Term, Exception> + Send + Sync>;

/// The registered rpc functions, by module and function name.
#[derive(Default)]
pub(crate) struct Functions(HashMap<(Atom, Atom), RpcFn>);

fn badarg() -> Exception {
    Exception::Error(Term::atom("badarg"))
}

/// The built-in functions every node answers.
fn builtin(node: &Node, m: &str, f: &str, args: &[Term]) -> Option<Result<Term, Exception>> {
    if m == "global" {
        return global_builtin(node, f, args);
    }
    if m != "erlang" {
        return None;
    }
    let list = |v: Vec<Atom>| Term::List(v.into_iter().map(Term::Atom).collect());
    Some(match (f, args) {
        ("node", []) => Ok(Term::Atom(node.name().clone())),
        ("nodes", []) => Ok(list(node.nodes())),
        ("nodes", [arg]) => nodes_of_kind(node, arg).map(list),
        ("is_alive", []) => Ok(Term::atom("true")),
        ("registered", []) => Ok(list(node.registered())),
        ("whereis", [Term::Atom(a)]) => Ok(node
            .whereis(a.as_str())
            .map_or_else(|| Term::atom("undefined"), Term::from)),
        ("term_to_binary", [t]) | ("term_to_binary", [t, _]) => {
            let compressed = matches!(args.get(1), Some(Term::List(o)) if o.iter().any(|x| x.is_atom("compressed")));
            let opts = etf::EncodeOptions {
                compressed: compressed.then_some(6),
                ..Default::default()
            };
            etf::encode_with(t, opts)
                .map(Term::binary)
                .map_err(|_| badarg())
        }
        ("binary_to_term", [Term::Binary(b)]) | ("binary_to_term", [Term::Binary(b), _]) => {
            etf::decode(b).map_err(|_| badarg())
        }
        ("system_info", [Term::Atom(a)]) if a == "otp_release" => Ok(Term::List(
            "25".bytes().map(|b| Term::Int(i64::from(b))).collect(),
        )),
        ("system_info", [Term::Atom(a)]) if a == "version" => Ok(Term::List(
            env!("CARGO_PKG_VERSION")
                .bytes()
                .map(|b| Term::Int(i64::from(b)))
                .collect(),
        )),
        _ => return None,
    })
}

/// `erlang:nodes/1`: `visible`, `hidden`, `connected`, `this`, `known`,
/// or a list of these.
fn nodes_of_kind(node: &Node, arg: &Term) -> Result<Vec<Atom>, Exception> {
    let kinds: Vec<&Term> = match arg {
        Term::List(l) => l.iter().collect(),
        t => vec![t],
    };
    let mut out: Vec<Atom> = Vec::new();
    for k in kinds {
        let add = match k.as_atom() {
            Some("visible") => node.nodes(),
            Some("hidden") => node.nodes_hidden(),
            Some("connected") => node.connected(),
            Some("this") => vec![node.name().clone()],
            Some("known") => {
                let mut v = node.connected();
                v.push(node.name().clone());
                v
            }
            _ => return Err(badarg()),
        };
        for n in add {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    Ok(out)
}

/// `global:whereis_name/1` and `global:registered_names/0`, from the
/// names this node's `global` keeps.
fn global_builtin(node: &Node, f: &str, args: &[Term]) -> Option<Result<Term, Exception>> {
    let names = node.global_names();
    Some(Ok(match (f, args) {
        ("whereis_name", [name]) => names
            .into_iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| Term::atom("undefined"), |(_, p)| Term::from(p)),
        ("registered_names", []) => Term::List(names.into_iter().map(|(n, _)| n).collect()),
        _ => return None,
    }))
}

impl Node {
    /// Makes `module:function(Args...)` callable from BEAM's `rpc:call/4`
    /// and `erpc:call/4`, for any arity.
    pub fn register_fn<F>(&self, module: &str, function: &str, f: F)
    where
        F: Fn(&Node, &[Term]) -> Result<Term, Exception> + Send + Sync + 'static,
    {
        lock(&self.0.functions)
            .0
            .insert((Atom::new(module), Atom::new(function)), Arc::new(f));
    }

    /// Runs `m:f(args)` here: a registered function or a built-in;
    /// `undef` otherwise.
    pub fn apply(&self, m: &Atom, f: &Atom, args: &[Term]) -> Result<Term, Exception> {
        let registered = lock(&self.0.functions)
            .0
            .get(&(m.clone(), f.clone()))
            .cloned();
        match registered {
            Some(func) => func(self, args),
            None => builtin(self, m.as_str(), f.as_str(), args)
                .unwrap_or_else(|| Err(Exception::Error(Term::atom("undef")))),
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
        let call = Term::Tuple(vec![
            Term::atom("$gen_call"),
            Term::Tuple(vec![Term::from(me_pid.clone()), r.clone()]),
            Term::Tuple(vec![
                Term::atom("call"),
                Term::atom(m),
                Term::atom(f),
                Term::List(args),
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
            Some(Term::Tuple(mut v)) if v.len() == 2 => Ok(v.remove(1)),
            _ => Ok(Term::Tuple(vec![
                Term::atom("badrpc"),
                Term::atom("timeout"),
            ])),
        }
    }
}

/// Starts the `rex` server: answers `{From, features_request}` (sent by
/// BEAM's rpc to every visible node) with `[erpc]`, and
/// `{call, M, F, Args, GroupLeader}`
/// gen_server calls (what [`Node::rpc`] and pre-OTP-23 `rpc:call/4`
/// send) with the result of [`Node::apply`], or `{badrpc, {'EXIT',
/// {Reason, Stack}}}`.
pub(crate) fn start_rex(node: &Node) {
    let pid = node.spawn(|mut me| async move {
        while let Some(msg) = me.recv().await {
            // rpc's node observer on a BEAM peer asks what we support.
            if let Some([Term::Pid(from), req]) = msg.as_tuple() {
                if req.is_atom("features_request") {
                    let node = me.node().clone();
                    let reply = Term::Tuple(vec![
                        Term::atom("features_reply"),
                        Term::Atom(node.name().clone()),
                        Term::List(vec![Term::atom("erpc")]),
                    ]);
                    let _ = node.send(from, reply).await;
                    continue;
                }
            }
            let Some(call) = crate::gen::Call::parse(&msg) else {
                continue;
            };
            let answer = match call.request.as_tuple() {
                Some([op, Term::Atom(m), Term::Atom(f), Term::List(args), _])
                    if op.is_atom("call") =>
                {
                    match me.node().apply(m, f, args) {
                        Ok(v) => v,
                        Err(Exception::Throw(v)) => v,
                        Err(Exception::Exit(r)) => badrpc(Term::Tuple(vec![Term::atom("EXIT"), r])),
                        Err(Exception::Error(r)) => {
                            let frame = Term::Tuple(vec![
                                Term::Atom(m.clone()),
                                Term::Atom(f.clone()),
                                Term::List(args.clone()),
                                Term::nil(),
                            ]);
                            badrpc(Term::Tuple(vec![
                                Term::atom("EXIT"),
                                Term::Tuple(vec![r, Term::List(vec![frame])]),
                            ]))
                        }
                    }
                }
                _ => badrpc(Term::atom("notsup")),
            };
            crate::gen::reply(me.node(), &call.from, answer).await;
        }
    });
    let _ = node.register("rex", &pid);
}

fn badrpc(reason: Term) -> Term {
    Term::Tuple(vec![Term::atom("badrpc"), reason])
}

/// Serves a `SPAWN_REQUEST` from `peer`.
pub(crate) fn spawn_request(node: &Node, peer: &Atom, req: Control, args: Term) {
    let Control::SpawnRequest {
        req_id,
        from,
        module,
        function,
        arity,
        opts,
        ..
    } = req
    else {
        return;
    };
    let wants = |o: &str| matches!(&opts, Term::List(l) if l.iter().any(|x| x.is_atom(o)));
    let supported = module == "erpc"
        && ((function == "execute_call" && arity == 4)
            || (function == "execute_cast" && arity == 3));
    if !supported {
        let reply = Control::SpawnReply {
            req_id,
            to: from,
            flags: 0,
            result: Term::atom("notsup"),
        };
        node.send_control(peer, reply);
        return;
    }
    let process = node.process();
    let pid = process.pid().clone();
    let mut flags = 0;
    if wants("monitor") {
        node.add_monitor(&pid, from.clone(), req_id.clone());
        flags |= 2;
    }
    if wants("link") {
        node.add_link(&pid, &from);
        flags |= 1;
    }
    node.send_control(
        peer,
        Control::SpawnReply {
            req_id,
            to: from,
            flags,
            result: Term::from(pid),
        },
    );
    let node = node.clone();
    tokio::spawn(async move {
        let a = args.as_list().map(<[Term]>::to_vec).unwrap_or_default();
        let reason = match (function.as_str(), a.as_slice()) {
            ("execute_call", [res, Term::Atom(m), Term::Atom(f), Term::List(call_args)]) => {
                call_reason(&node, res.clone(), m, f, call_args)
            }
            ("execute_cast", [Term::Atom(m), Term::Atom(f), Term::List(call_args)]) => {
                let _ = node.apply(m, f, call_args);
                Term::atom("normal")
            }
            _ => Term::Tuple(vec![Term::atom("badarg"), args.clone()]),
        };
        process.exit(reason);
    });
}

/// The exit reason `erpc:execute_call/4` would end with.
fn call_reason(node: &Node, res: Term, m: &Atom, f: &Atom, args: &[Term]) -> Term {
    let t = |v: Vec<Term>| Term::Tuple(v);
    match node.apply(m, f, args) {
        Ok(v) => t(vec![res, Term::atom("return"), v]),
        Err(Exception::Throw(v)) => t(vec![res, Term::atom("throw"), v]),
        Err(Exception::Exit(v)) => t(vec![res, Term::atom("exit"), v]),
        Err(Exception::Error(reason)) => {
            let frame = t(vec![
                Term::Atom(m.clone()),
                Term::Atom(f.clone()),
                Term::List(args.to_vec()),
                Term::nil(),
            ]);
            t(vec![
                res,
                Term::atom("error"),
                reason,
                Term::List(vec![frame]),
            ])
        }
    }
}
