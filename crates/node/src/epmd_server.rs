//! An embedded EPMD server that real `erl` nodes can use, as `epmd` does.
//! Answers to `epmd_srv.c`. A node that finds no EPMD on its port starts
//! one of these; `nodus epmd` runs one on its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nodus_proto::epmd::{encode_names, NodeEntry, Reply, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest request accepted (a name of 255 bytes and some extra).
const MAX_REQUEST: usize = 1024;

/// A request must be complete within this (the real `epmd` has no
/// bound; a peer sending a byte at a time would hold its connection).
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A request complete within this is served without counting against
/// [`CAPS`]: the nodes of a host asking for each other's ports all at
/// once while a cluster boots (100 nodes: ten thousand queries from
/// 127.0.0.1 within a second) are never refused; a connection still
/// without a whole request after it is counted, and closed when over.
const GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// Slow requests (past [`GRACE`]) in progress at once, in total and from
/// one address (registrations, once made, are not counted).
const CAPS: crate::conn_gate::Caps = crate::conn_gate::Caps {
    total: 512,
    per_address: 64,
};

/// What EPMD's refusals are called in the log.
const WHAT: &str = "EPMD requests";

#[derive(Default)]
struct Registry {
    nodes: HashMap<String, NodeEntry>,
    creations: HashMap<String, u32>,
}

/// A running embedded EPMD.
#[derive(Clone)]
pub struct EpmdServer {
    port: u16,
    registry: Arc<Mutex<Registry>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl EpmdServer {
    /// Binds `0.0.0.0:port` and serves until [`EpmdServer::stop`] or the
    /// runtime ends.
    pub async fn start(port: u16) -> std::io::Result<EpmdServer> {
        let listener = crate::node::listen(std::net::Ipv4Addr::UNSPECIFIED.into(), port)?;
        let port = listener.local_addr()?.port();
        let (stop, _) = tokio::sync::watch::channel(false);
        let server = EpmdServer {
            port,
            registry: Arc::default(),
            stop,
        };
        let s = server.clone();
        let mut stopped = server.stop.subscribe();
        let gate = crate::conn_gate::Gate::new(CAPS);
        let refusals = crate::refusals::Refusals::default();
        tokio::spawn(async move {
            let mut last_error: Option<std::time::Instant> = None;
            loop {
                let (sock, peer) = tokio::select! {
                    r = listener.accept() => match r {
                        Ok(x) => x,
                        Err(e) => {
                            // Out of descriptors: back off, say so once a minute.
                            if last_error.is_none_or(|t| t.elapsed() > std::time::Duration::from_secs(60)) {
                                tracing::warn!("epmd: accepting failed: {e}; retrying every 100 ms");
                                last_error = Some(std::time::Instant::now());
                            }
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                    _ = stopped.changed() => return,
                };
                let gate = gate.clone();
                let s = s.clone();
                let refusals = refusals.clone();
                let mut stopped = s.stop.subscribe();
                tokio::spawn(async move {
                    tokio::select! {
                        r = s.serve(sock, peer.ip(), &gate) => match r {
                            Ok(()) => {}
                            Err(Failed::Over(over)) => {
                                let why = over.to_string().replace("handshakes", "slow requests");
                                refusals.refused(WHAT, peer.ip(), &why, || {
                                    format!("epmd: refused a connection from {peer}: {why}")
                                });
                            }
                            Err(Failed::Io(e)) => {
                                let e = e.to_string();
                                refusals.refused(WHAT, peer.ip(), &e, || format!("epmd: connection from {peer}: {e}"));
                            }
                        },
                        _ = stopped.changed() => {}
                    }
                });
            }
        });
        Ok(server)
    }

    /// Stops serving: the port closes and every registration ends, as when
    /// `epmd` exits.
    pub fn stop(&self) {
        self.stop.send_replace(true);
        self.registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .nodes
            .clear();
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The registered names and ports.
    pub fn names(&self) -> Vec<(String, u16)> {
        let r = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = r.nodes.values().map(|e| (e.name.clone(), e.port)).collect();
        v.sort();
        v
    }

    async fn serve(
        &self,
        mut sock: TcpStream,
        from: std::net::IpAddr,
        gate: &crate::conn_gate::Gate,
    ) -> Result<(), Failed> {
        let req = {
            let mut read = std::pin::pin!(read_request(&mut sock));
            match tokio::time::timeout(GRACE, &mut read).await {
                Ok(r) => r?,
                Err(_) => {
                    let _pass = gate.enter(from).map_err(Failed::Over)?;
                    tokio::time::timeout(REQUEST_TIMEOUT - GRACE, read)
                        .await
                        .map_err(|_| {
                            std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                "request not complete within 5 s",
                            )
                        })??
                }
            }
        };
        let Some(req) = req else {
            return Ok(());
        };
        let local = from.is_loopback();
        Ok(self.answer(sock, local, req).await?)
    }

    async fn answer(&self, mut sock: TcpStream, local: bool, req: Request) -> std::io::Result<()> {
        match req {
            Request::Alive2(entry) if local => self.alive(sock, entry).await,
            Request::Alive2(_) => Ok(()),
            Request::PortPlease2(name) => {
                let entry = self
                    .registry
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .nodes
                    .get(&name)
                    .cloned();
                sock.write_all(&Reply::Port2(entry).encode()).await
            }
            Request::Names => {
                sock.write_all(&encode_names(u32::from(self.port), &self.names()))
                    .await
            }
            Request::Dump | Request::Kill | Request::Stop(_) => sock.write_all(b"NO").await,
        }
    }

    async fn alive(&self, mut sock: TcpStream, entry: NodeEntry) -> std::io::Result<()> {
        let name = entry.name.clone();
        let creation = {
            let mut r = self.registry.lock().unwrap_or_else(|e| e.into_inner());
            if r.nodes.contains_key(&name) {
                None
            } else {
                // Seeded from the clock, never below 4, one more each time.
                let seed = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as u32)
                    .unwrap_or(4);
                let c = r
                    .creations
                    .get(&name)
                    .map_or(seed, |c| c.wrapping_add(1))
                    .max(4);
                r.creations.insert(name.clone(), c);
                r.nodes.insert(name.clone(), entry);
                Some(c)
            }
        };
        let Some(creation) = creation else {
            return sock
                .write_all(
                    &Reply::Alive2X {
                        result: 1,
                        creation: 99,
                    }
                    .encode(),
                )
                .await;
        };
        sock.write_all(
            &Reply::Alive2X {
                result: 0,
                creation,
            }
            .encode(),
        )
        .await?;
        // Registered for as long as the connection lives.
        let mut sink = [0u8; 64];
        while matches!(sock.read(&mut sink).await, Ok(n) if n > 0) {}
        self.registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .nodes
            .remove(&name);
        tracing::debug!("epmd: {name} unregistered");
        Ok(())
    }
}

/// Why a connection was served no further.
enum Failed {
    /// Its request was slow and the caps were reached.
    Over(crate::conn_gate::Over),
    /// Reading or answering failed, or the request was bad or too slow.
    Io(std::io::Error),
}

impl From<std::io::Error> for Failed {
    fn from(e: std::io::Error) -> Failed {
        Failed::Io(e)
    }
}

/// Reads one request; `None` when the peer closed first, sent more than
/// [`MAX_REQUEST`] bytes, or sent one that does not decode (logged).
async fn read_request(sock: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        match Request::decode(&buf) {
            Ok(Some((req, _))) => return Ok(Some(req)),
            Ok(None) => {}
            Err(e) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("bad request: {e}"),
                ))
            }
        }
        if buf.len() > MAX_REQUEST {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("request over {MAX_REQUEST} bytes"),
            ));
        }
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
