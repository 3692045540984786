//! Errors of the External Term Format codec.

use std::fmt;

/// Why an input is not a valid encoded term, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid external term at byte {offset}: {kind}")]
pub struct DecodeError {
    /// Offset of the offending byte in the input (in the uncompressed data
    /// when the term was compressed; see [`DecodeErrorKind::Compressed`]).
    pub offset: usize,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

/// The reasons a decode fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ends before the term does.
    Truncated {
        /// Bytes needed from `offset`.
        needed: u64,
    },
    /// The first byte is not 131.
    BadVersion(u8),
    /// A tag byte that starts no term.
    UnknownTag(u8),
    /// A tag that OTP no longer decodes or that is valid only on one node.
    UnsupportedTag(u8, &'static str),
    /// Nesting deeper than [`super::Limits::max_depth`].
    TooDeep(usize),
    /// Input or uncompressed size over [`super::Limits::max_size`].
    TooLarge {
        /// The size claimed or found.
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// An atom of more than 255 characters.
    AtomTooLong(usize),
    /// A new atom when the atom table is full (its size).
    AtomTableFull(usize),
    /// An atom whose bytes are not UTF-8.
    InvalidUtf8Atom,
    /// `ATOM_CACHE_REF` with no cache or an empty slot.
    BadAtomCacheRef(u8),
    /// A float that is NaN or infinite, or unreadable `FLOAT_EXT` text.
    BadFloat,
    /// `BIT_BINARY_EXT` whose bit count does not fit its length.
    BadBitBinary {
        /// Bytes claimed.
        len: u32,
        /// Bits in the last byte claimed.
        bits: u8,
    },
    /// A map that has the same key twice.
    DuplicateMapKey(String),
    /// A reference with 0 or more than 5 words.
    BadReferenceLength(u16),
    /// A malformed fun.
    BadFun(&'static str),
    /// Bytes after the end of the term.
    TrailingBytes(usize),
    /// A compressed term whose zlib data is bad or of the wrong size.
    Compressed(String),
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DecodeErrorKind::*;
        match self {
            Truncated { needed } => write!(f, "input ends early ({needed} more bytes needed)"),
            BadVersion(v) => write!(f, "version byte is {v}, expected 131"),
            UnknownTag(t) => write!(f, "unknown tag {t}"),
            UnsupportedTag(t, why) => write!(f, "tag {t} is not accepted: {why}"),
            TooDeep(d) => write!(f, "nesting deeper than the limit of {d}"),
            TooLarge { size, limit } => write!(f, "size {size} is over the limit of {limit} bytes"),
            AtomTooLong(n) => write!(f, "atom of {n} characters (at most 255)"),
            AtomTableFull(n) => write!(f, "a new atom, and the atom table is full ({n} atoms)"),
            InvalidUtf8Atom => write!(f, "atom text is not valid UTF-8"),
            BadAtomCacheRef(i) => write!(f, "atom cache reference {i} names no cached atom"),
            BadFloat => write!(f, "float is NaN, infinite or unreadable"),
            BadBitBinary { len, bits } => {
                write!(
                    f,
                    "bit binary of {len} bytes cannot have {bits} bits in its last byte"
                )
            }
            DuplicateMapKey(k) => write!(f, "map has the key {k} twice"),
            BadReferenceLength(n) => write!(f, "reference of {n} words (1 to 5 allowed)"),
            BadFun(why) => write!(f, "malformed fun: {why}"),
            TrailingBytes(n) => write!(f, "{n} bytes after the end of the term"),
            Compressed(why) => write!(f, "bad compressed term: {why}"),
        }
    }
}

/// Why a term cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A length that the format cannot carry (over 2^32 - 1).
    #[error("{what} of {len} is too long for the external term format")]
    TooLong {
        /// What was too long.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// A float that is NaN or infinite: BEAM rejects them.
    #[error("cannot encode a NaN or infinite float")]
    NonFiniteFloat,
    /// A reference with 0 or more than 5 words.
    #[error("a reference must have 1 to 5 words, not {0}")]
    BadReferenceLength(usize),
}
