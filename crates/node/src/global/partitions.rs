//! `prevent_overlapping_partitions` (on by default since OTP 25): when a
//! node loses its connection to another, every node of the cluster drops
//! that other node too, so that no node ends up in two partitions that
//! cannot see each other. Messages as in OTP's `global.erl` (protocol 7+):
//! `{lost_connection, NodeA, XCreationA, OpIdA, NodeB}` and
//! `{remove_connection, Node}`.

use nodus_term::{Atom, Term};

use super::{atom, info, tuple, Server};

impl Server {
    /// Sends `msg` to `global_name_server` on every known or pending node
    /// of protocol 7 or later, but `except`.
    fn multicast(&self, msg: &Term, except: &Atom) {
        let targets = self
            .known
            .iter()
            .chain(self.pending.iter())
            .filter(|(n, v)| *n != except && **v >= 7)
            .map(|(n, _)| n.clone());
        for n in targets {
            info(&self.node, self.me.pid(), &n, msg.clone());
        }
    }

    /// Our connection to a known node went down by itself: tell the
    /// cluster (`inform_connection_loss/2`).
    pub(super) fn inform_connection_loss(&mut self, lost: &Atom) {
        if !(self.connect_all && self.prevent_overlap) {
            return;
        }
        self.next_tag += 1;
        let msg = tuple(vec![
            atom("lost_connection"),
            Term::Atom(self.node.name().clone()),
            Term::Int(i64::from(self.node.creation())),
            Term::Int(self.next_tag),
            Term::Atom(lost.clone()),
        ]);
        self.multicast(&msg, lost);
    }

    /// `{lost_connection, A, XCreation, OpId, B}`: A lost B. Pass it on
    /// once, and have B (or A, if B is us) disconnect from us.
    pub(super) fn lost_connection(&mut self, msg: &Term) {
        let Some([_, Term::Atom(a), xc, op, Term::Atom(b)]) = msg.as_tuple() else {
            return;
        };
        if !(self.connect_all && self.prevent_overlap) {
            return;
        }
        let key = (a.clone(), b.clone());
        if let Some((seen_xc, seen_op)) = self.lost.get(&key) {
            if seen_xc == xc && op <= seen_op {
                return;
            }
        }
        self.multicast(msg, a);
        if self.lost.len() >= 4096 {
            self.lost.clear();
        }
        self.lost.insert(key, (xc.clone(), op.clone()));
        let rm = if b == self.node.name() {
            a.clone()
        } else {
            b.clone()
        };
        if !(self.known.contains_key(&rm) || self.pending.contains_key(&rm)) {
            return;
        }
        info(
            &self.node,
            self.me.pid(),
            &rm,
            tuple(vec![
                atom("remove_connection"),
                Term::Atom(self.node.name().clone()),
            ]),
        );
        tracing::warn!(
            "'global' at node {} requested disconnect from node {rm} in order to prevent overlapping partitions",
            self.node.name()
        );
        self.removing.insert(rm.clone());
        self.handle_nodedown(&rm);
    }

    /// `{remove_connection, Node}`: Node asks us to disconnect from it.
    pub(super) fn remove_connection(&mut self, n: &Atom) {
        if !(self.known.contains_key(n) || self.pending.contains_key(n)) {
            return;
        }
        tracing::warn!(
            "'global' at node {} disconnected node {n} in order to prevent overlapping partitions",
            self.node.name()
        );
        self.removing.insert(n.clone());
        self.handle_nodedown(n);
        self.node.disconnect(n.as_str());
    }
}
