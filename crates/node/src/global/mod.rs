//! `global`: the name server every visible node runs, which keeps the
//! cluster a full mesh. Answers to OTP's `global.erl` (protocol version
//! 8, as in OTP 25), so that nodus and BEAM nodes join each other's
//! partitions.
//!
//! When a visible node comes up, the two `global_name_server`s exchange
//! `init_connect`, their lockers lock both partitions (see `locker.rs`),
//! the servers exchange registered names and the nodes each side knows
//! (`exchange`, `resolved`), and each side tells its partition about the
//! other (`new_nodes`). Every node then connects to the nodes it did not
//! know and says `in_sync`: a node that connects to one member ends up
//! connected to all of them.
//!
//! From Rust, [`register_name`], [`whereis_name`], [`send`], [`trans`]
//! and the rest do what the `global` module's functions do: locks on all
//! known nodes, then the name server of each node told. A name clash
//! when two partitions meet is resolved as OTP resolves it: the node
//! with the smaller name calls `global:resolve_it/4` on the node of the
//! process it holds, which runs that name's resolve function
//! ([`Resolve`]).
//!
//! Not done: global groups.

mod api;
mod locker;
mod partitions;
mod resolve;
mod sync;
mod table;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use nodus_term::{Atom, Pid, Term};

use crate::gen_server::{self as gen, Call};
use crate::node::Node;
use crate::process::Process;

pub use api::*;
pub use resolve::{Resolve, ResolveFuture};
pub(crate) use table::Tables;

/// The protocol version (`-define(vsn, 8)` in OTP 25's `global.erl`).
pub const VSN: i64 = 8;

pub(crate) fn atom(a: &str) -> Term {
    Term::atom(a)
}

pub(crate) fn tuple(v: Vec<Term>) -> Term {
    Term::tuple(v)
}

/// `gen_server:cast({global_name_server, Node}, Msg)`, without setting up
/// a connection (global only talks to nodes it is connected to).
pub(crate) fn cast(node: &Node, from: &Pid, to: &Atom, msg: Term) {
    let msg = tuple(vec![atom("$gen_cast"), msg]);
    node.send_named_noconnect(from, "global_name_server", to, msg);
}

/// A plain message to `{global_name_server, Node}` (no `$gen_cast`).
fn info(node: &Node, from: &Pid, to: &Atom, msg: Term) {
    node.send_named_noconnect(from, "global_name_server", to, msg);
}

#[derive(Default)]
enum WaitLock {
    #[default]
    Nothing,
    LockIsSet,
    Exchange(Term),
}

#[derive(Default)]
enum SaveOps {
    #[default]
    Nothing,
    Ops(Vec<Term>),
    Resolved {
        his_known: Term,
        names_ext: Term,
        his_resolved: Term,
    },
}

/// What OTP keeps in the process dictionary per node being synced.
#[derive(Default)]
struct Session {
    my: Option<Term>,
    his: Option<Term>,
    vsn: Option<i64>,
    wait_lock: WaitLock,
    save_ops: SaveOps,
    lock_id: Option<Term>,
    pre_connect: Option<(i64, Term, Term)>,
}

struct Server {
    node: Node,
    me: Process,
    locker: Pid,
    tables: Arc<Tables>,
    connect_all: bool,
    /// Synced nodes and their protocol versions.
    known: BTreeMap<Atom, i64>,
    pending: HashMap<Atom, i64>,
    synced: Vec<Atom>,
    /// Sync sessions started by a nodeup: node -> my tag.
    resolvers: HashMap<Atom, Term>,
    sessions: HashMap<Atom, Session>,
    /// Visible nodes we got a nodeup for.
    up: HashSet<Atom>,
    /// Lock holders and name owners we monitor.
    monitored: HashSet<Pid>,
    /// A lock or a name may have been added since owners were watched.
    owners_dirty: bool,
    /// `prevent_overlapping_partitions`.
    prevent_overlap: bool,
    /// `lost_connection` reports seen: (A, B) -> (creation of A, op id).
    lost: HashMap<(Atom, Atom), (Term, Term)>,
    /// Nodes being removed on purpose: their nodedown is not reported.
    removing: HashSet<Atom>,
    next_tag: i64,
}

/// Starts `global_name_server` and its locker on `node`.
pub(crate) fn start(node: &Node, connect_all: bool, prevent_overlap: bool) {
    let tables = node.extension(Tables::default);
    resolve::register(node);
    let me = node.process();
    let locker_proc = node.process();
    let locker = locker_proc.pid().clone();
    if let Err(e) = node.register("global_name_server", me.pid()) {
        tracing::warn!("global: {e}");
    }
    node.monitor_nodes(me.pid());
    tokio::spawn(locker::Locker::new(locker_proc, tables.clone()).run());
    let server = Server {
        node: node.clone(),
        me,
        locker,
        tables: tables.clone(),
        connect_all,
        known: BTreeMap::new(),
        pending: HashMap::new(),
        synced: Vec::new(),
        resolvers: HashMap::new(),
        sessions: HashMap::new(),
        up: HashSet::new(),
        monitored: HashSet::new(),
        owners_dirty: false,
        prevent_overlap,
        lost: HashMap::new(),
        removing: HashSet::new(),
        next_tag: -576_460_752_303_423_488,
    };
    tokio::spawn(server.run());
}

impl Server {
    async fn run(mut self) {
        let mut stopping = self.node.0.stopping.subscribe();
        loop {
            let m = tokio::select! {
                m = self.me.recv() => m,
                _ = stopping.changed() => None,
            };
            let Some(m) = m else { break };
            self.handle(m).await;
        }
        self.node.deliver_local(&self.locker, atom("stop"));
    }

    /// What `sys:get_state(global_name_server)` shows: `#{known, synced,
    /// names}`.
    fn sys_state(&self) -> Term {
        let atoms = |v: Vec<Atom>| Term::List(v.into_iter().map(Term::Atom).collect());
        let mut m = nodus_term::Map::new();
        m.insert(atom("known"), atoms(self.known.keys().cloned().collect()));
        m.insert(atom("synced"), atoms(self.synced.clone()));
        m.insert(atom("names"), self.tables.names());
        Term::Map(m)
    }

    fn my_tag(&self, n: &Atom) -> Term {
        self.sessions
            .get(n)
            .and_then(|s| s.my.clone())
            .unwrap_or_else(|| atom("undefined"))
    }

    fn his_tag(&self, n: &Atom) -> Term {
        self.sessions
            .get(n)
            .and_then(|s| s.his.clone())
            .unwrap_or_else(|| atom("undefined"))
    }

    fn session(&mut self, n: &Atom) -> &mut Session {
        self.sessions.entry(n.clone()).or_default()
    }

    fn to_locker(&self, msg: Term) {
        self.node.deliver_local(&self.locker, msg);
    }

    async fn handle(&mut self, m: Term) {
        let Some(t) = m.as_tuple() else { return };
        match t {
            [h, Term::Atom(n)] if h.is_atom("nodeup") => {
                if self.node.is_visible(n) && n != self.node.name() {
                    self.up.insert(n.clone());
                    if self.connect_all {
                        self.handle_nodeup(n);
                    }
                }
            }
            [h, Term::Atom(n)] if h.is_atom("nodedown") => {
                if self.up.remove(n) {
                    let was_known = self.known.contains_key(n) || self.pending.contains_key(n);
                    let removed = self.removing.remove(n);
                    self.handle_nodedown(n);
                    if was_known && !removed {
                        self.inform_connection_loss(n);
                    }
                }
            }
            [h, ..] if h.is_atom("lost_connection") => self.lost_connection(&m),
            [h, Term::Atom(n)] if h.is_atom("remove_connection") => {
                let n = n.clone();
                self.remove_connection(&n);
            }
            [h, msg] if h.is_atom("$gen_cast") => {
                let msg = msg.clone();
                self.handle_cast(msg);
                self.watch_owners().await;
            }
            [h, _, _, Term::Pid(pid), _] if h.is_atom("DOWN") => {
                self.monitored.remove(pid);
                self.tables.pid_down(pid);
            }
            [h, _, _] if h.is_atom("system") => {
                let state = self.sys_state();
                crate::sys::handle(&mut self.me, &m, || state).await;
            }
            [h, _, _] if h.is_atom("$gen_call") => {
                if let Some(call) = Call::parse(&m) {
                    self.handle_call(call).await;
                    self.watch_owners().await;
                }
            }
            [h, Term::Atom(n), his_my, his_his] if h.is_atom("init_connect_ack") => {
                let (n, his_my, his_his) = (n.clone(), his_my.clone(), his_his.clone());
                if self.my_tag(&n) != his_my || self.his_tag(&n) != his_his {
                    info(
                        &self.node,
                        self.me.pid(),
                        &n,
                        cancel_connect_msg(&self.node, &his_his),
                    );
                    let my = self.my_tag(&n);
                    self.restart_connect(&n, my);
                }
            }
            [h, Term::Atom(n), tag] if h.is_atom("cancel_connect") => {
                let n = n.clone();
                if self.my_tag(&n) == *tag {
                    let tag = tag.clone();
                    self.cancel_locker(&n, tag.clone(), atom("no_fun"));
                    self.sessions.remove(&n);
                    self.pending.remove(&n);
                    self.restart_connect(&n, tag);
                }
            }
            [h, Term::Atom(n)] if h.is_atom("extra_nodedown") => {
                tracing::warn!("global: {} failed to connect to {n}", self.node.name());
            }
            _ => tracing::debug!("global_name_server: ignored {m}"),
        }
    }

    /// `handle_nodeup/2`: start a sync session with `n`.
    fn handle_nodeup(&mut self, n: &Atom) {
        if self.known.contains_key(n) || self.resolvers.contains_key(n) {
            return;
        }
        let pre = self.session(n).pre_connect.take();
        self.next_tag += 1;
        let tag = Term::Int(self.next_tag);
        self.session(n).my = Some(tag.clone());
        let locker_info = tuple(vec![
            atom("locker"),
            atom("no_longer_a_pid"),
            Term::List(self.known.keys().cloned().map(Term::Atom).collect()),
            Term::from(self.locker.clone()),
        ]);
        let init = tuple(vec![
            atom("init_connect"),
            tuple(vec![Term::Int(VSN), tag.clone()]),
            Term::Atom(self.node.name().clone()),
            locker_info,
        ]);
        cast(&self.node, self.me.pid(), n, init);
        self.resolvers.insert(n.clone(), tag);
        if let Some((vsn, init_msg, his_tag)) = pre {
            self.init_connect(vsn, n, &init_msg, his_tag, vsn);
        }
    }

    /// Monitors every process that holds a lock or a name here, so that
    /// its end releases them (OTP monitors them the same way).
    async fn watch_owners(&mut self) {
        if !std::mem::take(&mut self.owners_dirty) {
            return;
        }
        for pid in self.tables.owners() {
            if self.monitored.insert(pid.clone()) {
                self.me.monitor(&Term::from(pid)).await;
            }
        }
    }

    fn handle_nodedown(&mut self, n: &Atom) {
        let tag = self.my_tag(n);
        self.cancel_locker(n, tag, atom("no_fun"));
        self.to_locker(tuple(vec![
            atom("remove_from_known"),
            Term::Atom(n.clone()),
        ]));
        self.sessions.remove(n);
        self.pending.remove(n);
        self.known.remove(n);
        self.synced.retain(|s| s != n);
        self.tables.node_down(n);
        self.monitored.retain(|p| &p.node != n);
    }

    fn restart_connect(&mut self, n: &Atom, my_tag: Term) {
        self.cancel_locker(n, my_tag.clone(), atom("no_fun"));
        self.sessions.remove(n);
        self.pending.remove(n);
        if my_tag.as_i64().is_some() && self.up.contains(n) {
            self.handle_nodeup(n);
        }
    }

    /// `cancel_locker/4`.
    fn cancel_locker(&mut self, n: &Atom, tag: Term, fun: Term) {
        self.to_locker(tuple(vec![
            atom("cancel"),
            Term::Atom(n.clone()),
            tag.clone(),
            fun,
        ]));
        if self.pending.get(n).is_some_and(|v| *v >= 8) && self.my_tag(n) == tag {
            let his = self.his_tag(n);
            info(
                &self.node,
                self.me.pid(),
                n,
                cancel_connect_msg(&self.node, &his),
            );
        }
        if self.resolvers.get(n) == Some(&tag) {
            self.resolvers.remove(n);
        }
    }

    fn handle_cast(&mut self, msg: Term) {
        let Some(t) = msg.as_tuple() else { return };
        let name = t.first().and_then(Term::as_atom).unwrap_or("");
        if name == "lock_set" {
            match t {
                [_, Term::Pid(p), _, _, tag] if self.my_tag(&p.node) == *tag => {
                    self.to_locker(msg.clone())
                }
                [_, Term::Pid(_), _, _] => self.to_locker(msg.clone()),
                _ => {}
            }
            return;
        }
        let at = if name == "init_connect" { 2 } else { 1 };
        let Some(Term::Atom(n)) = t.get(at).cloned() else {
            return tracing::debug!("global_name_server: ignored cast {msg}");
        };
        match (name, t) {
            ("init_connect", [_, vsn, _, init_msg]) => {
                if !self.up.contains(&n) {
                    // Only from connected visible nodes: nothing is kept
                    // for names that are not peers.
                    return tracing::debug!("global: init_connect from {n}, not a visible peer");
                }
                let (his_vsn, his_tag) = match vsn.as_tuple() {
                    Some([Term::Int(v), tag, ..]) => (*v, tag.clone()),
                    _ => return tracing::info!("global: illegal protocol version {vsn} from {n}"),
                };
                let vsn = his_vsn.min(VSN);
                let init_msg = init_msg.clone();
                self.init_connect(vsn, &n, &init_msg, his_tag, his_vsn);
            }
            ("lock_is_set", [_, _, tag, id]) => {
                if self.my_tag(&n) == *tag {
                    self.lock_is_set(&n, id.clone());
                } else {
                    self.cancel_locker(&n, tag.clone(), atom("no_fun"));
                }
            }
            ("exchange", [_, _, names, _, tag]) => {
                if self.my_tag(&n) == *tag {
                    self.exchange(&n, names.clone());
                } else {
                    self.cancel_locker(&n, tag.clone(), atom("no_fun"));
                }
            }
            ("resolved", [_, _, his_resolved, his_known, _, names_ext, tag]) => {
                if self.my_tag(&n) != *tag {
                    return self.cancel_locker(&n, tag.clone(), atom("no_fun"));
                }
                let saved = std::mem::take(&mut self.session(&n).save_ops);
                match saved {
                    SaveOps::Ops(ops) => {
                        self.resolved(&n, ops, his_resolved, his_known, names_ext);
                    }
                    _ => {
                        self.session(&n).save_ops = SaveOps::Resolved {
                            his_known: his_known.clone(),
                            names_ext: names_ext.clone(),
                            his_resolved: his_resolved.clone(),
                        };
                    }
                }
            }
            ("new_nodes", [_, _, ops, _names_ext, nodes, _extra]) => {
                let added = self.add_to_known(nodes);
                self.sync_others(&added);
                self.do_ops(ops.as_list().unwrap_or(&[]));
                self.to_locker(tuple(vec![
                    atom("add_to_known"),
                    Term::List(added.into_iter().map(Term::Atom).collect()),
                ]));
            }
            ("exchange_ops", [_, _, tag, Term::List(ops), Term::List(res)]) => {
                if self.my_tag(&n) == *tag {
                    self.exchange_ops(&n, ops.to_vec(), res.to_vec());
                }
            }
            ("in_sync", [_, _, _]) => {
                if !self.synced.contains(&n) {
                    self.synced.push(n.clone());
                }
                self.pending.remove(&n);
                let tag = self.my_tag(&n);
                self.cancel_locker(&n, tag, atom("no_fun"));
                self.sessions.remove(&n);
            }
            _ => tracing::debug!("global_name_server: ignored cast {msg}"),
        }
    }

    async fn handle_call(&mut self, call: Call) {
        // Calls take locks and register names (and are rare): look for
        // new owners to monitor afterwards.
        self.owners_dirty = true;
        let caller = match call.from.as_tuple() {
            Some([Term::Pid(p), _]) => p.clone(),
            _ => return,
        };
        let req = call.request.clone();
        let reply = match req.as_tuple().unwrap_or(&[]) {
            [h, id] if h.is_atom("set_lock") => atom(if self.tables.set(id, &caller) {
                "true"
            } else {
                "false"
            }),
            [h, id] if h.is_atom("del_lock") => {
                self.tables.del(id, &caller);
                atom("true")
            }
            [h, name, Term::Pid(p), method] if h.is_atom("register") => {
                self.tables
                    .insert_name(name.clone(), p.clone(), method.clone());
                atom("yes")
            }
            [h, name, Term::Pid(p), method, _] if h.is_atom("register_ext") => {
                self.tables
                    .insert_name(name.clone(), p.clone(), method.clone());
                atom("yes")
            }
            [h, name] if h.is_atom("unregister") => {
                self.tables.delete_name(name);
                atom("ok")
            }
            _ => match req.as_atom() {
                Some("get_known") => {
                    Term::List(self.known.keys().cloned().map(Term::Atom).collect())
                }
                Some("get_synced") => {
                    Term::List(self.synced.iter().cloned().map(Term::Atom).collect())
                }
                Some("get_protocol_version") => Term::Int(VSN),
                Some("get_names_ext") => Term::nil(),
                _ => {
                    return tracing::warn!(
                        "the global_name_server received an unexpected call {req}"
                    )
                }
            },
        };
        gen::reply(&self.node, &call.from, reply).await;
    }
}

fn cancel_connect_msg(node: &Node, his_tag: &Term) -> Term {
    tuple(vec![
        atom("cancel_connect"),
        Term::Atom(node.name().clone()),
        his_tag.clone(),
    ])
}

/// `node_list/1`: the names of `[Node | {Node, Vsn}]`.
fn node_list(l: &Term) -> Vec<Atom> {
    l.as_list()
        .unwrap_or(&[])
        .iter()
        .filter_map(|e| match e {
            Term::Atom(a) => Some(a.clone()),
            Term::Tuple(t) => match t.first() {
                Some(Term::Atom(a)) => Some(a.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}
