//! Connections between nodes, and the `net_kernel` process that answers
//! `net_adm:ping/1`. Answers to OTP's `net_kernel` and the per-connection
//! work of `dist_util` (handshake, ticks).
//!
//! Each connection has a reader task (frames in, dispatched to local
//! processes) and a writer task that drains a queue of encoded frames,
//! batching them into one write, and sends a tick when the line is idle.

use std::time::Duration;

use nodus_proto::dist::{self, Control, FrameReader};
use nodus_proto::dist_header::{Receiver, Sender};
use nodus_proto::handshake::{self, Config, Handshake, State};
use nodus_term::etf::Limits;
use nodus_term::{Atom, Term};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::dist_queue::Outgoing;
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
pub const BUSY_LIMIT: usize = 4 << 20;

/// Bytes a reader asks the socket for at once: from 64 KiB while traffic
/// is light up to 4 MiB while a peer streams big messages.
const MIN_READ: usize = 64 * 1024;
const MAX_READ: usize = 4 << 20;

/// Most bytes the writer gathers into one write.
const BATCH: usize = 256 * 1024;

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
}

impl Conn {
    /// Queues a message (as one frame, or as fragments).
    pub fn send(&self, control: &Control, payload: Option<&Term>) -> Result<(), Error> {
        let hint = size_hint(payload);
        let mut buf = if hint >= BATCH {
            self.out.take(hint)
        } else {
            Vec::with_capacity(hint)
        };
        lock(&self.sender).encode(&mut buf, control, payload)?;
        // Counted before the writer can see it: the writer's count of
        // written bytes never runs ahead of this one.
        let len = buf.len();
        self.out.queued(len);
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
}

/// Room to reserve for a frame: enough for the usual small message, and
/// for a big binary (alone or in a tuple) without regrowing.
fn size_hint(payload: Option<&Term>) -> usize {
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
/// `dist_auto_connect` policy allows it (auto-connect).
pub async fn connection(node: &Node, peer: &str) -> Result<Conn, Error> {
    if let Some(c) = lock(&node.0.conns).get(peer) {
        return Ok(c.clone());
    }
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
    connect(node, peer).await
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
/// is none, whatever the auto-connect policy.
pub async fn connect(node: &Node, peer: &str) -> Result<Conn, Error> {
    if let Some(c) = lock(&node.0.conns).get(peer) {
        return Ok(c.clone());
    }
    let peer_lock = {
        let mut locks = lock(&node.0.connect_locks);
        locks.retain(|_, l| std::sync::Arc::strong_count(l) > 1);
        locks.entry(peer.to_string()).or_default().clone()
    };
    let _guard = peer_lock.lock().await;
    if let Some(c) = lock(&node.0.conns).get(peer) {
        return Ok(c.clone());
    }
    let fail = |reason: String| Error::Connect {
        node: peer.to_string(),
        reason,
    };
    let (alive, host) = peer
        .split_once('@')
        .ok_or_else(|| Error::BadName(peer.into()))?;
    let entry = erl_epmd::port_please(host, node.0.epmd_port, alive)
        .await?
        .ok_or_else(|| fail(format!("{alive} is not registered with EPMD on {host}")))?;
    let setup = node.0.setup_time;
    let mut sock = tokio::time::timeout(setup, TcpStream::connect((host, entry.port)))
        .await
        .map_err(|_| fail("connect timed out".into()))??;
    let _ = sock.set_nodelay(true);
    let mut hs = Handshake::initiate(hs_config(node), peer, rand::random())
        .map_err(|e| fail(e.to_string()))?;
    let peer_atom = Atom::try_new(peer).map_err(|_| Error::BadName(peer.into()))?;
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
    let result = drive(&mut sock, &mut hs, setup, |_| handshake::status::OK).await;
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
fn status_for(node: &Node, peer: &str) -> &'static str {
    let Ok(peer) = Atom::try_new(peer) else {
        return handshake::status::NOT_ALLOWED;
    };
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

/// Runs a handshake to its end over `sock`, each step within `setup`.
async fn drive(
    sock: &mut TcpStream,
    hs: &mut Handshake,
    setup: Duration,
    decide: impl Fn(&str) -> &'static str,
) -> Result<handshake::Established, String> {
    let mut buf = vec![0u8; 4096];
    loop {
        let out = hs.take_output();
        if !out.is_empty() {
            sock.write_all(&out).await.map_err(|e| e.to_string())?;
        }
        match hs.state() {
            State::Done(e) => return Ok(e),
            State::NeedStatus { peer, .. } => {
                let r = hs.set_status(decide(&peer));
                let out = hs.take_output();
                if !out.is_empty() {
                    sock.write_all(&out).await.map_err(|e| e.to_string())?;
                }
                r.map_err(|e| e.to_string())?;
                continue;
            }
            State::InProgress => {}
        }
        let n = tokio::time::timeout(setup, sock.read(&mut buf))
            .await
            .map_err(|_| "handshake timed out (net_setuptime)".to_string())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("peer closed the connection during the handshake (wrong cookie?)".into());
        }
        hs.input(&buf[..n]).map_err(|e| e.to_string())?;
    }
}

/// Accepts connections until the listener fails.
pub(crate) async fn accept_loop(node: Node, listener: TcpListener) {
    let mut stopping = node.0.stopping.subscribe();
    loop {
        let (mut sock, addr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(_) => continue,
            },
            _ = stopping.changed() => return,
        };
        let node = node.clone();
        tokio::spawn(async move {
            let _ = sock.set_nodelay(true);
            let mut hs = match Handshake::accept(hs_config(&node), rand::random()) {
                Ok(hs) => hs,
                Err(e) => return tracing::warn!("{e}"),
            };
            let n2 = node.clone();
            let result = drive(&mut sock, &mut hs, node.0.setup_time, move |peer| {
                status_for(&n2, peer)
            })
            .await;
            let named = hs.peer_name().map(str::to_string);
            match result {
                Ok(est) => {
                    tracing::info!("{} connected from {addr}", est.peer);
                    install(&node, sock, &est, false, hs.take_leftover());
                }
                Err(e) => match &named {
                    Some(peer) => tracing::warn!("refused a connection from {peer} ({addr}): {e}"),
                    None => tracing::warn!("refused a connection from {addr}: {e}"),
                },
            }
            if let Some(p) = named.and_then(|p| Atom::try_new(&p).ok()) {
                lock(&node.0.setups).accepting.remove(&p);
            }
        });
    }
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
    };
    let peer_atom = Atom::try_new(&est.peer).unwrap_or_else(|_| Atom::new("invalid@name"));
    {
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
        conns.insert(peer_atom.clone(), conn.clone());
    }
    lock(&node.0.ever_connected).insert(peer_atom.as_str().to_string());
    node.node_event("nodeup", &peer_atom);
    let (rd, wr) = sock.into_split();
    let tick = node.0.ticktime / 4;
    let out = conn.out.clone();
    let writing = tokio::spawn({
        let out = out.clone();
        async move {
            writer(wr, rx, tick, out.clone()).await;
            out.close();
        }
    });
    let node = node.clone();
    tokio::spawn(async move {
        let reason = reader(&node, rd, leftover, &peer_atom).await;
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
            node.connection_lost(&peer_atom);
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

async fn writer(
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    tick: Duration,
    out: std::sync::Arc<Outgoing>,
) {
    let mut buf = Vec::with_capacity(BATCH);
    loop {
        let first = match tokio::time::timeout(tick, rx.recv()).await {
            Ok(Some(f)) => f,
            Ok(None) => return,
            Err(_) => {
                // Idle for a quarter of the ticktime: a tick (not queued).
                if wr.write_all(&[0, 0, 0, 0]).await.is_err() {
                    return;
                }
                continue;
            }
        };
        // A large frame goes out as it is; small ones are gathered into
        // one write.
        if first.len() >= BATCH {
            if wr.write_all(&first).await.is_err() {
                return;
            }
            out.written(first.len());
            out.give(first);
            continue;
        }
        buf.clear();
        buf.extend_from_slice(&first);
        while buf.len() < BATCH {
            match rx.try_recv() {
                Ok(f) if f.len() >= BATCH => {
                    if wr.write_all(&buf).await.is_err() || wr.write_all(&f).await.is_err() {
                        return;
                    }
                    out.written(buf.len() + f.len());
                    out.give(f);
                    buf.clear();
                    break;
                }
                Ok(f) => buf.extend_from_slice(&f),
                Err(_) => break,
            }
        }
        if !buf.is_empty() {
            if wr.write_all(&buf).await.is_err() {
                return;
            }
            out.written(buf.len());
        }
    }
}

async fn reader(
    node: &Node,
    mut rd: tokio::net::tcp::OwnedReadHalf,
    leftover: Vec<u8>,
    peer: &Atom,
) -> String {
    let mut frames = FrameReader::new(node.0.max_message);
    let mut receiver = Receiver::new(node.0.max_message, Limits::DEFAULT);
    frames.extend(&leftover);
    let ticktime = node.0.ticktime;
    let mut room = MIN_READ;
    let mut unyielded = 0usize;
    loop {
        loop {
            match frames.next_frame() {
                Ok(Some(Some(body))) => match receiver.frame(&body) {
                    Ok(Some(f)) => {
                        dispatch(node, peer, f.control, f.payload).await;
                        unyielded += 1;
                    }
                    Ok(None) => {}
                    Err(e) => return format!("bad frame: {e}"),
                },
                Ok(Some(None)) => {}
                Ok(None) => break,
                Err(e) => return format!("bad frame: {e}"),
            }
        }
        // Busy-poll only between messages: the rest of a message that is
        // on its way comes at the sender's pace, and a spinning reader
        // would take the CPU a sender on the same machine needs.
        let between = frames.buffered() == 0 && !receiver.has_partial();
        if unyielded > 0 && (!between || unyielded >= 64) {
            // While a peer streams, the processes just handed messages
            // get their turn before this reader reads on: messages cannot
            // pile up in a mailbox whose owner never runs. (Between
            // messages, the busy-poll below yields anyway.)
            unyielded = 0;
            tokio::task::yield_now().await;
        }
        let spin = if between {
            node.0.busy_poll
        } else {
            Duration::ZERO
        };
        match read_more(&mut rd, &mut frames, room, spin, ticktime, &mut unyielded).await {
            // A read that filled the room: the peer is streaming, read
            // more at once; a short one: back towards the small buffer.
            Ok(n) if n >= room => room = (room * 2).min(MAX_READ),
            Ok(n) if n < room / 4 => room = (room / 2).max(MIN_READ),
            Ok(_) => {}
            Err(reason) => return reason,
        }
        if room == MIN_READ {
            frames.shrink(4 * MIN_READ);
            if !receiver.has_partial() {
                receiver.release_buffers();
            }
        }
        if !lock(&node.0.conns).contains_key(peer) {
            return "shut down".into();
        }
    }
}

/// Reads what the socket has into `frames`. First it polls for up to
/// `spin`, yielding to the runtime between polls (a reply to what we just
/// sent often comes within microseconds, sooner than a sleeping thread
/// wakes); then it sleeps until data comes. Nothing at all for a whole
/// `ticktime` means the peer is gone.
async fn read_more(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    frames: &mut FrameReader,
    room: usize,
    spin: Duration,
    ticktime: Duration,
    unyielded: &mut usize,
) -> Result<usize, String> {
    if !spin.is_zero() {
        let until = std::time::Instant::now() + spin;
        loop {
            match rd.try_read_buf(frames.spare(room)) {
                Ok(0) => return Err("closed by peer".into()),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => *unyielded = 0,
                Err(e) => return Err(e.to_string()),
            }
            if std::time::Instant::now() >= until {
                break;
            }
            // Until the socket is readable or the runtime's next turn
            // (which asks the kernel about every socket at once); the
            // processes that were just handed messages run meanwhile.
            tokio::select! {
                biased;
                r = rd.readable() => r.map_err(|e| e.to_string())?,
                () = tokio::task::yield_now() => {}
            }
        }
    }
    match tokio::time::timeout(ticktime, rd.read_buf(frames.spare(room))).await {
        Ok(Ok(0)) => Err("closed by peer".into()),
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no traffic for {}s (net_ticktime)",
            ticktime.as_secs()
        )),
    }
}

async fn dispatch(node: &Node, peer: &Atom, control: Control, payload: Option<Term>) {
    let payload = payload.unwrap_or_else(Term::nil);
    match control {
        Control::Send { to } | Control::SendSender { to, .. } => {
            node.deliver_local(&to, payload);
        }
        Control::RegSend { to, .. } => {
            if let Some(pid) = node.whereis(to.as_str()) {
                node.deliver_local(&pid, payload);
            }
        }
        Control::MonitorP {
            from,
            to,
            reference,
        } => match node.resolve(&to) {
            Some(target) => node.add_monitor(&target, from, reference),
            None => {
                let exit = Control::MonitorPExit {
                    from: to,
                    to: from,
                    reference,
                    reason: Term::atom("noproc"),
                };
                if let Some(c) = lock(&node.0.conns).get(peer) {
                    let _ = c.send(&exit, None);
                }
            }
        },
        Control::DemonitorP { reference, .. } => node.remove_monitor(&reference),
        Control::MonitorPExit {
            reference, reason, ..
        } => node.monitor_fired(&reference, reason),
        Control::PayloadMonitorPExit { reference, .. } => node.monitor_fired(&reference, payload),
        Control::Link { from, to } => {
            if node.local_alive(&to) {
                node.add_link(&to, &from);
            } else {
                node.send_control(
                    peer,
                    Control::Exit {
                        from: to,
                        to: from,
                        reason: Term::atom("noproc"),
                    },
                );
            }
        }
        Control::Unlink { from, to } => node.remove_link(&to, &from),
        Control::UnlinkId { id, from, to } => {
            node.remove_link(&to, &from);
            node.send_control(
                peer,
                Control::UnlinkIdAck {
                    id,
                    from: to,
                    to: from,
                },
            );
        }
        Control::UnlinkIdAck { .. } | Control::GroupLeader { .. } => {}
        Control::Exit { from, to, reason } => node.exit_signal(&to, &from, reason, false),
        Control::PayloadExit { from, to } => node.exit_signal(&to, &from, payload, false),
        Control::Exit2 { from, to, reason } => node.exit_signal(&to, &from, reason, true),
        Control::PayloadExit2 { from, to } => node.exit_signal(&to, &from, payload, true),
        Control::AliasSend { alias, .. } => node.deliver_alias(&alias, payload),
        req @ Control::SpawnRequest { .. } => crate::rpc::spawn_request(node, peer, req, payload),
        other => tracing::debug!("{peer}: ignoring {other:?}"),
    }
}

/// Starts the `net_kernel` process, which answers `is_auth` calls.
pub(crate) fn start_server(node: &Node) {
    let pid = node.spawn(|mut me| async move {
        while let Some(msg) = me.recv().await {
            let Some([tag, from, req]) = msg.as_tuple() else {
                continue;
            };
            if !tag.is_atom("$gen_call") {
                continue;
            }
            let (Some([Term::Pid(caller), call_tag]), Some([op, _])) =
                (from.as_tuple(), req.as_tuple())
            else {
                continue;
            };
            if op.is_atom("is_auth") {
                let reply = Term::Tuple(vec![call_tag.clone(), Term::atom("yes")]);
                let _ = me.node().clone().send(caller, reply).await;
            }
        }
    });
    let _ = node.register("net_kernel", &pid);
}
