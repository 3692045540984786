//! The atom table is bounded as BEAM's: once it holds `MAX_ATOMS` atoms,
//! a new text is refused with a clear error (BEAM stops the node), and
//! every atom made before keeps working. Its own test binary, since a
//! full table stays full for the life of the process.

use nodus_term::atom::{AtomError, MAX_ATOMS};
use nodus_term::etf::{self, DecodeErrorKind as K};
use nodus_term::{Atom, Term};

/// `ATOM_UTF8_EXT` of `text`, as a whole external term.
fn atom_ext(text: &str) -> Vec<u8> {
    let mut v = vec![131, 118];
    v.extend_from_slice(&(text.len() as u16).to_be_bytes());
    v.extend_from_slice(text.as_bytes());
    v
}

#[test]
fn a_full_table_refuses_new_atoms_and_keeps_the_old_ones() {
    // First, while there is room (one test: a full table stays full).
    atoms_are_one_copy_per_text();
    let ok = Atom::new("ok");
    let before = etf::decode(&atom_ext("made_before")).expect("decodes");
    let mut i = 0usize;
    let err = loop {
        match Atom::try_new(&format!("filler_{i}")) {
            Ok(_) => i += 1,
            Err(e) => break e,
        }
        assert!(i <= MAX_ATOMS, "the table took more than {MAX_ATOMS} atoms");
    };
    assert_eq!(err, AtomError::TableFull { limit: MAX_ATOMS });
    assert_eq!(Atom::count(), MAX_ATOMS);
    assert!(err.to_string().contains("1048576"), "{err}");
    // Old atoms are found, equal and usable.
    assert_eq!(Atom::new("ok"), ok);
    assert_eq!(
        Atom::try_new("filler_0").map(|a| a.as_str()),
        Ok("filler_0")
    );
    assert_eq!(etf::decode(&atom_ext("made_before")).ok(), Some(before));
    // A new one from the wire is a decode error that says why.
    let e = etf::decode(&atom_ext("one_too_many")).expect_err("table is full");
    assert_eq!(e.kind, K::AtomTableFull(MAX_ATOMS));
    assert!(e.to_string().contains("atom table is full"), "{e}");
    assert!(Term::try_atom("another_new_one").is_err());
}

fn atoms_are_one_copy_per_text() {
    let a = Atom::new("same_text");
    let b = Atom::try_new(&String::from("same_text")).expect("valid");
    assert_eq!(a, b);
    assert!(std::ptr::eq(a.as_str(), b.as_str()));
    assert_ne!(a, Atom::new("other_text"));
    assert!(Atom::new("abc") < Atom::new("abd"));
    let mut m = std::collections::HashMap::new();
    m.insert(a, 1);
    assert_eq!(m.get("same_text"), Some(&1));
}
