//! The sync session of `global` between two nodes: `init_connect`,
//! the exchange of names once the lockers hold the lock, `resolved`, and
//! telling each partition about the other (`new_nodes`, `in_sync`).

use nodus_term::{Atom, Pid, Term};

use crate::node::Node;

use super::{atom, cancel_connect_msg, cast, info, node_list, tuple, Server, VSN};
use super::{SaveOps, WaitLock};

impl Server {
    pub(super) fn init_connect(
        &mut self,
        vsn: i64,
        n: &Atom,
        init_msg: &Term,
        his_tag: Term,
        his_vsn: i64,
    ) {
        if self.pending.contains_key(n) {
            info(
                &self.node,
                self.me.pid(),
                n,
                cancel_connect_msg(&self.node, &his_tag),
            );
            let old = self.my_tag(n);
            self.restart_connect(n, old);
        }
        {
            let s = self.session(n);
            s.vsn = Some(vsn);
            s.his = Some(his_tag.clone());
        }
        match self.resolvers.get(n).cloned() {
            Some(my_tag) => {
                let Some([_, _, _, his_locker @ Term::Pid(_)]) = init_msg.as_tuple() else {
                    return tracing::info!("global: bad init_connect from {n}: {init_msg}");
                };
                self.to_locker(tuple(vec![
                    atom("his_the_locker"),
                    his_locker.clone(),
                    tuple(vec![Term::Int(vsn), Term::nil()]),
                    his_tag.clone(),
                    my_tag.clone(),
                ]));
                if his_vsn >= 8 {
                    let ack = tuple(vec![
                        atom("init_connect_ack"),
                        Term::Atom(self.node.name().clone()),
                        his_tag,
                        my_tag,
                    ]);
                    info(&self.node, self.me.pid(), n, ack);
                }
                self.pending.insert(n.clone(), his_vsn);
            }
            None => {
                self.session(n).pre_connect = Some((vsn, init_msg.clone(), his_tag));
            }
        }
    }

    /// Both partitions are locked: send our names to `n`.
    pub(super) fn lock_is_set(&mut self, n: &Atom, lock_id: Term) {
        let msg = tuple(vec![
            atom("exchange"),
            Term::Atom(self.node.name().clone()),
            self.tables.names(),
            Term::nil(),
            self.his_tag(n),
        ]);
        cast(&self.node, self.me.pid(), n, msg);
        let s = self.session(n);
        s.lock_id = Some(lock_id);
        match std::mem::take(&mut s.wait_lock) {
            WaitLock::Exchange(names) => {
                s.wait_lock = WaitLock::LockIsSet;
                self.exchange(n, names);
            }
            _ => s.wait_lock = WaitLock::LockIsSet,
        }
    }

    pub(super) fn exchange(&mut self, n: &Atom, names: Term) {
        match std::mem::take(&mut self.session(n).wait_lock) {
            WaitLock::LockIsSet => {
                let (ops, res, clashes) = self.exchange_names(n, &names);
                if clashes.is_empty() {
                    self.exchange_ops(n, ops, res);
                } else {
                    // Clashes are resolved by rpc, off the server (OTP's
                    // resolver process); the outcome comes back as an
                    // `exchange_ops` cast.
                    let tag = self.my_tag(n);
                    let node = self.node.clone();
                    let server = self.me.pid().clone();
                    let n = n.clone();
                    tokio::spawn(async move {
                        let (ops, res) = resolve_clashes(&node, ops, res, clashes).await;
                        let msg = tuple(vec![
                            atom("$gen_cast"),
                            tuple(vec![
                                atom("exchange_ops"),
                                Term::Atom(n),
                                tag,
                                Term::list(ops),
                                Term::list(res),
                            ]),
                        ]);
                        let _ = node.send(&server, msg).await;
                    });
                }
            }
            _ => self.session(n).wait_lock = WaitLock::Exchange(names),
        }
    }

    /// Compares `n`'s names with ours: what to insert here (`Ops`), what
    /// `n` must take from us (`Resolved`), and the clashes this node must
    /// resolve (it is the smaller one): `(Name, HisPid, HisMethod,
    /// OurPid, OurMethod)`.
    pub(super) fn exchange_names(
        &self,
        n: &Atom,
        names: &Term,
    ) -> (Vec<Term>, Vec<Term>, Vec<Clash>) {
        let (mut ops, res, mut clashes) = (Vec::new(), Vec::new(), Vec::new());
        for entry in names.as_list().unwrap_or(&[]) {
            let Some([name, Term::Pid(pid), method]) = entry.as_tuple() else {
                continue;
            };
            match self.tables.name(name) {
                Some((p, _)) if p == *pid => {}
                Some((p2, m2)) => {
                    if self.node.name().as_str() < n.as_str() {
                        clashes.push(Clash {
                            name: name.clone(),
                            his: (pid.clone(), method.clone()),
                            ours: (p2, m2),
                        });
                    }
                }
                None => {
                    let ins = tuple(vec![name.clone(), Term::Pid(pid.clone()), method.clone()]);
                    ops.push(tuple(vec![atom("insert"), ins]));
                }
            }
        }
        (ops, res, clashes)
    }

    pub(super) fn exchange_ops(&mut self, n: &Atom, ops: Vec<Term>, res: Vec<Term>) {
        let vsn = self.node_vsn(n);
        let msg = tuple(vec![
            atom("resolved"),
            Term::Atom(self.node.name().clone()),
            Term::list(res),
            self.known_list(vsn),
            atom("unused"),
            Term::nil(),
            self.his_tag(n),
        ]);
        cast(&self.node, self.me.pid(), n, msg);
        match std::mem::take(&mut self.session(n).save_ops) {
            SaveOps::Resolved {
                his_known,
                names_ext,
                his_resolved,
            } => self.resolved(n, ops, &his_resolved, &his_known, &names_ext),
            _ => self.session(n).save_ops = SaveOps::Ops(ops),
        }
    }

    pub(super) fn node_vsn(&self, n: &Atom) -> i64 {
        self.known
            .get(n)
            .or_else(|| self.pending.get(n))
            .copied()
            .unwrap_or(0)
    }

    /// `mk_known_list/2`: `[{Node, Vsn}]` (or bare names before vsn 7).
    pub(super) fn known_list(&self, vsn: i64) -> Term {
        Term::List(
            self.known
                .iter()
                .map(|(n, v)| {
                    if vsn < 7 {
                        Term::Atom(n.clone())
                    } else {
                        tuple(vec![Term::Atom(n.clone()), Term::Int(*v)])
                    }
                })
                .collect(),
        )
    }

    /// The names are exchanged: tell our partition about `n`'s, connect
    /// to the nodes `n` knows, and let the locker drop the lock.
    pub(super) fn resolved(
        &mut self,
        n: &Atom,
        ops: Vec<Term>,
        his_resolved: &Term,
        his_known: &Term,
        names_ext: &Term,
    ) {
        let mut all_ops = ops;
        all_ops.extend(his_resolved.as_list().unwrap_or(&[]).iter().cloned());
        let mut new_nodes = vec![tuple(vec![Term::Atom(n.clone()), Term::Int(0)])];
        new_nodes.extend(his_known.as_list().unwrap_or(&[]).iter().cloned());
        let new_nodes: Vec<Term> = new_nodes
            .into_iter()
            .filter_map(|e| match &e {
                Term::Atom(a) => Some(tuple(vec![e.clone(), Term::Int(self.node_vsn(a))])),
                Term::Tuple(t) => match t.as_slice() {
                    [Term::Atom(a), Term::Int(0)] => {
                        Some(tuple(vec![t[0].clone(), Term::Int(self.node_vsn(a))]))
                    }
                    [Term::Atom(_), Term::Int(_)] => Some(e.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let his_known_nodes: Vec<Atom> = node_list(his_known);
        self.sync_others(&his_known_nodes);
        let sess = self.session(n);
        let extra = Term::list(vec![
            tuple(vec![atom("vsn"), Term::Int(sess.vsn.unwrap_or(VSN))]),
            tuple(vec![
                atom("lock"),
                sess.lock_id.clone().unwrap_or_else(|| atom("undefined")),
            ]),
        ]);
        self.do_ops(&all_ops);
        for c in &his_known_nodes {
            self.pending.remove(c);
            let tag = self.my_tag(c);
            self.cancel_locker(c, tag, atom("no_fun"));
            self.sessions.remove(c);
        }
        let me = Term::Atom(self.node.name().clone());
        let casts: Vec<Term> = self
            .known
            .iter()
            .map(|(k, v)| {
                let nodes = if *v >= 7 {
                    Term::list(new_nodes.clone())
                } else {
                    Term::List(
                        node_list(&Term::list(new_nodes.clone()))
                            .into_iter()
                            .map(Term::Atom)
                            .collect(),
                    )
                };
                let msg = tuple(vec![
                    atom("new_nodes"),
                    me.clone(),
                    Term::list(all_ops.clone()),
                    names_ext.clone(),
                    nodes,
                    extra.clone(),
                ]);
                tuple(vec![Term::Atom(k.clone()), msg])
            })
            .collect();
        self.pending.remove(n);
        let tag = self.my_tag(n);
        let fun = tuple(vec![atom("casts"), Term::list(casts)]);
        self.cancel_locker(n, tag, fun);
        self.sessions.remove(n);
        let added = self.add_to_known(&Term::list(new_nodes));
        self.to_locker(tuple(vec![
            atom("add_to_known"),
            Term::List(added.into_iter().map(Term::Atom).collect()),
        ]));
        if !self.synced.contains(n) {
            self.synced.push(n.clone());
        }
    }

    /// `add_to_known/2`: the nodes not known before.
    pub(super) fn add_to_known(&mut self, nodes: &Term) -> Vec<Atom> {
        let mut added = Vec::new();
        for e in nodes.as_list().unwrap_or(&[]) {
            let (n, v) = match e {
                Term::Atom(a) => (a.clone(), 0),
                Term::Tuple(t) => match t.as_slice() {
                    [Term::Atom(a), Term::Int(v)] => (a.clone(), *v),
                    _ => continue,
                },
                _ => continue,
            };
            if &n == self.node.name() {
                continue;
            }
            match self.known.get(&n) {
                None => {
                    self.known.insert(n.clone(), v);
                    added.push(n);
                }
                Some(old) if *old < 0 => {
                    self.known.insert(n, v);
                }
                Some(_) => {}
            }
        }
        added
    }

    /// Connects to each node and tells it we are in sync (`sync_other/2`).
    pub(super) fn sync_others(&self, nodes: &[Atom]) {
        for n in nodes {
            if n == self.node.name() {
                continue;
            }
            let node = self.node.clone();
            let n = n.clone();
            let me = self.me.pid().clone();
            tokio::spawn(async move {
                match crate::net_kernel::connection(&node, n.as_str()).await {
                    Ok(_) => {
                        let msg = tuple(vec![
                            atom("in_sync"),
                            Term::Atom(node.name().clone()),
                            atom("true"),
                        ]);
                        cast(&node, &me, &n, msg);
                    }
                    Err(e) => {
                        tracing::warn!("'global' at {} failed to connect to {n}: {e}", node.name());
                        node.deliver_local(&me, tuple(vec![atom("extra_nodedown"), Term::Atom(n)]));
                    }
                }
            });
        }
    }

    pub(super) fn do_ops(&mut self, ops: &[Term]) {
        self.owners_dirty |= !ops.is_empty();
        for op in ops {
            match op.as_tuple() {
                Some([h, ins]) if h.is_atom("insert") => {
                    if let Some([name, Term::Pid(p), method]) = ins.as_tuple() {
                        self.tables
                            .insert_name(name.clone(), p.clone(), method.clone());
                    }
                }
                Some([h, name]) if h.is_atom("delete") => self.tables.delete_name(name),
                _ => {}
            }
        }
    }
}

/// A name both partitions hold.
pub(super) struct Clash {
    name: Term,
    his: (Pid, Term),
    ours: (Pid, Term),
}

/// Runs each clash's resolve function on the node of our pid
/// (`global:resolve_it(Method, Name, HisPid, OurPid)`), as
/// `exchange_names/4` does, and adds the outcome to the ops.
async fn resolve_clashes(
    node: &Node,
    mut ops: Vec<Term>,
    mut res: Vec<Term>,
    clashes: Vec<Clash>,
) -> (Vec<Term>, Vec<Term>) {
    for c in clashes {
        let (pid, method) = c.his;
        let (pid2, method2) = c.ours;
        let winner = if pid2.node == *node.name() {
            super::resolve::resolve_it(node, &method2, &c.name, pid.clone(), pid2.clone()).await
        } else {
            let args = vec![
                method2.clone(),
                c.name.clone(),
                Term::from(pid.clone()),
                Term::from(pid2.clone()),
            ];
            node.rpc(
                pid2.node.as_str(),
                "global",
                "resolve_it",
                args,
                std::time::Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|_| atom("none"))
        };
        match &winner {
            Term::Pid(p) if *p == pid => {
                ops.push(tuple(vec![
                    atom("insert"),
                    tuple(vec![c.name, Term::from(pid), method]),
                ]));
            }
            Term::Pid(p) if *p == pid2 => {
                res.push(tuple(vec![
                    atom("insert"),
                    tuple(vec![c.name, Term::from(pid2), method2]),
                ]));
            }
            _ => {
                let op = tuple(vec![atom("delete"), c.name]);
                ops.push(op.clone());
                res.push(op);
            }
        }
    }
    (ops, res)
}
