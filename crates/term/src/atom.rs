//! Atoms: interned UTF-8 names of at most 255 characters.
//!
//! Answers to the atom table of ERTS (`erl_atom_table.c`): each distinct
//! text is stored once, for the life of the program, and an [`Atom`] is a
//! reference to that one copy. Cloning an atom copies a pointer (no
//! reference count is touched, so atoms shared by many threads cost no
//! cache-line traffic), and two atoms are equal when they point at the
//! same text. As on BEAM, atoms are never freed and the table is bounded:
//! [`MAX_ATOMS`] distinct atoms, BEAM's default (`+t 1048576`); past it
//! [`Atom::try_new`] refuses new texts with [`AtomError::TableFull`]
//! instead of growing (BEAM stops the node).
//!
//! Making an atom looks its text up in a small per-thread cache of recent
//! atoms first, then in the shared table, so a literal such as `ok` made
//! over and over takes no lock.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};

/// The most characters (not bytes) an atom may hold, as on BEAM.
pub const MAX_ATOM_CHARS: usize = 255;

/// The most distinct atoms a program may make, as BEAM's default atom
/// table size.
pub const MAX_ATOMS: usize = 1_048_576;

/// An Erlang atom: a reference to its interned text.
#[derive(Clone)]
pub struct Atom(&'static str);

/// Why a string cannot be made an atom.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtomError {
    /// The text has more than [`MAX_ATOM_CHARS`] characters.
    #[error("atom too long: {chars} characters (at most {MAX_ATOM_CHARS})")]
    TooLong {
        /// How many characters the rejected text has.
        chars: usize,
    },
    /// The atom table holds [`MAX_ATOMS`] atoms already.
    #[error("atom table full: {limit} atoms")]
    TableFull {
        /// The table's size.
        limit: usize,
    },
}

const SHARDS: usize = 64;
const RECENT_SLOTS: usize = 1024;
const MAX_RECENT_LEN: usize = 64;

/// How many atoms the table holds.
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// The interned texts, sharded by hash so that threads making different
/// atoms rarely meet on one lock.
static TABLE: LazyLock<Box<[Mutex<HashSet<&'static str>>]>> =
    LazyLock::new(|| (0..SHARDS).map(|_| Mutex::default()).collect());

thread_local! {
    /// Recently made atoms, by hash: a lossy cache, checked by text.
    static RECENT: RefCell<Box<[Option<&'static str>]>> =
        RefCell::new(vec![None; RECENT_SLOTS].into_boxed_slice());
}

fn fnv(s: &str) -> u32 {
    // FNV-1a: short keys; the cache and the shard choice need no DoS
    // resistance (each shard's set hashes with a keyed hasher).
    let mut h: u32 = 0x811c_9dc5;
    for &b in s.as_bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}

/// The one stored copy of `text`, stored now if it is new.
fn intern(text: &str) -> Result<&'static str, AtomError> {
    let h = fnv(text);
    let slot = h as usize % RECENT_SLOTS;
    let cached = text.len() <= MAX_RECENT_LEN;
    if cached {
        let hit = RECENT
            .try_with(|r| r.borrow()[slot].filter(|s| *s == text))
            .ok()
            .flatten();
        if let Some(s) = hit {
            return Ok(s);
        }
    }
    let shard = &TABLE[(h >> 10) as usize % SHARDS];
    let s = {
        let mut set = shard.lock().unwrap_or_else(|e| e.into_inner());
        match set.get(text) {
            Some(s) => *s,
            None => {
                if COUNT.fetch_add(1, Ordering::Relaxed) >= MAX_ATOMS {
                    COUNT.fetch_sub(1, Ordering::Relaxed);
                    return Err(AtomError::TableFull { limit: MAX_ATOMS });
                }
                let s: &'static str = Box::leak(Box::<str>::from(text));
                set.insert(s);
                s
            }
        }
    };
    if cached {
        let _ = RECENT.try_with(|r| r.borrow_mut()[slot] = Some(s));
    }
    Ok(s)
}

impl Atom {
    /// Makes an atom, or says why `text` cannot be one.
    pub fn try_new(text: &str) -> Result<Atom, AtomError> {
        // A character is at least one byte: short texts need no count.
        if text.len() > MAX_ATOM_CHARS {
            let chars = text.chars().count();
            if chars > MAX_ATOM_CHARS {
                return Err(AtomError::TooLong { chars });
            }
        }
        intern(text).map(Atom)
    }

    /// Makes an atom from text known to be valid, such as a literal.
    ///
    /// # Panics
    /// If `text` has more than 255 characters, or the atom table is full
    /// (BEAM stops the node then). Use [`Atom::try_new`] for text that
    /// comes from outside the program.
    pub fn new(text: &str) -> Atom {
        match Atom::try_new(text) {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        }
    }

    /// The atom's text.
    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// True when every character fits in Latin-1, so that OTP 25's
    /// `term_to_binary/1` writes the atom as `ATOM_EXT`.
    pub fn is_latin1(&self) -> bool {
        self.0.is_ascii() || self.0.chars().all(|c| (c as u32) < 256)
    }

    /// How many distinct atoms exist (`erlang:system_info(atom_count)`).
    pub fn count() -> usize {
        COUNT.load(Ordering::Relaxed)
    }
}

impl PartialEq for Atom {
    fn eq(&self, other: &Atom) -> bool {
        // One stored copy per text: the same text is the same pointer.
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Atom {}

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Atom) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Atom {
    /// By text, as Erlang orders atoms.
    fn cmp(&self, other: &Atom) -> std::cmp::Ordering {
        if self == other {
            return std::cmp::Ordering::Equal;
        }
        self.0.cmp(other.0)
    }
}

impl std::hash::Hash for Atom {
    /// By text, so that a map keyed by atoms can be read with a `&str`.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Atom({:?})", self.0)
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
        self.0
    }
}

impl AsRef<str> for Atom {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl PartialEq<str> for Atom {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Atom {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}
