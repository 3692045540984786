//! Fuzzes the ETF decoder: whatever decodes must re-encode and decode to an
//! equal term, and print as text that parses back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nodus_term::{etf, text, Term};

fuzz_target!(|data: &[u8]| {
    let Ok(t) = etf::decode(data) else { return };
    let again = etf::encode(&t).expect("a decoded term encodes");
    let back = etf::decode(&again).expect("an encoded term decodes");
    assert!(back == t, "re-encoding changed the term");
    if !contains_local_fun(&t) {
        let s = text::to_text(&t);
        let parsed = text::parse_term(&s).expect("printed text parses");
        assert!(parsed == t, "text round trip changed the term: {s}");
    }
});

fn contains_local_fun(t: &Term) -> bool {
    match t {
        Term::LocalFun(_) => true,
        Term::List(v) | Term::Tuple(v) => v.iter().any(contains_local_fun),
        Term::ImproperList(il) => il.elements.iter().any(contains_local_fun) || contains_local_fun(&il.tail),
        Term::Map(m) => m.iter().any(|(k, v)| contains_local_fun(k) || contains_local_fun(v)),
        _ => false,
    }
}
