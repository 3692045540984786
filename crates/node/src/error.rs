//! The runtime's error type.

/// What can go wrong in the nodus runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A socket or file error, with what was being done (the port, the
    /// host).
    #[error("{what}: {error}")]
    Io {
        /// What failed, such as `cannot listen on 0.0.0.0:4370`.
        what: String,
        /// The error.
        error: std::io::Error,
    },
    /// No EPMD answers on the port.
    #[error("no EPMD answers on {host}:{port} (is a node running there? is ERL_EPMD_PORT right?)")]
    NoEpmd {
        /// The host.
        host: String,
        /// The port.
        port: u16,
    },
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
    #[error("bad node name {name:?}: {reason}")]
    BadName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
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

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Error::Io {
            what: "I/O error".into(),
            error,
        }
    }
}

impl Error {
    /// An I/O error while doing `what`.
    pub fn io(what: impl Into<String>, error: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            error,
        }
    }

    /// A bad name and why.
    pub fn bad_name(name: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::BadName {
            name: name.into(),
            reason: reason.into(),
        }
    }
}
