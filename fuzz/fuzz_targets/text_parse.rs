//! Fuzzes the term-text parser: whatever parses must print as text that
//! parses to an equal term, and survive an ETF round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nodus_term::{etf, text};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = text::parse_terms(s);
    let Ok(t) = text::parse_term(s) else { return };
    let printed = text::to_text(&t);
    let again = text::parse_term(&printed).expect("printed text parses");
    assert!(again == t, "print/parse changed the term: {printed}");
    if let Ok(b) = etf::encode(&t) {
        assert!(etf::decode(&b).expect("encoded term decodes") == t);
    }
});
