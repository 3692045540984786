//! `net_kernel:monitor_nodes/1,2`: processes told of nodes coming and
//! going. Answers to the node-monitoring part of ERTS and `net_kernel`.
//!
//! With no options a watcher gets `{nodeup, Node}` and `{nodedown, Node}`
//! for visible nodes only, as OTP; with options it gets `{nodeup, Node,
//! Info}` and `{nodedown, Node, Info}`, where `Info` holds `{node_type,
//! visible | hidden}` when `node_type` was asked for and `{nodedown_reason,
//! Reason}` when `nodedown_reason` was.

use nodus_term::{Atom, Pid, Term};

use crate::node::{lock, Node};

/// Which nodes a watcher hears about (`{node_type, T}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeType {
    /// Visible nodes only (the default).
    #[default]
    Visible,
    /// Hidden nodes only.
    Hidden,
    /// Every node.
    All,
}

/// The options of `net_kernel:monitor_nodes/2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MonitorNodesOpts {
    /// `{node_type, T}`; `None`: the option was not given (visible nodes,
    /// and no `node_type` in the messages).
    pub node_type: Option<NodeType>,
    /// `nodedown_reason`: nodedown messages say why.
    pub nodedown_reason: bool,
}

impl MonitorNodesOpts {
    fn is_empty(&self) -> bool {
        self.node_type.is_none() && !self.nodedown_reason
    }

    /// Reads an Erlang option list (`[{node_type, all}, nodedown_reason]`);
    /// `None` for an option OTP does not know.
    pub fn from_term(opts: &Term) -> Option<MonitorNodesOpts> {
        let mut o = MonitorNodesOpts::default();
        for item in opts.as_list()? {
            match item {
                Term::Atom(a) if a == "nodedown_reason" => o.nodedown_reason = true,
                Term::Tuple(t) if t.len() == 2 && t[0].is_atom("node_type") => {
                    o.node_type = Some(match t[1].as_atom()? {
                        "visible" => NodeType::Visible,
                        "hidden" => NodeType::Hidden,
                        "all" => NodeType::All,
                        _ => return None,
                    })
                }
                _ => return None,
            }
        }
        Some(o)
    }
}

pub(crate) struct NodeWatcher {
    pid: Pid,
    opts: MonitorNodesOpts,
}

/// OTP's nodedown reason for how a connection ended.
fn reason_term(reason: &str) -> Term {
    let r = if reason.contains("net_ticktime") {
        "net_tick_timeout"
    } else if reason.contains("disconnect") {
        "disconnect"
    } else if reason.contains("shut down") {
        "net_kernel_terminated"
    } else {
        "connection_closed"
    };
    Term::atom(r)
}

impl Node {
    /// `net_kernel:monitor_nodes(true)` for local `pid`: it gets
    /// `{nodeup, Node}` and `{nodedown, Node}` for visible nodes.
    pub fn monitor_nodes(&self, pid: &Pid) {
        self.monitor_nodes_with(pid, MonitorNodesOpts::default());
    }

    /// `net_kernel:monitor_nodes(true, Options)` for local `pid`. Each call
    /// adds a subscription, as in OTP; a dead watcher is dropped.
    pub fn monitor_nodes_with(&self, pid: &Pid, opts: MonitorNodesOpts) {
        let Some(e) = self.local_entry(pid) else {
            return;
        };
        lock(&e.state).watches_nodes = true;
        lock(&self.0.erts.node_watchers).push(NodeWatcher {
            pid: pid.clone(),
            opts,
        });
    }

    /// `net_kernel:monitor_nodes(false)` for `pid`: every subscription
    /// of it goes.
    pub fn unmonitor_nodes(&self, pid: &Pid) {
        self.drop_node_watcher(pid);
    }

    pub(crate) fn drop_node_watcher(&self, pid: &Pid) {
        lock(&self.0.erts.node_watchers).retain(|w| &w.pid != pid);
    }

    /// How many `monitor_nodes` subscriptions live processes hold.
    pub fn monitor_nodes_count(&self) -> usize {
        lock(&self.0.erts.node_watchers).len()
    }

    /// Tells the watchers that `peer` came up or went down.
    pub(crate) fn node_event(&self, up: bool, peer: &Atom, visible: bool, reason: &str) {
        let what = Term::atom(if up { "nodeup" } else { "nodedown" });
        let msgs: Vec<(Pid, Term)> = lock(&self.0.erts.node_watchers)
            .iter()
            .filter(|w| match w.opts.node_type.unwrap_or_default() {
                NodeType::Visible => visible,
                NodeType::Hidden => !visible,
                NodeType::All => true,
            })
            .map(|w| {
                let msg = if w.opts.is_empty() {
                    Term::tuple(vec![what.clone(), Term::Atom(peer.clone())])
                } else {
                    let mut info = Vec::new();
                    if w.opts.node_type.is_some() {
                        let t = if visible { "visible" } else { "hidden" };
                        info.push(Term::tuple(vec![Term::atom("node_type"), Term::atom(t)]));
                    }
                    if !up && w.opts.nodedown_reason {
                        info.push(Term::tuple(vec![
                            Term::atom("nodedown_reason"),
                            reason_term(reason),
                        ]));
                    }
                    Term::tuple(vec![
                        what.clone(),
                        Term::Atom(peer.clone()),
                        Term::list(info),
                    ])
                };
                (w.pid.clone(), msg)
            })
            .collect();
        for (pid, msg) in msgs {
            self.deliver_local(&pid, msg);
        }
    }
}
