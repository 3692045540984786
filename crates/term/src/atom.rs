//! Atoms: interned-by-refcount UTF-8 names of at most 255 characters.
//!
//! Answers to the atom table of ERTS (`erl_atom_table.c`): an atom is its text,
//! compared by text. Cloning an [`Atom`] is a reference-count increment.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// The most characters (not bytes) an atom may hold, as on BEAM.
pub const MAX_ATOM_CHARS: usize = 255;

/// An Erlang atom.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Atom(Arc<str>);

/// Why a string is not a valid atom.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("atom too long: {chars} characters (at most {MAX_ATOM_CHARS})")]
pub struct AtomTooLong {
    /// How many characters the rejected text has.
    pub chars: usize,
}

impl Atom {
    /// Makes an atom, or says why `text` cannot be one.
    pub fn try_new(text: &str) -> Result<Atom, AtomTooLong> {
        // A character is at least one byte: short texts need no count.
        if text.len() > MAX_ATOM_CHARS {
            let chars = text.chars().count();
            if chars > MAX_ATOM_CHARS {
                return Err(AtomTooLong { chars });
            }
        }
        Ok(Atom(Arc::from(text)))
    }

    /// Makes an atom from text known to be valid, such as a literal.
    ///
    /// # Panics
    /// If `text` has more than 255 characters. Use [`Atom::try_new`] for
    /// text that comes from outside the program.
    pub fn new(text: &str) -> Atom {
        match Atom::try_new(text) {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        }
    }

    /// The atom's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when every character fits in Latin-1, so that OTP 25's
    /// `term_to_binary/1` writes the atom as `ATOM_EXT`.
    pub fn is_latin1(&self) -> bool {
        self.0.is_ascii() || self.0.chars().all(|c| (c as u32) < 256)
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Atom({:?})", &*self.0)
    }
}

impl fmt::Display for Atom {
    /// Writes the atom as Erlang source text, quoted when it must be.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        crate::text::print::write_atom(&mut s, self.as_str());
        f.write_str(&s)
    }
}

impl Borrow<str> for Atom {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Atom {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Atom {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Atom {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}
