//! A message encoded once for many receivers on other nodes (a broadcast
//! to every node of a cluster): [`EncodedTerm`] and [`Node::send_encoded`].

use std::sync::Arc;

use nodus_proto::dist::Control;
use nodus_term::{etf, Pid, Term};

use crate::error::Error;
use crate::node::Node;

/// A term together with its External Term Format, made once.
#[derive(Clone, Debug)]
pub struct EncodedTerm {
    term: Term,
    bytes: Arc<[u8]>,
}

impl EncodedTerm {
    /// Encodes `term` (an error for a term too big to encode).
    pub fn new(term: Term) -> Result<EncodedTerm, Error> {
        let mut out = Vec::new();
        etf::encode_term_into(&term, etf::AtomEncoding::Utf8, &mut out)?;
        Ok(EncodedTerm {
            term,
            bytes: out.into(),
        })
    }

    /// The term.
    pub fn term(&self) -> &Term {
        &self.term
    }

    /// Its encoding (without the version byte).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Node {
    /// Sends an encoded message to `to`: on a live connection the bytes
    /// go out as they are; a local pid gets the term; an unconnected node
    /// is handled as by [`Node::send`]. Never waits for a busy connection
    /// (a broadcast must not stall on one slow node).
    pub fn send_encoded(&self, to: &Pid, msg: &EncodedTerm) -> Result<(), Error> {
        if to.node == *self.name() {
            self.deliver_local(to, msg.term().clone());
            return Ok(());
        }
        let control = Control::Send { to: to.clone() };
        match self.connection_of(&to.node) {
            Some(conn) => conn.send_encoded(&control, msg),
            None => crate::dist_setup::send(self, &to.node, control, Some(msg.term().clone()))
                .map(|_| ()),
        }
    }
}
