//! The wire formats of Phoenix Channels: V1 JSON (`vsn=1.0.0`: objects),
//! V2 JSON (`vsn=2.0.0`: `[join_ref, ref, topic, event, payload]`) and V2
//! binary frames (`<<kind, sizes…, fields…, data>>`, every field at most
//! 255 bytes), as `Phoenix.Socket.V1.JSONSerializer` and
//! `V2.JSONSerializer` read and write them.

use std::io::Write;

use bytes::Bytes;
use serde_json::Value;

use crate::payload::Payload;

/// A serializer, chosen by the client's `vsn` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vsn {
    /// `1.0.0`: JSON objects; no binary payloads.
    V1,
    /// `2.0.0`: JSON arrays and binary frames (the JS client's default).
    V2,
}

impl Vsn {
    /// The serializer of a `vsn` parameter: `~> 1.0.0` or `~> 2.0.0`, as
    /// Phoenix's defaults match (a missing vsn is `1.0.0`); `None` for
    /// another (HTTP 403).
    pub fn negotiate(vsn: Option<&str>) -> Option<Vsn> {
        let v = vsn.unwrap_or("1.0.0");
        let mut parts = v.splitn(3, '.');
        let (major, minor, patch) = (parts.next()?, parts.next()?, parts.next()?);
        let patch_ok = !patch.is_empty()
            && patch
                .split(['-', '+'])
                .next()
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if minor != "0" || !patch_ok {
            return None;
        }
        match major {
            "1" => Some(Vsn::V1),
            "2" => Some(Vsn::V2),
            _ => None,
        }
    }

    /// The Elixir module of this serializer (in fastlane metadata).
    pub fn module(self) -> &'static str {
        match self {
            Vsn::V1 => "Elixir.Phoenix.Socket.V1.JSONSerializer",
            Vsn::V2 => "Elixir.Phoenix.Socket.V2.JSONSerializer",
        }
    }

    /// The serializer of a module name.
    pub fn from_module(m: &str) -> Option<Vsn> {
        match m {
            "Elixir.Phoenix.Socket.V1.JSONSerializer" => Some(Vsn::V1),
            "Elixir.Phoenix.Socket.V2.JSONSerializer" => Some(Vsn::V2),
            _ => None,
        }
    }
}

/// One WebSocket frame's content (or one long-poll message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame (UTF-8).
    Text(Bytes),
    /// A binary frame.
    Binary(Bytes),
}

impl Frame {
    /// Its size in bytes.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(b) | Frame::Binary(b) => b.len(),
        }
    }

    /// True when it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A message from a client.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The join reference of the channel it is for (the join's `ref`).
    pub join_ref: Option<String>,
    /// Its own reference, echoed in the reply.
    pub reference: Option<String>,
    /// The topic.
    pub topic: String,
    /// The event (`phx_join`, `phx_leave`, `heartbeat` or the app's own).
    pub event: String,
    /// The payload.
    pub payload: Payload,
}

/// A frame that is not a message (the socket is closed with 1011).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable frame: {0}")]
pub struct DecodeError(pub String);

/// A payload that a serializer cannot carry (bytes in V1, a field over
/// 255 bytes in a binary frame).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode: {0}")]
pub struct EncodeError(pub String);

fn bad(why: impl Into<String>) -> DecodeError {
    DecodeError(why.into())
}

/// Reads a client frame.
pub fn decode(vsn: Vsn, frame: &Frame) -> Result<Message, DecodeError> {
    match (vsn, frame) {
        (_, Frame::Text(b)) => {
            let v: Value =
                serde_json::from_slice(b).map_err(|e| bad(format!("invalid JSON: {e}")))?;
            match vsn {
                Vsn::V1 => decode_v1(v),
                Vsn::V2 => decode_v2(v),
            }
        }
        (Vsn::V2, Frame::Binary(b)) => decode_binary(b),
        (Vsn::V1, Frame::Binary(_)) => Err(bad("a binary frame on a V1 (vsn 1.0.0) socket")),
    }
}

fn reference(v: Value, what: &str) -> Result<Option<String>, DecodeError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(bad(format!("{what} is neither a string nor null"))),
    }
}

fn string(v: Value, what: &str) -> Result<String, DecodeError> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(bad(format!("{what} is not a string"))),
    }
}

fn decode_v2(v: Value) -> Result<Message, DecodeError> {
    let Value::Array(a) = v else {
        return Err(bad("a V2 message is a JSON array"));
    };
    if a.len() < 5 {
        return Err(bad(format!("a V2 message has 5 elements, not {}", a.len())));
    }
    let mut it = a.into_iter();
    let mut next = || it.next().unwrap_or(Value::Null);
    Ok(Message {
        join_ref: reference(next(), "join_ref")?,
        reference: reference(next(), "ref")?,
        topic: string(next(), "topic")?,
        event: string(next(), "event")?,
        payload: Payload::Json(next()),
    })
}

fn decode_v1(v: Value) -> Result<Message, DecodeError> {
    let Value::Object(mut o) = v else {
        return Err(bad("a V1 message is a JSON object"));
    };
    let mut take = |k: &str| o.remove(k).unwrap_or(Value::Null);
    Ok(Message {
        join_ref: reference(take("join_ref"), "join_ref")?,
        reference: reference(take("ref"), "ref")?,
        topic: string(take("topic"), "topic")?,
        event: string(take("event"), "event")?,
        payload: Payload::Json(take("payload")),
    })
}

fn decode_binary(b: &Bytes) -> Result<Message, DecodeError> {
    let [kind, jr, rf, tp, ev, ..] = b[..] else {
        return Err(bad(format!(
            "a binary frame of {} bytes has no header",
            b.len()
        )));
    };
    if kind != 0 {
        return Err(bad(format!(
            "binary frame kind {kind} (a client sends only pushes, kind 0)"
        )));
    }
    let sizes = [jr as usize, rf as usize, tp as usize, ev as usize];
    let need = 5 + sizes.iter().sum::<usize>();
    if b.len() < need {
        return Err(bad(format!(
            "a binary frame of {} bytes whose fields need {need}",
            b.len()
        )));
    }
    let mut at = 5;
    let mut field = |n: usize, what: &str| -> Result<String, DecodeError> {
        let s =
            std::str::from_utf8(&b[at..at + n]).map_err(|_| bad(format!("{what} is not UTF-8")))?;
        at += n;
        Ok(s.to_string())
    };
    let join_ref = field(sizes[0], "join_ref")?;
    let reference = field(sizes[1], "ref")?;
    let topic = field(sizes[2], "topic")?;
    let event = field(sizes[3], "event")?;
    Ok(Message {
        join_ref: Some(join_ref),
        reference: Some(reference),
        topic,
        event,
        payload: Payload::Binary(b.slice(need..)),
    })
}

fn json_str(out: &mut Vec<u8>, s: Option<&str>) {
    // Writing JSON into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &s);
}

fn field_len(s: &str, what: &str) -> Result<u8, EncodeError> {
    u8::try_from(s.len()).map_err(|_| {
        EncodeError(format!(
            "{what} of {} bytes (a binary frame allows 255)",
            s.len()
        ))
    })
}

/// `[join_ref, ref, topic, event, payload]` (V2) or the V1 object, with
/// the payload written as it is.
fn json_frame(
    vsn: Vsn,
    join_ref: Option<&str>,
    reference: Option<&str>,
    topic: &str,
    event: &str,
    write_payload: impl FnOnce(&mut Vec<u8>),
) -> Frame {
    let mut out = Vec::with_capacity(64 + topic.len() + event.len());
    match vsn {
        Vsn::V2 => {
            out.push(b'[');
            json_str(&mut out, join_ref);
            out.push(b',');
            json_str(&mut out, reference);
            out.push(b',');
            json_str(&mut out, Some(topic));
            out.push(b',');
            json_str(&mut out, Some(event));
            out.push(b',');
            write_payload(&mut out);
            out.push(b']');
        }
        Vsn::V1 => {
            // Keys in Jason's order for a small map: sorted.
            out.extend_from_slice(b"{\"event\":");
            json_str(&mut out, Some(event));
            out.extend_from_slice(b",\"payload\":");
            write_payload(&mut out);
            out.extend_from_slice(b",\"ref\":");
            json_str(&mut out, reference);
            out.extend_from_slice(b",\"topic\":");
            json_str(&mut out, Some(topic));
            out.push(b'}');
        }
    }
    Frame::Text(Bytes::from(out))
}

/// A server push or broadcast: `[join_ref, null, topic, event, payload]`;
/// a broadcast has no join_ref. Binary: kind 0 (push) or 2 (broadcast).
pub fn encode_push(
    vsn: Vsn,
    join_ref: Option<&str>,
    topic: &str,
    event: &str,
    payload: &Payload,
) -> Result<Frame, EncodeError> {
    match payload {
        Payload::Json(v) => Ok(json_frame(vsn, join_ref, None, topic, event, |out| {
            let _ = serde_json::to_writer(&mut *out, v);
        })),
        Payload::Binary(data) => {
            if vsn == Vsn::V1 {
                return Err(EncodeError(
                    "a binary payload on a V1 (vsn 1.0.0) socket".into(),
                ));
            }
            let mut out = Vec::with_capacity(8 + topic.len() + event.len() + data.len());
            match join_ref {
                Some(jr) => {
                    out.extend_from_slice(&[
                        0,
                        field_len(jr, "join_ref")?,
                        field_len(topic, "topic")?,
                        field_len(event, "event")?,
                    ]);
                    out.extend_from_slice(jr.as_bytes());
                }
                None => out.extend_from_slice(&[
                    2,
                    field_len(topic, "topic")?,
                    field_len(event, "event")?,
                ]),
            }
            out.extend_from_slice(topic.as_bytes());
            out.extend_from_slice(event.as_bytes());
            out.extend_from_slice(data);
            Ok(Frame::Binary(Bytes::from(out)))
        }
    }
}

/// A reply: `phx_reply` with `{"response": …, "status": …}` (response
/// first, as Phoenix sends it); binary: kind 1.
pub fn encode_reply(
    vsn: Vsn,
    join_ref: Option<&str>,
    reference: Option<&str>,
    topic: &str,
    status: &str,
    response: &Payload,
) -> Result<Frame, EncodeError> {
    match response {
        Payload::Json(v) => Ok(json_frame(
            vsn,
            join_ref,
            reference,
            topic,
            "phx_reply",
            |out| {
                out.extend_from_slice(b"{\"response\":");
                let _ = serde_json::to_writer(&mut *out, v);
                out.extend_from_slice(b",\"status\":");
                json_str(out, Some(status));
                out.push(b'}');
            },
        )),
        Payload::Binary(data) => {
            if vsn == Vsn::V1 {
                return Err(EncodeError(
                    "a binary reply on a V1 (vsn 1.0.0) socket".into(),
                ));
            }
            let jr = join_ref.unwrap_or("");
            let rf = reference.unwrap_or("");
            let mut out = Vec::with_capacity(8 + jr.len() + rf.len() + topic.len() + data.len());
            out.extend_from_slice(&[
                1,
                field_len(jr, "join_ref")?,
                field_len(rf, "ref")?,
                field_len(topic, "topic")?,
                field_len(status, "status")?,
            ]);
            for f in [jr, rf, topic, status] {
                out.extend_from_slice(f.as_bytes());
            }
            out.extend_from_slice(data);
            Ok(Frame::Binary(Bytes::from(out)))
        }
    }
}

/// A control message of the server, `phx_close` or `phx_error`:
/// `[join_ref, join_ref, topic, event, {}]`.
pub fn encode_control(vsn: Vsn, join_ref: Option<&str>, topic: &str, event: &str) -> Frame {
    json_frame(vsn, join_ref, join_ref, topic, event, |out| {
        out.extend_from_slice(b"{}")
    })
}

/// Writes a client message (for tests and tools: what the JS client
/// sends).
pub fn encode_client(vsn: Vsn, m: &Message) -> Result<Frame, EncodeError> {
    match &m.payload {
        Payload::Json(v) => {
            let mut f = json_frame(
                vsn,
                m.join_ref.as_deref(),
                m.reference.as_deref(),
                &m.topic,
                &m.event,
                |out| {
                    let _ = serde_json::to_writer(&mut *out, v);
                },
            );
            if vsn == Vsn::V1 {
                if let (Some(jr), Frame::Text(b)) = (&m.join_ref, &f) {
                    let mut out = b"{\"join_ref\":".to_vec();
                    let _ = write!(out, "{}", Value::String(jr.clone()));
                    out.push(b',');
                    out.extend_from_slice(&b[1..]);
                    f = Frame::Text(Bytes::from(out));
                }
            }
            Ok(f)
        }
        Payload::Binary(data) => {
            let jr = m.join_ref.as_deref().unwrap_or("");
            let rf = m.reference.as_deref().unwrap_or("");
            let mut out = vec![
                0,
                field_len(jr, "join_ref")?,
                field_len(rf, "ref")?,
                field_len(&m.topic, "topic")?,
                field_len(&m.event, "event")?,
            ];
            for f in [jr, rf, &m.topic, &m.event] {
                out.extend_from_slice(f.as_bytes());
            }
            out.extend_from_slice(data);
            Ok(Frame::Binary(Bytes::from(out)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: &Frame) -> &str {
        match f {
            Frame::Text(b) => std::str::from_utf8(b).expect("utf8"),
            Frame::Binary(_) => panic!("binary"),
        }
    }

    #[test]
    fn vsn_is_negotiated_as_phoenix_matches_it() {
        assert_eq!(Vsn::negotiate(None), Some(Vsn::V1));
        assert_eq!(Vsn::negotiate(Some("2.0.0")), Some(Vsn::V2));
        assert_eq!(Vsn::negotiate(Some("2.0.7")), Some(Vsn::V2));
        assert_eq!(Vsn::negotiate(Some("1.0.0")), Some(Vsn::V1));
        for bad in ["3.0.0", "2.1.0", "2.0", "2", "", "2.0.x", "x.0.0"] {
            assert_eq!(Vsn::negotiate(Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn v2_reply_has_response_before_status() {
        let f = encode_reply(
            Vsn::V2,
            Some("5"),
            Some("5"),
            "room:lobby",
            "ok",
            &Payload::empty(),
        )
        .expect("encode");
        assert_eq!(
            text(&f),
            r#"["5","5","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#
        );
        let f = encode_reply(
            Vsn::V2,
            None,
            Some("17"),
            "nomatch:topic",
            "error",
            &Payload::json(serde_json::json!({"reason": "unmatched topic"})),
        )
        .expect("encode");
        assert_eq!(
            text(&f),
            r#"[null,"17","nomatch:topic","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]"#
        );
    }

    #[test]
    fn v1_frames_are_sorted_objects() {
        let f = encode_push(
            Vsn::V1,
            None,
            "room:1",
            "shout",
            &Payload::json(serde_json::json!({"a": 1})),
        )
        .expect("encode");
        assert_eq!(
            text(&f),
            r#"{"event":"shout","payload":{"a":1},"ref":null,"topic":"room:1"}"#
        );
        let m = decode(
            Vsn::V1,
            &Frame::Text(Bytes::from_static(
                br#"{"topic":"t","event":"e","payload":{},"ref":"1","join_ref":"1"}"#,
            )),
        )
        .expect("decode");
        assert_eq!(m.join_ref.as_deref(), Some("1"));
        assert_eq!(m.topic, "t");
    }

    #[test]
    fn binary_round_trip_and_layouts() {
        let m = Message {
            join_ref: Some("3".into()),
            reference: Some("4".into()),
            topic: "room:x".into(),
            event: "ping".into(),
            payload: Payload::Binary(Bytes::from_static(&[1, 2, 255])),
        };
        let f = encode_client(Vsn::V2, &m).expect("encode");
        assert_eq!(decode(Vsn::V2, &f).expect("decode"), m);
        let Frame::Binary(r) = encode_reply(
            Vsn::V2,
            Some("3"),
            Some("4"),
            "t",
            "ok",
            &Payload::Binary(Bytes::from_static(b"zz")),
        )
        .expect("reply") else {
            panic!("binary")
        };
        assert_eq!(&r[..], b"\x01\x01\x01\x01\x0234tokzz");
        let Frame::Binary(b) = encode_push(
            Vsn::V2,
            None,
            "t",
            "e",
            &Payload::Binary(Bytes::from_static(b"d")),
        )
        .expect("push") else {
            panic!("binary")
        };
        assert_eq!(&b[..], b"\x02\x01\x01ted");
    }

    #[test]
    fn bad_frames_are_errors() {
        for raw in [
            &b""[..],
            b"\x00",
            b"\x01\x00\x00\x00\x00",
            b"\x00\x05\x00\x00\x00ab",
        ] {
            assert!(decode(Vsn::V2, &Frame::Binary(Bytes::copy_from_slice(raw))).is_err());
        }
        for raw in [
            "",
            "nope",
            "[1,2]",
            "{}",
            r#"[null,null,1,"e",{}]"#,
            r#"[{},null,"t","e",{}]"#,
        ] {
            assert!(
                decode(
                    Vsn::V2,
                    &Frame::Text(Bytes::copy_from_slice(raw.as_bytes()))
                )
                .is_err(),
                "{raw}"
            );
        }
        assert!(encode_push(Vsn::V1, None, "t", "e", &Payload::Binary(Bytes::new())).is_err());
        let long = "x".repeat(256);
        assert!(encode_push(Vsn::V2, None, &long, "e", &Payload::Binary(Bytes::new())).is_err());
    }
}
