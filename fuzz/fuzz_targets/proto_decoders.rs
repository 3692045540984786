//! Fuzzes the wire decoders of nodus-proto: distribution frames (headers,
//! atom cache, fragments), the handshake in both roles, and EPMD messages.
//! The first byte picks the decoder; none may panic. First byte 255: the
//! sending side's fragments must read back whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nodus_proto::dist::FrameReader;
use nodus_proto::dist_header::Receiver;
use nodus_proto::epmd::{Reply, Request};
use nodus_proto::flags;
use nodus_proto::handshake::{Config, Handshake};
use nodus_term::etf::Limits;

fn cfg() -> Config {
    Config { name: "fuzz@h".into(), flags: flags::NODUS_DEFAULT, creation: 1, cookie: b"c".to_vec() }
}

/// Encodes `bytes` (a binary of its length, after a message already in
/// the buffer) with fragments and reads it back: it must come back whole.
fn fragments_round_trip(bytes: &[u8]) {
    use nodus_proto::dist::Control;
    use nodus_proto::dist_header::Sender;
    use nodus_term::{Atom, Pid, Term};
    let to = Pid { node: Atom::new("fuzz@h"), id: 1, serial: 0, creation: 1 };
    let ctl = Control::Send { to };
    // Short inputs stand for long payloads: the length is stretched so
    // that messages of several fragments come up.
    let n = bytes.len() * 1021;
    let payload = Term::binary(bytes.iter().copied().cycle().take(n).collect::<Vec<u8>>());
    let mut s = Sender::new(flags::FRAGMENTS | flags::DIST_HDR_ATOM_CACHE);
    let mut out = Vec::new();
    s.encode(&mut out, &ctl, Some(&Term::atom("first"))).expect("encode");
    s.encode(&mut out, &ctl, Some(&payload)).expect("encode");
    let mut rd = FrameReader::new(1 << 30);
    rd.extend(&out);
    let mut r = Receiver::new(1 << 30, Limits::DEFAULT);
    let mut got = Vec::new();
    while let Ok(Some(Some(body))) = rd.next_frame() {
        if let Ok(Some(f)) = r.frame(&body) {
            got.push(f.payload);
        }
    }
    assert_eq!(got, vec![Some(Term::atom("first")), Some(payload)]);
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    if which == 255 {
        fragments_round_trip(rest);
        return;
    }
    match which % 5 {
        0 => {
            let mut rd = FrameReader::new(1 << 20);
            rd.extend(rest);
            let mut r = Receiver::new(1 << 20, Limits::DEFAULT);
            while let Ok(Some(frame)) = rd.next_frame() {
                if let Some(body) = frame {
                    let _ = r.frame(&body);
                }
            }
        }
        1 => {
            if let Ok(mut hs) = Handshake::accept(cfg(), 1) {
                let _ = hs.input(rest);
                if matches!(hs.state(), nodus_proto::handshake::State::NeedStatus { .. }) {
                    let _ = hs.set_status("ok");
                }
            }
        }
        2 => {
            if let Ok(mut hs) = Handshake::initiate(cfg(), "peer@h", 1) {
                let _ = hs.input(rest);
            }
        }
        3 => {
            let _ = Request::decode(rest);
        }
        _ => {
            let _ = Reply::decode(rest);
        }
    }
});
