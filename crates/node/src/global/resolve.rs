//! Name clashes: when two partitions that registered the same name meet,
//! the name's resolve function picks the pid that keeps it. Answers to
//! `global:resolve_it/4`, `random_exit_name/3`, `random_notify_name/3`
//! and `notify_all_name/3`.
//!
//! A name's resolve function travels as the `Method` of `{register,
//! Name, Pid, Method}`: OTP's own as `fun global:random_exit_name/3`
//! (and the other two), a Rust one as `fun nodus_resolve:ID/3`, which
//! this node answers as an rpc function. It runs on the node of the pid
//! that holds the name, as OTP runs it.

use std::future::Future;
use std::sync::Arc;

use nodus_term::{Atom, ExternalFun, Pid, Term};

use crate::node::Node;
use crate::rpc::Exception;

/// A resolve function: which of two pids keeps a name.
#[derive(Clone)]
pub enum Resolve {
    /// `random_exit_name` (OTP's default): the pid on the smaller node
    /// keeps the name; the other is killed.
    RandomExit,
    /// `random_notify_name`: the pid on the smaller node keeps it; the
    /// other gets `{global_name_conflict, Name}`.
    RandomNotify,
    /// `notify_all_name`: nobody keeps it; both get
    /// `{global_name_conflict, Name, OtherPid}`.
    NotifyAll,
    /// A Rust function of `(name, pid1, pid2)`: the pid that keeps the
    /// name, or `None` to unregister it.
    Custom(Arc<dyn Fn(Node, Term, Pid, Pid) -> ResolveFuture + Send + Sync>),
}

/// What a custom resolve function returns.
pub type ResolveFuture = std::pin::Pin<Box<dyn Future<Output = Option<Pid>> + Send>>;

impl Resolve {
    /// A custom resolve function.
    pub fn custom<F, Fut>(f: F) -> Resolve
    where
        F: Fn(Node, Term, Pid, Pid) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<Pid>> + Send + 'static,
    {
        Resolve::Custom(Arc::new(move |n, name, a, b| Box::pin(f(n, name, a, b))))
    }

    /// The `Method` term sent with `{register, ...}`; a custom function is
    /// made callable as `nodus_resolve:ID/3` first.
    pub(crate) fn method_term(&self, node: &Node) -> Term {
        let fun = |m: &str, f: &str| {
            Term::ExternalFun(Box::new(ExternalFun {
                module: Atom::new(m),
                function: Atom::new(f),
                arity: 3,
            }))
        };
        match self {
            Resolve::RandomExit => fun("global", "random_exit_name"),
            Resolve::RandomNotify => fun("global", "random_notify_name"),
            Resolve::NotifyAll => fun("global", "notify_all_name"),
            Resolve::Custom(f) => {
                let id = format!("r{}", node.make_ref_number());
                let f = f.clone();
                node.register_fn("nodus_resolve", &id, move |node, args| {
                    let f = f.clone();
                    async move {
                        match args.as_slice() {
                            [name, Term::Pid(a), Term::Pid(b)] => {
                                Ok(f(node, name.clone(), a.clone(), b.clone())
                                    .await
                                    .map_or_else(|| Term::atom("none"), Term::from))
                            }
                            _ => Err(Exception::Error(Term::atom("badarg"))),
                        }
                    }
                });
                fun("nodus_resolve", &id)
            }
        }
    }
}

/// The pid on the smaller node first (`minmax/2`).
fn minmax(a: Pid, b: Pid) -> (Pid, Pid) {
    if a.node < b.node {
        (a, b)
    } else {
        (b, a)
    }
}

/// `global:resolve_it(Method, Name, Pid1, Pid2)` run here.
pub(crate) async fn resolve_it(node: &Node, method: &Term, name: &Term, p1: Pid, p2: Pid) -> Term {
    let Term::ExternalFun(f) = method else {
        return Term::atom("none");
    };
    let conflict = |extra: Option<&Pid>| {
        let mut v = vec![Term::atom("global_name_conflict"), name.clone()];
        if let Some(p) = extra {
            v.push(Term::from(p.clone()));
        }
        Term::tuple(v)
    };
    match (f.module.as_str(), f.function.as_str()) {
        ("global", "random_exit_name") => {
            let (min, max) = minmax(p1, p2);
            tracing::info!("global: Name conflict terminating {{{name},{max}}}");
            let me = node.process();
            node.exit_pid(me.pid(), &max, Term::atom("kill"));
            Term::from(min)
        }
        ("global", "random_notify_name") => {
            let (min, max) = minmax(p1, p2);
            let _ = node.send(&max, conflict(None)).await;
            Term::from(min)
        }
        ("global", "notify_all_name") => {
            let _ = node.send(&p1, conflict(Some(&p2))).await;
            let _ = node.send(&p2, conflict(Some(&p1))).await;
            Term::atom("none")
        }
        _ => {
            let args = vec![name.clone(), Term::from(p1), Term::from(p2)];
            node.apply(&f.module, &f.function, args)
                .await
                .unwrap_or_else(|_| Term::atom("none"))
        }
    }
}

/// Makes `global:resolve_it/4` callable by peers.
pub(crate) fn register(node: &Node) {
    node.register_fn("global", "resolve_it", |node, args| async move {
        match args.as_slice() {
            [method, name, Term::Pid(a), Term::Pid(b)] => {
                Ok(resolve_it(&node, method, name, a.clone(), b.clone()).await)
            }
            _ => Err(Exception::Error(Term::atom("function_clause"))),
        }
    });
}
