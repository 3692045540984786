//! Exit signals, links and monitors, here and across connections.
//! Answers to ERTS's signal handling (`erl_proc_sig_queue.c`): a process
//! that exits tells its links (`EXIT`) and its monitors (`DOWN`); an exit
//! signal other than `normal` ends a process that does not trap exits;
//! `kill` ends even one that does. Signals never set up a connection: to
//! an unconnected node they are dropped, and a lost connection fires
//! every link and monitor across it with `noconnection`.

use nodus_proto::dist::Control;
use nodus_term::{Atom, Pid, Term};

use super::ptab::{ProcState, Watcher};
use super::Held;
use crate::net_kernel;
use crate::node::{lock, Node};

/// `{'DOWN', Ref, process, Object, Reason}`.
pub(crate) fn down(reference: Term, object: Term, reason: Term) -> Term {
    Term::tuple(vec![
        Term::atom("DOWN"),
        reference,
        Term::atom("process"),
        object,
        reason,
    ])
}

/// `{'EXIT', From, Reason}`.
pub(crate) fn exit_msg(from: &Pid, reason: Term) -> Term {
    Term::tuple(vec![Term::atom("EXIT"), Term::from(from.clone()), reason])
}

impl Node {
    /// Ends local process `pid` with `reason`: it leaves the table, its
    /// name and aliases go, its monitors fire and its links get exit
    /// signals; a spawned process's task is stopped. Does nothing when it
    /// already ended.
    pub(crate) fn process_exited(&self, pid: &Pid, reason: Term) {
        if !self.is_local(pid) {
            return;
        }
        let Some(entry) = self.0.erts.procs.remove(pid.id) else {
            return;
        };
        entry.mailbox.close();
        let mut st = std::mem::take(&mut *lock(&entry.state));
        if let Some(name) = &st.name {
            self.unregister_name_of(name, pid);
        }
        if !st.aliases.is_empty() {
            let mut aliases = lock(&self.0.erts.aliases);
            for a in &st.aliases {
                aliases.remove(a);
            }
        }
        if st.watches_nodes {
            self.drop_node_watcher(pid);
        }
        for r in &st.holds {
            let held = lock(&self.0.erts.monitors).remove(r);
            if let Some(h) = held {
                self.drop_held(r, &h);
            }
        }
        let ProcState { watchers, .. } = &mut st;
        for w in std::mem::take(watchers) {
            match w {
                Watcher::Handle(tx) => {
                    let _ = tx.send(reason.clone());
                }
                Watcher::Process(watcher, reference) if self.is_local(&watcher) => {
                    let held = lock(&self.0.erts.monitors).remove(&reference);
                    if let Some(h) = held {
                        self.unhold(&h.watcher, &reference);
                        self.deliver_local(&h.watcher, down(reference, h.target, reason.clone()));
                    }
                }
                Watcher::Process(watcher, reference) => {
                    let ctl = Control::MonitorPExit {
                        from: Term::from(pid.clone()),
                        to: watcher.clone(),
                        reference,
                        reason: reason.clone(),
                    };
                    self.send_control(&watcher.node, ctl);
                }
            }
        }
        for other in &st.links {
            if self.is_local(other) {
                self.exit_signal(other, pid, reason.clone(), false);
            } else {
                let ctl = Control::Exit {
                    from: pid.clone(),
                    to: other.clone(),
                    reason: reason.clone(),
                };
                self.send_control(&other.node, ctl);
            }
        }
        if let Some(task) = st.task {
            task.abort();
        }
    }

    /// Queues a control message to `node` if connected (signals never
    /// set up connections, as in ERTS).
    pub(crate) fn send_control(&self, node: &Atom, ctl: Control) {
        if let Some(c) = lock(&self.0.conns).get(node) {
            let _ = c.send(&ctl, None);
        }
    }

    /// An exit signal from `from` reaches local `to`: trapped as a message,
    /// or it ends `to` unless the reason is `normal`. `exit/2`
    /// (`untrappable`) with reason `kill` ends it as `killed` even when it
    /// traps. A linked exit also removes the link.
    pub(crate) fn exit_signal(&self, to: &Pid, from: &Pid, reason: Term, untrappable: bool) {
        let Some(entry) = self.local_entry(to) else {
            return;
        };
        let traps = {
            let mut st = lock(&entry.state);
            if !untrappable {
                st.links.retain(|p| p != from);
            }
            st.trap_exit
        };
        if untrappable && reason.is_atom("kill") {
            return self.process_exited(to, Term::atom("killed"));
        }
        if traps {
            entry.mailbox.push(exit_msg(from, reason));
        } else if !reason.is_atom("normal") || (untrappable && from == to) {
            self.process_exited(to, reason);
        }
    }

    /// `exit(Pid, Reason)` from `from`: an exit signal to a process here
    /// or on another node (dropped if that node is not connected).
    pub fn exit_pid(&self, from: &Pid, to: &Pid, reason: Term) {
        if self.is_local(to) {
            self.exit_signal(to, from, reason, true);
        } else {
            let ctl = Control::Exit2 {
                from: from.clone(),
                to: to.clone(),
                reason,
            };
            self.send_control(&to.node, ctl);
        }
    }

    pub(crate) fn set_trap_exit(&self, pid: &Pid, on: bool) {
        if let Some(e) = self.local_entry(pid) {
            lock(&e.state).trap_exit = on;
        }
    }

    /// Records a link from local `local` to `other`; false when `local`
    /// is not alive.
    pub(crate) fn add_link(&self, local: &Pid, other: &Pid) -> bool {
        match self.local_entry(local) {
            Some(e) => {
                let mut st = lock(&e.state);
                if !st.links.contains(other) {
                    st.links.push(other.clone());
                }
                true
            }
            None => false,
        }
    }

    pub(crate) fn remove_link(&self, local: &Pid, other: &Pid) {
        if let Some(e) = self.local_entry(local) {
            lock(&e.state).links.retain(|p| p != other);
        }
    }

    /// Links local `me` with `other`: a dead `other` sends back `noproc`.
    pub(crate) async fn link(&self, me: &Pid, other: &Pid) {
        if self.is_local(other) {
            if self.add_link(other, me) {
                self.add_link(me, other);
            } else {
                self.exit_signal(me, other, Term::atom("noproc"), false);
            }
            return;
        }
        self.add_link(me, other);
        match net_kernel::connection(self, other.node.as_str()).await {
            Ok(c) => {
                let _ = c.send(
                    &Control::Link {
                        from: me.clone(),
                        to: other.clone(),
                    },
                    None,
                );
            }
            Err(_) => self.exit_signal(me, other, Term::atom("noconnection"), false),
        }
    }

    /// `unlink/1` for local `me`.
    pub(crate) fn unlink(&self, me: &Pid, other: &Pid) {
        self.remove_link(me, other);
        if self.is_local(other) {
            self.remove_link(other, me);
        } else {
            let ctl = Control::Unlink {
                from: me.clone(),
                to: other.clone(),
            };
            self.send_control(&other.node, ctl);
        }
    }

    /// Records that `watcher` monitors local `target` under `reference`;
    /// false when `target` is not alive.
    pub(crate) fn add_watcher(&self, target: &Pid, watcher: Watcher) -> Result<(), Watcher> {
        match self.local_entry(target) {
            Some(e) => {
                lock(&e.state).watchers.push(watcher);
                Ok(())
            }
            None => Err(watcher),
        }
    }

    /// A remote `watcher` monitors local `target` (a `MONITOR_P`).
    pub(crate) fn add_monitor(&self, target: &Pid, watcher: Pid, reference: Term) -> bool {
        self.add_watcher(target, Watcher::Process(watcher, reference))
            .is_ok()
    }

    /// Drops the monitor `reference` that a process holds on local
    /// `target`.
    fn remove_watcher(&self, target: &Pid, reference: &Term) {
        if let Some(e) = self.local_entry(target) {
            lock(&e.state)
                .watchers
                .retain(|w| !matches!(w, Watcher::Process(_, r) if r == reference));
        }
    }

    /// A peer's `DEMONITOR_P`: drop `reference` from whichever local
    /// process it monitors.
    pub(crate) fn remove_monitor(&self, target: &Term, reference: &Term) {
        if let Some(p) = self.resolve(target) {
            self.remove_watcher(&p, reference);
        }
    }

    fn unhold(&self, watcher: &Pid, reference: &Term) {
        if let Some(e) = self.local_entry(watcher) {
            lock(&e.state).holds.retain(|r| r != reference);
        }
    }

    /// Tells the target side that the monitor `reference` is gone.
    fn drop_held(&self, reference: &Term, h: &Held) {
        if h.node == *self.name() {
            if let Some(p) = self.resolve(&h.target) {
                self.remove_watcher(&p, reference);
            }
            return;
        }
        let to = match &h.target {
            Term::Tuple(t) if t.len() == 2 => t[0].clone(),
            t => t.clone(),
        };
        let ctl = Control::DemonitorP {
            from: h.watcher.clone(),
            to,
            reference: reference.clone(),
        };
        self.send_control(&h.node, ctl);
    }

    /// Monitors `target` (a pid, a local name, or a `{Name, Node}` tuple)
    /// for local `me`; the `DOWN` message carries the returned reference.
    pub(crate) async fn monitor(&self, me: &Pid, target: &Term) -> Term {
        let reference = self.make_ref();
        let (node, proc_term) = match target {
            Term::Pid(p) => (p.node.clone(), target.clone()),
            Term::Atom(_) => (self.name().clone(), target.clone()),
            Term::Tuple(t) if t.len() == 2 => match (&t[0], &t[1]) {
                (Term::Atom(_), Term::Atom(n)) => (n.clone(), t[0].clone()),
                _ => (self.name().clone(), Term::nil()),
            },
            _ => (self.name().clone(), Term::nil()),
        };
        let held = Held {
            watcher: me.clone(),
            target: target.clone(),
            node: node.clone(),
        };
        if node == *self.name() {
            self.monitor_here(me, target, &proc_term, &reference, held);
            return reference;
        }
        self.hold(me, &reference, held);
        match net_kernel::connection(self, node.as_str()).await {
            Ok(c) => {
                let _ = c.send(
                    &Control::MonitorP {
                        from: me.clone(),
                        to: proc_term,
                        reference: reference.clone(),
                    },
                    None,
                );
            }
            Err(_) => self.monitor_fired(&reference, Term::atom("noconnection")),
        }
        reference
    }

    /// `monitor(process, Pid)` of a local process by local `me`, at once.
    pub(crate) fn monitor_local(&self, me: &Pid, target: &Pid) -> Term {
        let reference = self.make_ref();
        let t = Term::from(target.clone());
        let held = Held {
            watcher: me.clone(),
            target: t.clone(),
            node: self.name().clone(),
        };
        self.monitor_here(me, &t, &t, &reference, held);
        reference
    }

    fn monitor_here(
        &self,
        me: &Pid,
        target: &Term,
        proc_term: &Term,
        reference: &Term,
        held: Held,
    ) {
        let watcher = Watcher::Process(me.clone(), reference.clone());
        let added = match self.resolve(proc_term) {
            Some(p) => self.add_watcher(&p, watcher).is_ok(),
            None => false,
        };
        if added {
            self.hold(me, reference, held);
        } else {
            let msg = down(reference.clone(), target.clone(), Term::atom("noproc"));
            self.deliver_local(me, msg);
        }
    }

    fn hold(&self, me: &Pid, reference: &Term, held: Held) {
        if let Some(e) = self.local_entry(me) {
            lock(&e.state).holds.push(reference.clone());
            lock(&self.0.erts.monitors).insert(reference.clone(), held);
        }
    }

    /// `demonitor(Ref)`: drops a monitor a local process holds.
    pub(crate) fn demonitor(&self, reference: &Term) {
        let held = lock(&self.0.erts.monitors).remove(reference);
        if let Some(h) = held {
            self.unhold(&h.watcher, reference);
            self.drop_held(reference, &h);
        }
    }

    /// A monitor a local process holds fired with `reason`.
    pub(crate) fn monitor_fired(&self, reference: &Term, reason: Term) {
        let held = lock(&self.0.erts.monitors).remove(reference);
        if let Some(h) = held {
            self.unhold(&h.watcher, reference);
            self.deliver_local(&h.watcher, down(reference.clone(), h.target, reason));
        }
    }

    /// The connection to `peer` is gone: links and monitors across it
    /// fire with `noconnection`, and node watchers get `nodedown`.
    pub(crate) fn connection_lost(&self, peer: &Atom, visible: bool, reason: &str) {
        self.node_event(false, peer, visible, reason);
        let mut broken = Vec::new();
        for (id, e) in self.0.erts.procs.entries() {
            let mut st = lock(&e.state);
            st.links.retain(|p| {
                if &p.node == peer {
                    broken.push((id, p.clone()));
                    false
                } else {
                    true
                }
            });
            st.watchers
                .retain(|w| !matches!(w, Watcher::Process(p, _) if &p.node == peer));
        }
        for (id, remote) in broken {
            let me = self.local_pid(id);
            self.exit_signal(&me, &remote, Term::atom("noconnection"), false);
        }
        let refs: Vec<Term> = lock(&self.0.erts.monitors)
            .iter()
            .filter(|(_, h)| &h.node == peer)
            .map(|(r, _)| r.clone())
            .collect();
        for r in refs {
            self.monitor_fired(&r, Term::atom("noconnection"));
        }
    }
}
