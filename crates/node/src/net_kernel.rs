//! Connections between nodes, and the `net_kernel` process that answers
//! `net_adm:ping/1`. Answers to OTP's `net_kernel` and the per-connection
//! work of `dist_util` (handshake, ticks).
//!
//! Each connection has a reader task and a writer task
//! (`dist_ctrl.rs`).

use std::time::Duration;

use nodus_proto::dist::{self, Control};
use nodus_proto::dist_header::Sender;
use nodus_proto::handshake::{self, Config, Handshake, State};
use nodus_term::{Atom, Term};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::dist_ctrl;
use crate::dist_queue::Outgoing;
use crate::dist_setup;
use crate::erl_epmd;
use crate::error::Error;
use crate::node::{lock, Node};

/// Largest frame accepted from a peer (see [`dist::DEFAULT_MAX_FRAME`]).
pub const MAX_FRAME: usize = dist::DEFAULT_MAX_FRAME;

/// Default busy-poll window of a connection's reader (see
/// [`crate::NodeBuilder::busy_poll`]).
pub const BUSY_POLL: Duration = Duration::from_micros(50);

/// Default `dist_buf_busy_limit` (see
/// [`crate::NodeBuilder::dist_buf_busy_limit`]).
pub const BUSY_LIMIT: usize = 1 << 20;

/// A live connection: a queue into its writer.
#[derive(Clone)]
pub struct Conn {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    id: u64,
    /// Both ends are published: the peer is in `nodes()`.
    pub(crate) visible: bool,
    /// The peer's creation (its incarnation).
    creation: u32,
    /// Which end dialled.
    dialled_by_us: bool,
    /// Frame layout for the negotiated flags (and the fragment sequence).
    sender: std::sync::Arc<std::sync::Mutex<Sender>>,
    /// Bytes waiting for the writer, and big buffers it hands back.
    out: std::sync::Arc<Outgoing>,
    /// The peer's address.
    addr: Option<std::net::SocketAddr>,
    /// Messages each way.
    stats: std::sync::Arc<Stats>,
}

/// Messages counted on one connection (the `in` and `out` of
/// `net_kernel:node_info/1`).
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) received: std::sync::atomic::AtomicU64,
    sent: std::sync::atomic::AtomicU64,
    /// Told when this node closes the connection (`disconnect_node`).
    closing: tokio::sync::Notify,
    /// Set by `disconnect_node` (under `dispatching`): the reader
    /// dispatches nothing more, so no message of the old connection
    /// arrives after the `DOWN`s that the disconnect delivers.
    pub(crate) disconnected: std::sync::atomic::AtomicBool,
    /// Held by the reader while it dispatches what it has read.
    pub(crate) dispatching: std::sync::Mutex<()>,
}

/// What `net_kernel:node_info/1` tells about one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// The peer.
    pub node: Atom,
    /// Visible (`normal`) or hidden.
    pub visible: bool,
    /// The peer's address, when known.
    pub address: Option<std::net::SocketAddr>,
    /// Messages received on the connection.
    pub messages_in: u64,
    /// Messages sent on the connection.
    pub messages_out: u64,
}

impl Conn {
    /// Closes the connection (its reader stops, which closes the socket).
    pub(crate) fn close(&self) {
        self.stats.closing.notify_one();
    }

    /// `disconnect_node`, first half: once this returns, the reader has
    /// dispatched its last message (it may be in the middle of a batch,
    /// which this waits for), and the connection is closing.
    pub(crate) fn stop_dispatching(&self) {
        let _dispatching = lock(&self.stats.dispatching);
        self.stats
            .disconnected
            .store(true, std::sync::atomic::Ordering::SeqCst);
        drop(_dispatching);
        self.close();
    }

    /// What `net_kernel:node_info/1` tells about this connection.
    pub(crate) fn info(&self, node: &Atom) -> ConnInfo {
        use std::sync::atomic::Ordering::Relaxed;
        ConnInfo {
            node: node.clone(),
            visible: self.visible,
            address: self.addr,
            messages_in: self.stats.received.load(Relaxed),
            messages_out: self.stats.sent.load(Relaxed),
        }
    }
}

impl Conn {
    /// Queues a message (as one frame, or as fragments).
    pub fn send(&self, control: &Control, payload: Option<&Term>) -> Result<(), Error> {
        let hint = size_hint(payload);
        let mut buf = if hint >= dist_ctrl::BATCH {
            self.out.take(hint)
        } else {
            Vec::with_capacity(hint)
        };
        lock(&self.sender).encode(&mut buf, control, payload)?;
        self.push(buf)
    }

    /// Queues a message whose payload is already encoded.
    pub(crate) fn send_encoded(
        &self,
        control: &Control,
        payload: &crate::encoded::EncodedTerm,
    ) -> Result<(), Error> {
        let mut buf = Vec::with_capacity(payload.bytes().len() + 64);
        lock(&self.sender).encode_encoded(&mut buf, control, payload.bytes())?;
        self.push(buf)
    }

    /// Hands encoded frames to the writer. Counted before the writer can
    /// see them: its count of written bytes never runs ahead of this one.
    fn push(&self, buf: Vec<u8>) -> Result<(), Error> {
        let len = buf.len();
        self.out.queued(len);
        self.stats
            .sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.tx.send(buf).map_err(|_| {
            self.out.written(len);
            Error::Connect {
                node: String::new(),
                reason: "connection closed".into(),
            }
        })
    }

    /// Waits while more than `limit` bytes wait to be written (a busy
    /// connection, as BEAM's `busy_dist_port`): what a process sends
    /// queues at most about that much memory.
    pub async fn not_busy(&self, limit: usize) {
        self.out.below(limit).await;
    }

    /// More than `limit` bytes wait to be written.
    pub(crate) fn is_busy(&self, limit: usize) -> bool {
        self.out.is_above(limit)
    }
}

/// Room to reserve for a frame: enough for the usual small message, and
/// for a big binary (alone or in a tuple) without regrowing.
pub(crate) fn size_hint(payload: Option<&Term>) -> usize {
    let big = |t: &Term| match t {
        Term::Binary(b) => b.len(),
        _ => 0,
    };
    let inner = match payload {
        Some(Term::Tuple(items)) => items.iter().map(big).sum(),
        Some(t) => big(t),
        None => 0,
    };
    // Fragment headers add 22 bytes per 64 KiB.
    256 + inner + inner / 2048
}

fn hs_config(node: &Node) -> Config {
    Config {
        name: node.name().as_str().to_string(),
        flags: node.0.flags,
        creation: node.0.creation,
        cookie: node.0.cookie.clone(),
    }
}

/// The connection to `peer`, set up if there is none and the
/// `dist_auto_connect` policy allows it (auto-connect). Concurrent
/// callers share one attempt.
pub async fn connection(node: &Node, peer: &str) -> Result<Conn, Error> {
    if let Some(c) = lock(&node.0.conns).get(peer) {
        return Ok(c.clone());
    }
    may_auto_connect(node, peer)?;
    let atom = Atom::try_new(peer).map_err(|e| Error::bad_name(peer, e.to_string()))?;
    dist_setup::connect(node, &atom).await
}

/// Whether the `dist_auto_connect` policy lets a send set up a
/// connection to `peer`.
pub(crate) fn may_auto_connect(node: &Node, peer: &str) -> Result<(), Error> {
    let refused = match node.0.auto_connect {
        AutoConnect::Always => false,
        AutoConnect::Never => true,
        AutoConnect::Once => lock(&node.0.ever_connected).contains(peer),
    };
    if refused {
        return Err(Error::Connect {
            node: peer.to_string(),
            reason: "not connected, and dist_auto_connect forbids connecting".into(),
        });
    }
    Ok(())
}

/// `dist_auto_connect`: when a send to an unconnected node sets up the
/// connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoConnect {
    /// Always (OTP's default).
    #[default]
    Always,
    /// Only the first time; after a disconnect only [`connect`] does.
    Once,
    /// Never; only [`connect`] does.
    Never,
}

/// `net_kernel:connect_node/1`: the connection to `peer`, set up if there
/// is none, whatever the auto-connect policy. Concurrent callers share
/// one attempt, bounded as a whole by `net_setuptime`.
pub async fn connect(node: &Node, peer: &str) -> Result<Conn, Error> {
    if let Some(c) = lock(&node.0.conns).get(peer) {
        return Ok(c.clone());
    }
    let atom = Atom::try_new(peer).map_err(|e| Error::bad_name(peer, e.to_string()))?;
    dist_setup::connect(node, &atom).await
}

/// One connection attempt: EPMD lookup, TCP connect, handshake, install
/// (run by [`dist_setup`], one at a time per peer).
pub(crate) async fn dial(node: &Node, peer: &Atom) -> Result<Conn, Error> {
    let peer_atom = peer.clone();
    let peer = peer.as_str();
    let fail = |reason: String| Error::Connect {
        node: peer.to_string(),
        reason,
    };
    let (alive, host) = peer
        .split_once('@')
        .ok_or_else(|| Error::bad_name(peer, "expected name@host"))?;
    let entry = erl_epmd::port_please(host, node.0.epmd_port, alive)
        .await?
        .ok_or_else(|| fail(format!("{alive} is not registered with EPMD on {host}")))?;
    let setup = node.0.setup_time;
    let mut sock = tokio::time::timeout(setup, TcpStream::connect((host, entry.port)))
        .await
        .map_err(|_| fail("connect timed out".into()))??;
    let _ = sock.set_nodelay(true);
    // The peer may have connected to us while we looked it up.
    if let Some(c) = lock(&node.0.conns).get(peer) {
        return Ok(c.clone());
    }
    let mut hs = Handshake::initiate(hs_config(node), peer, rand::random())
        .map_err(|e| fail(e.to_string()))?;
    let accepting = {
        let mut st = lock(&node.0.setups);
        let a = st.accepting.contains(&peer_atom);
        if !a {
            st.dialling.insert(peer_atom.clone());
        }
        a
    };
    if accepting {
        // The peer is dialling us and we said yes: use that connection.
        drop(sock);
        return wait_for(node, peer, setup)
            .await
            .ok_or_else(|| fail("the peer's connection did not complete".into()));
    }
    let result = drive(&mut sock, &mut hs, setup, |_, _| handshake::status::OK).await;
    if result.is_err() {
        lock(&node.0.setups).dialling.remove(&peer_atom);
    }
    match result {
        Ok(est) => {
            // Installed before the dial stops counting as in progress, so
            // that no one sees a moment without either.
            let conn = install(node, sock, &est, true, hs.take_leftover());
            lock(&node.0.setups).dialling.remove(&peer_atom);
            Ok(conn)
        }
        Err(e) if e.contains("\"nok\"") => {
            // The peer is dialling us at the same time and keeps its own
            // attempt: wait for it to arrive.
            wait_for(node, peer, setup).await.ok_or_else(|| {
                fail("simultaneous connect: the peer's attempt did not complete".into())
            })
        }
        Err(e) => {
            tracing::warn!("handshake with {peer} failed: {e}");
            Err(fail(e))
        }
    }
}

async fn wait_for(node: &Node, peer: &str, within: Duration) -> Option<Conn> {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if let Some(c) = lock(&node.0.conns).get(peer) {
            return Some(c.clone());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Handshakes in progress: peers this node dials, and peers whose dial it
/// has said yes to.
#[derive(Default)]
pub(crate) struct Setups {
    dialling: std::collections::HashSet<Atom>,
    accepting: std::collections::HashSet<Atom>,
}

/// The acceptor's answer to a peer that names itself, as `dist_util`
/// decides it: on a simultaneous connect the greater name keeps its own
/// attempt (`nok` to the other, `ok_simultaneous` from the other); an
/// existing connection is taken as stale and replaced.
fn status_for(node: &Node, peer: &str, creation: u32) -> &'static str {
    let Ok(peer) = Atom::try_new(peer) else {
        return handshake::status::NOT_ALLOWED;
    };
    // A second connection from the same incarnation while one is up (the
    // two ends dialled each other and one finished first): `nok`, so that
    // the dialler uses the connection that exists. Two connections to one
    // peer would mean dropping one, and the messages queued on it.
    if creation != 0
        && lock(&node.0.conns)
            .get(&peer)
            .is_some_and(|c| c.creation == creation)
    {
        return handshake::status::NOK;
    }
    let mut st = lock(&node.0.setups);
    if st.dialling.contains(&peer) && node.name().as_str() > peer.as_str() {
        return handshake::status::NOK;
    }
    let status = if st.dialling.contains(&peer) {
        handshake::status::OK_SIMULTANEOUS
    } else {
        handshake::status::OK
    };
    st.accepting.insert(peer);
    status
}

/// Why an accepted handshake ended when we kept another connection to
/// the same peer: not an error.
const SIMULTANEOUS: &str = "simultaneous connect: the other connection is kept (nok)";

/// What the distribution listener's refusals are called in the log.
const DIST: &str = "distribution connections";

/// An accepted handshake that did not complete within `net_setuptime`.
const SETUP_TIMEOUT: &str = "handshake not complete within net_setuptime";

/// The peer closed a handshake it had not judged our cookie in (it gave
/// up, or kept another connection): not a cookie problem.
const CLOSED: &str = "peer closed the connection during the handshake";

/// The peer closed after our digest: most often a cookie mismatch.
const CLOSED_AT_ACK: &str = "peer closed the connection after our challenge reply (wrong cookie?)";

/// Runs a handshake to its end over `sock`, each step within `setup`.
async fn drive(
    sock: &mut TcpStream,
    hs: &mut Handshake,
    setup: Duration,
    decide: impl Fn(&str, u32) -> &'static str,
) -> Result<handshake::Established, String> {
    let mut buf = [0u8; 1024];
    loop {
        let out = hs.take_output();
        if !out.is_empty() {
            sock.write_all(&out).await.map_err(|e| e.to_string())?;
        }
        match hs.state() {
            State::Done(e) => return Ok(e),
            State::NeedStatus { peer, creation, .. } => {
                let status = decide(&peer, creation);
                let r = hs.set_status(status);
                let out = hs.take_output();
                if !out.is_empty() {
                    sock.write_all(&out).await.map_err(|e| e.to_string())?;
                }
                r.map_err(|e| e.to_string())?;
                if status == handshake::status::NOK {
                    return Err(SIMULTANEOUS.into());
                }
                continue;
            }
            State::InProgress => {}
        }
        let n = tokio::time::timeout(setup, sock.read(&mut buf))
            .await
            .map_err(|_| "handshake timed out (net_setuptime)".to_string())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            // Only a dialler waiting for the acceptor's verdict on its
            // digest has reason to suspect the cookie.
            return Err(if hs.awaits_ack() {
                CLOSED_AT_ACK.into()
            } else {
                CLOSED.into()
            });
        }
        hs.input(&buf[..n]).map_err(|e| e.to_string())?;
    }
}

/// Accepts connections until the listener fails.
pub(crate) async fn accept_loop(node: Node, listener: TcpListener) {
    let mut stopping = node.0.stopping.subscribe();
    let mut last_accept_error: Option<std::time::Instant> = None;
    loop {
        let (mut sock, addr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors (EMFILE/ENFILE) or the like:
                    // back off instead of spinning, say so once a minute.
                    let now = std::time::Instant::now();
                    let due = match last_accept_error {
                        Some(t) => now - t > Duration::from_secs(60),
                        None => true,
                    };
                    if due {
                        tracing::warn!("accepting distribution connections failed: {e}; retrying every 100 ms");
                        last_accept_error = Some(now);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopping.changed() => return,
        };
        let pass = match node.0.handshakes.enter(addr.ip()) {
            Ok(p) => p,
            Err(over) => {
                drop(sock);
                node.0.refusals.refused(DIST, addr.ip(), &over.to_string(), || {
                    format!("refused a connection from {addr}: {over}; more are summed up every {} s", crate::refusals::INTERVAL.as_secs())
                });
                continue;
            }
        };
        let node = node.clone();
        tokio::spawn(async move {
            let _pass = pass;
            let _ = sock.set_nodelay(true);
            let mut hs = match Handshake::accept(hs_config(&node), rand::random()) {
                Ok(hs) => hs,
                Err(e) => return tracing::warn!("{e}"),
            };
            let n2 = node.clone();
            // net_setuptime bounds the whole handshake, not each read: a
            // peer that sends a byte at a time is closed in time too.
            let setup = node.0.setup_time;
            let result = tokio::time::timeout(
                setup,
                drive(&mut sock, &mut hs, setup, move |peer, creation| {
                    status_for(&n2, peer, creation)
                }),
            )
            .await
            .unwrap_or_else(|_| Err(SETUP_TIMEOUT.to_string()));
            let named = hs.peer_name().map(str::to_string);
            match result {
                Ok(est) => {
                    tracing::info!("{} connected from {addr}", est.peer);
                    install(&node, sock, &est, false, hs.take_leftover());
                }
                Err(e) if e == SIMULTANEOUS => tracing::debug!("{addr}: {e}"),
                // A dialler that gave up because its peer's attempt (or an
                // existing connection) won: part of a simultaneous connect.
                // Closed before it named itself: a dialler that found a
                // connection after its TCP connect (or a port scan).
                Err(e) if e == CLOSED && named.is_none() => tracing::debug!("{addr}: {e}"),
                Err(e) if e == CLOSED && named.as_deref().is_some_and(|p| superseded(&node, p)) => {
                    tracing::debug!("{addr}: {e} (another connection to the peer is kept)")
                }
                Err(e) => node
                    .0
                    .refusals
                    .refused(DIST, addr.ip(), &e, || match &named {
                        Some(peer) => format!("refused a connection from {peer} ({addr}): {e}"),
                        None => format!("refused a connection from {addr}: {e}"),
                    }),
            }
            if let Some(p) = named.and_then(|p| Atom::try_new(&p).ok()) {
                lock(&node.0.setups).accepting.remove(&p);
            }
        });
    }
}

/// True when `peer` is connected, or being dialled by this node.
fn superseded(node: &Node, peer: &str) -> bool {
    let Ok(peer) = Atom::try_new(peer) else {
        return false;
    };
    lock(&node.0.conns).contains_key(&peer)
        || lock(&node.0.setups).dialling.contains(&peer)
        || node.0.attempts.in_progress(&peer)
}

static NEXT_CONN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Which of two connections to the same incarnation of a peer both ends
/// keep: the one dialled by the greater name (as on a simultaneous
/// connect). True when `new` should replace `old`.
fn replaces(me: &Atom, peer: &Atom, old: &Conn, new_dialled_by_us: bool) -> bool {
    if old.creation != 0 && old.dialled_by_us != new_dialled_by_us {
        let we_win = me.as_str() > peer.as_str();
        return new_dialled_by_us == we_win;
    }
    // The peer restarted (a stale connection), or the same end dialled
    // again: the newer one stays.
    true
}

fn install(
    node: &Node,
    sock: TcpStream,
    est: &handshake::Established,
    dialled_by_us: bool,
    leftover: Vec<u8>,
) -> Conn {
    let (tx, rx) = mpsc::unbounded_channel();
    let id = NEXT_CONN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let visible = node.0.flags & est.flags & nodus_proto::flags::PUBLISHED != 0;
    let conn = Conn {
        tx,
        id,
        visible,
        creation: est.peer_creation,
        dialled_by_us,
        sender: std::sync::Arc::new(std::sync::Mutex::new(Sender::new(est.flags))),
        out: std::sync::Arc::default(),
        addr: sock.peer_addr().ok(),
        stats: std::sync::Arc::default(),
    };
    let peer_atom = Atom::try_new(&est.peer).unwrap_or_else(|_| Atom::new("invalid@name"));
    {
        // Lock order: attempts, then conns (as in `dist_setup::send`).
        let mut attempts = node.0.attempts.lock();
        let mut conns = lock(&node.0.conns);
        if let Some(old) = conns.get(&peer_atom) {
            if old.creation == est.peer_creation
                && !replaces(node.name(), &peer_atom, old, dialled_by_us)
            {
                // A second connection to the same incarnation: both ends
                // keep the other one; this socket is closed.
                tracing::debug!("{peer_atom}: duplicate connection dropped");
                return old.clone();
            }
        }
        // What was sent while the connection was set up goes first.
        for (control, payload) in dist_setup::take_queue(&mut attempts, &peer_atom) {
            let _ = conn.send(&control, payload.as_ref());
        }
        conns.insert(peer_atom.clone(), conn.clone());
    }
    lock(&node.0.ever_connected).insert(peer_atom.as_str().to_string());
    node.node_event(true, &peer_atom, visible, "");
    let (rd, wr) = sock.into_split();
    let tick = node.0.ticktime / 4;
    let out = conn.out.clone();
    let writing = tokio::spawn({
        let out = out.clone();
        async move {
            dist_ctrl::writer(wr, rx, tick, out.clone()).await;
            out.close();
        }
    });
    let node = node.clone();
    let conn_visible = visible;
    let stats = conn.stats.clone();
    tokio::spawn(async move {
        let reason = tokio::select! {
            r = dist_ctrl::reader(&node, rd, leftover, &peer_atom, &stats) => r,
            _ = stats.closing.notified() => "disconnected by this node".to_string(),
        };
        let visible = conn_visible;
        tracing::info!("connection to {peer_atom} closed: {reason}");
        // The writer goes too (it may be stuck writing to a peer that
        // stopped reading), which closes the socket and lets the
        // processes waiting on a busy connection go on.
        writing.abort();
        out.close();
        let ours = {
            let mut conns = lock(&node.0.conns);
            let ours = conns.get(&peer_atom).is_some_and(|c| c.id == id);
            if ours {
                conns.remove(&peer_atom);
            }
            ours
        };
        if ours && !replaced_soon(&node, &peer_atom).await {
            node.connection_lost(&peer_atom, visible, &reason);
        }
    });
    conn
}

/// A connection closed while another handshake with the same peer is
/// under way (the peer dropped it for the other one): waits for that
/// handshake, and says whether it brought a new connection, in which case
/// the peer never went down.
async fn replaced_soon(node: &Node, peer: &Atom) -> bool {
    let deadline = tokio::time::Instant::now() + node.0.setup_time;
    loop {
        let in_progress = {
            let st = lock(&node.0.setups);
            st.dialling.contains(peer) || st.accepting.contains(peer)
        };
        if lock(&node.0.conns).contains_key(peer) {
            return true;
        }
        if !in_progress || tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
