//! Inputs that fuzzing found to crash or stall an earlier build, kept in
//! `fuzz/regressions/<target>/`. Each must now be handled (an error or a
//! term) and whatever parses must round-trip.

use std::path::Path;

use nodus_term::{etf, text};

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        let data = std::fs::read(&path).expect("read regression input");
        out.push((path.display().to_string(), data));
    }
    out.sort();
    out
}

#[test]
fn text_parse_regressions() {
    let cases = inputs("text_parse");
    assert!(!cases.is_empty());
    for (name, data) in cases {
        let s = String::from_utf8_lossy(&data);
        let _ = text::parse_terms(&s);
        if let Ok(t) = text::parse_term(&s) {
            assert_eq!(
                text::parse_term(&text::to_text(&t)).expect(&name),
                t,
                "{name}"
            );
        }
    }
    // The stalls were huge integer segments: now a prompt error.
    let e = text::parse_term("<<1:66666663>>").expect_err("too large");
    assert!(e.message.contains("integer segment"), "{e}");
}

#[test]
fn etf_decode_regressions() {
    for (name, data) in inputs("etf_decode") {
        if let Ok(t) = etf::decode(&data) {
            let b = etf::encode(&t).expect(&name);
            assert_eq!(etf::decode(&b).expect(&name), t, "{name}");
        }
    }
}
