//! # nodus-proto
//!
//! The Erlang distribution protocols as sans-IO state machines: bytes in,
//! bytes and events out, no sockets and no runtime. The `nodus` runtime
//! drives them over tokio; tests drive them with byte vectors.
//!
//! - [`epmd`]: EPMD requests and replies (OTP's `erl_epmd`, `epmd_srv.c`).
//! - [`handshake`]: the distribution handshake, both roles (`dist_util`).
//! - [`flags`]: the capability flags (`dist.hrl`).

#![warn(missing_docs)]

pub mod epmd;
pub mod flags;
pub mod handshake;
