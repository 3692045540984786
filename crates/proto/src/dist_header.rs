//! The normal distribution header (`131, 68`) with its atom cache, and
//! fragmented messages (`131, 69` / `131, 70`), both directions. Answers
//! to `erts_decode_dist_ext` / `erts_dist_ext_*` in `external.c` and the
//! fragment handling of `dist.c`.
//!
//! Used when `DIST_HDR_ATOM_CACHE` or `FRAGMENTS` was negotiated. nodus
//! reads the atom cache a peer maintains (2,048 entries per connection and
//! direction) but never asks the peer to cache atoms itself: it sends
//! `131, 68, 0` headers, and splits messages larger than
//! [`FRAGMENT_SIZE`] into fragments when `FRAGMENTS` was negotiated.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use nodus_term::etf::{self, AtomEncoding, Decoder, Limits};
use nodus_term::{Atom, Term};

use crate::dist::{Control, DistError, Frame, PASS_THROUGH};

/// Entries in a connection's atom cache (8 segments of 256).
pub const CACHE_SIZE: usize = 2048;

/// Payload bytes per fragment when sending (BEAM uses 64 KiB too).
pub const FRAGMENT_SIZE: usize = 64 * 1024;

/// Most messages a peer may have half-sent at once.
pub const MAX_PARTIAL: usize = 1024;

/// Most bytes reserved up front for a fragmented message (and the
/// largest buffer kept for reuse).
const PREALLOC: usize = 4 << 20;

/// Buffers of reassembled messages kept for reuse.
const RECYCLE: usize = 4;

const HEADER: u8 = 68;
const FRAG_START: u8 = 69;
const FRAG_CONT: u8 = 70;

struct Partial {
    refs: Vec<Option<Atom>>,
    data: BytesMut,
    next: u64,
}

/// The receiving side of one connection: the peer's atom cache and its
/// messages in fragments.
pub struct Receiver {
    cache: Vec<Option<Atom>>,
    partial: HashMap<u64, Partial>,
    /// The buffers of the last reassembled messages, reused for the next
    /// ones once nothing else holds them.
    recycle: Vec<Bytes>,
    max_message: usize,
    limits: Limits,
}

fn bad(msg: impl Into<String>) -> DistError {
    DistError::BadControl(msg.into())
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DistError> {
        if self.b.len() - self.at < n {
            return Err(bad("distribution header truncated"));
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DistError> {
        Ok(self.take(1)?[0])
    }
    fn u64(&mut self) -> Result<u64, DistError> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_be_bytes(a))
    }
}

impl Receiver {
    /// A receiver that refuses messages over `max_message` bytes.
    pub fn new(max_message: usize, limits: Limits) -> Receiver {
        Receiver {
            cache: vec![None; CACHE_SIZE],
            partial: HashMap::new(),
            recycle: Vec::new(),
            max_message,
            limits,
        }
    }

    /// An empty buffer of at least `len` bytes: one of the last
    /// reassembled messages' once the message is gone, else a new one.
    fn buffer(&mut self, len: usize) -> BytesMut {
        let free = self.recycle.iter().position(Bytes::is_unique);
        if let Some(i) = free {
            if let Ok(mut m) = self.recycle.swap_remove(i).try_into_mut() {
                if m.capacity() >= len {
                    m.clear();
                    return m;
                }
            }
        }
        BytesMut::with_capacity(len)
    }

    /// Lets go of the buffers kept for reuse (when traffic turns light).
    pub fn release_buffers(&mut self) {
        self.recycle.clear();
    }

    /// True while a fragmented message is partly received.
    pub fn has_partial(&self) -> bool {
        !self.partial.is_empty()
    }

    /// Handles one frame body: a whole message, or `None` while a
    /// fragmented one is incomplete.
    pub fn frame(&mut self, body: &Bytes) -> Result<Option<Frame>, DistError> {
        match (body.first(), body.get(1)) {
            (Some(&PASS_THROUGH), _) => {
                crate::dist::decode_frame_bytes(body, self.limits).map(Some)
            }
            (Some(131), Some(&HEADER)) => {
                let mut c = Cursor { b: body, at: 2 };
                let refs = self.header(&mut c)?;
                self.decode(&refs, &body.slice(c.at..)).map(Some)
            }
            (Some(131), Some(&FRAG_START)) => {
                let mut c = Cursor { b: body, at: 2 };
                let seq = c.u64()?;
                let frag = c.u64()?;
                let refs = self.header(&mut c)?;
                if frag == 0 {
                    return Err(bad("fragment id 0"));
                }
                let rest = body.slice(c.at..);
                if frag == 1 {
                    return self.decode(&refs, &rest).map(Some);
                }
                if self.partial.len() >= MAX_PARTIAL && !self.partial.contains_key(&seq) {
                    return Err(bad("too many fragmented messages at once"));
                }
                // Room for the whole message as announced (bounded: the
                // count comes from the peer).
                let want = rest
                    .len()
                    .saturating_mul(usize::try_from(frag).unwrap_or(usize::MAX));
                // Room for the whole message only for the one at a time
                // (the usual case), so that many half-sent messages cannot
                // make us reserve a lot.
                let room = if self.partial.is_empty() {
                    want.min(self.max_message).min(PREALLOC)
                } else {
                    rest.len() * 2
                };
                let mut data = self.buffer(room);
                data.extend_from_slice(&rest);
                self.partial.insert(
                    seq,
                    Partial {
                        refs,
                        data,
                        next: frag - 1,
                    },
                );
                Ok(None)
            }
            (Some(131), Some(&FRAG_CONT)) => {
                let mut c = Cursor { b: body, at: 2 };
                let seq = c.u64()?;
                let frag = c.u64()?;
                let Some(p) = self.partial.get_mut(&seq) else {
                    return Err(bad(format!("fragment of unknown sequence {seq}")));
                };
                if frag != p.next {
                    return Err(bad(format!(
                        "fragment {frag} of sequence {seq} out of order (expected {})",
                        p.next
                    )));
                }
                if p.data.len() + (body.len() - c.at) > self.max_message {
                    return Err(DistError::TooLarge {
                        size: p.data.len() + body.len(),
                        limit: self.max_message,
                    });
                }
                p.data.extend_from_slice(&body[c.at..]);
                p.next -= 1;
                if frag > 1 {
                    return Ok(None);
                }
                let done = self
                    .partial
                    .remove(&seq)
                    .ok_or_else(|| bad("lost sequence"))?;
                let data = done.data.freeze();
                if data.len() <= PREALLOC {
                    if self.recycle.len() == RECYCLE {
                        self.recycle.remove(0);
                    }
                    self.recycle.push(data.clone());
                }
                self.decode(&done.refs, &data).map(Some)
            }
            (Some(&b), _) => Err(DistError::NotPassThrough(b)),
            (None, _) => Err(bad("empty frame")),
        }
    }

    /// Reads the atom cache references of a header, updating the cache.
    fn header(&mut self, c: &mut Cursor<'_>) -> Result<Vec<Option<Atom>>, DistError> {
        let n = usize::from(c.u8()?);
        if n == 0 {
            return Ok(Vec::new());
        }
        let flags = c.take(n / 2 + 1)?;
        let nibble = |i: usize| {
            if i.is_multiple_of(2) {
                flags[i / 2] & 0x0F
            } else {
                flags[i / 2] >> 4
            }
        };
        let long = nibble(n) & 1 == 1;
        let mut refs = Vec::with_capacity(n);
        for i in 0..n {
            let f = nibble(i);
            let idx = usize::from(f & 7) * 256 + usize::from(c.u8()?);
            if f & 8 != 0 {
                let len = if long {
                    let b = c.take(2)?;
                    usize::from(u16::from_be_bytes([b[0], b[1]]))
                } else {
                    usize::from(c.u8()?)
                };
                let text = std::str::from_utf8(c.take(len)?)
                    .map_err(|_| bad("atom in cache is not UTF-8"))?;
                let a = Atom::try_new(text).map_err(|e| bad(e.to_string()))?;
                self.cache[idx] = Some(a);
            }
            match &self.cache[idx] {
                Some(a) => refs.push(Some(a.clone())),
                None => return Err(bad(format!("atom cache slot {idx} is empty"))),
            }
        }
        Ok(refs)
    }

    fn decode(&self, refs: &[Option<Atom>], data: &Bytes) -> Result<Frame, DistError> {
        let mut d = Decoder::new(data)
            .with_limits(self.limits)
            .with_atom_cache(refs)
            .with_source(data);
        let control = Control::from_term(d.decode_term()?)?;
        let at = d.position();
        let payload = if at < data.len() {
            let tail = data.slice(at..);
            let mut d = Decoder::new(&tail)
                .with_limits(self.limits)
                .with_atom_cache(refs)
                .with_source(&tail);
            let t = d.decode_term()?;
            if d.position() != tail.len() {
                return Err(bad("bytes after the payload"));
            }
            Some(t)
        } else {
            None
        };
        if control.has_payload() != payload.is_some() && !matches!(control, Control::Other(_)) {
            return Err(bad("payload missing or unexpected"));
        }
        Ok(Frame { control, payload })
    }
}

/// The sending side of one connection: how frames are laid out.
pub struct Sender {
    header: bool,
    fragments: bool,
    next_seq: u64,
}

impl Sender {
    /// Lays frames out for the negotiated `flags`.
    pub fn new(flags: u64) -> Sender {
        Sender {
            header: flags & (crate::flags::DIST_HDR_ATOM_CACHE | crate::flags::FRAGMENTS) != 0,
            fragments: flags & crate::flags::FRAGMENTS != 0,
            next_seq: 1,
        }
    }

    /// Appends the frame(s) of one message, each with its 4-byte length.
    pub fn encode(
        &mut self,
        out: &mut Vec<u8>,
        control: &Control,
        payload: Option<&Term>,
    ) -> Result<(), etf::EncodeError> {
        if !self.header {
            return crate::dist::encode_frame(out, control, payload);
        }
        self.frame_with(out, control, |out| match payload {
            Some(p) => etf::encode_term_into(p, AtomEncoding::Utf8, out),
            None => Ok(()),
        })
    }

    /// As [`Sender::encode`], with the payload already encoded (by
    /// `etf::encode_term_into`, without the version byte): a message sent
    /// to many nodes is encoded once.
    pub fn encode_encoded(
        &mut self,
        out: &mut Vec<u8>,
        control: &Control,
        payload: &[u8],
    ) -> Result<(), etf::EncodeError> {
        if !self.header {
            let start = out.len();
            crate::dist::encode_frame(out, control, None)?;
            out.push(131);
            out.extend_from_slice(payload);
            let len = frame_len(out.len() - start - 4)?;
            out[start..start + 4].copy_from_slice(&len);
            return Ok(());
        }
        self.frame_with(out, control, |out| {
            out.extend_from_slice(payload);
            Ok(())
        })
    }

    fn frame_with(
        &mut self,
        out: &mut Vec<u8>,
        control: &Control,
        payload: impl FnOnce(&mut Vec<u8>) -> Result<(), etf::EncodeError>,
    ) -> Result<(), etf::EncodeError> {
        // Encoded straight into `out` after room for a one-frame prefix
        // (length, 131, 68, no atom cache refs).
        let start = out.len();
        out.extend_from_slice(&[0, 0, 0, 0, 131, HEADER, 0]);
        let body_start = out.len();
        etf::encode_term_into(&control.to_term(), AtomEncoding::Utf8, out)?;
        let control_len = out.len() - body_start;
        payload(out)?;
        let body_len = out.len() - body_start;
        if !self.fragments || body_len <= FRAGMENT_SIZE + control_len {
            let len = frame_len(body_len + 3)?;
            out[start..start + 4].copy_from_slice(&len);
            return Ok(());
        }
        self.fragment_in_place(out, start, control_len);
        Ok(())
    }

    /// Turns the one frame at `out[start..]` into fragments, moving the
    /// body in place: the first fragment carries the control message and
    /// [`FRAGMENT_SIZE`] bytes of payload, each further one the next
    /// [`FRAGMENT_SIZE`] bytes.
    fn fragment_in_place(&mut self, out: &mut Vec<u8>, start: usize, control_len: usize) {
        const FIRST_HEAD: usize = 4 + 19; // length, 131, 69, seq, id, 0 refs
        const CONT_HEAD: usize = 4 + 18; // length, 131, 70, seq, id
        let body_start = start + 7;
        let body_len = out.len() - body_start;
        let seq = self.next_seq;
        self.next_seq += 1;
        let first_len = control_len + FRAGMENT_SIZE;
        let rest_len = body_len - first_len;
        let n_rest = rest_len.div_ceil(FRAGMENT_SIZE);
        let total = 1 + n_rest as u64;
        out.resize(
            start + FIRST_HEAD + first_len + n_rest * CONT_HEAD + rest_len,
            0,
        );
        // From the last fragment back: every destination lies above its
        // source, and above the sources still to move.
        let mut end = out.len();
        for i in (0..n_rest).rev() {
            let from = body_start + first_len + i * FRAGMENT_SIZE;
            let len = FRAGMENT_SIZE.min(rest_len - i * FRAGMENT_SIZE);
            let to = end - len;
            out.copy_within(from..from + len, to);
            let head = &mut out[to - CONT_HEAD..to];
            head[..4].copy_from_slice(&((18 + len) as u32).to_be_bytes());
            head[4..6].copy_from_slice(&[131, FRAG_CONT]);
            head[6..14].copy_from_slice(&seq.to_be_bytes());
            head[14..22].copy_from_slice(&(total - 1 - i as u64).to_be_bytes());
            end = to - CONT_HEAD;
        }
        out.copy_within(body_start..body_start + first_len, start + FIRST_HEAD);
        let head = &mut out[start..start + FIRST_HEAD];
        head[..4].copy_from_slice(&((19 + first_len) as u32).to_be_bytes());
        head[4..6].copy_from_slice(&[131, FRAG_START]);
        head[6..14].copy_from_slice(&seq.to_be_bytes());
        head[14..22].copy_from_slice(&total.to_be_bytes());
        head[22] = 0;
    }
}

/// A frame's 4-byte length, or an error past 4 GiB.
fn frame_len(len: usize) -> Result<[u8; 4], etf::EncodeError> {
    u32::try_from(len)
        .map(u32::to_be_bytes)
        .map_err(|_| etf::EncodeError::TooLong { what: "frame", len })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::FrameReader;
    use crate::flags;
    use nodus_term::Pid;

    fn me() -> Pid {
        Pid {
            node: Atom::new("a@h"),
            id: 1,
            serial: 0,
            creation: 1,
        }
    }

    #[test]
    fn a_pre_encoded_payload_makes_the_same_frames() {
        let payload = Term::tuple(vec![Term::atom("x"), Term::binary(vec![1u8; 200_000])]);
        let mut bytes = Vec::new();
        etf::encode_term_into(&payload, AtomEncoding::Utf8, &mut bytes).unwrap();
        let ctl = Control::Send { to: me() };
        for fl in [
            0,
            flags::DIST_HDR_ATOM_CACHE,
            flags::DIST_HDR_ATOM_CACHE | flags::FRAGMENTS,
        ] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            Sender::new(fl)
                .encode(&mut a, &ctl, Some(&payload))
                .unwrap();
            Sender::new(fl)
                .encode_encoded(&mut b, &ctl, &bytes)
                .unwrap();
            assert_eq!(a, b, "flags {fl:#x}");
        }
    }

    fn round_trip(fl: u64, payload: Term) {
        let mut s = Sender::new(fl);
        let mut out = Vec::new();
        let ctl = Control::RegSend {
            from: me(),
            to: Atom::new("sink"),
        };
        s.encode(&mut out, &ctl, Some(&payload)).unwrap();
        let mut rd = FrameReader::new(usize::MAX);
        rd.extend(&out);
        let mut r = Receiver::new(64 << 20, Limits::DEFAULT);
        let mut got = None;
        let mut frames = 0;
        while let Some(Some(body)) = rd.next_frame().unwrap() {
            frames += 1;
            if let Some(f) = r.frame(&body).unwrap() {
                got = Some(f);
            }
        }
        let f = got.expect("a whole message");
        assert_eq!(f.control, ctl);
        assert_eq!(f.payload, Some(payload.clone()));
        if fl & flags::FRAGMENTS != 0 && out.len() > 3 * FRAGMENT_SIZE {
            assert!(frames > 2, "fragmented into {frames} frames");
        }
    }

    #[test]
    fn headers_and_fragments_round_trip() {
        for fl in [
            0,
            flags::DIST_HDR_ATOM_CACHE,
            flags::FRAGMENTS,
            flags::FRAGMENTS | flags::DIST_HDR_ATOM_CACHE,
        ] {
            round_trip(fl, Term::atom("small"));
            round_trip(fl, Term::binary(vec![9u8; 1_000_000]));
            round_trip(fl, Term::binary(vec![9u8; FRAGMENT_SIZE]));
        }
    }

    /// The frames of one big message with a distinct byte pattern.
    fn big_message(s: &mut Sender, seed: u8) -> (Vec<u8>, Term) {
        let bytes: Vec<u8> = (0..3 * FRAGMENT_SIZE + 5)
            .map(|i| (i as u8).wrapping_mul(seed))
            .collect();
        let payload = Term::binary(bytes);
        let mut out = Vec::new();
        s.encode(&mut out, &Control::Send { to: me() }, Some(&payload))
            .unwrap();
        (out, payload)
    }

    fn receive_all(rd: &mut FrameReader, r: &mut Receiver, bytes: &[u8]) -> Vec<Term> {
        rd.extend(bytes);
        let mut got = Vec::new();
        while let Some(Some(body)) = rd.next_frame().unwrap() {
            if let Some(f) = r.frame(&body).unwrap() {
                got.extend(f.payload);
            }
        }
        got
    }

    #[test]
    fn a_reassembly_buffer_is_reused_only_once_its_message_is_gone() {
        let fl = flags::FRAGMENTS | flags::DIST_HDR_ATOM_CACHE;
        let mut s = Sender::new(fl);
        let mut rd = FrameReader::new(usize::MAX);
        let mut r = Receiver::new(64 << 20, Limits::DEFAULT);
        let (a, pa) = big_message(&mut s, 3);
        let (b, pb) = big_message(&mut s, 5);
        let (c, pc) = big_message(&mut s, 7);
        // The first message is still held while the second arrives: its
        // bytes must stay as they were.
        let first = receive_all(&mut rd, &mut r, &a);
        let second = receive_all(&mut rd, &mut r, &b);
        assert_eq!(first, vec![pa]);
        assert_eq!(second, vec![pb.clone()]);
        let at = |t: &Term| match t {
            Term::Binary(b) => b.as_ptr(),
            _ => std::ptr::null(),
        };
        let first_buffer = at(&first[0]);
        drop(first);
        // Now the first buffer is free and the third message lands in it.
        let third = receive_all(&mut rd, &mut r, &c);
        assert_eq!(third, vec![pc]);
        assert_eq!(second, vec![pb]);
        assert!(
            (at(&third[0]) as usize).abs_diff(first_buffer as usize) < 64,
            "the third message reuses the first one's buffer"
        );
    }

    #[test]
    fn fragments_at_every_boundary_round_trip_after_other_bytes() {
        // Sizes around whole fragments, each appended after a message
        // already in the buffer (fragmenting moves bytes in place).
        for k in 1..4 {
            for d in [-40i64, -20, -1, 0, 1, 20] {
                let n = (k * FRAGMENT_SIZE) as i64 + d;
                let bytes: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
                let fl = flags::FRAGMENTS | flags::DIST_HDR_ATOM_CACHE;
                let mut s = Sender::new(fl);
                let mut out = Vec::new();
                let ctl = Control::Send { to: me() };
                s.encode(&mut out, &ctl, Some(&Term::atom("before")))
                    .unwrap();
                let payload = Term::tuple(vec![Term::atom("x"), Term::binary(bytes)]);
                s.encode(&mut out, &ctl, Some(&payload)).unwrap();
                let mut rd = FrameReader::new(usize::MAX);
                rd.extend(&out);
                let mut r = Receiver::new(64 << 20, Limits::DEFAULT);
                let mut got = Vec::new();
                while let Some(Some(body)) = rd.next_frame().unwrap() {
                    if let Some(f) = r.frame(&body).unwrap() {
                        got.push(f.payload);
                    }
                }
                assert_eq!(
                    got,
                    vec![Some(Term::atom("before")), Some(payload)],
                    "{n} bytes"
                );
            }
        }
    }

    #[test]
    fn atom_cache_references_resolve_and_persist() {
        // {6, Pid, '', sink} with 'sink' and '' as cached atoms (new entries),
        // then a second message that only references them.
        let mut r = Receiver::new(1 << 20, Limits::DEFAULT);
        let mut body = vec![131, HEADER, 2, 0x88, 0];
        body.extend_from_slice(&[5, 4]);
        body.extend_from_slice(b"sink");
        body.extend_from_slice(&[6, 0]);
        let mut ctl = vec![104, 4, 97, 6];
        etf::encode_term_into(&Term::from(me()), AtomEncoding::Utf8, &mut ctl).unwrap();
        ctl.extend_from_slice(&[82, 1, 82, 0]);
        body.extend_from_slice(&ctl);
        body.extend_from_slice(&[97, 7]);
        let f = r.frame(&Bytes::from(body)).unwrap().unwrap();
        assert_eq!(
            f.control,
            Control::RegSend {
                from: me(),
                to: Atom::new("sink")
            }
        );
        assert_eq!(f.payload, Some(Term::Int(7)));
        let mut again = vec![131, HEADER, 2, 0, 0, 5, 6];
        again.extend_from_slice(&ctl);
        again.extend_from_slice(&[97, 8]);
        let f = r.frame(&Bytes::from(again)).unwrap().unwrap();
        assert_eq!(f.payload, Some(Term::Int(8)));
        // A reference to a slot never filled is an error, not a panic.
        let empty = Bytes::from(vec![131, HEADER, 1, 0, 200, 104, 1, 82, 0]);
        assert!(r.frame(&empty).is_err());
    }

    #[test]
    fn bad_fragments_are_errors() {
        let mut r = Receiver::new(1 << 20, Limits::DEFAULT);
        let mut cont = vec![131, FRAG_CONT];
        cont.extend_from_slice(&7u64.to_be_bytes());
        cont.extend_from_slice(&1u64.to_be_bytes());
        assert!(r.frame(&Bytes::from(cont)).is_err(), "unknown sequence");
        assert!(
            r.frame(&Bytes::from(vec![131, HEADER])).is_err(),
            "truncated"
        );
        assert!(
            r.frame(&Bytes::from(vec![131, HEADER, 3, 0xFF])).is_err(),
            "truncated refs"
        );
    }
}
