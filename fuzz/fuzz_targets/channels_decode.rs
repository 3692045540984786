//! Fuzzes the Phoenix Channels decoders: any frame, text or binary, for
//! either serializer, is a message or an error (never a panic); a decoded
//! message writes back to a frame that decodes to the same message, and a
//! JSON payload survives the trip through an Erlang term.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nodus_channels::serializer::{decode, encode_client, Frame, Vsn};
use nodus_channels::{Payload, term_to_json};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let vsn = if sel & 1 == 0 { Vsn::V1 } else { Vsn::V2 };
    let bytes = Bytes::copy_from_slice(rest);
    let frame = if sel & 2 == 0 { Frame::Text(bytes) } else { Frame::Binary(bytes) };
    let Ok(m) = decode(vsn, &frame) else { return };
    if let Ok(again) = encode_client(vsn, &m) {
        let back = decode(vsn, &again).expect("an encoded message decodes");
        assert_eq!(back, m);
    }
    if let Payload::Json(v) = &m.payload {
        let t = m.payload.to_term();
        assert_eq!(&term_to_json(&t).expect("a JSON payload's term has a JSON form"), v);
    }
});
