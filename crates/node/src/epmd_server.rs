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
        tokio::spawn(async move {
            loop {
                let (sock, peer) = tokio::select! {
                    r = listener.accept() => match r {
                        Ok(x) => x,
                        Err(_) => continue,
                    },
                    _ = stopped.changed() => return,
                };
                let s = s.clone();
                let mut stopped = s.stop.subscribe();
                tokio::spawn(async move {
                    tokio::select! {
                        r = s.serve(sock, peer.ip().is_loopback()) => {
                            if let Err(e) = r {
                                tracing::debug!("epmd: connection from {peer}: {e}");
                            }
                        }
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

    async fn serve(&self, mut sock: TcpStream, local: bool) -> std::io::Result<()> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 512];
        let req = loop {
            match Request::decode(&buf) {
                Ok(Some((req, _))) => break req,
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!("epmd: bad request: {e}");
                    return Ok(());
                }
            }
            if buf.len() > MAX_REQUEST {
                return Ok(());
            }
            let n = tokio::time::timeout(std::time::Duration::from_secs(10), sock.read(&mut chunk))
                .await
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "request timed out")
                })??;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
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
