//! Fuzzes the wire decoders of nodus-proto: distribution frames (headers,
//! atom cache, fragments), the handshake in both roles, and EPMD messages.
//! The first byte picks the decoder; none may panic.
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

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
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
