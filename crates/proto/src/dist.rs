//! Connection frames after the handshake, and the control messages they
//! carry. Answers to `dist.c` and `erl_dist_protocol` ("Protocol between
//! connected nodes").
//!
//! nodus negotiates neither `DIST_HDR_ATOM_CACHE` nor `FRAGMENTS` (see
//! [`crate::flags::NODUS_DEFAULT`]), so every frame both ways is
//! pass-through: `Len:32, 112, 131 Control, [131 Payload]`; `Len = 0` is a
//! tick.

use nodus_term::etf::{self, AtomEncoding, DecodeError, Decoder, Limits};
use nodus_term::{Atom, Pid, Term};

/// The byte that opens a pass-through frame.
pub const PASS_THROUGH: u8 = 112;

/// Default largest frame accepted (64 MiB); see [`FrameReader::new`].
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024 * 1024;

/// A frame that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DistError {
    /// A frame over the size limit.
    #[error("frame of {size} bytes is over the limit of {limit}")]
    TooLarge {
        /// The frame's claimed size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A frame that does not start with 112 (pass-through).
    #[error("frame starts with {0}, not 112 (nodus negotiates pass-through framing only)")]
    NotPassThrough(u8),
    /// A term that does not decode.
    #[error("bad term in frame: {0}")]
    Term(#[from] DecodeError),
    /// A control message that is not a known tuple.
    #[error("bad control message: {0}")]
    BadControl(String),
    /// A control message that needs a payload and has none, or the reverse.
    #[error("control message {0} {1}")]
    Payload(u8, &'static str),
}

/// A control message (the first term of a frame). Field names are those
/// of the protocol guide's tuples (`FromPid` is `from`, `ToPid` or
/// `ToProc` is `to`, `Ref` is `reference`).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// `{1, From, To}`.
    Link { from: Pid, to: Pid },
    /// `{2, '', To}` + message.
    Send { to: Pid },
    /// `{3, From, To, Reason}`.
    Exit { from: Pid, to: Pid, reason: Term },
    /// `{4, From, To}` (the old unlink).
    Unlink { from: Pid, to: Pid },
    /// `{6, From, '', ToName}` + message.
    RegSend { from: Pid, to: Atom },
    /// `{7, From, To}`.
    GroupLeader { from: Pid, to: Pid },
    /// `{8, From, To, Reason}`.
    Exit2 { from: Pid, to: Pid, reason: Term },
    /// `{19, From, ToProc, Ref}`: monitor a pid or a registered name.
    MonitorP {
        from: Pid,
        to: Term,
        reference: Term,
    },
    /// `{20, From, ToProc, Ref}`.
    DemonitorP {
        from: Pid,
        to: Term,
        reference: Term,
    },
    /// `{21, FromProc, To, Ref, Reason}`.
    MonitorPExit {
        from: Term,
        to: Pid,
        reference: Term,
        reason: Term,
    },
    /// `{22, From, To}` + message.
    SendSender { from: Pid, to: Pid },
    /// `{24, From, To}` + reason.
    PayloadExit { from: Pid, to: Pid },
    /// `{26, From, To}` + reason.
    PayloadExit2 { from: Pid, to: Pid },
    /// `{28, FromProc, To, Ref}` + reason.
    PayloadMonitorPExit {
        from: Term,
        to: Pid,
        reference: Term,
    },
    /// `{29, ReqId, From, GroupLeader, {M, F, A}, Opts}` + argument list.
    SpawnRequest {
        req_id: Term,
        from: Pid,
        group_leader: Term,
        module: Atom,
        function: Atom,
        arity: u8,
        opts: Term,
    },
    /// `{31, ReqId, To, Flags, Result}`.
    SpawnReply {
        req_id: Term,
        to: Pid,
        flags: i64,
        result: Term,
    },
    /// `{33, From, Alias}` + message.
    AliasSend { from: Pid, alias: Term },
    /// `{35, Id, From, To}`.
    UnlinkId { id: Term, from: Pid, to: Pid },
    /// `{36, Id, From, To}`.
    UnlinkIdAck { id: Term, from: Pid, to: Pid },
    /// Any other control tuple, kept for logging.
    Other(Term),
}

fn pid(t: &Term) -> Option<Pid> {
    match t {
        Term::Pid(p) => Some(p.clone()),
        _ => None,
    }
}

fn atom(t: &Term) -> Option<Atom> {
    match t {
        Term::Atom(a) => Some(a.clone()),
        _ => None,
    }
}

impl Control {
    /// Reads a control tuple. The `_TT` variants (trace tokens) map to
    /// their plain forms.
    pub fn from_term(t: Term) -> Result<Control, DistError> {
        let bad = |t: &Term| DistError::BadControl(t.to_string());
        let Term::Tuple(v) = &t else {
            return Err(bad(&t));
        };
        let Some(op) = v.first().and_then(Term::as_i64) else {
            return Err(bad(&t));
        };
        let p = |i: usize| v.get(i).and_then(pid);
        let g = |i: usize| v.get(i).cloned();
        let c = match (op, v.len()) {
            (1, 3) => p(1).zip(p(2)).map(|(from, to)| Control::Link { from, to }),
            (2, 3) | (12, 4) => p(2).map(|to| Control::Send { to }),
            (3, 4) => p(1)
                .zip(p(2))
                .zip(g(3))
                .map(|((from, to), reason)| Control::Exit { from, to, reason }),
            (13, 5) => p(1)
                .zip(p(2))
                .zip(g(4))
                .map(|((from, to), reason)| Control::Exit { from, to, reason }),
            (4, 3) => p(1)
                .zip(p(2))
                .map(|(from, to)| Control::Unlink { from, to }),
            (6, 4) | (16, 5) => p(1)
                .zip(v.get(3).and_then(atom))
                .map(|(from, to)| Control::RegSend { from, to }),
            (7, 3) => p(1)
                .zip(p(2))
                .map(|(from, to)| Control::GroupLeader { from, to }),
            (8, 4) => p(1)
                .zip(p(2))
                .zip(g(3))
                .map(|((from, to), reason)| Control::Exit2 { from, to, reason }),
            (18, 5) => p(1)
                .zip(p(2))
                .zip(g(4))
                .map(|((from, to), reason)| Control::Exit2 { from, to, reason }),
            (19, 4) => p(1)
                .zip(g(2))
                .zip(g(3))
                .map(|((from, to), reference)| Control::MonitorP {
                    from,
                    to,
                    reference,
                }),
            (20, 4) => {
                p(1).zip(g(2))
                    .zip(g(3))
                    .map(|((from, to), reference)| Control::DemonitorP {
                        from,
                        to,
                        reference,
                    })
            }
            (21, 5) => {
                g(1).zip(p(2))
                    .zip(g(3))
                    .zip(g(4))
                    .map(|(((from, to), reference), reason)| Control::MonitorPExit {
                        from,
                        to,
                        reference,
                        reason,
                    })
            }
            (22, 3) | (23, 4) => p(1)
                .zip(p(2))
                .map(|(from, to)| Control::SendSender { from, to }),
            (24, 3) | (25, 4) => p(1)
                .zip(p(2))
                .map(|(from, to)| Control::PayloadExit { from, to }),
            (26, 3) | (27, 4) => p(1)
                .zip(p(2))
                .map(|(from, to)| Control::PayloadExit2 { from, to }),
            (28, 4) => g(1).zip(p(2)).zip(g(3)).map(|((from, to), reference)| {
                Control::PayloadMonitorPExit {
                    from,
                    to,
                    reference,
                }
            }),
            (29, 6) | (30, 7) => {
                let mfa = v[4].as_tuple().filter(|m| m.len() == 3);
                match (g(1), p(2), g(3), mfa, g(5)) {
                    (Some(req_id), Some(from), Some(group_leader), Some(m), Some(opts)) => {
                        match (
                            atom(&m[0]),
                            atom(&m[1]),
                            m[2].as_i64().and_then(|a| u8::try_from(a).ok()),
                        ) {
                            (Some(module), Some(function), Some(arity)) => {
                                Some(Control::SpawnRequest {
                                    req_id,
                                    from,
                                    group_leader,
                                    module,
                                    function,
                                    arity,
                                    opts,
                                })
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                }
            }
            (31, 5) | (32, 6) => match (g(1), p(2), v[3].as_i64(), g(4)) {
                (Some(req_id), Some(to), Some(flags), Some(result)) => Some(Control::SpawnReply {
                    req_id,
                    to,
                    flags,
                    result,
                }),
                _ => None,
            },
            (33, 3) | (34, 4) => p(1)
                .zip(g(2))
                .map(|(from, alias)| Control::AliasSend { from, alias }),
            (35, 4) => g(1)
                .zip(p(2))
                .zip(p(3))
                .map(|((id, from), to)| Control::UnlinkId { id, from, to }),
            (36, 4) => g(1)
                .zip(p(2))
                .zip(p(3))
                .map(|((id, from), to)| Control::UnlinkIdAck { id, from, to }),
            // A known operation with the wrong shape is an error; an
            // unknown one is kept for the caller to log and ignore.
            (1..=36, _) => None,
            _ => Some(Control::Other(t.clone())),
        };
        c.ok_or_else(|| bad(&t))
    }

    /// The control tuple.
    pub fn to_term(&self) -> Term {
        let i = Term::Int;
        let p = |p: &Pid| Term::from(p.clone());
        let empty = || Term::Atom(Atom::new(""));
        Term::tuple(match self {
            Control::Link { from, to } => vec![i(1), p(from), p(to)],
            Control::Send { to } => vec![i(2), empty(), p(to)],
            Control::Exit { from, to, reason } => vec![i(3), p(from), p(to), reason.clone()],
            Control::Unlink { from, to } => vec![i(4), p(from), p(to)],
            Control::RegSend { from, to } => vec![i(6), p(from), empty(), Term::Atom(to.clone())],
            Control::GroupLeader { from, to } => vec![i(7), p(from), p(to)],
            Control::Exit2 { from, to, reason } => vec![i(8), p(from), p(to), reason.clone()],
            Control::MonitorP {
                from,
                to,
                reference,
            } => vec![i(19), p(from), to.clone(), reference.clone()],
            Control::DemonitorP {
                from,
                to,
                reference,
            } => vec![i(20), p(from), to.clone(), reference.clone()],
            Control::MonitorPExit {
                from,
                to,
                reference,
                reason,
            } => vec![
                i(21),
                from.clone(),
                p(to),
                reference.clone(),
                reason.clone(),
            ],
            Control::SendSender { from, to } => vec![i(22), p(from), p(to)],
            Control::PayloadExit { from, to } => vec![i(24), p(from), p(to)],
            Control::PayloadExit2 { from, to } => vec![i(26), p(from), p(to)],
            Control::PayloadMonitorPExit {
                from,
                to,
                reference,
            } => vec![i(28), from.clone(), p(to), reference.clone()],
            Control::SpawnRequest {
                req_id,
                from,
                group_leader,
                module,
                function,
                arity,
                opts,
            } => vec![
                i(29),
                req_id.clone(),
                p(from),
                group_leader.clone(),
                Term::tuple(vec![
                    Term::Atom(module.clone()),
                    Term::Atom(function.clone()),
                    i(i64::from(*arity)),
                ]),
                opts.clone(),
            ],
            Control::SpawnReply {
                req_id,
                to,
                flags,
                result,
            } => vec![i(31), req_id.clone(), p(to), i(*flags), result.clone()],
            Control::AliasSend { from, alias } => vec![i(33), p(from), alias.clone()],
            Control::UnlinkId { id, from, to } => vec![i(35), id.clone(), p(from), p(to)],
            Control::UnlinkIdAck { id, from, to } => vec![i(36), id.clone(), p(from), p(to)],
            Control::Other(t) => return t.clone(),
        })
    }

    /// True when a payload term follows this control message.
    pub fn has_payload(&self) -> bool {
        matches!(
            self,
            Control::Send { .. }
                | Control::RegSend { .. }
                | Control::SendSender { .. }
                | Control::PayloadExit { .. }
                | Control::PayloadExit2 { .. }
                | Control::PayloadMonitorPExit { .. }
                | Control::SpawnRequest { .. }
                | Control::AliasSend { .. }
        )
    }
}

/// Appends one pass-through frame (with its 4-byte length) to `out`.
pub fn encode_frame(
    out: &mut Vec<u8>,
    control: &Control,
    payload: Option<&Term>,
) -> Result<(), etf::EncodeError> {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0, PASS_THROUGH, 131]);
    etf::encode_term_into(&control.to_term(), AtomEncoding::Utf8, out)?;
    if let Some(p) = payload {
        out.push(131);
        etf::encode_term_into(p, AtomEncoding::Utf8, out)?;
    }
    let len = u32::try_from(out.len() - start - 4).map_err(|_| etf::EncodeError::TooLong {
        what: "frame",
        len: out.len(),
    })?;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The control message.
    pub control: Control,
    /// The payload, for messages that carry one.
    pub payload: Option<Term>,
}

/// Decodes one frame body held in shared memory: binaries in the message
/// point into `body` instead of being copied.
pub fn decode_frame_bytes(body: &bytes::Bytes, limits: Limits) -> Result<Frame, DistError> {
    decode_frame_inner(body, Some(body), limits)
}

/// Decodes one frame body (after the length).
pub fn decode_frame(body: &[u8], limits: Limits) -> Result<Frame, DistError> {
    decode_frame_inner(body, None, limits)
}

fn decode_frame_inner(
    body: &[u8],
    shared: Option<&bytes::Bytes>,
    limits: Limits,
) -> Result<Frame, DistError> {
    match body.first() {
        Some(&PASS_THROUGH) => {}
        Some(&b) => return Err(DistError::NotPassThrough(b)),
        None => return Err(DistError::BadControl("empty frame".into())),
    }
    let mut d = Decoder::new(&body[1..])
        .with_limits(limits)
        .with_base_offset(1);
    let control = Control::from_term(d.decode_versioned()?)?;
    let at = 1 + d.position();
    let payload = if at < body.len() {
        let d = Decoder::new(&body[at..])
            .with_limits(limits)
            .with_base_offset(at);
        Some(match shared {
            Some(b) => d.with_source(&b.slice(at..)).decode_full()?,
            None => d.decode_full()?,
        })
    } else {
        None
    };
    let op = control
        .to_term()
        .as_tuple()
        .and_then(|t| t.first())
        .and_then(Term::as_i64)
        .unwrap_or(0) as u8;
    match (control.has_payload(), payload.is_some()) {
        (true, false) => Err(DistError::Payload(op, "lacks its payload")),
        (false, true) if !matches!(control, Control::Other(_)) => {
            Err(DistError::Payload(op, "has an unexpected payload"))
        }
        _ => Ok(Frame { control, payload }),
    }
}

/// The buffer a [`FrameReader`] starts with (and goes back to when
/// idle): a connection that carries small messages never needs more, and
/// a node with a hundred connections keeps under a megabyte in them.
pub const FRESH: usize = 8 * 1024;

/// Splits received bytes into frames of at most a maximum size; ticks
/// (empty frames) come out as `None`. Frame bodies are handed out without
/// copying.
#[derive(Debug)]
pub struct FrameReader {
    buf: bytes::BytesMut,
    max: usize,
}

impl FrameReader {
    /// A reader that refuses frames over `max` bytes.
    pub fn new(max: usize) -> FrameReader {
        FrameReader {
            buf: bytes::BytesMut::with_capacity(FRESH),
            max,
        }
    }

    /// Adds received bytes.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Gives a buffer that grew past `max` bytes back when it holds
    /// nothing (for a fresh one of [`FRESH`] bytes), so an idle connection keeps a
    /// small one.
    pub fn shrink(&mut self, max: usize) {
        if self.buf.is_empty() && self.buf.capacity() > max {
            self.buf = bytes::BytesMut::with_capacity(FRESH);
        }
    }

    /// Bytes received that do not make a whole frame yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The buffer to read into directly (bytes appended to it count as
    /// received):
    /// at least `min` bytes of spare room.
    pub fn spare(&mut self, min: usize) -> &mut bytes::BytesMut {
        self.buf.reserve(min);
        &mut self.buf
    }

    /// The next complete frame body: `Ok(Some(None))` for a tick,
    /// `Ok(None)` while incomplete.
    #[allow(clippy::option_option)]
    pub fn next_frame(&mut self) -> Result<Option<Option<bytes::Bytes>>, DistError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len > self.max {
            return Err(DistError::TooLarge {
                size: len,
                limit: self.max,
            });
        }
        if self.buf.len() < 4 + len {
            // Room for the whole frame at once.
            self.buf.reserve(4 + len - self.buf.len());
            return Ok(None);
        }
        let mut frame = self.buf.split_to(4 + len);
        let body = frame.split_off(4).freeze();
        Ok(Some(if len == 0 { None } else { Some(body) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nodus_term::Reference;

    fn me() -> Pid {
        Pid {
            node: Atom::new("rust@localhost"),
            id: 1,
            serial: 0,
            creation: 0x1234_5678,
        }
    }

    #[test]
    fn is_auth_reg_send_matches_the_known_vector() {
        let r = Term::from(Reference {
            node: Atom::new("rust@localhost"),
            creation: 0x1234_5678,
            ids: vec![1, 2, 3],
        });
        let msg = Term::tuple(vec![
            Term::atom("$gen_call"),
            Term::tuple(vec![
                Term::from(me()),
                Term::improper_list(vec![Term::atom("alias")], r),
            ]),
            Term::tuple(vec![Term::atom("is_auth"), Term::atom("rust@localhost")]),
        ]);
        let mut out = Vec::new();
        encode_frame(
            &mut out,
            &Control::RegSend {
                from: me(),
                to: Atom::new("net_kernel"),
            },
            Some(&msg),
        )
        .unwrap();
        assert_eq!(
            &out[..18],
            &[
                0, 0, 0, 0xa8, 0x70, 0x83, 0x68, 0x04, 0x61, 0x06, 0x58, 0x77, 0x0e, b'r', b'u',
                b's', b't', b'@'
            ]
        );
        let mut rd = FrameReader::new(DEFAULT_MAX_FRAME);
        rd.extend(&out);
        rd.extend(&[0, 0, 0, 0]);
        let body = rd.next_frame().unwrap().unwrap().unwrap();
        let f = decode_frame_bytes(&body, Limits::DEFAULT).unwrap();
        assert_eq!(
            f.control,
            Control::RegSend {
                from: me(),
                to: Atom::new("net_kernel")
            }
        );
        assert_eq!(f.payload, Some(msg));
        assert_eq!(rd.next_frame().unwrap(), Some(None), "a tick");
        assert_eq!(rd.next_frame().unwrap(), None);
    }

    #[test]
    fn every_control_message_round_trips() {
        let r = Term::atom("ref");
        let all = vec![
            Control::Link {
                from: me(),
                to: me(),
            },
            Control::Exit {
                from: me(),
                to: me(),
                reason: Term::atom("kill"),
            },
            Control::MonitorP {
                from: me(),
                to: Term::atom("net_kernel"),
                reference: r.clone(),
            },
            Control::MonitorPExit {
                from: Term::atom("x"),
                to: me(),
                reference: r.clone(),
                reason: Term::atom("noproc"),
            },
            Control::UnlinkId {
                id: Term::Int(5),
                from: me(),
                to: me(),
            },
            Control::SpawnReply {
                req_id: r.clone(),
                to: me(),
                flags: 0,
                result: Term::from(me()),
            },
        ];
        for c in all {
            assert_eq!(Control::from_term(c.to_term()).unwrap(), c);
            let mut out = Vec::new();
            encode_frame(&mut out, &c, None).unwrap();
            assert_eq!(decode_frame(&out[4..], Limits::DEFAULT).unwrap().control, c);
        }
    }

    #[test]
    fn bad_frames_are_errors() {
        let mut rd = FrameReader::new(100);
        rd.extend(&[0, 0, 1, 0]);
        assert_eq!(
            rd.next_frame(),
            Err(DistError::TooLarge {
                size: 256,
                limit: 100
            })
        );
        assert_eq!(
            decode_frame(&[68], Limits::DEFAULT),
            Err(DistError::NotPassThrough(68))
        );
        let mut send = Vec::new();
        encode_frame(&mut send, &Control::Send { to: me() }, None).unwrap();
        assert_eq!(
            decode_frame(&send[4..], Limits::DEFAULT),
            Err(DistError::Payload(2, "lacks its payload"))
        );
        assert!(
            decode_frame(&[112, 131, 104, 1, 97, 2], Limits::DEFAULT).is_err(),
            "{{2}} is malformed"
        );
        let other = decode_frame(&[112, 131, 104, 1, 97, 99], Limits::DEFAULT).unwrap();
        assert!(
            matches!(other.control, Control::Other(_)),
            "unknown ops are kept"
        );
        assert!(
            decode_frame(&[112, 131, 106], Limits::DEFAULT).is_err(),
            "not a tuple"
        );
        assert!(
            decode_frame(&[112, 131, 104], Limits::DEFAULT).is_err(),
            "truncated"
        );
    }
}
