//! The runtime's error type.

/// What can go wrong in the nodus runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A socket or file error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// EPMD refused or did not answer.
    #[error("EPMD: {0}")]
    Epmd(String),
    /// Another node holds this name in EPMD.
    #[error("the name {alive} is already registered with EPMD on port {epmd_port}")]
    NameTaken {
        /// The name before `@`.
        alive: String,
        /// The EPMD port.
        epmd_port: u16,
    },
    /// A bad node name.
    #[error("bad node name {0:?}: expected name@host")]
    BadName(String),
    /// `register/2` refused a name (BEAM's `badarg`).
    #[error("cannot register {name}: {reason}")]
    Register {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The cookie could not be had.
    #[error(transparent)]
    Cookie(#[from] crate::cookie::CookieError),
    /// A connection could not be set up.
    #[error("cannot connect to {node}: {reason}")]
    Connect {
        /// The peer.
        node: String,
        /// Why.
        reason: String,
    },
    /// A term could not be encoded.
    #[error("cannot encode: {0}")]
    Encode(#[from] nodus_term::etf::EncodeError),
}
