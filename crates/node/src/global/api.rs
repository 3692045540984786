//! `global`'s functions for Rust code: names and locks across the
//! cluster. Answers to the client functions of OTP's `global.erl`
//! (`register_name/2,3`, `re_register_name/2,3`, `unregister_name/1`,
//! `whereis_name/1`, `send/2`, `registered_names/0`, `set_lock/1,2,3`,
//! `del_lock/1,2`, `trans/2,3,4`, `sync/0`).
//!
//! Registration works as in OTP: the registering node takes the lock
//! `{global, Self}` on every node it knows (the greatest node first),
//! checks that the name is free, tells every node's `global_name_server`
//! `{register, Name, Pid, Method}`, and drops the lock. One registration
//! at a time runs per node, as OTP's registrar process does.

use std::time::Duration;

use nodus_term::{Atom, Pid, Term};

use super::resolve::Resolve;
use super::Tables;
use crate::gen_server::{self, ServerRef};
use crate::node::Node;

/// How long each lock request waits for a node's answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Serializes this node's registrations (OTP's registrar process).
#[derive(Default)]
struct Registrar(tokio::sync::Mutex<()>);

/// `global:whereis_name(Name)`: the pid registered as `name` in the
/// cluster, as this node knows it.
pub fn whereis_name(node: &Node, name: &Term) -> Option<Pid> {
    node.try_extension::<Tables>()?.name(name).map(|(p, _)| p)
}

/// `global:registered_names()`.
pub fn registered_names(node: &Node) -> Vec<Term> {
    node.try_extension::<Tables>()
        .map(|t| t.name_list().into_iter().map(|(n, _)| n).collect())
        .unwrap_or_default()
}

/// The names with their pids.
pub fn registered(node: &Node) -> Vec<(Term, Pid)> {
    node.try_extension::<Tables>()
        .map(|t| t.name_list())
        .unwrap_or_default()
}

impl Node {
    /// The names registered with `global` in the cluster, as this node
    /// knows them, with their pids.
    pub fn global_names(&self) -> Vec<(Term, Pid)> {
        registered(self)
    }
}

/// `global:send(Name, Msg)`: sends to the process registered as `name`;
/// its pid, or `None` when no such name is registered (OTP exits with
/// `{badarg, {Name, Msg}}`).
pub async fn send(node: &Node, name: &Term, msg: Term) -> Option<Pid> {
    let pid = whereis_name(node, name)?;
    let _ = node.send(&pid, msg).await;
    Some(pid)
}

/// `global:register_name(Name, Pid)`: registers `name` for `pid` across
/// the cluster, with OTP's default resolve function
/// (`random_exit_name`); false (`no`) when the name is taken or `pid`
/// already has a global name.
pub async fn register_name(node: &Node, name: Term, pid: &Pid) -> bool {
    register_name_with(node, name, pid, Resolve::RandomExit).await
}

/// `global:register_name(Name, Pid, Resolve)`.
pub async fn register_name_with(node: &Node, name: Term, pid: &Pid, resolve: Resolve) -> bool {
    let method = resolve.method_term(node);
    trans_all_known(node, |nodes| async move {
        let names = registered(node);
        let free = !names.iter().any(|(n, p)| *n == name || p == pid);
        if free {
            let req = Term::tuple(vec![
                Term::atom("register"),
                name,
                Term::from(pid.clone()),
                method,
            ]);
            gen_server::multi_call(node, &nodes, "global_name_server", req, CALL_TIMEOUT).await;
        }
        free
    })
    .await
    .unwrap_or(false)
}

/// `global:re_register_name(Name, Pid)`: registers `name` for `pid`
/// whether or not it is taken.
pub async fn re_register_name(node: &Node, name: Term, pid: &Pid, resolve: Resolve) {
    let method = resolve.method_term(node);
    trans_all_known(node, |nodes| async move {
        let req = Term::tuple(vec![
            Term::atom("register"),
            name,
            Term::from(pid.clone()),
            method,
        ]);
        gen_server::multi_call(node, &nodes, "global_name_server", req, CALL_TIMEOUT).await;
    })
    .await;
}

/// `global:unregister_name(Name)`.
pub async fn unregister_name(node: &Node, name: Term) {
    if whereis_name(node, &name).is_none() {
        return;
    }
    trans_all_known(node, |nodes| async move {
        let req = Term::tuple(vec![Term::atom("unregister"), name]);
        gen_server::multi_call(node, &nodes, "global_name_server", req, CALL_TIMEOUT).await;
    })
    .await;
}

/// `global:sync()`: waits (up to `timeout`) until `global` has synced
/// with every visible node; true when it has.
pub async fn sync(node: &Node, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let known = known(node).await;
        if node.nodes().iter().all(|n| known.contains(n)) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `global` functions that wait, answered over rpc (the others are
/// built-ins): `global:sync/0`, `ok` once synced with every visible node
/// (OTP waits without a bound; the caller's rpc timeout bounds this one).
pub(crate) async fn rpc_call(
    node: &Node,
    f: &str,
    args: &[Term],
) -> Option<Result<Term, crate::rpc::Exception>> {
    match (f, args) {
        ("sync", []) => Some(Ok(if sync(node, Duration::from_secs(86_400)).await {
            Term::atom("ok")
        } else {
            Term::tuple(vec![Term::atom("error"), Term::atom("timeout")])
        })),
        _ => None,
    }
}

async fn known(node: &Node) -> Vec<Atom> {
    let mut me = node.process();
    let r = gen_server::call_term(
        &mut me,
        "global_name_server",
        Term::atom("get_known"),
        CALL_TIMEOUT,
    )
    .await;
    match r {
        Ok(Term::List(l)) => l
            .iter()
            .filter_map(|t| t.as_atom().map(Atom::new))
            .collect(),
        _ => Vec::new(),
    }
}

/// `global:set_lock({ResourceId, LockRequesterId}, Nodes, Retries)` for
/// the lock holder `holder` (a local process): true when every node
/// granted it. `retries: None` retries forever, sleeping a random,
/// growing time between tries, as OTP.
pub async fn set_lock(
    node: &Node,
    holder: &crate::Process,
    id: &Term,
    nodes: &[Atom],
    retries: Option<u32>,
) -> bool {
    let mut times = 1u32;
    loop {
        if set_lock_on_nodes(node, holder, id, nodes).await {
            return true;
        }
        if retries.is_some_and(|r| times > r) {
            return false;
        }
        random_sleep(times).await;
        times += 1;
    }
}

/// `global:del_lock(Id, Nodes)` for `holder`.
pub async fn del_lock(node: &Node, holder: &crate::Process, id: &Term, nodes: &[Atom]) {
    let req = Term::tuple(vec![Term::atom("del_lock"), id.clone()]);
    multi_call_from(node, holder, nodes, req).await;
}

/// `global:trans({ResourceId, LockRequesterId}, Fun, Nodes, Retries)`:
/// runs `f` holding the lock on `nodes` (every known node and this one
/// when `nodes` is `None`); `None` (`aborted`) when the lock could not be
/// had.
pub async fn trans<F, Fut, T>(
    node: &Node,
    id: Term,
    nodes: Option<Vec<Atom>>,
    retries: Option<u32>,
    f: F,
) -> Option<T>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let nodes = nodes.unwrap_or_else(|| {
        let mut v = vec![node.name().clone()];
        v.extend(node.nodes());
        v
    });
    let holder = node.process();
    if !set_lock(node, &holder, &id, &nodes, retries).await {
        return None;
    }
    let out = f().await;
    del_lock(node, &holder, &id, &nodes).await;
    Some(out)
}

/// `gen_server:multi_call` made by `holder` (the lock holder is the
/// caller, as in OTP); the replies.
async fn multi_call_from(
    node: &Node,
    holder: &crate::Process,
    nodes: &[Atom],
    req: Term,
) -> Vec<(Atom, Term)> {
    let calls = nodes.iter().map(|n| {
        let req = req.clone();
        let n = n.clone();
        let from = holder.pid().clone();
        async move {
            let mut me = node.process();
            // The call is made on behalf of `holder`: a lock names its
            // holder by the caller's pid, so the request goes out as a
            // call whose `From` is the holder's.
            let r = call_as(
                node,
                &mut me,
                &from,
                ServerRef::Remote(Atom::new("global_name_server"), n.clone()),
                req,
            )
            .await;
            (n, r)
        }
    });
    gen_server::client::join_all(calls)
        .await
        .into_iter()
        .filter_map(|(n, r)| r.map(|v| (n, v)))
        .collect()
}

/// A call to `to` whose `From` names `holder`, the reply read by `me`
/// through an alias (the reply reaches `me`, not `holder`).
async fn call_as(
    node: &Node,
    me: &mut crate::Process,
    holder: &Pid,
    to: ServerRef,
    req: Term,
) -> Option<Term> {
    let ServerRef::Remote(name, at) = to else {
        return None;
    };
    let target = Term::tuple(vec![Term::Atom(name.clone()), Term::Atom(at.clone())]);
    let mref = me.monitor(&target).await;
    let alias = me.alias();
    let tag = Term::improper_list(vec![Term::atom("alias")], alias.clone());
    let msg = Term::tuple(vec![
        Term::atom("$gen_call"),
        Term::tuple(vec![Term::from(holder.clone()), tag.clone()]),
        req,
    ]);
    if node
        .send_named(me.pid(), name.as_str(), at.as_str(), msg)
        .await
        .is_err()
    {
        me.demonitor(&mref);
        return None;
    }
    let (t, r) = (tag.clone(), mref.clone());
    let got = me
        .recv_match(
            move |m| match m.as_tuple() {
                Some([x, _]) => *x == t,
                Some([d, rr, ..]) => d.is_atom("DOWN") && *rr == r,
                _ => false,
            },
            CALL_TIMEOUT,
        )
        .await;
    me.demonitor(&mref);
    me.unalias(&alias);
    match got {
        Some(Term::Tuple(v)) if v.len() == 2 => Some(v.into_vec().remove(1)),
        _ => None,
    }
}

/// `set_lock_on_nodes/2`: asks every node; on a refusal, releases the
/// nodes that said yes.
async fn set_lock_on_nodes(
    node: &Node,
    holder: &crate::Process,
    id: &Term,
    nodes: &[Atom],
) -> bool {
    if nodes.is_empty() {
        return true;
    }
    let req = Term::tuple(vec![Term::atom("set_lock"), id.clone()]);
    let replies = multi_call_from(node, holder, nodes, req).await;
    let granted: Vec<Atom> = replies
        .iter()
        .filter(|(_, r)| r.is_atom("true"))
        .map(|(n, _)| n.clone())
        .collect();
    if granted.len() == nodes.len() {
        return true;
    }
    if !granted.is_empty() {
        del_lock(node, holder, id, &granted).await;
    }
    false
}

/// `random_sleep/1`: up to 1/4 s the first time, doubling up to 8 s.
async fn random_sleep(times: u32) {
    let tmax: u64 = if times > 5 {
        8000
    } else {
        ((1u64 << times) * 1000) / 8
    };
    let t = 1 + rand::random::<u64>() % tmax.max(1);
    tokio::time::sleep(Duration::from_millis(t)).await;
}

/// `trans_all_known/1`: takes `{global, Self}` on this node and every
/// known node (the boss, the greatest, first), runs `f` with the nodes,
/// and deletes the lock (the boss last).
async fn trans_all_known<'a, F, Fut, T>(node: &'a Node, f: F) -> Option<T>
where
    F: FnOnce(Vec<Atom>) -> Fut,
    Fut: std::future::Future<Output = T> + 'a,
{
    let registrar = node.extension(Registrar::default);
    let _one_at_a_time = registrar.0.lock().await;
    let holder = node.process();
    let id = Term::tuple(vec![Term::atom("global"), Term::from(holder.pid().clone())]);
    let mut times = 0u32;
    let nodes = loop {
        let known = known(node).await;
        let mut nodes = vec![node.name().clone()];
        nodes.extend(known.iter().cloned());
        let boss = nodes
            .iter()
            .max()
            .cloned()
            .unwrap_or_else(|| node.name().clone());
        if set_lock_on_nodes(node, &holder, &id, std::slice::from_ref(&boss)).await {
            if set_lock_on_nodes(node, &holder, &id, &nodes).await {
                let now = self::known(node).await;
                if now.iter().all(|n| known.contains(n)) {
                    break nodes;
                }
            }
            del_lock(node, &holder, &id, std::slice::from_ref(&boss)).await;
        }
        random_sleep(times).await;
        times = (times + 1).min(20);
        if node.is_stopping() {
            return None;
        }
    };
    let out = f(nodes.clone()).await;
    let boss = nodes
        .iter()
        .max()
        .cloned()
        .unwrap_or_else(|| node.name().clone());
    let others: Vec<Atom> = nodes.iter().filter(|n| **n != boss).cloned().collect();
    del_lock(node, &holder, &id, &others).await;
    del_lock(node, &holder, &id, &[boss]).await;
    Some(out)
}
