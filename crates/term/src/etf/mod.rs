//! The External Term Format: what `term_to_binary/1` writes and
//! `binary_to_term/1` reads, and what every distribution message carries.

mod decode;
mod encode;
mod error;
mod limits;
pub mod tags;

pub use decode::{decode, decode_bytes, Decoder};
pub use encode::{encode, encode_term_into, encode_with, AtomEncoding, EncodeOptions};
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use limits::Limits;
