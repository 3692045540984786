//! The EPMD client: register a node (keeping the connection open) and look
//! up a node's port. Answers to OTP's `erl_epmd`.

use std::time::Duration;

use nodus_proto::epmd::{NodeEntry, Reply, Request, NODE_TYPE_NORMAL};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::Error;

/// How long an EPMD exchange may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The EPMD port: `ERL_EPMD_PORT`, else 4369.
pub fn default_port() -> u16 {
    std::env::var("ERL_EPMD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(nodus_proto::epmd::DEFAULT_PORT)
}

/// Connects to EPMD: [`Error::NoEpmd`] when nothing listens there.
async fn connect(host: &str, port: u16) -> Result<TcpStream, Error> {
    match TcpStream::connect((host, port)).await {
        Ok(s) => Ok(s),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
            ) =>
        {
            Err(Error::NoEpmd {
                host: host.to_string(),
                port,
            })
        }
        Err(e) => Err(Error::io(format!("cannot reach EPMD at {host}:{port}"), e)),
    }
}

async fn read_reply(s: &mut TcpStream) -> Result<Reply, Error> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        if let Some((r, _)) = Reply::decode(&buf).map_err(|e| Error::Epmd(e.to_string()))? {
            return Ok(r);
        }
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| Error::io("reading from EPMD", e))?;
        if n == 0 {
            return Err(Error::Epmd(
                "EPMD closed the connection before replying".into(),
            ));
        }
        if buf.len() > 4096 {
            return Err(Error::Epmd("EPMD reply too long".into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A live registration: the node stays registered while this is kept.
pub struct Registration {
    /// The creation EPMD gave.
    pub creation: u32,
    /// The open connection.
    pub stream: TcpStream,
}

/// Registers `alive` (the part before `@`) with its listen `port`.
pub async fn register(
    host: &str,
    epmd_port: u16,
    alive: &str,
    port: u16,
) -> Result<Registration, Error> {
    tokio::time::timeout(TIMEOUT, async {
        let mut s = connect(host, epmd_port).await?;
        let req = Request::Alive2(NodeEntry {
            port,
            node_type: NODE_TYPE_NORMAL,
            protocol: 0,
            highest_version: 6,
            lowest_version: 6,
            name: alive.to_string(),
            extra: Vec::new(),
        });
        s.write_all(&req.encode().map_err(|e| Error::Epmd(e.to_string()))?)
            .await?;
        match read_reply(&mut s).await? {
            Reply::Alive2X {
                result: 0,
                creation,
            } => Ok(Registration {
                creation,
                stream: s,
            }),
            Reply::Alive2 {
                result: 0,
                creation,
            } => Ok(Registration {
                creation: u32::from(creation),
                stream: s,
            }),
            Reply::Alive2X { .. } | Reply::Alive2 { .. } => Err(Error::NameTaken {
                alive: alive.to_string(),
                epmd_port,
            }),
            other => Err(Error::Epmd(format!("unexpected EPMD reply {other:?}"))),
        }
    })
    .await
    .map_err(|_| Error::Epmd(format!("EPMD on port {epmd_port} did not answer")))?
}

/// Looks up the distribution port of `alive` on `host`.
pub async fn port_please(
    host: &str,
    epmd_port: u16,
    alive: &str,
) -> Result<Option<NodeEntry>, Error> {
    tokio::time::timeout(TIMEOUT, async {
        let mut s = connect(host, epmd_port).await?;
        let req = Request::PortPlease2(alive.to_string());
        s.write_all(&req.encode().map_err(|e| Error::Epmd(e.to_string()))?)
            .await?;
        match read_reply(&mut s).await? {
            Reply::Port2(e) => Ok(e),
            other => Err(Error::Epmd(format!("unexpected EPMD reply {other:?}"))),
        }
    })
    .await
    .map_err(|_| Error::Epmd(format!("EPMD on {host}:{epmd_port} did not answer")))?
}

/// `net_adm:names/1`: the names registered with EPMD on `host`, with
/// their distribution ports.
pub async fn names(host: &str, epmd_port: u16) -> Result<Vec<(String, u16)>, Error> {
    use tokio::io::AsyncReadExt;
    tokio::time::timeout(TIMEOUT, async {
        let mut s = connect(host, epmd_port).await?;
        let req = Request::Names;
        s.write_all(&req.encode().map_err(|e| Error::Epmd(e.to_string()))?)
            .await?;
        let mut buf = Vec::new();
        (&mut s).take(1024 * 1024).read_to_end(&mut buf).await?;
        nodus_proto::epmd::decode_names(&buf)
            .map(|(_, n)| n)
            .map_err(|e| Error::Epmd(e.to_string()))
    })
    .await
    .map_err(|_| Error::Epmd(format!("EPMD on {host}:{epmd_port} did not answer")))?
}
