//! The tag bytes of the External Term Format (`erl_ext_dist`).

/// The version byte that opens every encoded term.
pub const VERSION: u8 = 131;
/// Compressed term: `UncompressedSize:32` then zlib data.
pub const COMPRESSED: u8 = 80;
/// `NEW_FLOAT_EXT`: IEEE-754 double.
pub const NEW_FLOAT: u8 = 70;
/// `BIT_BINARY_EXT`: `Len:32, Bits:8, Data`.
pub const BIT_BINARY: u8 = 77;
/// `ATOM_CACHE_REF`: an index into the distribution header's atom cache.
pub const ATOM_CACHE_REF: u8 = 82;
/// `NEW_PID_EXT`: 32-bit creation.
pub const NEW_PID: u8 = 88;
/// `NEW_PORT_EXT`: 32-bit id and creation.
pub const NEW_PORT: u8 = 89;
/// `NEWER_REFERENCE_EXT`: 32-bit creation.
pub const NEWER_REFERENCE: u8 = 90;
/// `SMALL_INTEGER_EXT`: unsigned byte.
pub const SMALL_INTEGER: u8 = 97;
/// `INTEGER_EXT`: signed 32-bit.
pub const INTEGER: u8 = 98;
/// `FLOAT_EXT`: the old 31-byte text float.
pub const FLOAT: u8 = 99;
/// `ATOM_EXT`: Latin-1, 16-bit length.
pub const ATOM: u8 = 100;
/// `REFERENCE_EXT`: the oldest reference.
pub const REFERENCE: u8 = 101;
/// `PORT_EXT`: 8-bit creation.
pub const PORT: u8 = 102;
/// `PID_EXT`: 8-bit creation.
pub const PID: u8 = 103;
/// `SMALL_TUPLE_EXT`: 8-bit arity.
pub const SMALL_TUPLE: u8 = 104;
/// `LARGE_TUPLE_EXT`: 32-bit arity.
pub const LARGE_TUPLE: u8 = 105;
/// `NIL_EXT`: `[]`.
pub const NIL: u8 = 106;
/// `STRING_EXT`: a list of bytes with a 16-bit length.
pub const STRING: u8 = 107;
/// `LIST_EXT`: 32-bit length, elements, tail.
pub const LIST: u8 = 108;
/// `BINARY_EXT`: 32-bit length.
pub const BINARY: u8 = 109;
/// `SMALL_BIG_EXT`: 8-bit digit count.
pub const SMALL_BIG: u8 = 110;
/// `LARGE_BIG_EXT`: 32-bit digit count.
pub const LARGE_BIG: u8 = 111;
/// `NEW_FUN_EXT`: a closure.
pub const NEW_FUN: u8 = 112;
/// `EXPORT_EXT`: `fun M:F/A`.
pub const EXPORT: u8 = 113;
/// `NEW_REFERENCE_EXT`: 8-bit creation.
pub const NEW_REFERENCE: u8 = 114;
/// `SMALL_ATOM_EXT`: Latin-1, 8-bit length.
pub const SMALL_ATOM: u8 = 115;
/// `MAP_EXT`.
pub const MAP: u8 = 116;
/// `FUN_EXT`: removed from OTP; never decoded.
pub const FUN: u8 = 117;
/// `ATOM_UTF8_EXT`: UTF-8, 16-bit length.
pub const ATOM_UTF8: u8 = 118;
/// `SMALL_ATOM_UTF8_EXT`: UTF-8, 8-bit length.
pub const SMALL_ATOM_UTF8: u8 = 119;
/// `V4_PORT_EXT`: 64-bit id.
pub const V4_PORT: u8 = 120;
/// `LOCAL_EXT`: node-local encoding (OTP 26), never valid across nodes.
pub const LOCAL: u8 = 121;
