//! `dist_ac`: distributed applications, a port of OTP 25's `dist_ac.erl`
//! that speaks its protocol, so BEAM's `dist_ac` is a peer. The process is
//! registered as `dist_ac` and also plays the part of BEAM's
//! `application_controller` for the distributed applications of this
//! node (the `ac_*` messages of `dist_ac.erl` are calls here; the
//! instances run through [`super::instance`]).
//!
//! Between nodes, to the registered name `dist_ac`:
//! `{dist_ac_new_node, 1, Node, Appls, Started}`,
//! `{dist_ac_app_loaded, Node, App, Nodes, Permission, HeKnowsMe}`,
//! `{dist_ac_app_unloaded, Node, App}`, `{dist_ac_app_started, Node, App,
//! ok | {error, R}}`, `{dist_ac_app_stopped, App}`, `{dist_ac_weight, App,
//! Weight, Node}`, `{dist_ac_new_permission, Node, App, Bool, IsHisApp}`;
//! the start-up sync runs under the global lock `{dist_ac, sync_dacs}` and
//! finds peers with `rpc:call(Node, erlang, whereis, [dist_ac])`.

use std::time::Duration;

use nodus_term::{Atom, Pid, Term};

use super::appl::{self, equal_nodes, flat, perm_term, Appl, DistSpec, Id, Priority, RestartTime};
use super::{instance, Apps, StartType};
use crate::gen_server::{self, Call};
use crate::node::Node;
use crate::process::Process;

const VSN: i64 = 1;
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

fn t(v: Vec<Term>) -> Term {
    Term::tuple(v)
}
fn a(s: &str) -> Term {
    Term::atom(s)
}
fn at(n: &Atom) -> Term {
    Term::Atom(n.clone())
}

/// How a start was asked for: by a caller of `application:start` waiting
/// for the answer (`reply`), or by `dist_ac` itself (`req`).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Reply,
    Req,
}

pub(crate) struct DistAc {
    me: Process,
    node: Node,
    this: Atom,
    appls: Vec<Appl>,
    tmp_locals: Vec<(Atom, i64, Atom)>,
    remote_started: Vec<(Atom, Atom)>,
    known: Vec<Atom>,
    started: Vec<Atom>,
    tmp_weights: Vec<(Atom, i64)>,
    dist_loaded: Vec<(Atom, Atom, Vec<Priority>, Term)>,
    /// Takeover and permit requests waiting for the application to run.
    t_reqs: Vec<(Atom, Term)>,
    /// Permit-false requests waiting for the application to stop.
    s_reqs: Vec<(Atom, Term)>,
    /// Permit-false requests waiting for another node to start it.
    p_reqs: Vec<(Term, Atom, Vec<Atom>)>,
    /// Callers of `start` waiting for the answer (the AC's `starting`).
    starting: Vec<(Atom, Term)>,
}

/// Starts `dist_ac` for `specs`; returns once it has synced with the
/// `dist_ac` of every connected node.
pub(crate) async fn start(
    node: &Node,
    specs: Vec<DistSpec>,
    permissions: Vec<(Atom, bool)>,
) -> Result<Pid, Term> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let pid = node.spawn(move |me: Process| async move {
        if me.register("dist_ac").is_err() {
            let _ = tx.send(Err(t(vec![a("already_started"), a("dist_ac")])));
            return;
        }
        me.trap_exit(true);
        let node = me.node().clone();
        node.monitor_nodes(me.pid());
        let this = node.name().clone();
        let appls = specs
            .iter()
            .map(|s| Appl {
                name: s.app.clone(),
                id: Id::Undefined,
                restart_time: s.restart_time,
                nodes: s.nodes.clone(),
                run: vec![(
                    this.clone(),
                    Some(
                        permissions
                            .iter()
                            .find(|(n, _)| *n == s.app)
                            .is_none_or(|(_, p)| *p),
                    ),
                )],
            })
            .collect();
        let mut d = DistAc {
            me,
            node,
            this,
            appls,
            tmp_locals: vec![],
            remote_started: vec![],
            known: vec![],
            started: vec![],
            tmp_weights: vec![],
            dist_loaded: vec![],
            t_reqs: vec![],
            s_reqs: vec![],
            p_reqs: vec![],
            starting: vec![],
        };
        d.sync_dacs().await;
        let names: Vec<Atom> = d.appls.iter().map(|a| a.name.clone()).collect();
        for n in names {
            if Apps::of(&d.node).spec(n.as_str()).is_some() {
                d.load(&n).await;
            }
        }
        let _ = tx.send(Ok(()));
        d.run().await;
    });
    match rx.await {
        Ok(Ok(())) => Ok(pid),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(a("dist_ac_died")),
    }
}

impl DistAc {
    // ------------------------------------------------------------ sync

    async fn sync_dacs(&mut self) {
        let node = self.node.clone();
        let me = &mut self.me;
        let appls: Vec<Term> = self.appls.iter().map(Appl::to_term).collect();
        let this = self.this.clone();
        let res = crate::global::trans(&node, t(vec![a("dist_ac"), a("sync_dacs")]), None, None, || async {
            let msg = t(vec![a("dist_ac_new_node"), Term::from(VSN), at(&this), Term::list(appls), Term::list(vec![])]);
            let mut peers = Vec::new();
            for n in node.nodes() {
                let r = node
                    .rpc(n.as_str(), "erlang", "whereis", vec![a("dist_ac")], Duration::from_secs(10))
                    .await;
                if let Ok(Term::Pid(p)) = r {
                    let _ = node.send(&p, msg.clone()).await;
                    peers.push(n);
                }
            }
            let mut replies = Vec::new();
            for n in peers {
                if let Some(m) = wait_from(me, &node, &n, |m| {
                    matches!(m.as_tuple(), Some([tag, _, Term::Atom(from), _, _]) if tag.is_atom("dist_ac_new_node") && *from == n)
                })
                .await
                {
                    replies.push((n, m));
                }
            }
            replies
        })
        .await;
        for (n, m) in res.unwrap_or_default() {
            if let Some([_, _, _, his, started]) = m.as_tuple() {
                if let Some(l) = started.as_list() {
                    for s in l {
                        if let Some([Term::Atom(sn), Term::Atom(app)]) = s.as_tuple() {
                            self.remote_started.push((sn.clone(), app.clone()));
                        }
                    }
                }
                let his = appls_from(his);
                self.merge(&his, &n);
                self.known.insert(0, n);
            }
        }
        self.known.push(self.this.clone());
    }

    fn merge(&mut self, his: &[Appl], his_node: &Atom) {
        for ap in &mut self.appls {
            if let Some(h) = his.iter().find(|h| h.name == ap.name) {
                let val = h
                    .run
                    .iter()
                    .find(|(n, _)| n == his_node)
                    .and_then(|(_, p)| *p);
                keyreplaceadd(&mut ap.run, his_node, val);
            }
        }
    }

    // ------------------------------------------------------------ loop

    async fn run(mut self) {
        while let Some(m) = self.me.recv().await {
            if let Some(call) = Call::parse(&m) {
                self.handle_call(call).await;
            } else {
                self.handle_info(m).await;
            }
        }
    }

    async fn reply(&self, from: &Term, r: Term) {
        gen_server::reply(&self.node, from, r).await;
    }

    async fn handle_call(&mut self, c: Call) {
        let req = c.request.clone();
        match req.as_tuple() {
            Some([tag, Term::Atom(app)]) if tag.is_atom("start_application") => {
                self.start_request(app.clone(), c.from).await;
            }
            Some([tag, Term::Atom(app), _rt]) if tag.is_atom("takeover_application") => {
                match self.appl(app).map(|x| x.id.clone()) {
                    Some(Id::Distributed(n)) => {
                        self.set_id(app, Id::Takeover);
                        self.t_reqs.push((app.clone(), c.from));
                        self.ac_takeover(Kind::Req, app, &n).await;
                    }
                    Some(Id::Local) => {
                        let r = t(vec![
                            a("error"),
                            t(vec![a("already_running_locally"), at(app)]),
                        ]);
                        self.reply(&c.from, r).await;
                    }
                    _ => {
                        let r = t(vec![
                            a("error"),
                            t(vec![a("not_running_distributed"), at(app)]),
                        ]);
                        self.reply(&c.from, r).await;
                    }
                }
            }
            Some([tag, Term::Atom(app), b]) if tag.is_atom("permit_application") => {
                self.permit_request(app.clone(), b.is_atom("true"), c.from)
                    .await;
            }
            Some([tag, Term::Atom(app)]) if tag.is_atom("get_nodes") => {
                let alive: Vec<Term> = self
                    .flat_nodes(app)
                    .into_iter()
                    .filter(|n| self.known.contains(n))
                    .map(Term::Atom)
                    .collect();
                self.reply(&c.from, Term::list(alive)).await;
            }
            Some([tag, Term::Atom(app)]) if tag.is_atom("stop_application") => {
                self.stop_request(app.clone()).await;
                self.reply(&c.from, a("ok")).await;
            }
            _ if req.is_atom("get_known_nodes") => {
                let k = Term::List(self.known.iter().cloned().map(Term::Atom).collect());
                self.reply(&c.from, k).await;
            }
            _ if req.is_atom("info") => {
                let r = self.info_term();
                self.reply(&c.from, r).await;
            }
            _ => self.reply(&c.from, t(vec![a("error"), a("badcall")])).await,
        }
    }

    fn info_term(&self) -> Term {
        Term::List(
            self.appls
                .iter()
                .map(|x| {
                    t(vec![
                        at(&x.name),
                        x.id.to_term(),
                        Term::from(self.started.contains(&x.name)),
                    ])
                })
                .collect(),
        )
    }

    async fn handle_info(&mut self, m: Term) {
        let Some(v) = m.as_tuple() else {
            return;
        };
        let Some(tag) = v.first().and_then(Term::as_atom) else {
            return;
        };
        match (tag, &v[1..]) {
            ("nodus_retry_start", [Term::Atom(app), from]) => {
                self.start_request(app.clone(), from.clone()).await;
            }
            ("ac_application_run", [Term::Atom(app), res]) => {
                let app = app.clone();
                let msg = t(vec![
                    a("dist_ac_app_started"),
                    at(&self.this),
                    at(&app),
                    res.clone(),
                ]);
                self.send_known(&msg).await;
                let ok = res.is_atom("ok");
                self.set_id(&app, if ok { Id::Local } else { Id::Undefined });
                self.del_t_reqs(&app, res.clone()).await;
                let waiting: Vec<Term> = take_where(&mut self.starting, &app);
                for from in waiting {
                    self.reply(&from, res.clone()).await;
                }
            }
            ("ac_application_not_run", [Term::Atom(app)])
            | ("ac_application_stopped", [Term::Atom(app)]) => {
                let app = app.clone();
                let stopped = tag == "ac_application_stopped";
                self.del_t_reqs(&app, t(vec![a("error"), a("stopped")]))
                    .await;
                for from in take_where(&mut self.s_reqs, &app) {
                    self.reply(&from, a("ok")).await;
                }
                match self.appl(&app).map(|x| x.id.clone()) {
                    Some(Id::Local) => {
                        let msg = t(vec![a("dist_ac_app_stopped"), at(&app)]);
                        self.send_known(&msg).await;
                    }
                    Some(Id::Distributed(n)) => self.remote_started.insert(0, (n, app.clone())),
                    _ => {}
                }
                self.set_id(&app, Id::Undefined);
                if stopped {
                    self.started.retain(|s| *s != app);
                    self.publish();
                }
            }
            ("dist_ac_new_node", [_, Term::Atom(n), his, started])
                if started.as_list().is_some_and(<[Term]>::is_empty) =>
            {
                let n = n.clone();
                let mine: Vec<Term> = self
                    .appls
                    .iter()
                    .filter(|x| x.id == Id::Local)
                    .map(|x| t(vec![at(&self.this), at(&x.name)]))
                    .collect();
                let appls: Vec<Term> = self.appls.iter().map(Appl::to_term).collect();
                let msg = t(vec![
                    a("dist_ac_new_node"),
                    Term::from(VSN),
                    at(&self.this),
                    Term::list(appls),
                    Term::list(mine),
                ]);
                self.send_dac(&n, msg).await;
                let his = appls_from(his);
                self.merge(&his, &n);
                self.known.insert(0, n);
            }
            ("dist_ac_app_started", [Term::Atom(n), Term::Atom(app), res]) => {
                self.app_started(n.clone(), app.clone(), res.clone()).await;
            }
            ("dist_ac_app_stopped", [Term::Atom(app)]) => {
                let app = app.clone();
                if self.appl(&app).is_some() {
                    self.set_id(&app, Id::Undefined);
                }
                if let Some(i) = self.remote_started.iter().position(|(_, x)| *x == app) {
                    self.remote_started.remove(i);
                }
            }
            ("dist_ac_weight", [Term::Atom(app), Term::Int(w), Term::Atom(n)]) => {
                let (app, w, n) = (app.clone(), *w, n.clone());
                match self.appl(&app).map(|x| x.id.clone()) {
                    Some(Id::RunWaiting) => {
                        let msg = t(vec![
                            a("dist_ac_weight"),
                            at(&app),
                            Term::from(0),
                            at(&self.this),
                        ]);
                        self.send_dac(&n, msg).await;
                    }
                    Some(Id::Undefined | Id::Takeover | Id::Failover(_)) | None => {
                        self.tmp_locals.insert(0, (app, w, n));
                    }
                    Some(_) => {
                        let my = self.cached_weight(&app);
                        let msg = t(vec![
                            a("dist_ac_weight"),
                            at(&app),
                            Term::from(my),
                            at(&self.this),
                        ]);
                        self.send_dac(&n, msg).await;
                        match self.tmp_weights.iter_mut().find(|(x, _)| *x == app) {
                            Some(e) => e.1 = my,
                            None => self.tmp_weights.insert(0, (app, my)),
                        }
                    }
                }
            }
            ("nodedown", [Term::Atom(n)]) => self.nodedown(n.clone()).await,
            ("dist_ac_app_loaded", [Term::Atom(n), Term::Atom(app), his_nodes, perm, knows]) => {
                let (n, app) = (n.clone(), app.clone());
                let his_nodes = appl::nodes_from(his_nodes).unwrap_or_default();
                if self.is_loaded(&app) {
                    let mine = self.appl(&app).map(|x| x.nodes.clone()).unwrap_or_default();
                    if equal_nodes(&mine, &his_nodes) {
                        self.update_run(&app, &n, appl::perm_from(perm));
                        if !knows.is_atom("true") {
                            let msg = t(vec![
                                a("dist_ac_app_loaded"),
                                at(&self.this),
                                at(&app),
                                appl::nodes_term(&mine),
                                Term::from(self.is_runnable(&app)),
                                a("true"),
                            ]);
                            self.send_dac(&n, msg).await;
                        }
                    } else {
                        self.mismatch(&app, &n);
                    }
                } else {
                    self.dist_loaded
                        .insert(0, (app, n, his_nodes, perm.clone()));
                }
            }
            ("dist_ac_app_unloaded", [Term::Atom(n), Term::Atom(app)]) => {
                let (n, app) = (n.clone(), app.clone());
                self.update_run(&app, &n, None);
                self.dist_loaded
                    .retain(|(x, m, _, _)| !(*x == app && *m == n));
            }
            ("dist_ac_new_permission", [Term::Atom(n), Term::Atom(app), b, his]) => {
                let (n, app) = (n.clone(), app.clone());
                let on = b.is_atom("true");
                self.update_run(&app, &n, Some(on));
                if !on && self.is_runnable(&app) && his.is_atom("true") {
                    // An error (a permanent application) is the
                    // instance's to report.
                    let _ = self.start_appl(&app, Kind::Req).await;
                }
            }
            ("internal_restart_appl", [Term::Atom(app)]) => {
                let app = app.clone();
                if matches!(self.appl(&app).map(|x| &x.id), Some(Id::Failover(_))) {
                    if let Err(e) = self.start_appl(&app, Kind::Req).await {
                        tracing::error!(
                            "dist_ac on node {}: Error when restarting application {app}: {e}",
                            self.this
                        );
                    }
                }
            }
            _ => {}
        }
    }

    // ------------------------------------------------------------ requests

    /// `{ac_start_application_req, App}`: `application:start(App)` here.
    async fn start_request(&mut self, app: Atom, from: Term) {
        let lock = t(vec![a("dist_ac"), Term::from(self.me.pid().clone())]);
        let this = vec![self.this.clone()];
        if !crate::global::set_lock(&self.node, &self.me, &lock, &this, Some(0)).await {
            let me = self.me.pid().clone();
            let node = self.node.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = node
                    .send(&me, t(vec![a("nodus_retry_start"), at(&app), from]))
                    .await;
            });
            return;
        }
        if self.appl(&app).is_none() {
            let r = t(vec![
                a("error"),
                t(vec![a("unknown_application"), at(&app)]),
            ]);
            self.reply(&from, r).await;
        } else {
            self.starting.push((app.clone(), from));
            if let Err(e) = self.start_appl(&app, Kind::Reply).await {
                for from in take_where(&mut self.starting, &app) {
                    self.reply(&from, t(vec![a("error"), e.clone()])).await;
                }
            }
        }
        crate::global::del_lock(&self.node, &self.me, &lock, &this).await;
    }

    async fn stop_request(&mut self, app: Atom) {
        if self.appl(&app).map(|x| x.id.clone()) == Some(Id::Local) {
            instance::stop(&self.node, app.as_str()).await;
            let msg = t(vec![a("dist_ac_app_stopped"), at(&app)]);
            self.send_known(&msg).await;
        }
        self.set_id(&app, Id::Undefined);
        self.started.retain(|s| *s != app);
        self.publish();
    }

    async fn permit_request(&mut self, app: Atom, on: bool, from: Term) {
        if self.appl(&app).is_none() {
            let r = t(vec![a("error"), t(vec![a("not_loaded"), at(&app)])]);
            return self.reply(&from, r).await;
        }
        let this = self.this.clone();
        self.update_run(&app, &this, Some(on));
        let id = self
            .appl(&app)
            .map(|x| x.id.clone())
            .unwrap_or(Id::Undefined);
        let is_mine = id == Id::Local;
        let msg = t(vec![
            a("dist_ac_new_permission"),
            at(&self.this),
            at(&app),
            Term::from(on),
            Term::from(is_mine),
        ]);
        for n in self.flat_nodes(&app) {
            if n != self.this {
                self.send_dac(&n, msg.clone()).await;
            }
        }
        match (on, id) {
            (false, Id::Undefined | Id::Distributed(_)) | (true, Id::Local) => {
                self.reply(&from, a("ok")).await
            }
            (false, _) => {
                let others: Vec<Atom> = self
                    .appl(&app)
                    .map(|x| {
                        x.run
                            .iter()
                            .filter(|(_, p)| *p == Some(true))
                            .map(|(n, _)| n.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                if others.is_empty() {
                    self.s_reqs.push((app.clone(), from));
                    self.ac_stop_it(&app).await;
                } else {
                    self.p_reqs.push((from, app, others));
                }
            }
            (true, _) => match self.start_appl(&app, Kind::Req).await {
                Ok(true) => self.t_reqs.push((app, from)),
                Ok(false) => self.reply(&from, a("ok")).await,
                Err(e) => self.reply(&from, t(vec![a("error"), e])).await,
            },
        }
    }

    // ------------------------------------------------------------ start

    /// `start_appl/3`: Ok(true) when this node is starting it.
    async fn start_appl(&mut self, app: &Atom, kind: Kind) -> Result<bool, Term> {
        let ap = self
            .appl(app)
            .cloned()
            .ok_or_else(|| t(vec![a("unknown_application"), at(app)]))?;
        if ap.id == Id::Local {
            return Ok(false);
        }
        let bad: Vec<Atom> = ap
            .run
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(n, _)| n.clone())
            .collect();
        let connected = self.node.connected();
        if bad.iter().any(|b| connected.contains(b)) {
            return Err(t(vec![
                a("app_not_loaded"),
                at(app),
                Term::List(bad.into_iter().map(Term::Atom).collect()),
            ]));
        }
        let permitted: Vec<Atom> = ap
            .run
            .iter()
            .filter(|(_, p)| *p == Some(true))
            .map(|(n, _)| n.clone())
            .collect();
        let (id, waiting) = Box::pin(self.start_distributed(&ap, permitted, kind)).await;
        self.set_id(app, id);
        self.req_start_app(app).await;
        self.tmp_locals.retain(|(x, _, _)| x != app);
        self.tmp_weights.retain(|(x, _)| x != app);
        if let Some(i) = self.remote_started.iter().position(|(_, x)| x == app) {
            self.remote_started.remove(i);
        }
        if !self.started.contains(app) {
            self.started.insert(0, app.clone());
        }
        self.publish();
        Ok(waiting)
    }

    async fn start_distributed(
        &mut self,
        ap: &Appl,
        mut permitted: Vec<Atom>,
        kind: Kind,
    ) -> (Id, bool) {
        let name = ap.name.clone();
        loop {
            match self.find_start_node(&ap.nodes, &permitted, &name).await {
                Found::Ok(n) if n == self.this => {
                    match (&ap.id, kind) {
                        (Id::Failover(fo), Kind::Req) => self.ac_failover(&name, fo).await,
                        (Id::Distributed(n2), Kind::Req) => {
                            self.ac_takeover(Kind::Req, &name, n2).await
                        }
                        (_, Kind::Reply) => {
                            match self
                                .remote_started
                                .iter()
                                .find(|(_, x)| *x == name)
                                .map(|(n, _)| n.clone())
                            {
                                Some(n3) => self.ac_takeover(Kind::Reply, &name, &n3).await,
                                None => self.ac_start_it(kind, &name).await,
                            }
                        }
                        _ => self.ac_start_it(kind, &name).await,
                    }
                    return (Id::RunWaiting, true);
                }
                Found::AlreadyStarted(n) => {
                    self.ac_started(kind, &name, &n).await;
                    return (Id::Distributed(n), false);
                }
                found @ (Found::Ok(_) | Found::NotStarted) => {
                    // wait_dist_start/7 for the chosen node, or
                    // wait_dist_start2/6 for whichever starts it.
                    let node = match found {
                        Found::Ok(n) => Some(n),
                        _ => None,
                    };
                    if let Some(n) = node.as_ref().filter(|n| {
                        self.appl(&name).map(|x| &x.id) == Some(&Id::Distributed((*n).clone()))
                    }) {
                        self.ac_started(kind, &name, n).await;
                        return (Id::Distributed(n.clone()), false);
                    }
                    match self.wait_dist_start(node.as_ref(), &name).await {
                        Waited::Started(n) => {
                            self.ac_started(kind, &name, &n).await;
                            return (Id::Distributed(n), false);
                        }
                        Waited::Failed(n, r) => {
                            self.ac_error(kind, &name, t(vec![at(&n), r])).await;
                            return (ap.id.clone(), false);
                        }
                        Waited::Down(n) => permitted.retain(|x| *x != n),
                    }
                }
                Found::NoPermission => {
                    self.ac_not_started(kind, &name).await;
                    return (Id::Undefined, false);
                }
            }
        }
    }

    /// `wait_dist_start/7` (`node` given) and `wait_dist_start2/6`.
    async fn wait_dist_start(&mut self, node: Option<&Atom>, app: &Atom) -> Waited {
        if let Some(n) = node {
            if !self.node.is_visible(n) {
                self.tmp_locals.retain(|(x, _, m)| !(x == app && m == n));
                return Waited::Down(n.clone());
            }
        }
        loop {
            let want_node = node.cloned();
            let app2 = app.clone();
            let m = self
                .me
                .recv_match(
                    move |m| match m.as_tuple() {
                        Some([tag, Term::Atom(n), Term::Atom(x), _])
                            if tag.is_atom("dist_ac_app_started") =>
                        {
                            *x == app2 && want_node.as_ref().is_none_or(|w| w == n)
                        }
                        Some([tag, Term::Atom(x), _, Term::Atom(n)])
                            if tag.is_atom("dist_ac_weight") =>
                        {
                            *x == app2 && want_node.as_ref().is_some_and(|w| w == n)
                        }
                        Some([tag, Term::Atom(n)]) if tag.is_atom("nodedown") => {
                            want_node.as_ref().is_none_or(|w| w == n)
                        }
                        _ => false,
                    },
                    FOREVER,
                )
                .await;
            let Some(m) = m else {
                return Waited::Down(node.cloned().unwrap_or_else(|| self.this.clone()));
            };
            match m.as_tuple() {
                Some([tag, Term::Atom(n), _, res]) if tag.is_atom("dist_ac_app_started") => {
                    return if res.is_atom("ok") {
                        Waited::Started(n.clone())
                    } else {
                        let r = res
                            .as_tuple()
                            .and_then(|x| x.get(1).cloned())
                            .unwrap_or_else(|| res.clone());
                        Waited::Failed(n.clone(), r)
                    };
                }
                Some([_, _, _, Term::Atom(n)]) => {
                    let w = self.cached_weight(app);
                    let msg = t(vec![
                        a("dist_ac_weight"),
                        at(app),
                        Term::from(w),
                        at(&self.this),
                    ]);
                    self.send_dac(&n.clone(), msg).await;
                }
                Some([_, Term::Atom(n)]) => {
                    let n = n.clone();
                    self.redeliver(m.clone()).await;
                    self.tmp_locals.retain(|(x, _, m)| !(x == app && *m == n));
                    return Waited::Down(n);
                }
                _ => {}
            }
        }
    }

    async fn find_start_node(
        &mut self,
        nodes: &[Priority],
        permitted: &[Atom],
        app: &Atom,
    ) -> Found {
        let all: Vec<Atom> = flat(nodes)
            .into_iter()
            .filter(|n| permitted.contains(n))
            .collect();
        if !all.contains(&self.this) {
            return match self.remote_started.iter().find(|(_, x)| x == app) {
                Some((n, _)) => Found::AlreadyStarted(n.clone()),
                None if !all.is_empty() => Found::NotStarted,
                None => Found::NoPermission,
            };
        }
        let weight = self.cached_weight(app);
        for p in nodes {
            match p {
                Priority::Any(any) => {
                    if let Some(f) = self.find_any_node(any, app, weight, &all).await {
                        return f;
                    }
                }
                Priority::One(n) if all.contains(n) => {
                    if self.appl(app).map(|x| &x.id) == Some(&Id::Distributed(n.clone())) {
                        return Found::AlreadyStarted(n.clone());
                    }
                    if self.remote_started.iter().any(|(m, x)| m == n && x == app) {
                        return Found::AlreadyStarted(n.clone());
                    }
                    return Found::Ok(n.clone());
                }
                Priority::One(_) => {}
            }
        }
        Found::NotStarted
    }

    async fn find_any_node(
        &mut self,
        any: &[Atom],
        app: &Atom,
        weight: i64,
        all: &[Atom],
    ) -> Option<Found> {
        let here: Vec<Atom> = any.iter().filter(|n| all.contains(n)).cloned().collect();
        // check_running/3
        if let Some((n, _)) = self.remote_started.iter().find(|(_, x)| x == app) {
            return here.contains(n).then(|| Found::AlreadyStarted(n.clone()));
        }
        if let Some(Id::Distributed(n)) = self.appl(app).map(|x| x.id.clone()) {
            if here.contains(&n) {
                return Some(Found::AlreadyStarted(n));
            }
        }
        let msg = t(vec![
            a("dist_ac_weight"),
            at(app),
            Term::from(weight),
            at(&self.this),
        ]);
        for n in all {
            if *n != self.this {
                self.send_dac(n, msg.clone()).await;
            }
        }
        let mut answers = vec![(weight, self.this.clone())];
        for n in all {
            if *n == self.this {
                continue;
            }
            if let Some((_, w, _)) = self.tmp_locals.iter().find(|(x, _, m)| x == app && m == n) {
                answers.push((*w, n.clone()));
                continue;
            }
            if !self.node.is_visible(n) {
                continue;
            }
            let (n2, app2) = (n.clone(), app.clone());
            let m = self
                .me
                .recv_match(
                    move |m| match m.as_tuple() {
                        Some([tag, Term::Atom(x), Term::Int(_), Term::Atom(from)])
                            if tag.is_atom("dist_ac_weight") =>
                        {
                            *x == app2 && *from == n2
                        }
                        Some([tag, Term::Atom(x)]) if tag.is_atom("nodedown") => *x == n2,
                        _ => false,
                    },
                    FOREVER,
                )
                .await;
            match m.as_ref().and_then(Term::as_tuple) {
                Some([_, _, Term::Int(w), _]) => answers.push((*w, n.clone())),
                Some([_, _]) => {
                    if let Some(m) = m.clone() {
                        self.redeliver(m).await;
                    }
                }
                _ => {}
            }
        }
        // lists:sort/1 of {Weight, Node}: by weight, then by node name.
        answers.sort_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.as_str().cmp(y.1.as_str())));
        answers
            .into_iter()
            .find(|(_, n)| any.contains(n) && self.known.contains(n))
            .map(|(_, n)| Found::Ok(n))
    }

    async fn app_started(&mut self, n: Atom, app: Atom, res: Term) {
        if self.appl(&app).is_some() && self.started.contains(&app) {
            let id = if res
                .as_tuple()
                .is_some_and(|x| x.first().is_some_and(|e| e.is_atom("error")))
            {
                Id::Undefined
            } else {
                Id::Distributed(n.clone())
            };
            self.ac_started(Kind::Req, &app, &n).await;
            self.set_id(&app, id);
            self.tmp_weights.retain(|(x, _)| *x != app);
            let waiting: Vec<(Term, Atom, Vec<Atom>)> = std::mem::take(&mut self.p_reqs);
            for (from, x, nodes) in waiting {
                if x == app {
                    self.reply(&from, a("ok")).await;
                } else {
                    self.p_reqs.push((from, x, nodes));
                }
            }
            self.req_start_app(&app).await;
        } else {
            self.remote_started.insert(0, (n, app));
        }
    }

    /// `req_start_app/2`: nothing here; nodus keeps no `{false, App, true,
    /// Name}` requests (a start that waits for another application).
    async fn req_start_app(&mut self, _app: &Atom) {}

    async fn nodedown(&mut self, n: Atom) {
        let runnable: Vec<Atom> = self
            .appls
            .iter()
            .filter(|x| {
                x.run
                    .iter()
                    .any(|(m, p)| *m == self.this && *p == Some(true))
            })
            .map(|x| x.name.clone())
            .collect();
        let mut restart = Vec::new();
        let names: Vec<(Atom, Id, RestartTime)> = self
            .appls
            .iter()
            .map(|x| (x.name.clone(), x.id.clone(), x.restart_time))
            .collect();
        for (name, id, time) in names {
            if id == Id::Distributed(n.clone()) {
                if runnable.contains(&name) {
                    self.set_id(&name, Id::Failover(n.clone()));
                    restart.push((name, time));
                } else {
                    self.set_id(&name, Id::Undefined);
                }
            }
        }
        self.remote_started.retain(|(m, _)| *m != n);
        for ap in &mut self.appls {
            ap.run.retain(|(m, _)| *m != n);
        }
        // check_waiting/6: permit-false requests waiting on that node.
        let reqs = std::mem::take(&mut self.p_reqs);
        for (from, app, nodes) in reqs {
            let rest: Vec<Atom> = nodes.into_iter().filter(|m| *m != n).collect();
            if rest.is_empty() {
                self.s_reqs.push((app.clone(), from));
                self.ac_stop_it(&app).await;
            } else {
                self.p_reqs.push((from, app, rest));
            }
        }
        self.known.retain(|m| *m != n);
        for (name, time) in restart.into_iter().rev() {
            let RestartTime::Ms(ms) = time else { continue };
            let me = self.me.pid().clone();
            let node = self.node.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let _ = node
                    .send(&me, t(vec![a("internal_restart_appl"), at(&name)]))
                    .await;
            });
        }
    }

    // ------------------------------------------------------------ the AC part

    /// Starts the instance here as `st` (in a task: the start and its
    /// phases may take time while this process answers its peers), then
    /// tells itself `{ac_application_run, App, Res}`; an instance that
    /// runs already is acknowledged at once, as OTP's controller does.
    async fn start_instance(&self, app: &Atom, st: StartType) {
        if instance::is_running(&self.node, app.as_str()) {
            let _ = self
                .node
                .send(
                    self.me.pid(),
                    t(vec![a("ac_application_run"), at(app), a("ok")]),
                )
                .await;
            return;
        }
        let node = self.node.clone();
        let me = self.me.pid().clone();
        let app = app.clone();
        tokio::spawn(async move {
            let res = match instance::start(&node, app.as_str(), st, true).await {
                Ok(()) => a("ok"),
                Err(e) => t(vec![a("error"), e]),
            };
            let _ = node
                .send(&me, t(vec![a("ac_application_run"), at(&app), res]))
                .await;
        });
    }

    async fn ac_start_it(&mut self, _kind: Kind, app: &Atom) {
        self.start_instance(app, StartType::Normal).await;
    }

    async fn ac_started(&mut self, kind: Kind, app: &Atom, _n: &Atom) {
        if kind == Kind::Reply {
            for from in take_where(&mut self.starting, app) {
                self.reply(&from, a("ok")).await;
            }
        } else if instance::is_running(&self.node, app.as_str()) {
            // The takeover is done elsewhere: the old instance goes.
            let node = self.node.clone();
            let app = app.clone();
            tokio::spawn(async move { instance::stop(&node, app.as_str()).await });
        }
    }

    async fn ac_error(&mut self, kind: Kind, app: &Atom, e: Term) {
        if kind == Kind::Reply {
            for from in take_where(&mut self.starting, app) {
                self.reply(&from, t(vec![a("error"), e.clone()])).await;
            }
        }
    }

    async fn ac_not_started(&mut self, kind: Kind, app: &Atom) {
        match kind {
            Kind::Reply => {
                for from in take_where(&mut self.starting, app) {
                    self.reply(&from, a("ok")).await;
                }
            }
            Kind::Req => self.ac_stop_it(app).await,
        }
    }

    async fn ac_stop_it(&mut self, app: &Atom) {
        let node = self.node.clone();
        let me = self.me.pid().clone();
        let app = app.clone();
        tokio::spawn(async move {
            instance::stop(&node, app.as_str()).await;
            let _ = node
                .send(&me, t(vec![a("ac_application_not_run"), at(&app)]))
                .await;
        });
    }

    async fn ac_takeover(&mut self, _kind: Kind, app: &Atom, from: &Atom) {
        self.start_instance(app, StartType::Takeover(from.clone()))
            .await;
    }

    async fn ac_failover(&mut self, app: &Atom, from: &Atom) {
        let phases = Apps::of(&self.node).spec(app.as_str()).is_some_and(|s| {
            let ctx = super::AppContext {
                node: self.node.clone(),
                name: app.as_str().to_string(),
            };
            !s.app.start_phases(&ctx).is_empty()
        });
        let st = if phases {
            StartType::Failover(from.clone())
        } else {
            StartType::Normal
        };
        self.start_instance(app, st).await;
    }

    // ------------------------------------------------------------ helpers

    async fn load(&mut self, app: &Atom) {
        let Some(nodes) = self.appl(app).map(|x| x.nodes.clone()) else {
            return;
        };
        let this = self.this.clone();
        self.update_run(app, &this, Some(self.permission_here(app)));
        let loaded: Vec<(Atom, Vec<Priority>, Term)> = self
            .dist_loaded
            .iter()
            .filter(|(x, _, _, _)| x == app)
            .map(|(_, n, ns, p)| (n.clone(), ns.clone(), p.clone()))
            .collect();
        let mut loaded_nodes = Vec::new();
        for (n, his, p) in loaded {
            if equal_nodes(&nodes, &his) {
                self.update_run(app, &n, appl::perm_from(&p));
                loaded_nodes.push(n);
            } else {
                self.mismatch(app, &n);
            }
        }
        self.dist_loaded.retain(|(x, _, _, _)| x != app);
        let perm = self.permission_here(app);
        for n in flat(&nodes) {
            if n != self.this {
                let msg = t(vec![
                    a("dist_ac_app_loaded"),
                    at(&self.this),
                    at(app),
                    appl::nodes_term(&nodes),
                    perm_term(Some(perm)),
                    Term::from(loaded_nodes.contains(&n)),
                ]);
                self.send_dac(&n, msg).await;
            }
        }
    }

    fn permission_here(&self, app: &Atom) -> bool {
        self.appl(app)
            .and_then(|x| x.run.iter().find(|(n, _)| *n == self.this))
            .and_then(|(_, p)| *p)
            .unwrap_or(true)
    }

    fn mismatch(&self, app: &Atom, n: &Atom) {
        tracing::error!(
            "dist_ac on node {}: Distribution mismatch for application \"{}\" on nodes {} and {}",
            self.this,
            app,
            self.this,
            n
        );
    }

    fn appl(&self, app: &Atom) -> Option<&Appl> {
        self.appls.iter().find(|x| x.name == *app)
    }

    fn set_id(&mut self, app: &Atom, id: Id) {
        if let Some(x) = self.appls.iter_mut().find(|x| x.name == *app) {
            x.id = id;
        }
        self.publish();
    }

    /// What `application:info/0` and `nodus apps` read: each
    /// distributed application's id and whether it was started here.
    fn publish(&self) {
        let v = self
            .appls
            .iter()
            .map(|x| {
                (
                    x.name.as_str().to_string(),
                    x.id.to_term(),
                    self.started.contains(&x.name),
                )
            })
            .collect();
        Apps::of(&self.node).set_dist(v);
    }

    fn update_run(&mut self, app: &Atom, n: &Atom, p: appl::Permission) {
        if let Some(x) = self.appls.iter_mut().find(|x| x.name == *app) {
            keyreplaceadd(&mut x.run, n, p);
        }
    }

    fn is_runnable(&self, app: &Atom) -> bool {
        self.appl(app).is_some_and(|x| {
            x.run
                .iter()
                .any(|(n, p)| *n == self.this && *p == Some(true))
        })
    }

    fn is_loaded(&self, app: &Atom) -> bool {
        self.appl(app)
            .is_some_and(|x| x.run.iter().any(|(n, p)| *n == self.this && p.is_some()))
    }

    fn flat_nodes(&self, app: &Atom) -> Vec<Atom> {
        self.appl(app).map(|x| flat(&x.nodes)).unwrap_or_default()
    }

    /// `get_weight/0`: the number of applications running here, as
    /// `length(application:which_applications())`.
    fn cached_weight(&self, app: &Atom) -> i64 {
        self.tmp_weights.iter().find(|(x, _)| x == app).map_or_else(
            || super::which_applications(&self.node).len() as i64,
            |(_, w)| *w,
        )
    }

    async fn send_dac(&self, n: &Atom, msg: Term) {
        let _ = self
            .node
            .send_named(self.me.pid(), "dist_ac", n.as_str(), msg)
            .await;
    }

    async fn send_known(&self, msg: &Term) {
        for n in &self.known {
            if *n != self.this {
                self.send_dac(n, msg.clone()).await;
            }
        }
    }

    /// A `{nodedown, N}` taken by a wait stays for the main loop too, as
    /// the two messages of `monitor_node/2` and `monitor_nodes/1` would.
    async fn redeliver(&self, m: Term) {
        let _ = self.node.send(self.me.pid(), m).await;
    }

    async fn del_t_reqs(&mut self, app: &Atom, res: Term) {
        for from in take_where(&mut self.t_reqs, app) {
            self.reply(&from, res.clone()).await;
        }
    }
}

enum Found {
    Ok(Atom),
    AlreadyStarted(Atom),
    NotStarted,
    NoPermission,
}

enum Waited {
    Started(Atom),
    Failed(Atom, Term),
    Down(Atom),
}

fn take_where(v: &mut Vec<(Atom, Term)>, app: &Atom) -> Vec<Term> {
    let mut out = Vec::new();
    v.retain(|(x, f)| {
        if x == app {
            out.push(f.clone());
            false
        } else {
            true
        }
    });
    out
}

fn keyreplaceadd(run: &mut Vec<(Atom, appl::Permission)>, n: &Atom, p: appl::Permission) {
    match run.iter_mut().find(|(m, _)| m == n) {
        Some(e) => e.1 = p,
        None => run.insert(0, (n.clone(), p)),
    }
}

fn appls_from(t: &Term) -> Vec<Appl> {
    t.as_list()
        .map(|l| l.iter().filter_map(Appl::from_term).collect())
        .unwrap_or_default()
}

/// A message from `n` for which `pred` holds, or `None` once `n` is down
/// (`monitor_node(N, true)` and a receive of both).
async fn wait_from(
    me: &mut Process,
    node: &Node,
    n: &Atom,
    pred: impl Fn(&Term) -> bool,
) -> Option<Term> {
    if !node.is_visible(n) {
        return None;
    }
    let n2 = n.clone();
    let m = me
        .recv_match(
            move |m| pred(m) || matches!(m.as_tuple(), Some([tag, Term::Atom(x)]) if tag.is_atom("nodedown") && *x == n2),
            FOREVER,
        )
        .await?;
    if matches!(m.as_tuple(), Some([tag, _]) if tag.is_atom("nodedown")) {
        let _ = node.send(me.pid(), m).await;
        return None;
    }
    Some(m)
}
