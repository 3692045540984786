//! # nodus-proto
//!
//! The Erlang distribution protocols as sans-IO state machines: bytes in,
//! bytes and events out, no sockets and no runtime. The `nodus` runtime
//! drives them over tokio; tests drive them with byte vectors.
//!
//! - [`epmd`]: EPMD requests and replies (OTP's `erl_epmd`, `epmd_srv.c`).
//! - [`handshake`]: the distribution handshake, both roles (`dist_util`).
//! - [`dist`]: frames and control messages after the handshake (`dist.c`).
//! - [`flags`]: the capability flags (`dist.hrl`).

#![warn(missing_docs)]

pub mod dist;
pub mod dist_header;
pub mod epmd;
pub mod flags;
pub mod handshake;
