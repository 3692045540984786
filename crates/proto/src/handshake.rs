//! The distribution handshake, both roles, as a sans-IO state machine.
//! Answers to OTP's `dist_util` (`handshake_we_started`,
//! `handshake_other_started`).
//!
//! Feed received bytes to [`Handshake::input`], send what
//! [`Handshake::take_output`] returns, and stop when [`Handshake::state`]
//! is [`State::Done`] (switch to 4-byte framing) or an error came back.
//! The caller supplies the random challenge and the time limit
//! (`net_setuptime`), so the machine itself is deterministic.

use md5::{Digest, Md5};

use crate::flags;

/// Longest handshake message accepted (a node name is at most 255 bytes
/// for each part; BEAM's messages are far smaller than this).
pub const MAX_MESSAGE: usize = 2048;

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// A message that does not parse, or that comes at the wrong time.
    #[error("handshake protocol error: {0}")]
    Protocol(String),
    /// A message over [`MAX_MESSAGE`] bytes.
    #[error("handshake message of {0} bytes is over the limit of {MAX_MESSAGE}")]
    TooLong(usize),
    /// The peer lacks flags that OTP 25 makes mandatory.
    #[error("peer {peer} lacks mandatory distribution flags {missing:#x}")]
    MissingFlags {
        /// The peer's node name.
        peer: String,
        /// The missing flags.
        missing: u64,
    },
    /// The acceptor refused us with this status (`nok`, `not_allowed`, ...).
    #[error("peer refused the connection: status {0:?}")]
    Refused(String),
    /// The digest does not match: the cookies differ.
    #[error("{0}: the cookies differ")]
    BadDigest(&'static str),
    /// The acceptor is not the node that was dialled.
    #[error("dialled {expected} but {got} answered")]
    WrongPeer {
        /// The node we dialled.
        expected: String,
        /// The name it gave.
        got: String,
    },
    /// A node name that is not `alive@host`.
    #[error("bad node name {0:?}")]
    BadName(String),
}

/// Where the handshake stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// More messages must be exchanged.
    InProgress,
    /// Acceptor only: the peer named itself; call
    /// [`Handshake::set_status`] with the answer (usually `ok`).
    NeedStatus {
        /// The peer's node name.
        peer: String,
        /// The flags the peer offered.
        flags: u64,
        /// The peer's creation (its incarnation; 0 from a version 5 peer,
        /// which does not send it).
        creation: u32,
    },
    /// Done: the connection is up.
    Done(Established),
}

/// What both sides agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Established {
    /// The peer's node name.
    pub peer: String,
    /// The peer's flags.
    pub peer_flags: u64,
    /// The flags in force: ours `&` the peer's.
    pub flags: u64,
    /// The peer's creation.
    pub peer_creation: u32,
}

/// Our side of a handshake.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our full node name, `alive@host`.
    pub name: String,
    /// The flags we offer (see [`flags::NODUS_DEFAULT`]).
    pub flags: u64,
    /// Our creation (from EPMD).
    pub creation: u32,
    /// The cookie.
    pub cookie: Vec<u8>,
}

/// The status strings an acceptor may answer with.
pub mod status {
    /// Go on.
    pub const OK: &str = "ok";
    /// Go on; the acceptor drops its own simultaneous attempt.
    pub const OK_SIMULTANEOUS: &str = "ok_simultaneous";
    /// The acceptor keeps its own simultaneous attempt: give up.
    pub const NOK: &str = "nok";
    /// Refused.
    pub const NOT_ALLOWED: &str = "not_allowed";
    /// The acceptor already has a connection to this name.
    pub const ALIVE: &str = "alive";
}

/// The handshake digest: MD5 of the cookie and the challenge in decimal.
pub fn digest(cookie: &[u8], challenge: u32) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(cookie);
    h.update(challenge.to_string().as_bytes());
    h.finalize().into()
}

/// Checks that `name` is `alive@host` with both parts non-empty.
pub fn check_node_name(name: &str) -> Result<(), HandshakeError> {
    match name.split_once('@') {
        Some((a, h)) if !a.is_empty() && !h.is_empty() && !h.contains('@') && name.len() <= 511 => {
            Ok(())
        }
        _ => Err(HandshakeError::BadName(name.to_string())),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    // Initiator.
    AwaitStatus,
    AwaitChallenge,
    AwaitAck { our_challenge: u32 },
    // Acceptor.
    AwaitName,
    AwaitStatusDecision,
    AwaitComplementOrReply,
    AwaitReply,
    Done,
    Failed,
}

/// A handshake in progress.
#[derive(Debug)]
pub struct Handshake {
    cfg: Config,
    step: Step,
    /// Initiator: the node we dialled. Acceptor: the peer once named.
    peer: String,
    peer_flags: u64,
    peer_creation: u32,
    challenge: u32,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    result: Option<Established>,
    need_status: bool,
}

impl Handshake {
    /// Starts dialling `peer`: queues our `send_name`. `challenge` is the
    /// random number we will challenge the peer with.
    pub fn initiate(cfg: Config, peer: &str, challenge: u32) -> Result<Handshake, HandshakeError> {
        check_node_name(&cfg.name)?;
        check_node_name(peer)?;
        let mut hs = Handshake::new(cfg, Step::AwaitStatus, challenge);
        hs.peer = peer.to_string();
        let mut m = vec![b'N'];
        m.extend_from_slice(&hs.cfg.flags.to_be_bytes());
        m.extend_from_slice(&hs.cfg.creation.to_be_bytes());
        m.extend_from_slice(&(hs.cfg.name.len() as u16).to_be_bytes());
        m.extend_from_slice(hs.cfg.name.as_bytes());
        hs.send(&m);
        Ok(hs)
    }

    /// Starts answering a connection a peer opened. `challenge` is the
    /// random number we will challenge it with.
    pub fn accept(cfg: Config, challenge: u32) -> Result<Handshake, HandshakeError> {
        check_node_name(&cfg.name)?;
        Ok(Handshake::new(cfg, Step::AwaitName, challenge))
    }

    fn new(cfg: Config, step: Step, challenge: u32) -> Handshake {
        Handshake {
            cfg,
            step,
            peer: String::new(),
            peer_flags: 0,
            peer_creation: 0,
            challenge,
            inbuf: Vec::new(),
            out: Vec::new(),
            result: None,
            need_status: false,
        }
    }

    /// Bytes to send now (2-byte framed messages), emptied by the call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Bytes received after the handshake ended (the first frames of the
    /// connection), to be handled with 4-byte framing.
    pub fn take_leftover(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.inbuf)
    }

    /// The peer's node name: the dialled node, or the name an accepted
    /// peer gave (`None` before it named itself).
    pub fn peer_name(&self) -> Option<&str> {
        (!self.peer.is_empty()).then_some(self.peer.as_str())
    }

    /// True for a dialler that sent its challenge reply and waits for the
    /// acceptor's ack: the step at which a peer with another cookie closes.
    pub fn awaits_ack(&self) -> bool {
        matches!(self.step, Step::AwaitAck { .. })
    }

    /// Where the handshake stands.
    pub fn state(&self) -> State {
        if let Some(e) = &self.result {
            return State::Done(e.clone());
        }
        if self.need_status {
            return State::NeedStatus {
                peer: self.peer.clone(),
                flags: self.peer_flags,
                creation: self.peer_creation,
            };
        }
        State::InProgress
    }

    /// Acceptor: answers the peer's name with `status` (see [`status`]);
    /// anything but `ok` or `ok_simultaneous` ends the handshake.
    pub fn set_status(&mut self, status_text: &str) -> Result<(), HandshakeError> {
        if self.step != Step::AwaitStatusDecision {
            return Err(HandshakeError::Protocol("no status is awaited".into()));
        }
        self.need_status = false;
        let mut m = vec![b's'];
        m.extend_from_slice(status_text.as_bytes());
        self.send(&m);
        if status_text != status::OK && status_text != status::OK_SIMULTANEOUS {
            self.step = Step::Failed;
            return Err(HandshakeError::Refused(status_text.to_string()));
        }
        let mut c = vec![b'N'];
        c.extend_from_slice(&self.cfg.flags.to_be_bytes());
        c.extend_from_slice(&self.challenge.to_be_bytes());
        c.extend_from_slice(&self.cfg.creation.to_be_bytes());
        c.extend_from_slice(&(self.cfg.name.len() as u16).to_be_bytes());
        c.extend_from_slice(self.cfg.name.as_bytes());
        self.send(&c);
        self.step = if self.peer_flags & flags::HANDSHAKE_23 == 0 {
            Step::AwaitComplementOrReply
        } else {
            Step::AwaitReply
        };
        Ok(())
    }

    fn send(&mut self, m: &[u8]) {
        self.out.extend_from_slice(&(m.len() as u16).to_be_bytes());
        self.out.extend_from_slice(m);
    }

    /// Feeds received bytes; processes every complete message.
    pub fn input(&mut self, data: &[u8]) -> Result<(), HandshakeError> {
        if self.step == Step::Failed {
            return Err(HandshakeError::Protocol(
                "the handshake already failed".into(),
            ));
        }
        self.inbuf.extend_from_slice(data);
        while self.result.is_none() && !self.need_status {
            if self.inbuf.len() < 2 {
                break;
            }
            let len = usize::from(u16::from_be_bytes([self.inbuf[0], self.inbuf[1]]));
            if len > MAX_MESSAGE {
                self.step = Step::Failed;
                return Err(HandshakeError::TooLong(len));
            }
            if self.inbuf.len() < 2 + len {
                break;
            }
            let msg: Vec<u8> = self.inbuf[2..2 + len].to_vec();
            self.inbuf.drain(..2 + len);
            if let Err(e) = self.message(&msg) {
                self.step = Step::Failed;
                return Err(e);
            }
        }
        Ok(())
    }

    fn message(&mut self, m: &[u8]) -> Result<(), HandshakeError> {
        let bad = |what: &str| HandshakeError::Protocol(format!("{what} ({} bytes)", m.len()));
        match (&self.step, m.first()) {
            (Step::AwaitStatus, Some(b's')) => {
                let s = String::from_utf8_lossy(&m[1..]).into_owned();
                match s.as_str() {
                    status::OK | status::OK_SIMULTANEOUS => self.step = Step::AwaitChallenge,
                    status::ALIVE => {
                        // The peer had a stale connection from us: go on.
                        self.send(b"strue");
                        self.step = Step::AwaitChallenge;
                    }
                    _ => return Err(HandshakeError::Refused(s)),
                }
            }
            (Step::AwaitChallenge, Some(b'N')) => {
                let mut r = Fields(&m[1..]);
                let (fl, challenge, creation) = (r.u64(), r.u32(), r.u32());
                let (Some(fl), Some(challenge), Some(creation)) = (fl, challenge, creation) else {
                    return Err(bad("short challenge"));
                };
                let name = r.name().ok_or_else(|| bad("bad name in challenge"))?;
                if name != self.peer {
                    return Err(HandshakeError::WrongPeer {
                        expected: self.peer.clone(),
                        got: name,
                    });
                }
                self.check_flags(fl)?;
                self.peer_flags = fl;
                self.peer_creation = creation;
                let mut reply = vec![b'r'];
                reply.extend_from_slice(&self.challenge.to_be_bytes());
                reply.extend_from_slice(&digest(&self.cfg.cookie, challenge));
                self.send(&reply);
                self.step = Step::AwaitAck {
                    our_challenge: self.challenge,
                };
            }
            (Step::AwaitAck { our_challenge }, Some(b'a')) => {
                if m.len() != 17 {
                    return Err(bad("bad challenge ack"));
                }
                if m[1..] != digest(&self.cfg.cookie, *our_challenge) {
                    return Err(HandshakeError::BadDigest("invalid challenge ack"));
                }
                self.finish();
            }
            (Step::AwaitName, Some(b'N')) => {
                let mut r = Fields(&m[1..]);
                let (Some(fl), Some(creation)) = (r.u64(), r.u32()) else {
                    return Err(bad("short send_name"));
                };
                let name = r.name().ok_or_else(|| bad("bad name in send_name"))?;
                self.named(name, fl, creation)?;
            }
            (Step::AwaitName, Some(b'n')) => {
                let mut r = Fields(&m[1..]);
                let (Some(version), Some(fl)) = (r.u16(), r.u32()) else {
                    return Err(bad("short send_name"));
                };
                if version != 5 {
                    return Err(HandshakeError::Protocol(format!(
                        "unknown distribution version {version}"
                    )));
                }
                let name = String::from_utf8(r.0.to_vec()).map_err(|_| bad("name is not UTF-8"))?;
                self.named(name, u64::from(fl), 0)?;
            }
            (Step::AwaitComplementOrReply, Some(b'c')) => {
                let mut r = Fields(&m[1..]);
                let (Some(high), Some(creation)) = (r.u32(), r.u32()) else {
                    return Err(bad("short complement"));
                };
                self.peer_flags |= u64::from(high) << 32;
                self.peer_creation = creation;
                self.step = Step::AwaitReply;
            }
            (Step::AwaitComplementOrReply | Step::AwaitReply, Some(b'r')) => {
                if m.len() != 21 {
                    return Err(bad("bad challenge reply"));
                }
                let their_challenge = u32::from_be_bytes([m[1], m[2], m[3], m[4]]);
                if m[5..] != digest(&self.cfg.cookie, self.challenge) {
                    return Err(HandshakeError::BadDigest("invalid challenge reply"));
                }
                let mut ack = vec![b'a'];
                ack.extend_from_slice(&digest(&self.cfg.cookie, their_challenge));
                self.send(&ack);
                self.finish();
            }
            (step, tag) => {
                return Err(HandshakeError::Protocol(format!(
                    "unexpected message {:?} while in {step:?}",
                    tag.map(|&t| t as char)
                )))
            }
        }
        Ok(())
    }

    fn named(&mut self, name: String, fl: u64, creation: u32) -> Result<(), HandshakeError> {
        check_node_name(&name)?;
        self.peer = name;
        if let Err(e) = self.check_flags(fl) {
            self.send(b"snot_allowed");
            return Err(e);
        }
        self.peer_flags = fl;
        self.peer_creation = creation;
        self.need_status = true;
        self.step = Step::AwaitStatusDecision;
        Ok(())
    }

    fn check_flags(&self, fl: u64) -> Result<(), HandshakeError> {
        // With the old 'n' send_name only the low word is known yet.
        let missing =
            flags::missing_mandatory(fl) & if fl >> 32 == 0 { 0xFFFF_FFFF } else { u64::MAX };
        if missing != 0 {
            return Err(HandshakeError::MissingFlags {
                peer: self.peer.clone(),
                missing,
            });
        }
        Ok(())
    }

    fn finish(&mut self) {
        self.step = Step::Done;
        self.result = Some(Established {
            peer: self.peer.clone(),
            peer_flags: self.peer_flags,
            flags: self.cfg.flags & self.peer_flags,
            peer_creation: self.peer_creation,
        });
    }
}

struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_be_bytes(a))
    }
    /// `Nlen:16, Name`, extra bytes after it ignored.
    fn name(&mut self) -> Option<String> {
        let n = usize::from(self.u16()?);
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(name: &str, cookie: &str) -> Config {
        Config {
            name: name.into(),
            flags: flags::NODUS_DEFAULT,
            creation: 0x1234_5678,
            cookie: cookie.as_bytes().to_vec(),
        }
    }

    #[test]
    fn digest_matches_the_known_vector() {
        let d = digest(b"secret", 123456);
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "e7703b4537789d7055f55048e8f9d25c");
    }

    #[test]
    fn send_name_matches_the_known_vector() {
        let mut c = cfg("rust@localhost", "x");
        c.flags = 0x4_0707_0FBD;
        let mut hs = Handshake::initiate(c, "a@localhost", 1).unwrap();
        let expected = [
            0x00, 0x1d, 0x4e, 0x00, 0x00, 0x00, 0x04, 0x07, 0x07, 0x0f, 0xbd, 0x12, 0x34, 0x56,
            0x78, 0x00, 0x0e,
        ];
        let out = hs.take_output();
        assert_eq!(&out[..17], &expected);
        assert_eq!(&out[17..], b"rust@localhost");
    }

    fn run(
        a: &mut Handshake,
        b: &mut Handshake,
    ) -> (Result<(), HandshakeError>, Result<(), HandshakeError>) {
        for _ in 0..10 {
            let out = a.take_output();
            if !out.is_empty() {
                if let Err(e) = b.input(&out) {
                    return (a.input(&b.take_output()), Err(e));
                }
            }
            if let State::NeedStatus { .. } = b.state() {
                b.set_status(status::OK).unwrap();
            }
            let out = b.take_output();
            if !out.is_empty() {
                if let Err(e) = a.input(&out) {
                    return (Err(e), Ok(()));
                }
            }
            if matches!(a.state(), State::Done(_)) && matches!(b.state(), State::Done(_)) {
                break;
            }
        }
        (Ok(()), Ok(()))
    }

    #[test]
    fn two_nodus_sides_agree() {
        let mut a = Handshake::initiate(cfg("a@h", "c"), "b@h", 111).unwrap();
        let mut b = Handshake::accept(cfg("b@h", "c"), 222).unwrap();
        let (ra, rb) = run(&mut a, &mut b);
        assert!(ra.is_ok() && rb.is_ok());
        let (State::Done(ea), State::Done(eb)) = (a.state(), b.state()) else {
            panic!("not done: {:?} {:?}", a.state(), b.state());
        };
        assert_eq!(ea.peer, "b@h");
        assert_eq!(eb.peer, "a@h");
        assert_eq!(ea.flags, flags::NODUS_DEFAULT);
        assert_eq!(eb.peer_creation, 0x1234_5678);
    }

    #[test]
    fn wrong_cookie_fails_on_the_acceptor() {
        let mut a = Handshake::initiate(cfg("a@h", "c1"), "b@h", 1).unwrap();
        let mut b = Handshake::accept(cfg("b@h", "c2"), 2).unwrap();
        let (_, rb) = run(&mut a, &mut b);
        assert_eq!(
            rb,
            Err(HandshakeError::BadDigest("invalid challenge reply"))
        );
    }

    #[test]
    fn wrong_peer_and_missing_flags_are_refused() {
        let mut a = Handshake::initiate(cfg("a@h", "c"), "x@h", 1).unwrap();
        let mut b = Handshake::accept(cfg("b@h", "c"), 2).unwrap();
        let (ra, _) = run(&mut a, &mut b);
        assert!(matches!(ra, Err(HandshakeError::WrongPeer { .. })));

        let mut weak = cfg("a@h", "c");
        weak.flags = flags::PUBLISHED;
        let mut a = Handshake::initiate(weak, "b@h", 1).unwrap();
        let mut b = Handshake::accept(cfg("b@h", "c"), 2).unwrap();
        let (ra, rb) = run(&mut a, &mut b);
        assert!(matches!(rb, Err(HandshakeError::MissingFlags { .. })));
        assert_eq!(ra, Err(HandshakeError::Refused("not_allowed".into())));
    }

    #[test]
    fn acceptor_takes_an_old_version_5_send_name_and_its_complement() {
        let mut b = Handshake::accept(cfg("b@h", "c"), 77).unwrap();
        let low = (flags::NODUS_DEFAULT & 0xFFFF_FFFF) as u32 & !(flags::HANDSHAKE_23 as u32);
        let mut m = vec![b'n', 0, 5];
        m.extend_from_slice(&low.to_be_bytes());
        m.extend_from_slice(b"a@h");
        let mut framed = (m.len() as u16).to_be_bytes().to_vec();
        framed.extend(m);
        b.input(&framed).unwrap();
        assert!(matches!(b.state(), State::NeedStatus { ref peer, .. } if peer == "a@h"));
        b.set_status(status::OK).unwrap();
        let out = b.take_output();
        // 's' "ok", then the 'N' challenge carrying our challenge 77.
        assert_eq!(&out[..5], &[0, 3, b's', b'o', b'k']);
        assert_eq!(out[7], b'N');
        assert_eq!(&out[16..20], &77u32.to_be_bytes());
        // The complement ('c' FlagsHigh Creation), then the reply.
        let mut c = vec![0, 9, b'c'];
        c.extend_from_slice(&((flags::NODUS_DEFAULT >> 32) as u32).to_be_bytes());
        c.extend_from_slice(&9u32.to_be_bytes());
        let mut r = vec![0, 21, b'r'];
        r.extend_from_slice(&5u32.to_be_bytes());
        r.extend_from_slice(&digest(b"c", 77));
        c.extend(r);
        b.input(&c).unwrap();
        let State::Done(e) = b.state() else {
            panic!("not done: {:?}", b.state())
        };
        assert_eq!(e.peer_creation, 9);
        assert_eq!(e.peer_flags >> 32, flags::NODUS_DEFAULT >> 32);
        let ack = b.take_output();
        assert_eq!(&ack[3..], &digest(b"c", 5));
    }

    #[test]
    fn garbage_and_oversized_messages_are_errors() {
        let mut b = Handshake::accept(cfg("b@h", "c"), 2).unwrap();
        assert!(b.input(&[0, 3, b'x', 1, 2]).is_err());
        let mut b = Handshake::accept(cfg("b@h", "c"), 2).unwrap();
        assert_eq!(b.input(&[0xFF, 0xFF]), Err(HandshakeError::TooLong(0xFFFF)));
        let mut b = Handshake::accept(cfg("b@h", "c"), 2).unwrap();
        assert!(b.input(&[0, 1, b'N']).is_err());
        assert!(Handshake::initiate(cfg("nohost", "c"), "b@h", 1).is_err());
    }
}
