//! Property tests: every round trip of the term layer.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use nodus_term::etf::{self, AtomEncoding, EncodeOptions};
use nodus_term::{text, Atom, Map, Pid, Port, Reference, Term};
use num_bigint::BigInt;
use proptest::prelude::*;

fn atom_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-zA-Z0-9_@]{0,10}",
        "[A-Z _.'\\\\\"é]{0,8}",
        "\\PC{0,12}",
        Just("and".to_string()),
        Just(String::new()),
    ]
}

fn atom() -> impl Strategy<Value = Atom> {
    atom_text().prop_filter_map("atom length", |s| Atom::try_new(&s).ok())
}

fn leaf() -> impl Strategy<Value = Term> {
    prop_oneof![
        any::<i64>().prop_map(Term::Int),
        (0i64..300).prop_map(Term::Int),
        (any::<i128>(), any::<u64>())
            .prop_map(|(a, b)| Term::integer(BigInt::from(a) * BigInt::from(b))),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Term::Float),
        atom().prop_map(Term::Atom),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Term::binary),
        (proptest::collection::vec(any::<u8>(), 1..10), 1u64..8).prop_filter_map(
            "bitstring",
            |(d, extra)| Term::bitstring(&d, (d.len() as u64 - 1) * 8 + extra)
        ),
        "\\PC{0,10}".prop_map(Term::binary),
        proptest::collection::vec(0i64..=255, 1..20)
            .prop_map(|v| Term::List(v.into_iter().map(Term::Int).collect())),
        (atom(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
            |(node, id, serial, creation)| Term::from(Pid {
                node,
                id,
                serial,
                creation
            })
        ),
        (atom(), any::<u64>(), any::<u32>())
            .prop_map(|(node, id, creation)| Term::Port(Box::new(Port { node, id, creation }))),
        (
            atom(),
            any::<u32>(),
            proptest::collection::vec(any::<u32>(), 1..=5)
        )
            .prop_map(|(node, creation, ids)| Term::from(Reference {
                node,
                creation,
                ids
            })),
        (atom(), atom(), any::<u8>()).prop_map(|(module, function, arity)| {
            Term::ExternalFun(Box::new(nodus_term::ExternalFun {
                module,
                function,
                arity,
            }))
        }),
        Just(Term::nil()),
    ]
}

fn term() -> impl Strategy<Value = Term> {
    leaf().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Term::list),
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Term::tuple),
            (
                proptest::collection::vec(inner.clone(), 1..4),
                inner.clone()
            )
                .prop_map(|(v, t)| Term::improper_list(v, t)),
            proptest::collection::vec((inner.clone(), inner), 0..8)
                .prop_map(|kv| Term::Map(Map::from_pairs(kv))),
        ]
    })
}

fn hash(t: &Term) -> u64 {
    let mut h = DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn etf_round_trip(t in term()) {
        let b = etf::encode(&t).unwrap();
        let back = etf::decode(&b).unwrap();
        prop_assert_eq!(&back, &t);
        prop_assert_eq!(etf::encode(&back).unwrap(), b);
    }

    #[test]
    fn etf_round_trip_otp26_and_compressed(t in term(), level in 0u32..10) {
        let opts = EncodeOptions { atoms: AtomEncoding::Utf8, compressed: Some(level) };
        let b = etf::encode_with(&t, opts).unwrap();
        prop_assert_eq!(etf::decode(&b).unwrap(), t.clone());
        let zero_copy = etf::decode_bytes(&bytes::Bytes::from(b)).unwrap();
        prop_assert_eq!(zero_copy, t);
    }

    #[test]
    fn text_round_trip(t in term()) {
        let s = text::to_text(&t);
        let back = text::parse_term(&s).map_err(|e| TestCaseError::fail(format!("{e}: {s}")))?;
        prop_assert_eq!(&back, &t, "text {}", s);
        prop_assert_eq!(text::to_text(&back), s);
    }

    #[test]
    fn order_is_total_and_agrees_with_equality_and_hash(a in term(), b in term(), c in term()) {
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a == b, a.cmp(&b).is_eq());
        if a.cmp(&b).is_le() && b.cmp(&c).is_le() {
            prop_assert!(a.cmp(&c).is_le());
        }
        let a2 = etf::decode(&etf::encode(&a).unwrap()).unwrap();
        prop_assert_eq!(hash(&a), hash(&a2));
    }

    #[test]
    fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut b = vec![131];
        b.extend(bytes);
        let _ = etf::decode(&b);
    }

    #[test]
    fn parser_never_panics(s in "\\PC{0,80}") {
        let _ = text::parse_term(&s);
        let _ = text::parse_terms(&s);
    }
}

#[test]
fn numbers_compare_across_types_like_erlang() {
    let t = |s: &str| text::parse_term(s).unwrap();
    assert!(t("1") < t("1.5"));
    assert!(t("2") > t("1.5"));
    assert!(t("1") != t("1.0"));
    assert_eq!(
        nodus_term::order::cmp_arith(&t("1"), &t("1.0")),
        std::cmp::Ordering::Equal
    );
    assert!(t("{1.0, a}") < t("{1, b}"));
    assert!(t("#{1 => a}") < t("#{1.0 => a}"));
    assert!(t("9007199254740993") > t("9007199254740992.0"));
    assert!(t("-100000000000000000000000") < t("-1.0e20"));
    assert!(t("[]") < t("[a]") && t("[a | b]") < t("[a, b]"));
    assert!(t("<<1:1>>") < t("<<128>>") && t("<<128>>") < t("<<128, 0:1>>"));
}
