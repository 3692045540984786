//! Hostile input: every malformed encoding gives an error with an offset,
//! never a panic, a stack overflow or an allocation the input cannot back.

use nodus_term::etf::{self, DecodeErrorKind as K, Decoder, Limits};
use nodus_term::{text, Term};

fn kind(bytes: &[u8]) -> K {
    match etf::decode(bytes) {
        Ok(t) => panic!("decoded {t} from hostile input"),
        Err(e) => e.kind,
    }
}

/// Runs `f` on a thread with the 2 MiB stack that tokio and test threads get.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no stack overflow or panic");
}

#[test]
fn a_million_nested_lists_is_an_error_not_a_stack_overflow() {
    on_small_stack(|| {
        let mut b = vec![131];
        for _ in 0..1_000_000 {
            b.extend_from_slice(&[108, 0, 0, 0, 1]);
        }
        b.push(106);
        b.resize(b.len() + 1_000_000, 106);
        let e = etf::decode(&b).expect_err("too deep");
        assert_eq!(e.kind, K::TooDeep(Limits::DEFAULT.max_depth));
        assert!(e.offset > 0);
    });
}

#[test]
fn nesting_at_the_limit_decodes_and_every_operation_fits_a_small_stack() {
    on_small_stack(|| {
        let depth = Limits::DEFAULT.max_depth;
        let mut b = vec![131];
        for _ in 0..depth {
            b.extend_from_slice(&[104, 2, 97, 1]);
        }
        b.push(106);
        let t = etf::decode(&b).expect("at the limit");
        assert_eq!(etf::encode(&t).expect("encode"), b);
        let s = text::to_text(&t);
        let back = text::parse_term(&s).expect("parse");
        assert_eq!(back, t);
        assert!(t.cmp(&back).is_eq());
        drop((t, back));
        let mut b2 = vec![131];
        for _ in 0..=depth {
            b2.extend_from_slice(&[104, 1]);
        }
        b2.push(106);
        assert_eq!(kind(&b2), K::TooDeep(depth));
    });
}

#[test]
fn text_nesting_is_limited_too() {
    on_small_stack(|| {
        let s = "[".repeat(100_000) + &"]".repeat(100_000);
        let e = text::parse_term(&s).expect_err("too deep");
        assert!(e.message.contains("deeper"), "{e}");
        assert_eq!((e.line, e.column), (1, 1001));
    });
}

#[test]
fn huge_counts_in_tiny_inputs_allocate_nothing() {
    // LIST_EXT claiming 2^32 - 1 elements in 10 bytes.
    let k = kind(&[131, 108, 255, 255, 255, 255, 97, 1, 97, 2]);
    assert!(matches!(k, K::Truncated { .. }), "{k:?}");
    for tag in [105u8, 116, 109, 111] {
        let k = kind(&[131, tag, 255, 255, 255, 255, 0, 0, 0]);
        assert!(matches!(k, K::Truncated { .. }), "tag {tag}: {k:?}");
    }
    // Compressed term claiming 4 GiB uncompressed.
    let k = kind(&[131, 80, 255, 255, 255, 255, 120, 156, 3, 0, 0, 0, 0, 1]);
    assert!(matches!(k, K::TooLarge { .. }), "{k:?}");
}

#[test]
fn zip_bomb_is_cut_at_the_claimed_size() {
    // A compressed term that claims 100 bytes but inflates to 10 MB.
    let plain = etf::encode(&Term::binary(vec![0u8; 10_000_000])).expect("encode");
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut z, &plain[1..]).expect("zlib");
    let mut b = vec![131, 80, 0, 0, 0, 100];
    b.extend(z.finish().expect("zlib"));
    assert!(matches!(kind(&b), K::Compressed(_)));
}

#[test]
fn atoms_are_checked() {
    let mut long = vec![131, 118, 1, 0];
    long.extend(std::iter::repeat_n(b'a', 256));
    assert_eq!(kind(&long), K::AtomTooLong(256));
    let mut long_latin1 = vec![131, 100, 1, 0];
    long_latin1.extend(std::iter::repeat_n(b'a', 256));
    assert_eq!(kind(&long_latin1), K::AtomTooLong(256));
    assert_eq!(kind(&[131, 119, 2, 0xC3, 0x28]), K::InvalidUtf8Atom);
    assert_eq!(kind(&[131, 118, 0, 1, 0xFF]), K::InvalidUtf8Atom);
    // 255 four-byte characters is fine.
    let mut ok = vec![131, 118, 3, 252];
    for _ in 0..255 {
        ok.extend_from_slice("😀".as_bytes());
    }
    assert_eq!(
        etf::decode(&ok)
            .expect("255 chars")
            .as_atom()
            .map(|a| a.chars().count()),
        Some(255)
    );
}

#[test]
fn nan_and_infinity_are_rejected() {
    for bits in [
        f64::NAN.to_bits(),
        f64::INFINITY.to_bits(),
        f64::NEG_INFINITY.to_bits(),
    ] {
        let mut b = vec![131, 70];
        b.extend_from_slice(&bits.to_be_bytes());
        assert_eq!(kind(&b), K::BadFloat);
    }
    let mut old = vec![131, 99];
    old.extend_from_slice(b"inf");
    old.resize(33, 0);
    assert_eq!(kind(&old), K::BadFloat);
    assert!(etf::encode(&Term::Float(f64::NAN)).is_err());
}

#[test]
fn bit_binaries_must_be_consistent() {
    assert_eq!(
        kind(&[131, 77, 0, 0, 0, 1, 0, 255]),
        K::BadBitBinary { len: 1, bits: 0 }
    );
    assert_eq!(
        kind(&[131, 77, 0, 0, 0, 1, 9, 255]),
        K::BadBitBinary { len: 1, bits: 9 }
    );
    assert_eq!(
        kind(&[131, 77, 0, 0, 0, 0, 3]),
        K::BadBitBinary { len: 0, bits: 3 }
    );
    let t = etf::decode(&[131, 77, 0, 0, 0, 1, 3, 0xFF]).expect("valid");
    assert_eq!(t.to_string(), "<<7:3>>");
}

#[test]
fn duplicate_map_keys_are_rejected() {
    let b = [
        131, 116, 0, 0, 0, 2, 100, 0, 1, b'a', 97, 1, 119, 1, b'a', 97, 2,
    ];
    let e = etf::decode(&b).expect_err("duplicate");
    assert_eq!(e.kind, K::DuplicateMapKey("a".into()));
    assert_eq!(e.offset, 1);
    // 1 and 1.0 are different keys.
    let mut ok = vec![131, 116, 0, 0, 0, 2, 97, 1, 97, 1, 70];
    ok.extend_from_slice(&1.0f64.to_be_bytes());
    ok.extend_from_slice(&[97, 2]);
    assert_eq!(
        etf::decode(&ok).expect("valid").as_map().map(|m| m.len()),
        Some(2)
    );
}

#[test]
fn other_malformed_inputs_are_named() {
    assert_eq!(kind(&[]), K::Truncated { needed: 1 });
    assert_eq!(kind(&[130, 106]), K::BadVersion(130));
    assert_eq!(kind(&[131, 200]), K::UnknownTag(200));
    assert!(matches!(kind(&[131, 117]), K::UnsupportedTag(117, _)));
    assert!(matches!(kind(&[131, 121]), K::UnsupportedTag(121, _)));
    assert_eq!(kind(&[131, 106, 106]), K::TrailingBytes(1));
    assert_eq!(kind(&[131, 82, 0]), K::BadAtomCacheRef(0));
    assert_eq!(
        kind(&[131, 90, 0, 6, 119, 1, b'a', 0, 0, 0, 0]),
        K::BadReferenceLength(6)
    );
    assert_eq!(
        kind(&[131, 90, 0, 0, 119, 1, b'a', 0, 0, 0, 0]),
        K::BadReferenceLength(0)
    );
    assert!(matches!(
        kind(&[131, 113, 119, 1, b'm', 119, 1, b'f', 98, 0, 0, 0, 1]),
        K::BadFun(_)
    ));
}

#[test]
fn atom_cache_refs_resolve_through_a_cache() {
    let cache = [None, Some(nodus_term::Atom::new("hello"))];
    let t = Decoder::new(&[131, 104, 2, 82, 1, 82, 1])
        .with_atom_cache(&cache)
        .decode_full()
        .expect("cached");
    assert_eq!(t.to_string(), "{hello,hello}");
    let e = Decoder::new(&[131, 82, 0])
        .with_atom_cache(&cache)
        .decode_full()
        .expect_err("empty slot");
    assert_eq!(e.kind, K::BadAtomCacheRef(0));
}

fn sample_encodings() -> Vec<Vec<u8>> {
    let texts = [
        "{ok, [1, 2 | tail], #{<<\"k\">> => 16#FF, 3.5 => \"abc\"}, <<1:3>>, fun lists:map/2}",
        "[-1, 256, 2147483648, 123456789012345678901234567890, -0.5e-300, 'é', '😀']",
        "#{{1} => [a], #{} => <<>>, 1 => 1.0, 1.0 => 1}",
        "#Pid<'n1@127.0.0.1'.85.0.3>",
        "{#Ref<'a@b'.5.1.2.3>, #Port<'a@b'.7.5>, <<\"éé\"/utf8>>, \"\\n\"}",
    ];
    texts
        .iter()
        .map(|s| etf::encode(&text::parse_term(s).expect("sample parses")).expect("encode"))
        .collect()
}

#[test]
fn every_truncation_of_valid_encodings_is_an_error() {
    for full in sample_encodings() {
        for n in 0..full.len() {
            let e = etf::decode(&full[..n]).expect_err("truncated");
            assert!(e.offset <= n, "offset {} past the end {n}", e.offset);
        }
        assert!(etf::decode(&full).is_ok());
    }
    let compressed = etf::encode_with(
        &Term::binary(vec![b'x'; 500]),
        etf::EncodeOptions {
            compressed: Some(6),
            ..Default::default()
        },
    )
    .expect("encode");
    assert_eq!(compressed[1], 80);
    for n in 0..compressed.len() {
        assert!(etf::decode(&compressed[..n]).is_err());
    }
}

#[test]
fn every_single_byte_corruption_is_handled() {
    for full in sample_encodings() {
        for i in 0..full.len() {
            for v in [0u8, 1, 0x7F, 0x80, 0xFF] {
                let mut b = full.clone();
                b[i] = v;
                // Either decodes (to something) or errors; never panics.
                let _ = etf::decode(&b);
            }
        }
    }
}

#[test]
fn text_errors_give_line_and_column() {
    let e = text::parse_term("[{kernel,\n  [{sync_nodes_optional, ['n1@127.0.0.1' 'n2']}]}].")
        .expect_err("syntax");
    assert_eq!((e.line, e.column), (2, 42), "{e}");
    let e = text::parse_term("{a, X}").expect_err("variable");
    assert_eq!((e.line, e.column), (1, 5));
    assert!(e.message.contains("variable"));
    let e = text::parse_terms("a.\nb\n").expect_err("missing dot");
    assert_eq!(e.line, 3);
    let e = text::parse_term("\"abc").expect_err("unterminated");
    assert!(e.message.contains("unterminated"));
    assert!(text::parse_term(&format!("'{}'", "a".repeat(256))).is_err());
    assert!(text::parse_term("16#").is_err());
    assert!(text::parse_term("37#1").is_err());
    assert!(text::parse_term("1.0e999").is_err());
}
