//! `Phoenix.Channel.Server.dispatch/3`: a channel broadcast reaches this
//! node's sockets. A subscriber with fastlane metadata `{fastlane, Pid,
//! Serializer, Intercepts}` gets the frame itself, `{socket_push, Opcode,
//! Bytes}`, encoded once per serializer for all of them; an intercepted
//! event, or a subscriber without fastlane, gets the broadcast struct.

use nodus::pubsub::{Dispatcher, Subscribers};
use nodus::{Node, Pid, Term};

use crate::broadcast::parse_broadcast;
use crate::payload::Payload;
use crate::serializer::{encode_push, Frame, Vsn};

/// The dispatcher registered for `Elixir.Phoenix.Channel.Server`.
pub(crate) struct ChannelServer;

/// The serializer and intercepts of fastlane metadata.
fn fastlane(meta: &Term) -> Option<(Vsn, &[Term])> {
    match meta.as_tuple()? {
        [tag, Term::Pid(_), ser, Term::List(intercepts)] if tag.is_atom("fastlane") => {
            Some((Vsn::from_module(ser.as_atom()?)?, intercepts))
        }
        _ => None,
    }
}

/// The message a transport gets for one frame.
pub(crate) fn socket_push(f: &Frame) -> Term {
    let (opcode, bytes) = match f {
        Frame::Text(b) => ("text", b),
        Frame::Binary(b) => ("binary", b),
    };
    Term::tuple(vec![
        Term::atom("socket_push"),
        Term::atom(opcode),
        Term::Binary(bytes.clone()),
    ])
}

impl Dispatcher for ChannelServer {
    fn dispatch(&self, _node: &Node, subs: &Subscribers<'_>, from: Option<&Pid>, message: &Term) {
        let b = parse_broadcast(message);
        let payload = b.map(|b| Payload::from_term(b.payload));
        // Per serializer: not yet encoded / encoded (None if it cannot be).
        let mut frames: [Option<Option<Term>>; 2] = [None, None];
        for s in subs.iter() {
            if from.is_some_and(|f| s.is(f)) {
                continue;
            }
            let (Some(b), Some(payload)) = (b, &payload) else {
                s.send(message.clone());
                continue;
            };
            match fastlane(s.metadata()) {
                Some((vsn, intercepts))
                    if !intercepts
                        .iter()
                        .any(|e| e.as_binary() == Some(b.event.as_bytes())) =>
                {
                    let slot = &mut frames[vsn as usize];
                    let frame = slot.get_or_insert_with(|| {
                        let p = match payload {
                            Ok(p) => p,
                            Err(e) => {
                                tracing::warn!(
                                    "broadcast {} on {} not delivered: {e}",
                                    b.event,
                                    b.topic
                                );
                                return None;
                            }
                        };
                        match encode_push(vsn, None, b.topic, b.event, p) {
                            Ok(f) => Some(socket_push(&f)),
                            Err(e) => {
                                tracing::warn!(
                                    "broadcast {} on {} not delivered to {vsn:?} sockets: {e}",
                                    b.event,
                                    b.topic
                                );
                                None
                            }
                        }
                    });
                    if let Some(t) = frame {
                        s.send(t.clone());
                    }
                }
                _ => {
                    s.send(message.clone());
                }
            }
        }
    }
}
