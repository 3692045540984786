//! Decoding limits: what a hostile peer cannot make a decoder spend.

/// Bounds applied while decoding. The defaults are safe against a hostile
/// peer: no stack overflow, and no allocation larger than a small multiple
/// of the input actually received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of lists, tuples, maps and funs (default 1,000).
    /// Every recursive operation on a term (encode, compare, print, drop)
    /// stays within a 2 MiB thread stack at this depth.
    pub max_depth: usize,
    /// Largest input, and largest uncompressed size of a compressed term,
    /// in bytes (default 128 MiB).
    pub max_size: usize,
}

impl Limits {
    /// The default limits.
    pub const DEFAULT: Limits = Limits {
        max_depth: 1_000,
        max_size: 128 * 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}
