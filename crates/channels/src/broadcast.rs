//! `%Phoenix.Socket.Broadcast{}` as an Erlang term: what channel
//! broadcasts carry between nodes, nodus and BEAM alike.

use nodus::Term;
use nodus_term::Map;

use crate::payload::Payload;

/// The dispatcher of channel broadcasts (`Phoenix.Channel.Server`).
pub const CHANNEL_SERVER: &str = "Elixir.Phoenix.Channel.Server";

/// The struct's module.
pub const BROADCAST: &str = "Elixir.Phoenix.Socket.Broadcast";

/// `#{'__struct__' => 'Elixir.Phoenix.Socket.Broadcast', topic => T,
/// event => E, payload => P}`, the payload as Phoenix holds it.
pub fn broadcast_term(topic: &str, event: &str, payload: &Payload) -> Term {
    Term::Map(Map::from_pairs(vec![
        (Term::atom("__struct__"), Term::atom(BROADCAST)),
        (Term::atom("event"), Term::binary(event.as_bytes())),
        (Term::atom("payload"), payload.to_term()),
        (Term::atom("topic"), Term::binary(topic.as_bytes())),
    ]))
}

/// A broadcast read back: topic, event and the payload term.
#[derive(Debug, Clone, Copy)]
pub struct BroadcastRef<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The event.
    pub event: &'a str,
    /// The payload, as a term.
    pub payload: &'a Term,
}

/// Reads a `%Phoenix.Socket.Broadcast{}`; `None` for any other term.
pub fn parse_broadcast(t: &Term) -> Option<BroadcastRef<'_>> {
    let m = t.as_map()?;
    if !m.get(&Term::atom("__struct__"))?.is_atom(BROADCAST) {
        return None;
    }
    let text = |k: &str| {
        m.get(&Term::atom(k))
            .and_then(Term::as_binary)
            .and_then(|b| std::str::from_utf8(b).ok())
    };
    Some(BroadcastRef {
        topic: text("topic")?,
        event: text("event")?,
        payload: m.get(&Term::atom("payload"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broadcast_reads_back() {
        let p = Payload::json(serde_json::json!({"body": "hi"}));
        let t = broadcast_term("room:lobby", "shout", &p);
        let b = parse_broadcast(&t).expect("parsed");
        assert_eq!((b.topic, b.event), ("room:lobby", "shout"));
        assert_eq!(Payload::from_term(b.payload).expect("json"), p);
        assert!(parse_broadcast(&Term::atom("x")).is_none());
    }
}
