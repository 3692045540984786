//! EPMD requests and replies, sans-IO. Answers to OTP's `erl_epmd` (the
//! client side) and `epmd_srv.c` (the server side).
//!
//! Every request is `Len:16` then the request; replies have no length and
//! are read incrementally: each `decode_*` returns `Ok(None)` while more
//! bytes are needed.

/// The EPMD port when `ERL_EPMD_PORT` is not set.
pub const DEFAULT_PORT: u16 = 4369;

/// `ALIVE2_REQ`.
pub const ALIVE2_REQ: u8 = 120;
/// `ALIVE2_X_RESP` (32-bit creation).
pub const ALIVE2_X_RESP: u8 = 118;
/// `ALIVE2_RESP` (16-bit creation).
pub const ALIVE2_RESP: u8 = 121;
/// `PORT_PLEASE2_REQ`.
pub const PORT_PLEASE2_REQ: u8 = 122;
/// `PORT2_RESP`.
pub const PORT2_RESP: u8 = 119;
/// `NAMES_REQ`.
pub const NAMES_REQ: u8 = 110;
/// `DUMP_REQ`.
pub const DUMP_REQ: u8 = 100;
/// `KILL_REQ`.
pub const KILL_REQ: u8 = 107;
/// `STOP_REQ`.
pub const STOP_REQ: u8 = 115;

/// Node type of a normal Erlang node (OTP registers every node so).
pub const NODE_TYPE_NORMAL: u8 = 77;
/// Node type of a hidden node.
pub const NODE_TYPE_HIDDEN: u8 = 72;

/// Longest node name part EPMD accepts.
pub const MAX_NAME_LEN: usize = 255;

/// A malformed EPMD message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpmdError {
    /// The message is shorter than its fields.
    #[error("EPMD message truncated")]
    Truncated,
    /// An unknown request or reply tag.
    #[error("unknown EPMD message tag {0}")]
    UnknownTag(u8),
    /// A node name that is empty, too long or not UTF-8.
    #[error("bad node name in EPMD message: {0}")]
    BadName(String),
    /// A request longer than the 2-byte length can say.
    #[error("EPMD request too long")]
    TooLong,
}

/// What a node registers: its listen port and versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEntry {
    /// The distribution listen port.
    pub port: u16,
    /// 77 (normal) or 72 (hidden).
    pub node_type: u8,
    /// 0 for TCP/IPv4.
    pub protocol: u8,
    /// Highest distribution version (6 for OTP 23+).
    pub highest_version: u16,
    /// Lowest distribution version.
    pub lowest_version: u16,
    /// The name part before `@`.
    pub name: String,
    /// Extra bytes (normally empty).
    pub extra: Vec<u8>,
}

/// A request to EPMD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Register a node; the connection stays open as long as it lives.
    Alive2(NodeEntry),
    /// Look up a node's port by name (the part before `@`).
    PortPlease2(String),
    /// List the registered names.
    Names,
    /// Debug dump.
    Dump,
    /// Ask EPMD to stop.
    Kill,
    /// Unregister a name (relaxed mode only).
    Stop(String),
}

/// A reply from EPMD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Registration result (0 = ok) and creation, for version-6 nodes.
    Alive2X {
        /// 0 on success.
        result: u8,
        /// The node's incarnation.
        creation: u32,
    },
    /// Registration result and 16-bit creation, for older nodes.
    Alive2 {
        /// 0 on success.
        result: u8,
        /// The node's incarnation.
        creation: u16,
    },
    /// The node's entry, or `None` when no such node is registered.
    Port2(Option<NodeEntry>),
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(&(name.len() as u16).to_be_bytes());
    out.extend_from_slice(name.as_bytes());
}

fn entry_bytes(e: &NodeEntry, out: &mut Vec<u8>) {
    out.extend_from_slice(&e.port.to_be_bytes());
    out.push(e.node_type);
    out.push(e.protocol);
    out.extend_from_slice(&e.highest_version.to_be_bytes());
    out.extend_from_slice(&e.lowest_version.to_be_bytes());
    put_name(out, &e.name);
    out.extend_from_slice(&(e.extra.len() as u16).to_be_bytes());
    out.extend_from_slice(&e.extra);
}

impl Request {
    /// The request with its 2-byte length.
    pub fn encode(&self) -> Result<Vec<u8>, EpmdError> {
        let mut body = Vec::new();
        match self {
            Request::Alive2(e) => {
                check_name(&e.name)?;
                body.push(ALIVE2_REQ);
                entry_bytes(e, &mut body);
            }
            Request::PortPlease2(name) => {
                check_name(name)?;
                body.push(PORT_PLEASE2_REQ);
                body.extend_from_slice(name.as_bytes());
            }
            Request::Names => body.push(NAMES_REQ),
            Request::Dump => body.push(DUMP_REQ),
            Request::Kill => body.push(KILL_REQ),
            Request::Stop(name) => {
                body.push(STOP_REQ);
                body.extend_from_slice(name.as_bytes());
            }
        }
        let len = u16::try_from(body.len()).map_err(|_| EpmdError::TooLong)?;
        let mut out = len.to_be_bytes().to_vec();
        out.extend(body);
        Ok(out)
    }

    /// Reads one request from `buf` (length prefix included): the request
    /// and the bytes it took, or `None` while incomplete.
    pub fn decode(buf: &[u8]) -> Result<Option<(Request, usize)>, EpmdError> {
        if buf.len() < 2 {
            return Ok(None);
        }
        let len = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
        if buf.len() < 2 + len {
            return Ok(None);
        }
        let body = &buf[2..2 + len];
        let mut r = Reader(body);
        let req = match r.u8()? {
            ALIVE2_REQ => Request::Alive2(r.entry()?),
            PORT_PLEASE2_REQ => Request::PortPlease2(name_of(r.rest())?),
            NAMES_REQ => Request::Names,
            DUMP_REQ => Request::Dump,
            KILL_REQ => Request::Kill,
            STOP_REQ => Request::Stop(name_of(r.rest())?),
            t => return Err(EpmdError::UnknownTag(t)),
        };
        Ok(Some((req, 2 + len)))
    }
}

impl Reply {
    /// The reply as EPMD writes it (no length prefix).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Reply::Alive2X { result, creation } => {
                out.extend_from_slice(&[ALIVE2_X_RESP, *result]);
                out.extend_from_slice(&creation.to_be_bytes());
            }
            Reply::Alive2 { result, creation } => {
                out.extend_from_slice(&[ALIVE2_RESP, *result]);
                out.extend_from_slice(&creation.to_be_bytes());
            }
            Reply::Port2(None) => out.extend_from_slice(&[PORT2_RESP, 1]),
            Reply::Port2(Some(e)) => {
                out.extend_from_slice(&[PORT2_RESP, 0]);
                entry_bytes(e, &mut out);
            }
        }
        out
    }

    /// Reads one reply: the reply and the bytes it took, or `None` while
    /// incomplete.
    pub fn decode(buf: &[u8]) -> Result<Option<(Reply, usize)>, EpmdError> {
        let mut r = Reader(buf);
        let res = (|| -> Result<Reply, EpmdError> {
            Ok(match r.u8()? {
                ALIVE2_X_RESP => Reply::Alive2X {
                    result: r.u8()?,
                    creation: r.u32()?,
                },
                ALIVE2_RESP => Reply::Alive2 {
                    result: r.u8()?,
                    creation: r.u16()?,
                },
                PORT2_RESP => match r.u8()? {
                    0 => Reply::Port2(Some(r.entry()?)),
                    _ => Reply::Port2(None),
                },
                t => return Err(EpmdError::UnknownTag(t)),
            })
        })();
        match res {
            Ok(reply) => Ok(Some((reply, buf.len() - r.0.len()))),
            Err(EpmdError::Truncated) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Parses the reply to `NAMES_REQ` once EPMD has closed the connection:
/// EPMD's port, then `(name, port)` for each line `name N at port P`.
pub fn decode_names(buf: &[u8]) -> Result<(u32, Vec<(String, u16)>), EpmdError> {
    if buf.len() < 4 {
        return Err(EpmdError::Truncated);
    }
    let port = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let text = String::from_utf8_lossy(&buf[4..]);
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("name ") {
            if let Some((name, p)) = rest.rsplit_once(" at port ") {
                if let Ok(p) = p.trim().parse() {
                    out.push((name.to_string(), p));
                }
            }
        }
    }
    Ok((port, out))
}

/// The body of a `NAMES_REQ` reply, as EPMD writes it.
pub fn encode_names(epmd_port: u32, names: &[(String, u16)]) -> Vec<u8> {
    let mut out = epmd_port.to_be_bytes().to_vec();
    for (n, p) in names {
        out.extend_from_slice(format!("name {n} at port {p}\n").as_bytes());
    }
    out
}

fn check_name(name: &str) -> Result<(), EpmdError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.contains('@') {
        return Err(EpmdError::BadName(name.to_string()));
    }
    Ok(())
}

fn name_of(bytes: &[u8]) -> Result<String, EpmdError> {
    let s = std::str::from_utf8(bytes)
        .map_err(|_| EpmdError::BadName(String::from_utf8_lossy(bytes).into_owned()))?;
    check_name(s)?;
    Ok(s.to_string())
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EpmdError> {
        if self.0.len() < n {
            return Err(EpmdError::Truncated);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, EpmdError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, EpmdError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, EpmdError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
    fn entry(&mut self) -> Result<NodeEntry, EpmdError> {
        let port = self.u16()?;
        let node_type = self.u8()?;
        let protocol = self.u8()?;
        let highest_version = self.u16()?;
        let lowest_version = self.u16()?;
        let nlen = usize::from(self.u16()?);
        let name = name_of(self.take(nlen)?)?;
        let elen = usize::from(self.u16()?);
        let extra = self.take(elen)?.to_vec();
        Ok(NodeEntry {
            port,
            node_type,
            protocol,
            highest_version,
            lowest_version,
            name,
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> NodeEntry {
        NodeEntry {
            port: 4370,
            node_type: NODE_TYPE_NORMAL,
            protocol: 0,
            highest_version: 6,
            lowest_version: 6,
            name: "n1".into(),
            extra: vec![],
        }
    }

    #[test]
    fn requests_round_trip_and_match_the_wire() {
        let b = Request::PortPlease2("n1".into()).encode().unwrap();
        assert_eq!(b, [0, 3, 122, b'n', b'1']);
        for req in [
            Request::Alive2(entry()),
            Request::PortPlease2("x".into()),
            Request::Names,
            Request::Kill,
            Request::Stop("a".into()),
        ] {
            let b = req.encode().unwrap();
            assert_eq!(Request::decode(&b).unwrap(), Some((req, b.len())));
            for n in 0..b.len() {
                assert_eq!(Request::decode(&b[..n]).unwrap(), None);
            }
        }
    }

    #[test]
    fn replies_round_trip_incrementally() {
        for rep in [
            Reply::Alive2X {
                result: 0,
                creation: 0x1234_5678,
            },
            Reply::Alive2 {
                result: 1,
                creation: 3,
            },
            Reply::Port2(None),
            Reply::Port2(Some(entry())),
        ] {
            let b = rep.encode();
            assert_eq!(Reply::decode(&b).unwrap(), Some((rep, b.len())));
            for n in 0..b.len() {
                assert_eq!(Reply::decode(&b[..n]).unwrap(), None);
            }
        }
        assert_eq!(Reply::decode(&[7]), Err(EpmdError::UnknownTag(7)));
    }

    #[test]
    fn names_reply_parses() {
        let b = encode_names(4369, &[("n1".into(), 4370), ("my node".into(), 5)]);
        assert_eq!(
            decode_names(&b).unwrap(),
            (4369, vec![("n1".into(), 4370), ("my node".into(), 5)])
        );
    }

    #[test]
    fn bad_names_are_rejected() {
        assert!(Request::PortPlease2("a@b".into()).encode().is_err());
        assert!(Request::PortPlease2(String::new()).encode().is_err());
        assert!(Request::decode(&[0, 2, 122, 0xFF]).is_err());
    }
}
