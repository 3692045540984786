//! The scope process: OTP's `pg` gen_server, message for message
//! (`lib/kernel/src/pg.erl` of OTP 25.2, and the `{discover, Peer, Vsn}`
//! form OTP 26+ accepts). It keeps the scope's table (`table.rs`), tells
//! peer scopes of local joins and leaves, and learns theirs.

use std::collections::HashMap;
use std::sync::Arc;

use nodus_term::{Atom, Pid, Term};

use super::table::{Scopes, Table};
use crate::gen_server::{CallReply, Flow, GenServer, ReplyTo};
use crate::node::Node;
use crate::process::Process;

fn atom(a: &str) -> Term {
    Term::atom(a)
}

/// A pid or a list of pids, as `pg` accepts them; `None` for anything
/// else.
pub(crate) fn pids_of(t: &Term) -> Option<Vec<Pid>> {
    match t {
        Term::Pid(p) => Some(vec![p.clone()]),
        Term::List(l) => l
            .iter()
            .map(|e| match e {
                Term::Pid(p) => Some(p.clone()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn pid_list(pids: &[Pid]) -> Term {
    Term::List(pids.iter().cloned().map(Term::from).collect())
}

/// A peer scope, and what it told us its members are.
struct Remote {
    mref: Term,
    groups: HashMap<Term, Vec<Pid>>,
}

/// The state of one scope process.
pub(crate) struct Scope {
    name: Atom,
    table: Arc<Table>,
    /// Local members: their monitor and the groups they joined (a group
    /// once per join).
    local: HashMap<Pid, (Term, Vec<Term>)>,
    /// Peer scopes, by their pid.
    remote: HashMap<Pid, Remote>,
    /// `monitor_scope` subscribers: reference -> pid.
    scope_monitors: HashMap<Term, Pid>,
    /// `monitor(Scope, Group)` subscribers: reference -> (pid, group).
    group_monitors: HashMap<Term, (Pid, Term)>,
    /// The inverse of `group_monitors`.
    monitored_groups: HashMap<Term, Vec<(Pid, Term)>>,
    /// Unexpected messages seen (logged in full the first time, then
    /// counted).
    unexpected: u64,
}

impl Scope {
    fn node<'a>(&self, me: &'a Process) -> &'a Node {
        me.node()
    }

    /// `{Ref, join | leave, Group, Pids}` to whoever watches the scope or
    /// the group.
    fn notify(&self, me: &Process, action: &str, group: &Term, pids: &[Pid]) {
        if pids.is_empty() {
            return;
        }
        let node = self.node(me);
        let msg =
            |r: &Term| Term::tuple(vec![r.clone(), atom(action), group.clone(), pid_list(pids)]);
        for (r, pid) in &self.scope_monitors {
            node.send_noconnect(pid, msg(r));
        }
        if let Some(ms) = self.monitored_groups.get(group) {
            for (pid, r) in ms {
                node.send_noconnect(pid, msg(r));
            }
        }
    }

    /// Sends `msg` to every peer scope (`noconnect`, as `pg`).
    fn broadcast(&self, me: &Process, msg: Term) {
        let node = self.node(me);
        for peer in self.remote.keys() {
            node.send_noconnect(peer, msg.clone());
        }
    }

    /// `[{Group, [Pid]}]` of the local members.
    fn all_local_pids(&self) -> Term {
        let mut by_group: HashMap<&Term, Vec<Pid>> = HashMap::new();
        for (pid, (_, groups)) in &self.local {
            for g in groups {
                by_group.entry(g).or_default().push(pid.clone());
            }
        }
        Term::List(
            by_group
                .into_iter()
                .map(|(g, pids)| Term::tuple(vec![g.clone(), pid_list(&pids)]))
                .collect(),
        )
    }

    async fn join_local(&mut self, me: &mut Process, group: Term, pids_term: Term) -> Term {
        let Some(pids) = pids_of(&pids_term) else {
            return error_badarg();
        };
        let here = me.node().name().clone();
        if let Some(bad) = pids.iter().find(|p| p.node != here) {
            return Term::tuple(vec![
                atom("error"),
                Term::tuple(vec![atom("nolocal"), Term::from(bad.clone())]),
            ]);
        }
        for p in &pids {
            match self.local.get_mut(p) {
                Some((_, groups)) => groups.push(group.clone()),
                None => {
                    let mref = me.monitor(&Term::from(p.clone())).await;
                    self.local.insert(p.clone(), (mref, vec![group.clone()]));
                }
            }
        }
        self.table.join(&group, &pids, true);
        self.notify(me, "join", &group, &pids);
        let msg = Term::tuple(vec![
            atom("join"),
            Term::from(me.pid().clone()),
            group,
            pids_term,
        ]);
        self.broadcast(me, msg);
        atom("ok")
    }

    fn leave_local(&mut self, me: &mut Process, group: Term, pids_term: Term) -> Term {
        let Some(pids) = pids_of(&pids_term) else {
            return error_badarg();
        };
        let mut changed = false;
        for p in &pids {
            let Some((mref, groups)) = self.local.get_mut(p) else {
                continue;
            };
            let Some(i) = groups.iter().position(|g| g == &group) else {
                continue;
            };
            changed = true;
            groups.remove(i);
            if groups.is_empty() {
                let mref = mref.clone();
                self.local.remove(p);
                me.demonitor(&mref);
            }
        }
        if !changed {
            return atom("not_joined");
        }
        self.table.leave(&group, &pids, true);
        self.notify(me, "leave", &group, &pids);
        let msg = Term::tuple(vec![
            atom("leave"),
            Term::from(me.pid().clone()),
            pids_term,
            Term::list(vec![group]),
        ]);
        self.broadcast(me, msg);
        atom("ok")
    }

    /// `{discover, Peer}`: our local members to the peer, and a discover
    /// back if we did not know it.
    async fn discover(&mut self, me: &mut Process, peer: Pid) {
        let sync = Term::tuple(vec![
            atom("$gen_cast"),
            Term::tuple(vec![
                atom("sync"),
                Term::from(me.pid().clone()),
                self.all_local_pids(),
            ]),
        ]);
        me.node().send_noconnect(&peer, sync);
        if let std::collections::hash_map::Entry::Vacant(slot) = self.remote.entry(peer.clone()) {
            let mref = me.monitor(&Term::from(peer.clone())).await;
            let back = Term::tuple(vec![atom("discover"), Term::from(me.pid().clone())]);
            me.node().send_noconnect(&peer, back);
            slot.insert(Remote {
                mref,
                groups: HashMap::new(),
            });
        }
    }

    /// `{sync, Peer, Groups}`: everything known of the peer is replaced.
    async fn sync(&mut self, me: &mut Process, peer: Pid, groups: &[Term]) {
        let mut new: HashMap<Term, Vec<Pid>> = HashMap::new();
        for g in groups {
            if let Some([group, pids]) = g.as_tuple() {
                if let Some(pids) = pids_of(pids) {
                    new.entry(group.clone()).or_default().extend(pids);
                }
            }
        }
        let (mref, mut old) = match self.remote.remove(&peer) {
            Some(r) => (r.mref, r.groups),
            None => (me.monitor(&Term::from(peer.clone())).await, HashMap::new()),
        };
        for (group, pids) in &new {
            match old.remove(group) {
                Some(before) if &before == pids => {}
                Some(before) => {
                    self.table.replace(group, &before, pids);
                    let gone: Vec<Pid> = before
                        .iter()
                        .filter(|p| !pids.contains(p))
                        .cloned()
                        .collect();
                    let came: Vec<Pid> = pids
                        .iter()
                        .filter(|p| !before.contains(p))
                        .cloned()
                        .collect();
                    self.notify(me, "leave", group, &gone);
                    self.notify(me, "join", group, &came);
                }
                None => {
                    self.table.join(group, pids, false);
                    self.notify(me, "join", group, pids);
                }
            }
        }
        for (group, pids) in old {
            self.table.leave(&group, &pids, false);
            self.notify(me, "leave", &group, &pids);
        }
        self.remote.insert(peer, Remote { mref, groups: new });
    }

    fn remote_join(&mut self, me: &Process, peer: &Pid, group: Term, pids: Vec<Pid>) {
        let Some(r) = self.remote.get_mut(peer) else {
            // Not (or no longer) in the overlay: ignored, as OTP does.
            return;
        };
        let list = r.groups.entry(group.clone()).or_default();
        list.splice(0..0, pids.iter().cloned());
        self.table.join(&group, &pids, false);
        self.notify(me, "join", &group, &pids);
    }

    fn remote_leave(&mut self, me: &Process, peer: &Pid, pids: Vec<Pid>, groups: &[Term]) {
        let Some(r) = self.remote.get_mut(peer) else {
            return;
        };
        for group in groups {
            if let Some(list) = r.groups.get_mut(group) {
                for p in &pids {
                    if let Some(i) = list.iter().position(|x| x == p) {
                        list.remove(i);
                    }
                }
                if list.is_empty() {
                    r.groups.remove(group);
                }
            }
        }
        for group in groups {
            if self.table.leave(group, &pids, false) {
                self.notify(me, "leave", group, &pids);
            }
        }
    }

    fn down(&mut self, me: &mut Process, mref: &Term, pid: Pid) {
        if pid.node == *me.node().name() {
            if self.local.get(&pid).is_some_and(|(r, _)| r == mref) {
                let groups = self.local.remove(&pid).map(|(_, g)| g).unwrap_or_default();
                for g in &groups {
                    self.table.leave(g, std::slice::from_ref(&pid), true);
                    self.notify(me, "leave", g, std::slice::from_ref(&pid));
                }
                let msg = Term::tuple(vec![
                    atom("leave"),
                    Term::from(me.pid().clone()),
                    Term::from(pid),
                    Term::list(groups),
                ]);
                self.broadcast(me, msg);
                return;
            }
        } else if self.remote.get(&pid).is_some_and(|r| &r.mref == mref) {
            // The peer scope (or its node) is gone: all its members go.
            if let Some(r) = self.remote.remove(&pid) {
                for (group, pids) in r.groups {
                    self.table.leave(&group, &pids, false);
                    self.notify(me, "leave", &group, &pids);
                }
            }
            return;
        }
        self.drop_monitor(mref);
    }

    fn drop_monitor(&mut self, mref: &Term) -> bool {
        if self.scope_monitors.remove(mref).is_some() {
            return true;
        }
        if let Some((pid, group)) = self.group_monitors.remove(mref) {
            if let Some(v) = self.monitored_groups.get_mut(&group) {
                v.retain(|(p, r)| !(p == &pid && r == mref));
                if v.is_empty() {
                    self.monitored_groups.remove(&group);
                }
            }
            return true;
        }
        false
    }

    fn unexpected(&mut self, what: &str, msg: &Term) {
        self.unexpected += 1;
        if self.unexpected == 1 {
            tracing::warn!("pg scope {}: unexpected {what} ignored: {msg:?}", self.name);
        } else if self.unexpected.is_power_of_two() {
            tracing::warn!(
                "pg scope {}: {} unexpected messages ignored so far",
                self.name,
                self.unexpected
            );
        }
    }
}

fn error_badarg() -> Term {
    Term::tuple(vec![atom("error"), atom("badarg")])
}

impl GenServer for Scope {
    type Args = Atom;
    type Call = Term;
    type Reply = Term;
    type Cast = Term;

    async fn init(name: Atom, me: &mut Process) -> Result<Self, Term> {
        let node = me.node().clone();
        let table = node.extension(Scopes::default).create(&name);
        node.monitor_nodes(me.pid());
        let discover = Term::tuple(vec![atom("discover"), Term::from(me.pid().clone())]);
        for n in node.nodes() {
            node.send_named_noconnect(me.pid(), name.as_str(), &n, discover.clone());
        }
        Ok(Scope {
            name,
            table,
            local: HashMap::new(),
            remote: HashMap::new(),
            scope_monitors: HashMap::new(),
            group_monitors: HashMap::new(),
            monitored_groups: HashMap::new(),
            unexpected: 0,
        })
    }

    async fn handle_call(
        &mut self,
        request: Term,
        from: ReplyTo,
        me: &mut Process,
    ) -> CallReply<Term> {
        let caller = from.caller();
        let reply = match request.as_tuple() {
            Some([tag, group, pids]) if tag.is_atom("join_local") => {
                self.join_local(me, group.clone(), pids.clone()).await
            }
            Some([tag, group, pids]) if tag.is_atom("leave_local") => {
                self.leave_local(me, group.clone(), pids.clone())
            }
            Some([tag, group]) if tag.is_atom("monitor") => {
                let Some(pid) = caller else {
                    return CallReply::Reply(error_badarg());
                };
                let members = self.table.members(group);
                let mref = me.monitor(&Term::from(pid.clone())).await;
                self.group_monitors
                    .insert(mref.clone(), (pid.clone(), group.clone()));
                self.monitored_groups
                    .entry(group.clone())
                    .or_default()
                    .insert(0, (pid, mref.clone()));
                Term::tuple(vec![mref, pid_list(&members)])
            }
            Some([tag, mref]) if tag.is_atom("demonitor") => {
                if self.drop_monitor(mref) {
                    me.demonitor(mref);
                    atom("ok")
                } else {
                    atom("false")
                }
            }
            _ if request.is_atom("monitor") => {
                let Some(pid) = caller else {
                    return CallReply::Reply(error_badarg());
                };
                let mref = me.monitor(&Term::from(pid.clone())).await;
                self.scope_monitors.insert(mref.clone(), pid);
                let map = nodus_term::Map::from_pairs(
                    self.table
                        .snapshot()
                        .into_iter()
                        .map(|(g, pids)| (g, pid_list(&pids)))
                        .collect(),
                );
                Term::tuple(vec![mref, Term::Map(map)])
            }
            _ => {
                self.unexpected("call", &request);
                error_badarg()
            }
        };
        CallReply::Reply(reply)
    }

    async fn handle_cast(&mut self, msg: Term, me: &mut Process) -> Flow {
        match msg.as_tuple() {
            Some([tag, Term::Pid(peer), Term::List(groups)]) if tag.is_atom("sync") => {
                let peer = peer.clone();
                let groups = groups.clone();
                self.sync(me, peer, &groups).await;
            }
            _ => self.unexpected("cast", &msg),
        }
        Flow::Continue
    }

    async fn handle_info(&mut self, msg: Term, me: &mut Process) -> Flow {
        let Some(items) = msg.as_tuple() else {
            self.unexpected("message", &msg);
            return Flow::Continue;
        };
        match items {
            [tag, Term::Pid(peer), group, pids] if tag.is_atom("join") => match pids_of(pids) {
                Some(pids) => {
                    let peer = peer.clone();
                    self.remote_join(me, &peer, group.clone(), pids);
                }
                None => self.unexpected("join", &msg),
            },
            [tag, Term::Pid(peer), pids, Term::List(groups)] if tag.is_atom("leave") => {
                match pids_of(pids) {
                    Some(pids) => {
                        let peer = peer.clone();
                        let groups = groups.clone();
                        self.remote_leave(me, &peer, pids, &groups);
                    }
                    None => self.unexpected("leave", &msg),
                }
            }
            [tag, Term::Pid(peer)] | [tag, Term::Pid(peer), _] if tag.is_atom("discover") => {
                let peer = peer.clone();
                self.discover(me, peer).await;
            }
            [tag, mref, kind, Term::Pid(pid), _]
                if tag.is_atom("DOWN") && kind.is_atom("process") =>
            {
                let (mref, pid) = (mref.clone(), pid.clone());
                self.down(me, &mref, pid);
            }
            [tag, _] if tag.is_atom("nodedown") => {}
            [tag, Term::Atom(n)] if tag.is_atom("nodeup") => {
                if n != me.node().name() {
                    let discover =
                        Term::tuple(vec![atom("discover"), Term::from(me.pid().clone())]);
                    me.node()
                        .send_named_noconnect(me.pid(), self.name.as_str(), n, discover);
                }
            }
            _ => self.unexpected("message", &msg),
        }
        Flow::Continue
    }

    async fn terminate(&mut self, _reason: &Term, me: &mut Process) {
        if let Some(scopes) = me.node().try_extension::<Scopes>() {
            scopes.remove(&self.name, &self.table);
        }
    }

    fn format_state(&self) -> Term {
        Term::tuple(vec![
            atom("state"),
            Term::Atom(self.name.clone()),
            Term::from(self.local.len() as i64),
            Term::from(self.remote.len() as i64),
        ])
    }
}
