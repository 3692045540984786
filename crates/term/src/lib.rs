//! # nodus-term
//!
//! Erlang terms for nodus: the [`Term`] type with Erlang's term order and
//! `=:=` equality, the External Term Format ([`etf`]), Erlang term text
//! ([`text`], the syntax of `sys.config`), and a serde bridge
//! ([`to_term`], [`from_term`]).
//!
//! This crate does no I/O and knows nothing of sockets.
//!
//! ```
//! use nodus_term::{etf, text, Term};
//! let t = text::parse_term("{hello, <<\"world\">>, [1, 2.5]}").unwrap();
//! let bytes = etf::encode(&t).unwrap();
//! assert_eq!(etf::decode(&bytes).unwrap(), t);
//! ```

#![warn(missing_docs)]

pub mod atom;
pub mod etf;
pub mod order;
pub mod seq;
pub mod serde;
pub mod term;
pub mod text;

pub use atom::Atom;
pub use serde::{from_term, to_term, Error as SerdeError};
pub use term::{
    atom, BitString, ExternalFun, ImproperList, LocalFun, Map, Pid, Port, Reference, Seq, Term,
};
