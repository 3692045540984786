//! Inputs the fuzz target `channels_decode` once failed on
//! (`fuzz/regressions/channels_decode/`), replayed with the target's own
//! checks: a decoded frame re-encodes to the same message, and a JSON
//! payload survives the trip through an Erlang term.

use std::path::Path;

use bytes::Bytes;
use nodus_channels::serializer::{decode, encode_client, Frame, Vsn};
use nodus_channels::{term_to_json, Payload};

fn check(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let vsn = if sel & 1 == 0 { Vsn::V1 } else { Vsn::V2 };
    let bytes = Bytes::copy_from_slice(rest);
    let frame = if sel & 2 == 0 {
        Frame::Text(bytes)
    } else {
        Frame::Binary(bytes)
    };
    let Ok(m) = decode(vsn, &frame) else { return };
    if let Ok(again) = encode_client(vsn, &m) {
        assert_eq!(decode(vsn, &again).expect("re-decodes"), m);
    }
    if let Payload::Json(v) = &m.payload {
        assert_eq!(&term_to_json(&m.payload.to_term()).expect("JSON form"), v);
    }
}

#[test]
fn channels_decode_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/channels_decode");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("regressions") {
        let p = e.expect("entry").path();
        check(&std::fs::read(&p).expect("read"));
        n += 1;
    }
    assert!(n > 0, "no regression inputs in {}", dir.display());
}
