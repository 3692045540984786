//! The locker of `global` (`the_locker` in OTP's `global.erl`): before two
//! partitions exchange names, it takes the lock `global` on every node of
//! both, so that two joins never interleave.
//!
//! The protocol is OTP's (version 8): lock ids are
//! `{global, lists:sort([LockerA, LockerB])}`, locks are taken with
//! `{set_lock, Id}` calls to each node's `global_name_server` (boss
//! first), and the two lockers tell each other with `{lock_set, Pid,
//! true | false, Known, Tag}` casts. Only the waiting times differ: a
//! nodus locker retries sooner than OTP's 1-3 s, which only changes how
//! soon a join completes.

use std::sync::Arc;
use std::time::Duration;

use nodus_term::{Atom, Pid, Term};

use super::table::Tables;
use super::{atom, cast, tuple};
use crate::node::Node;
use crate::process::Process;

/// How long a lock call to another node may take before that node is
/// counted as down.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A wait without end (a day at a time: timers far in the future
/// overflow `Instant`).
const FOREVER: Duration = Duration::from_secs(86_400);

/// A node whose locker we are to meet (`#him{}`).
#[derive(Debug, Clone)]
struct Him {
    node: Atom,
    locker: Pid,
    vsn: i64,
    my_tag: Term,
    his_tag: Term,
}

/// The locker's state (`#multi{}`).
pub(crate) struct Locker {
    node: Node,
    me: Process,
    tables: Arc<Tables>,
    hims: Vec<Him>,
    known: Vec<Atom>,
    just_synced: bool,
}

impl Locker {
    pub(crate) fn new(me: Process, tables: Arc<Tables>) -> Locker {
        Locker {
            node: me.node().clone(),
            me,
            tables,
            hims: Vec::new(),
            known: Vec::new(),
            just_synced: false,
        }
    }

    fn boss(&self) -> Atom {
        let mut b = self.node.name().clone();
        for n in &self.known {
            if n.as_str() > b.as_str() {
                b = n.clone();
            }
        }
        b
    }

    /// The locker's loop (`loop_the_locker/1`).
    pub(crate) async fn run(mut self) {
        loop {
            let msg = match self.me.recv_match(|_| true, Duration::ZERO).await {
                Some(m) => Some(m),
                None => {
                    let wait = self.wait_time();
                    self.just_synced = false;
                    match wait {
                        None => match self.me.recv().await {
                            Some(m) => Some(m),
                            None => return,
                        },
                        Some(t) => self.me.recv_match(|_| true, t).await,
                    }
                }
            };
            match msg {
                Some(m) if m.is_atom("stop") => return,
                Some(m) => self.message(m).await,
                None => {
                    if !self.tables.global_lock_set() {
                        self.select_node().await;
                    }
                }
            }
        }
    }

    /// How long to wait before trying to lock (OTP: 200 ms, then
    /// 1-3 s; shorter here, with jitter against lockstep retries).
    fn wait_time(&self) -> Option<Duration> {
        if self.hims.is_empty() {
            return None;
        }
        if self.just_synced {
            return Some(Duration::ZERO);
        }
        let jitter = u64::from(rand::random::<u8>() % 64);
        let base = if self.known.is_empty() {
            10
        } else {
            (50 + 10 * self.known.len() as u64).min(500)
        };
        Some(Duration::from_millis(base + jitter))
    }

    async fn message(&mut self, m: Term) {
        let Some(t) = m.as_tuple() else {
            return tracing::debug!("global locker: unexpected {m}");
        };
        match t {
            [h, Term::Pid(locker), vsn, his_tag, my_tag] if h.is_atom("his_the_locker") => {
                let vsn = vsn
                    .as_tuple()
                    .and_then(|v| v.first())
                    .and_then(Term::as_i64)
                    .unwrap_or(0);
                self.hims.push(Him {
                    node: locker.node.clone(),
                    locker: locker.clone(),
                    vsn,
                    my_tag: my_tag.clone(),
                    his_tag: his_tag.clone(),
                });
            }
            [h, Term::Atom(node), tag, _fun] if h.is_atom("cancel") => {
                if !tag.is_atom("undefined") {
                    self.remove_him(node, tag);
                }
            }
            [h, Term::Pid(pid), set, _known, my_tag]
                if h.is_atom("lock_set") && set.is_atom("true") =>
            {
                self.spontaneous_lock_set(pid, my_tag).await;
            }
            [h, Term::Pid(pid), set, _known] if h.is_atom("lock_set") && set.is_atom("true") => {
                let tag = self
                    .hims
                    .iter()
                    .find(|h| h.node == pid.node)
                    .map(|h| h.my_tag.clone());
                match tag {
                    Some(tag) => self.spontaneous_lock_set(pid, &tag).await,
                    None => self.refuse(pid).await,
                }
            }
            [h, ..] if h.is_atom("lock_set") => {}
            [h, nodes] if h.is_atom("add_to_known") => self.add_known(nodes),
            [h, Term::Atom(node)] if h.is_atom("remove_from_known") => {
                self.known.retain(|n| n != node);
            }
            _ => tracing::debug!("global locker: unexpected {m}"),
        }
    }

    fn add_known(&mut self, nodes: &Term) {
        for n in nodes.as_list().unwrap_or(&[]) {
            if let Term::Atom(a) = n {
                self.known.insert(0, a.clone());
            }
        }
    }

    fn remove_him(&mut self, node: &Atom, tag: &Term) {
        if let Some(i) = self
            .hims
            .iter()
            .position(|h| &h.node == node && &h.my_tag == tag)
        {
            self.hims.remove(i);
        }
    }

    /// The other locker locked both partitions first and asks us to
    /// confirm: lock our side with the same id and answer.
    async fn spontaneous_lock_set(&mut self, pid: &Pid, my_tag: &Term) {
        let Some(him) = self
            .hims
            .iter()
            .find(|h| h.node == pid.node && &h.my_tag == my_tag)
            .cloned()
        else {
            return self.refuse(pid).await;
        };
        let id = self.lock_id(&him.locker);
        let set = self.lock_nodes_safely(&id, &[]).await;
        self.send_lock_set(set, &him).await;
        if set {
            let mut known2 = vec![self.node.name().clone()];
            known2.extend(self.known.iter().cloned());
            self.tell_server(&him.node, my_tag, &id).await;
            self.wait_cancel_lock(&him.node, &id, my_tag, &known2).await;
            self.just_synced = true;
            self.remove_him(&him.node, my_tag);
        } else {
            self.just_synced = false;
        }
    }

    /// `send_lock_set(S, false, Pid, 5, 0)`: a plain refusal.
    async fn refuse(&self, pid: &Pid) {
        let known = Term::List(self.known.iter().cloned().map(Term::Atom).collect());
        let msg = tuple(vec![
            atom("lock_set"),
            Term::from(self.me.pid().clone()),
            atom("false"),
            known,
        ]);
        let _ = self.node.send(pid, msg).await;
    }

    async fn send_lock_set(&self, set: bool, him: &Him) {
        let known = Term::List(self.known.iter().cloned().map(Term::Atom).collect());
        let me = Term::from(self.me.pid().clone());
        let setv = atom(if set { "true" } else { "false" });
        let msg = if him.vsn < 8 {
            tuple(vec![atom("lock_set"), me, setv, known])
        } else {
            tuple(vec![atom("lock_set"), me, setv, known, him.his_tag.clone()])
        };
        if him.vsn < 6 {
            let _ = self.node.send(&him.locker, msg).await;
        } else {
            cast(&self.node, self.me.pid(), &him.node, msg);
        }
    }

    async fn tell_server(&self, node: &Atom, my_tag: &Term, id: &Term) {
        let msg = tuple(vec![
            atom("lock_is_set"),
            Term::Atom(node.clone()),
            my_tag.clone(),
            id.clone(),
        ]);
        cast(&self.node, self.me.pid(), self.node.name(), msg);
    }

    fn lock_id(&self, his: &Pid) -> Term {
        let mut pids = [self.me.pid().clone(), his.clone()];
        pids.sort_by(|a, b| Term::from(a.clone()).cmp(&Term::from(b.clone())));
        let [a, b] = pids;
        tuple(vec![
            atom("global"),
            Term::list(vec![Term::from(a), Term::from(b)]),
        ])
    }

    /// `select_node/1`: pick a node we have not met yet and lock both
    /// partitions with it.
    async fn select_node(&mut self) {
        self.hims.retain(|h| !self.known.contains(&h.node));
        if self.hims.is_empty() {
            return;
        }
        let him = self.hims[rand::random::<usize>() % self.hims.len()].clone();
        let id = self.lock_id(&him.locker);
        if !self
            .lock_nodes_safely(&id, std::slice::from_ref(&him.node))
            .await
        {
            return;
        }
        let mut known1 = vec![self.node.name().clone(), him.node.clone()];
        known1.extend(self.known.iter().cloned());
        self.send_lock_set(true, &him).await;
        self.lock_is_set(&him, &id, &known1).await;
    }

    /// Waits for the other locker's answer (`lock_is_set/5`).
    async fn lock_is_set(&mut self, him: &Him, id: &Term, known1: &[Atom]) {
        let node = him.node.clone();
        let my_tag = him.my_tag.clone();
        loop {
            let n2 = node.clone();
            let m = self
                .me
                .recv_match(
                    move |m| match m.as_tuple() {
                        Some([h, Term::Pid(p), ..]) if h.is_atom("lock_set") => p.node == n2,
                        Some([h, Term::Atom(n), ..]) if h.is_atom("cancel") => *n == n2,
                        _ => m.is_atom("stop"),
                    },
                    FOREVER,
                )
                .await;
            let Some(m) = m else { continue };
            let Some(t) = m.as_tuple() else {
                return self.delete_global_lock(id, known1).await;
            };
            match t {
                [_, _, set, _, tag] if t[0].is_atom("lock_set") => {
                    if *tag != my_tag {
                        continue;
                    }
                    if set.is_atom("true") {
                        break;
                    }
                    return self.delete_global_lock(id, known1).await;
                }
                [_, _, set, _] if t[0].is_atom("lock_set") => {
                    if set.is_atom("true") {
                        break;
                    }
                    return self.delete_global_lock(id, known1).await;
                }
                [_, _, tag, fun] if t[0].is_atom("cancel") => {
                    if *tag != my_tag {
                        continue;
                    }
                    self.call_fun(fun);
                    self.delete_global_lock(id, known1).await;
                    self.remove_him(&node, &my_tag);
                    return;
                }
                _ => continue,
            }
        }
        self.tell_server(&node, &my_tag, id).await;
        self.wait_cancel_lock(&node, id, &my_tag, known1).await;
        self.just_synced = true;
        self.hims
            .retain(|h| !(h.node == node && h.my_tag == my_tag && h.locker == him.locker));
    }

    /// Holds the lock until the server has finished the name exchange
    /// and sends `{cancel, Node, Tag, Fun}`.
    async fn wait_cancel_lock(&mut self, node: &Atom, id: &Term, tag: &Term, known: &[Atom]) {
        let m = loop {
            let n2 = node.clone();
            let t2 = tag.clone();
            let m = self
                .me
                .recv_match(
                    move |m| match m.as_tuple() {
                        Some([h, Term::Atom(n), t, _]) => {
                            h.is_atom("cancel") && *n == n2 && *t == t2
                        }
                        _ => m.is_atom("stop"),
                    },
                    FOREVER,
                )
                .await;
            if m.is_some() {
                break m;
            }
        };
        if let Some(Term::Tuple(t)) = &m {
            self.call_fun(&t[3]);
        }
        self.delete_global_lock(id, known).await;
    }

    /// Runs what the server asked to be done before the lock goes: the
    /// `new_nodes` casts (`{casts, [{Node, Msg}]}`).
    fn call_fun(&self, fun: &Term) {
        if let Some([h, list]) = fun.as_tuple() {
            if h.is_atom("casts") {
                for c in list.as_list().unwrap_or(&[]) {
                    if let Some([Term::Atom(n), msg]) = c.as_tuple() {
                        cast(&self.node, self.me.pid(), n, msg.clone());
                    }
                }
            }
        }
    }

    /// `lock_nodes_safely/3`: the boss first, then this node and
    /// `extra`, then every known node.
    async fn lock_nodes_safely(&mut self, id: &Term, extra: &[Atom]) -> bool {
        let me = self.node.name().clone();
        let first = vec![self.boss()];
        if !(first == [me.clone()] || self.tables.can_set(id)) {
            return false;
        }
        if !self.set_lock(id, &first).await {
            return false;
        }
        self.update_known();
        let mut second: Vec<Atom> = vec![me];
        second.extend(extra.iter().cloned());
        second.retain(|n| !first.contains(n));
        if !self.set_lock(id, &second).await {
            self.del_lock(id, &first).await;
            return false;
        }
        let rest: Vec<Atom> = self
            .known
            .iter()
            .filter(|n| !first.contains(n))
            .cloned()
            .collect();
        if self.set_lock(id, &rest).await {
            return true;
        }
        let mut so_far = first;
        so_far.extend(second);
        self.del_lock(id, &so_far).await;
        false
    }

    /// Takes the `add_to_known`/`remove_from_known` news waiting in the
    /// mailbox (`update_locker_known/1`).
    fn update_known(&mut self) {
        let is_news = |m: &Term| matches!(m.as_tuple(), Some([h, _]) if h.is_atom("add_to_known") || h.is_atom("remove_from_known"));
        while let Some(m) = self.me.try_recv_match(is_news) {
            self.apply_known(&m);
        }
    }

    fn apply_known(&mut self, m: &Term) {
        match m.as_tuple() {
            Some([h, nodes]) if h.is_atom("add_to_known") => self.add_known(nodes),
            Some([_, Term::Atom(n)]) => self.known.retain(|k| k != n),
            _ => {}
        }
    }

    async fn delete_global_lock(&mut self, id: &Term, nodes: &[Atom]) {
        let Some(boss) = nodes
            .iter()
            .max_by(|a, b| a.as_str().cmp(b.as_str()))
            .cloned()
        else {
            return;
        };
        let others: Vec<Atom> = nodes.iter().filter(|n| **n != boss).cloned().collect();
        self.del_lock(id, &others).await;
        self.del_lock(id, &[boss]).await;
    }

    /// `set_lock(Id, Nodes, 0)`: all or nothing.
    async fn set_lock(&mut self, id: &Term, nodes: &[Atom]) -> bool {
        if nodes.is_empty() {
            return true;
        }
        if nodes.len() > 1 && nodes.contains(self.node.name()) && !self.tables.can_set(id) {
            return false;
        }
        let req = tuple(vec![atom("set_lock"), id.clone()]);
        let replies = self.multi_call(nodes, &req).await;
        if replies.iter().all(|(_, r)| r.is_atom("true")) {
            return true;
        }
        if replies.len() > 1 {
            let granted: Vec<Atom> = replies
                .iter()
                .filter(|(_, r)| r.is_atom("true"))
                .map(|(n, _)| n.clone())
                .collect();
            self.del_lock(id, &granted).await;
        }
        false
    }

    async fn del_lock(&mut self, id: &Term, nodes: &[Atom]) {
        let req = tuple(vec![atom("del_lock"), id.clone()]);
        self.multi_call(nodes, &req).await;
    }

    /// `gen_server:multi_call(Nodes, global_name_server, Req)` from the
    /// locker's own pid (it becomes the lock holder). Nodes that go down
    /// or do not answer are left out of the replies.
    ///
    /// Unlike OTP's locker, this one never sets up a connection: a node
    /// that is not connected is left out as if it had gone down. (OTP's
    /// `delete_global_lock` after a nodedown calls the node that just
    /// went, which brings the connection straight back up: a
    /// `disconnect_node` during a sync did not stick. The lock on a node
    /// we are not connected to goes anyway, with the DOWN of its holder.)
    async fn multi_call(&mut self, nodes: &[Atom], req: &Term) -> Vec<(Atom, Term)> {
        let me = self.me.pid().clone();
        let tag = self.node.make_ref();
        let mut replies = Vec::new();
        let mut waiting: Vec<(Atom, Term)> = Vec::new();
        for n in nodes {
            if n == self.node.name() {
                replies.push((n.clone(), self.local_call(req)));
                continue;
            }
            if !self.node.is_visible(n) {
                continue;
            }
            let target = tuple(vec![atom("global_name_server"), Term::Atom(n.clone())]);
            let mref = self.me.monitor(&target).await;
            let from = tuple(vec![
                Term::from(me.clone()),
                tuple(vec![tag.clone(), Term::Atom(n.clone())]),
            ]);
            let msg = tuple(vec![atom("$gen_call"), from, req.clone()]);
            let _ = self
                .node
                .send_named(&me, "global_name_server", n.as_str(), msg)
                .await;
            waiting.push((n.clone(), mref));
        }
        while !waiting.is_empty() {
            let tag2 = tag.clone();
            let refs: Vec<Term> = waiting.iter().map(|(_, r)| r.clone()).collect();
            let m = self
                .me
                .recv_match(
                    move |m| match m.as_tuple() {
                        Some([t, _]) => matches!(t.as_tuple(), Some([x, _]) if *x == tag2),
                        Some([d, r, ..]) => d.is_atom("DOWN") && refs.contains(r),
                        _ => false,
                    },
                    CALL_TIMEOUT,
                )
                .await;
            let Some(Term::Tuple(t)) = m else { break };
            if t.len() == 2 {
                if let Some([_, Term::Atom(n)]) = t[0].as_tuple() {
                    if let Some(i) = waiting.iter().position(|(w, _)| w == n) {
                        let (n, mref) = waiting.remove(i);
                        self.node.demonitor(&mref);
                        replies.push((n, t[1].clone()));
                    }
                }
            } else if let Some(i) = waiting.iter().position(|(_, r)| *r == t[1]) {
                waiting.remove(i);
            }
        }
        for (_, mref) in waiting {
            self.node.demonitor(&mref);
        }
        replies
    }

    /// A lock call to this node's own tables, as the server would answer it.
    fn local_call(&self, req: &Term) -> Term {
        match req.as_tuple() {
            Some([h, id]) if h.is_atom("set_lock") => atom(if self.tables.set(id, self.me.pid()) {
                "true"
            } else {
                "false"
            }),
            Some([_, id]) => {
                self.tables.del(id, self.me.pid());
                atom("true")
            }
            _ => atom("false"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_locker_never_connects_to_a_node() {
        // After a nodedown the locker deletes its lock on the nodes it
        // had locked, the lost one among them; calling that one would
        // connect to it again (OTP's locker does, and a disconnect in
        // the middle of a sync does not stick).
        // A free port can be taken by another test's connection before
        // the embedded EPMD binds it: then another port.
        let (a, b) = 'ports: {
            for _ in 0..5 {
                let epmd = free_port();
                let start =
                    |name: &'static str| Node::builder(name).cookie("k").epmd_port(epmd).start();
                if let Ok(a) = start("lka@127.0.0.1").await {
                    let b = start("lkb@127.0.0.1").await.expect("node b");
                    break 'ports (a, b);
                }
            }
            panic!("no EPMD port could be bound");
        };
        let mut locker = Locker::new(a.process(), Arc::new(Tables::default()));
        let id = tuple(vec![atom("global"), Term::list(vec![])]);
        let lost = Atom::new("lkb@127.0.0.1");
        locker
            .del_lock(&id, &[a.name().clone(), lost.clone()])
            .await;
        // (A node that is not there is left out, as by OTP's multi_call.)
        let _ = locker.set_lock(&id, std::slice::from_ref(&lost)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(a.nodes(), Vec::<Atom>::new());
        assert_eq!(b.nodes(), Vec::<Atom>::new());
        a.shutdown();
        b.shutdown();
    }
}
