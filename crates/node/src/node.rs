//! The node: its name, its processes and registered names, its
//! connections. Answers to the parts of ERTS and `kernel` that own them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nodus_proto::flags;
use nodus_term::{Atom, Pid, Reference, Term};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::epmd_server::EpmdServer;
use crate::error::Error;
use crate::net_kernel::{self, Conn};
use crate::process::Process;
use crate::{cookie, erl_epmd};
use nodus_proto::dist::Control;

/// `{'DOWN', Ref, process, Object, Reason}`.
fn down(reference: Term, object: Term, reason: Term) -> Term {
    Term::Tuple(vec![
        Term::atom("DOWN"),
        reference,
        Term::atom("process"),
        object,
        reason,
    ])
}

/// Registers with the EPMD on `epmd_port`, starting an embedded one when
/// none answers (as `erl` starts `epmd`). Another node may be starting one
/// at the same moment, or a previous holder of the name may be going: then
/// the registration is retried (for about 3 s).
async fn register_or_embed(
    epmd_port: u16,
    alive: &str,
    port: u16,
) -> Result<(erl_epmd::Registration, Option<EpmdServer>), Error> {
    let mut last = None;
    for _ in 0..20 {
        match erl_epmd::register("127.0.0.1", epmd_port, alive, port).await {
            Ok(r) => return Ok((r, None)),
            // A previous instance that just died may still hold the name
            // until EPMD sees its connection close: try again shortly.
            Err(e @ Error::NameTaken { .. }) => last = Some(e),
            Err(Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                if let Ok(server) = EpmdServer::start(epmd_port).await {
                    tracing::info!("no EPMD on port {epmd_port}: started an embedded one");
                    let r = erl_epmd::register("127.0.0.1", epmd_port, alive, port).await?;
                    return Ok((r, Some(server)));
                }
                last = Some(Error::Io(e));
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(Duration::from_millis(50 + u64::from(rand::random::<u8>()))).await;
    }
    Err(last
        .unwrap_or_else(|| Error::Epmd(format!("cannot reach or start EPMD on port {epmd_port}"))))
}

/// Holds the EPMD registration open; if EPMD goes away (the node that
/// embedded it stopped), registers again, starting an embedded EPMD when
/// none answers, so that the node stays reachable by name.
async fn keep_registered(node: Node, alive: String, mut stream: TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut stopping = node.0.stopping.subscribe();
    let epmd_port = node.0.epmd_port;
    loop {
        let mut sink = [0u8; 16];
        tokio::select! {
            _ = stream.read(&mut sink) => {}
            _ = stopping.changed() => return,
        }
        tracing::warn!(
            "EPMD on port {epmd_port} went away: registering {} again",
            node.name()
        );
        loop {
            if *stopping.borrow() {
                return;
            }
            match register_or_embed(epmd_port, &alive, node.0.port).await {
                Ok((r, server)) => {
                    stream = r.stream;
                    if let Some(server) = server {
                        *lock(&node.0.epmd_server) = Some(server);
                    }
                    break;
                }
                Err(e) => tracing::debug!("EPMD registration: {e}"),
            }
            let jitter = u64::from(rand::random::<u8>());
            tokio::time::sleep(Duration::from_millis(100 + jitter)).await;
        }
    }
}

/// The listen backlog: a burst of connections (a whole cluster booting,
/// every node asking EPMD) must not overflow it, or the kernel drops SYNs
/// and each dropped one costs a 1 s retransmission.
pub(crate) const BACKLOG: u32 = 4096;

/// Listens on `ip:port` with [`BACKLOG`].
pub(crate) fn listen(ip: std::net::IpAddr, port: u16) -> std::io::Result<TcpListener> {
    let sock = match ip {
        std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    sock.set_reuseaddr(true)?;
    sock.bind((ip, port).into())?;
    sock.listen(BACKLOG)
}

/// Binds the distribution listener on `ip`, on the first free port of
/// `min..=max` (`(0, 0)`: any port).
async fn bind(ip: std::net::IpAddr, (min, max): (u16, u16)) -> Result<TcpListener, Error> {
    if min == 0 && max == 0 {
        return Ok(listen(ip, 0)?);
    }
    let mut last = None;
    for port in min..=max {
        match listen(ip, port) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(Error::Io(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::AddrInUse, "no port in range")
    })))
}

/// Locks a mutex, ignoring poisoning (no invariant spans a panic here).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Settings for a node; see [`Node::builder`].
pub struct NodeBuilder {
    name: String,
    cookie: Option<String>,
    epmd_port: Option<u16>,
    published: bool,
    ticktime: Duration,
    setup_time: Duration,
    max_message: usize,
    busy_poll: Duration,
    busy_limit: usize,
    connect_all: bool,
    prevent_overlapping_partitions: bool,
    auto_connect: net_kernel::AutoConnect,
    listen: std::net::IpAddr,
    listen_ports: (u16, u16),
}

impl NodeBuilder {
    /// `connect_all` (default true): `global` keeps the visible nodes a
    /// full mesh.
    pub fn connect_all(mut self, on: bool) -> Self {
        self.connect_all = on;
        self
    }

    /// `prevent_overlapping_partitions` (default true, as in OTP 25):
    /// when a node loses another, the whole cluster drops that one.
    pub fn prevent_overlapping_partitions(mut self, on: bool) -> Self {
        self.prevent_overlapping_partitions = on;
        self
    }

    /// `dist_auto_connect` (default [`net_kernel::AutoConnect::Always`]).
    pub fn auto_connect(mut self, policy: net_kernel::AutoConnect) -> Self {
        self.auto_connect = policy;
        self
    }

    /// `inet_dist_use_interface`: the address to listen on (default all).
    pub fn listen_interface(mut self, ip: std::net::IpAddr) -> Self {
        self.listen = ip;
        self
    }

    /// `inet_dist_listen_min`/`max`: the distribution port is the first
    /// free one in `min..=max` (default: any free port).
    pub fn listen_ports(mut self, min: u16, max: u16) -> Self {
        self.listen_ports = (min, max.max(min));
        self
    }

    /// The largest frame accepted from a peer, in bytes (default 64 MiB);
    /// a bigger one closes that connection.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message = bytes;
        self
    }

    /// How long a connection keeps polling its socket after data arrived
    /// before it sleeps until the kernel wakes it (default 50 µs; zero
    /// turns it off). Like BEAM's scheduler busy-wait (`+sbwt`), it trades
    /// a little CPU after each burst of traffic for the round-trip time of
    /// request/reply traffic: a reply that comes within the window is read
    /// without the wake-up of a sleeping thread.
    pub fn busy_poll(mut self, window: Duration) -> Self {
        self.busy_poll = window;
        self
    }

    /// `dist_buf_busy_limit` (`+zdbbl`; default 1 MiB, as in BEAM):
    /// a process that sends to another node waits while more than this
    /// many bytes are queued for that connection, so a fast sender cannot
    /// fill memory faster than the network drains it.
    pub fn dist_buf_busy_limit(mut self, bytes: usize) -> Self {
        self.busy_limit = bytes;
        self
    }

    /// The cookie; without it, `~/.erlang.cookie` (created if missing).
    pub fn cookie(mut self, cookie: impl Into<String>) -> Self {
        self.cookie = Some(cookie.into());
        self
    }

    /// The EPMD port; without it, `ERL_EPMD_PORT` or 4369.
    pub fn epmd_port(mut self, port: u16) -> Self {
        self.epmd_port = Some(port);
        self
    }

    /// Visible in peers' `nodes()` (the default, as in OTP) or hidden
    /// (`-hidden`): a hidden node takes no part in `global`.
    pub fn published(mut self, published: bool) -> Self {
        self.published = published;
        self
    }

    /// `net_ticktime` (default 60 s).
    pub fn ticktime(mut self, t: Duration) -> Self {
        self.ticktime = t;
        self
    }

    /// `net_setuptime` (default 7 s).
    pub fn setup_time(mut self, t: Duration) -> Self {
        self.setup_time = t;
        self
    }

    /// Starts the node: listens, registers with EPMD (starting an embedded
    /// EPMD when none answers), and starts `net_kernel`.
    pub async fn start(self) -> Result<Node, Error> {
        let alive = match self.name.split_once('@') {
            Some((a, h)) if !a.is_empty() && !h.is_empty() && !h.contains('@') => a.to_string(),
            _ => return Err(Error::BadName(self.name)),
        };
        let name = Atom::try_new(&self.name).map_err(|_| Error::BadName(self.name.clone()))?;
        let cookie = match self.cookie {
            Some(c) => c,
            None => cookie::read_or_create()?,
        };
        let epmd_port = self.epmd_port.unwrap_or_else(erl_epmd::default_port);
        let listener = bind(self.listen, self.listen_ports).await?;
        let port = listener.local_addr()?.port();
        let (registration, epmd_server) = register_or_embed(epmd_port, &alive, port).await?;
        let mut fl = flags::NODUS_DEFAULT
            | flags::SPAWN
            | flags::ALIAS
            | flags::DIST_HDR_ATOM_CACHE
            | flags::FRAGMENTS;
        if self.published {
            fl |= flags::PUBLISHED;
        }
        let inner = Arc::new(Inner {
            name,
            creation: registration.creation,
            cookie: cookie.into_bytes(),
            flags: fl,
            epmd_port,
            port,
            ticktime: self.ticktime,
            setup_time: self.setup_time,
            max_message: self.max_message,
            busy_poll: self.busy_poll,
            busy_limit: self.busy_limit,
            auto_connect: self.auto_connect,
            ever_connected: Mutex::default(),
            next_id: AtomicU32::new(1),
            next_ref: AtomicU32::new(1),
            procs: Mutex::default(),
            names: Mutex::default(),
            conns: Mutex::default(),
            monitors: Mutex::default(),
            out_monitors: Mutex::default(),
            links: Mutex::default(),
            trapping: Mutex::default(),
            functions: Mutex::default(),
            node_watchers: Mutex::default(),
            aliases: Mutex::default(),
            connect_locks: Mutex::default(),
            global: Mutex::default(),
            setups: Mutex::default(),
            stopping: tokio::sync::watch::channel(false).0,
            epmd_server: Mutex::new(epmd_server),
        });
        let node = Node(inner);
        tokio::spawn(keep_registered(node.clone(), alive, registration.stream));
        tokio::spawn(net_kernel::accept_loop(node.clone(), listener));
        net_kernel::start_server(&node);
        crate::rpc::start_rex(&node);
        if self.published {
            let tables =
                crate::global::start(&node, self.connect_all, self.prevent_overlapping_partitions);
            *lock(&node.0.global) = Some(tables);
        }
        tracing::info!("node {} up on port {port} (EPMD {epmd_port})", node.name());
        Ok(node)
    }
}

pub(crate) struct Inner {
    pub(crate) name: Atom,
    pub(crate) creation: u32,
    pub(crate) cookie: Vec<u8>,
    pub(crate) flags: u64,
    pub(crate) epmd_port: u16,
    pub(crate) port: u16,
    pub(crate) ticktime: Duration,
    pub(crate) setup_time: Duration,
    pub(crate) max_message: usize,
    pub(crate) busy_poll: Duration,
    pub(crate) busy_limit: usize,
    pub(crate) auto_connect: net_kernel::AutoConnect,
    /// Nodes connected at least once (for `dist_auto_connect = once`).
    pub(crate) ever_connected: Mutex<std::collections::HashSet<String>>,
    next_id: AtomicU32,
    next_ref: AtomicU32,
    procs: Mutex<HashMap<u32, mpsc::UnboundedSender<Term>>>,
    names: Mutex<HashMap<Atom, Pid>>,
    pub(crate) conns: Mutex<HashMap<Atom, Conn>>,
    /// Monitors of local processes: target id -> (watcher, ref).
    monitors: Mutex<HashMap<u32, Vec<(Pid, Term)>>>,
    /// Monitors local processes hold on remote ones: ref -> (watcher, target).
    out_monitors: Mutex<HashMap<Term, (Pid, Term)>>,
    /// Links of local processes: id -> linked pids.
    links: Mutex<HashMap<u32, Vec<Pid>>>,
    /// Local processes that trap exits.
    trapping: Mutex<std::collections::HashSet<u32>>,
    /// Active process aliases: alias ref -> owner.
    pub(crate) aliases: Mutex<HashMap<Term, Pid>>,
    /// Processes told of every nodeup and nodedown.
    node_watchers: Mutex<Vec<Pid>>,
    /// Functions callable over rpc.
    pub(crate) functions: Mutex<crate::rpc::Functions>,
    /// One lock per peer being dialled.
    pub(crate) connect_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// `global`'s tables, on a visible node.
    pub(crate) global: Mutex<Option<Arc<crate::global::Tables>>>,
    /// Handshakes in progress, both ways (for simultaneous connects).
    pub(crate) setups: Mutex<net_kernel::Setups>,
    /// Set when the node shuts down.
    pub(crate) stopping: tokio::sync::watch::Sender<bool>,
    epmd_server: Mutex<Option<EpmdServer>>,
}

/// A running node. Cheap to clone.
#[derive(Clone)]
pub struct Node(pub(crate) Arc<Inner>);

impl Node {
    /// Settings for a node named `name` (`alive@host`).
    pub fn builder(name: impl Into<String>) -> NodeBuilder {
        NodeBuilder {
            name: name.into(),
            cookie: None,
            epmd_port: None,
            published: true,
            connect_all: true,
            prevent_overlapping_partitions: true,
            auto_connect: net_kernel::AutoConnect::Always,
            listen: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            listen_ports: (0, 0),
            ticktime: Duration::from_secs(60),
            setup_time: Duration::from_secs(7),
            max_message: net_kernel::MAX_FRAME,
            busy_poll: net_kernel::BUSY_POLL,
            busy_limit: net_kernel::BUSY_LIMIT,
        }
    }

    /// The node's name.
    pub fn name(&self) -> &Atom {
        &self.0.name
    }

    /// The creation EPMD gave this incarnation.
    pub fn creation(&self) -> u32 {
        self.0.creation
    }

    /// The distribution listen port.
    pub fn port(&self) -> u16 {
        self.0.port
    }

    /// The EPMD port this node registered with.
    pub fn epmd_port(&self) -> u16 {
        self.0.epmd_port
    }

    /// Names registered with the embedded EPMD, if this node runs one.
    pub fn embedded_epmd_names(&self) -> Option<Vec<(String, u16)>> {
        lock(&self.0.epmd_server).as_ref().map(EpmdServer::names)
    }

    /// The connected visible nodes (`nodes()`, Elixir's `Node.list`),
    /// sorted.
    pub fn nodes(&self) -> Vec<Atom> {
        let mut v: Vec<Atom> = lock(&self.0.conns)
            .iter()
            .filter(|(_, c)| c.visible)
            .map(|(n, _)| n.clone())
            .collect();
        v.sort();
        v
    }

    /// The connected hidden nodes (`nodes(hidden)`), sorted.
    pub fn nodes_hidden(&self) -> Vec<Atom> {
        let mut v: Vec<Atom> = lock(&self.0.conns)
            .iter()
            .filter(|(_, c)| !c.visible)
            .map(|(n, _)| n.clone())
            .collect();
        v.sort();
        v
    }

    /// Every connected node, visible or hidden (`nodes(connected)`).
    pub fn connected(&self) -> Vec<Atom> {
        let mut v: Vec<Atom> = lock(&self.0.conns).keys().cloned().collect();
        v.sort();
        v
    }

    /// True when `peer` is connected and visible.
    pub fn is_visible(&self, peer: &Atom) -> bool {
        lock(&self.0.conns).get(peer).is_some_and(|c| c.visible)
    }

    /// `net_kernel:connect_node/1`: connects to `peer` whatever the
    /// `dist_auto_connect` policy; true when connected.
    pub async fn connect(&self, peer: &str) -> bool {
        peer == self.0.name.as_str() || net_kernel::connect(self, peer).await.is_ok()
    }

    /// `erlang:disconnect_node/1`: closes the connection to `peer`.
    pub fn disconnect(&self, peer: &str) -> bool {
        let removed = lock(&self.0.conns).remove(peer);
        match removed {
            Some(_) => {
                if let Ok(a) = Atom::try_new(peer) {
                    self.connection_lost(&a);
                }
                true
            }
            None => false,
        }
    }

    /// The names registered with `global` in the cluster, as this node
    /// knows them (`global:registered_names/0` with their pids).
    pub fn global_names(&self) -> Vec<(Term, Pid)> {
        lock(&self.0.global)
            .as_ref()
            .map(|t| t.name_list())
            .unwrap_or_default()
    }

    /// Sends to a registered name on `node` only if connected (the
    /// `noconnect` option of `erlang:send/3`).
    pub(crate) fn send_named_noconnect(
        &self,
        from: &Pid,
        name: &str,
        node: &Atom,
        msg: Term,
    ) -> bool {
        if node == &self.0.name {
            return match self.whereis(name) {
                Some(p) => self.deliver_local(&p, msg),
                None => false,
            };
        }
        let Ok(to) = Atom::try_new(name) else {
            return false;
        };
        match lock(&self.0.conns).get(node) {
            Some(c) => c
                .send(
                    &Control::RegSend {
                        from: from.clone(),
                        to,
                    },
                    Some(&msg),
                )
                .is_ok(),
            None => false,
        }
    }

    /// Starts a process running `f`.
    pub fn spawn<F, Fut>(&self, f: F) -> Pid
    where
        F: FnOnce(Process) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let p = self.process();
        let pid = p.pid.clone();
        tokio::spawn(f(p));
        pid
    }

    /// A new process for the calling task (its `self()`).
    pub fn process(&self) -> Process {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let pid = Pid {
            node: self.0.name.clone(),
            id: id & 0x7FFF_FFFF,
            serial: 0,
            creation: self.0.creation,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.0.procs).insert(pid.id, tx);
        Process {
            pid,
            rx,
            saved: VecDeque::new(),
            node: self.clone(),
        }
    }

    /// A new reference (`make_ref()`).
    pub fn make_ref(&self) -> Term {
        let n = self.0.next_ref.fetch_add(1, Ordering::Relaxed);
        Term::from(Reference {
            node: self.0.name.clone(),
            creation: self.0.creation,
            ids: vec![n & 0x3FFFF, rand::random(), rand::random()],
        })
    }

    /// Registers `name` for `pid`; fails if the name is taken.
    pub fn register(&self, name: &str, pid: &Pid) -> Result<(), Error> {
        let a = Atom::try_new(name).map_err(|_| Error::BadName(name.into()))?;
        let mut names = lock(&self.0.names);
        if names.contains_key(&a) {
            return Err(Error::BadName(format!("{name} is already registered")));
        }
        names.insert(a, pid.clone());
        Ok(())
    }

    /// The registered names, sorted (`registered()`).
    pub fn registered(&self) -> Vec<Atom> {
        let mut v: Vec<Atom> = lock(&self.0.names).keys().cloned().collect();
        v.sort();
        v
    }

    /// The pid registered as `name`.
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        lock(&self.0.names).get(name).cloned()
    }

    pub(crate) fn is_local(&self, pid: &Pid) -> bool {
        pid.node == self.0.name && pid.creation == self.0.creation
    }

    /// Delivers to a local process; false when it does not exist.
    pub(crate) fn deliver_local(&self, pid: &Pid, msg: Term) -> bool {
        if !self.is_local(pid) {
            return false;
        }
        match lock(&self.0.procs).get(&pid.id) {
            Some(tx) => tx.send(msg).is_ok(),
            None => false,
        }
    }

    pub(crate) fn local_alive(&self, pid: &Pid) -> bool {
        self.is_local(pid)
            && lock(&self.0.procs)
                .get(&pid.id)
                .is_some_and(|tx| !tx.is_closed())
    }

    /// Sends `msg` to a process alias (a reference made by `alias()` on
    /// this node or a BEAM node); an inactive alias drops it, as on BEAM.
    pub async fn send_alias(&self, from: &Pid, alias: &Term, msg: Term) -> Result<(), Error> {
        let Term::Ref(r) = alias else {
            return Err(Error::BadName(format!("{alias} is not an alias")));
        };
        if r.node == self.0.name {
            self.deliver_alias(alias, msg);
            return Ok(());
        }
        let conn = net_kernel::connection(self, r.node.as_str()).await?;
        conn.send(
            &Control::AliasSend {
                from: from.clone(),
                alias: alias.clone(),
            },
            Some(&msg),
        )?;
        conn.not_busy(self.0.busy_limit).await;
        Ok(())
    }

    /// Delivers to the owner of an active alias.
    pub(crate) fn deliver_alias(&self, alias: &Term, msg: Term) {
        let owner = lock(&self.0.aliases).get(alias).cloned();
        if let Some(pid) = owner {
            self.deliver_local(&pid, msg);
        }
    }

    /// Sends `msg` to `to`, here or on another node (connecting if need be).
    pub async fn send(&self, to: &Pid, msg: Term) -> Result<(), Error> {
        if to.node == self.0.name {
            self.deliver_local(to, msg);
            return Ok(());
        }
        let conn = net_kernel::connection(self, to.node.as_str()).await?;
        conn.send(
            &nodus_proto::dist::Control::Send { to: to.clone() },
            Some(&msg),
        )?;
        conn.not_busy(self.0.busy_limit).await;
        Ok(())
    }

    /// Sends `msg` to the process registered as `name` on `node`.
    pub async fn send_named(
        &self,
        from: &Pid,
        name: &str,
        node: &str,
        msg: Term,
    ) -> Result<(), Error> {
        if node == self.0.name.as_str() {
            if let Some(pid) = self.whereis(name) {
                self.deliver_local(&pid, msg);
            }
            return Ok(());
        }
        let to = Atom::try_new(name).map_err(|_| Error::BadName(name.into()))?;
        let conn = net_kernel::connection(self, node).await?;
        conn.send(
            &nodus_proto::dist::Control::RegSend {
                from: from.clone(),
                to,
            },
            Some(&msg),
        )?;
        conn.not_busy(self.0.busy_limit).await;
        Ok(())
    }

    /// `net_adm:ping/1`: true (`pong`) when `node` answers `net_kernel`'s
    /// `is_auth` call.
    pub async fn ping(&self, node: &str) -> bool {
        let mut me = self.process();
        let r = self.make_ref();
        let call = Term::Tuple(vec![
            Term::atom("$gen_call"),
            Term::Tuple(vec![Term::from(me.pid.clone()), r.clone()]),
            Term::Tuple(vec![Term::atom("is_auth"), Term::Atom(self.0.name.clone())]),
        ]);
        if let Err(e) = self
            .send_named(&me.pid.clone(), "net_kernel", node, call)
            .await
        {
            tracing::info!("ping {node}: {e}");
            return false;
        }
        let reply = me
            .recv_match(
                |m| matches!(m.as_tuple(), Some([tag, _]) if *tag == r),
                self.0.setup_time + Duration::from_secs(5),
            )
            .await;
        matches!(reply.as_ref().and_then(Term::as_tuple), Some([_, yes]) if yes.is_atom("yes"))
    }

    /// Records that `watcher` (remote) monitors local `target`.
    pub(crate) fn add_monitor(&self, target: &Pid, watcher: Pid, reference: Term) {
        lock(&self.0.monitors)
            .entry(target.id)
            .or_default()
            .push((watcher, reference));
    }

    pub(crate) fn remove_monitor(&self, reference: &Term) {
        for v in lock(&self.0.monitors).values_mut() {
            v.retain(|(_, r)| r != reference);
        }
    }

    /// Resolves a pid or registered name to a local pid.
    pub(crate) fn resolve(&self, to: &Term) -> Option<Pid> {
        match to {
            Term::Pid(p) if self.local_alive(p) => Some((**p).clone()),
            Term::Atom(a) => self.whereis(a.as_str()),
            _ => None,
        }
    }

    /// Ends a local process with `reason`: its monitors fire and its links
    /// get exit signals. Does nothing when it already ended.
    pub(crate) fn process_exited(&self, pid: &Pid, reason: Term) {
        if lock(&self.0.procs).remove(&pid.id).is_none() {
            return;
        }
        lock(&self.0.names).retain(|_, p| p != pid);
        lock(&self.0.trapping).remove(&pid.id);
        lock(&self.0.aliases).retain(|_, p| p != pid);
        let watchers = lock(&self.0.monitors).remove(&pid.id).unwrap_or_default();
        let links = lock(&self.0.links).remove(&pid.id).unwrap_or_default();
        for (watcher, reference) in watchers {
            if self.is_local(&watcher) {
                self.deliver_local(
                    &watcher,
                    down(reference, Term::from(pid.clone()), reason.clone()),
                );
            } else {
                let ctl = Control::MonitorPExit {
                    from: Term::from(pid.clone()),
                    to: watcher.clone(),
                    reference,
                    reason: reason.clone(),
                };
                self.send_control(&watcher.node, ctl);
            }
        }
        for other in links {
            if self.is_local(&other) {
                self.exit_signal(&other, pid, reason.clone(), false);
            } else {
                let ctl = Control::Exit {
                    from: pid.clone(),
                    to: other.clone(),
                    reason: reason.clone(),
                };
                self.send_control(&other.node, ctl);
            }
        }
    }

    /// Queues a control message to `node` if connected (signals never
    /// set up connections, as in ERTS).
    pub(crate) fn send_control(&self, node: &Atom, ctl: Control) {
        if let Some(c) = lock(&self.0.conns).get(node) {
            let _ = c.send(&ctl, None);
        }
    }

    /// An exit signal from `from` reaches local `to`: trapped as a message,
    /// or it ends `to` unless the reason is `normal`. `exit/2` (`untrappable`)
    /// with reason `kill` ends it as `killed` even when it traps.
    pub(crate) fn exit_signal(&self, to: &Pid, from: &Pid, reason: Term, untrappable: bool) {
        if let Some(v) = lock(&self.0.links).get_mut(&to.id) {
            v.retain(|p| p != from);
        }
        if untrappable && reason.is_atom("kill") {
            return self.process_exited(to, Term::atom("killed"));
        }
        if lock(&self.0.trapping).contains(&to.id) {
            let msg = Term::Tuple(vec![Term::atom("EXIT"), Term::from(from.clone()), reason]);
            self.deliver_local(to, msg);
        } else if !reason.is_atom("normal") {
            self.process_exited(to, reason);
        }
    }

    pub(crate) fn set_trap_exit(&self, pid: &Pid, on: bool) {
        let mut t = lock(&self.0.trapping);
        if on {
            t.insert(pid.id);
        } else {
            t.remove(&pid.id);
        }
    }

    pub(crate) fn add_link(&self, local: &Pid, other: &Pid) {
        let mut links = lock(&self.0.links);
        let v = links.entry(local.id).or_default();
        if !v.contains(other) {
            v.push(other.clone());
        }
    }

    pub(crate) fn remove_link(&self, local: &Pid, other: &Pid) {
        if let Some(v) = lock(&self.0.links).get_mut(&local.id) {
            v.retain(|p| p != other);
        }
    }

    /// Links local `me` with `other`: a dead `other` sends back `noproc`.
    pub(crate) async fn link(&self, me: &Pid, other: &Pid) {
        if self.is_local(other) {
            if self.local_alive(other) {
                self.add_link(me, other);
                self.add_link(other, me);
            } else {
                self.exit_signal(me, other, Term::atom("noproc"), false);
            }
            return;
        }
        self.add_link(me, other);
        match net_kernel::connection(self, other.node.as_str()).await {
            Ok(c) => {
                let _ = c.send(
                    &Control::Link {
                        from: me.clone(),
                        to: other.clone(),
                    },
                    None,
                );
            }
            Err(_) => self.exit_signal(me, other, Term::atom("noconnection"), false),
        }
    }

    /// Monitors `target` (a pid, or a `{Name, Node}` tuple) for `me`.
    pub(crate) async fn monitor(&self, me: &Pid, target: &Term) -> Term {
        let reference = self.make_ref();
        let (node, proc_term) = match target {
            Term::Pid(p) => (p.node.clone(), target.clone()),
            Term::Tuple(t) if t.len() == 2 => match (&t[0], &t[1]) {
                (Term::Atom(_), Term::Atom(n)) => (n.clone(), t[0].clone()),
                _ => (self.0.name.clone(), Term::nil()),
            },
            _ => (self.0.name.clone(), Term::nil()),
        };
        if node == self.0.name {
            match self.resolve(&proc_term) {
                Some(p) => self.add_monitor(&p, me.clone(), reference.clone()),
                None => {
                    self.deliver_local(
                        me,
                        down(reference.clone(), target.clone(), Term::atom("noproc")),
                    );
                }
            }
            return reference;
        }
        lock(&self.0.out_monitors).insert(reference.clone(), (me.clone(), target.clone()));
        match net_kernel::connection(self, node.as_str()).await {
            Ok(c) => {
                let _ = c.send(
                    &Control::MonitorP {
                        from: me.clone(),
                        to: proc_term,
                        reference: reference.clone(),
                    },
                    None,
                );
            }
            Err(_) => self.monitor_fired(&reference, Term::atom("noconnection")),
        }
        reference
    }

    /// Drops a monitor this node holds (`demonitor(Ref, [flush])` without
    /// the flush).
    pub(crate) async fn demonitor(&self, reference: &Term) {
        let entry = lock(&self.0.out_monitors).remove(reference);
        if let Some((watcher, target)) = entry {
            let (node, proc_term) = match &target {
                Term::Pid(p) => (p.node.clone(), target.clone()),
                Term::Tuple(t) if t.len() == 2 => match &t[1] {
                    Term::Atom(n) => (n.clone(), t[0].clone()),
                    _ => return,
                },
                _ => return,
            };
            let ctl = Control::DemonitorP {
                from: watcher,
                to: proc_term,
                reference: reference.clone(),
            };
            self.send_control(&node, ctl);
        } else {
            self.remove_monitor(reference);
        }
    }

    /// A monitor this node holds fired with `reason`.
    pub(crate) fn monitor_fired(&self, reference: &Term, reason: Term) {
        if let Some((watcher, target)) = lock(&self.0.out_monitors).remove(reference) {
            self.deliver_local(&watcher, down(reference.clone(), target, reason));
        }
    }

    /// `net_kernel:monitor_nodes(true)` for `pid`: it gets `{nodeup, Node}`
    /// and `{nodedown, Node}` messages.
    pub fn monitor_nodes(&self, pid: &Pid) {
        lock(&self.0.node_watchers).push(pid.clone());
    }

    /// `net_kernel:monitor_nodes(false)` for `pid`.
    pub fn unmonitor_nodes(&self, pid: &Pid) {
        lock(&self.0.node_watchers).retain(|p| p != pid);
    }

    pub(crate) fn node_event(&self, what: &str, peer: &Atom) {
        let watchers: Vec<Pid> = lock(&self.0.node_watchers).clone();
        for w in watchers {
            self.deliver_local(
                &w,
                Term::Tuple(vec![Term::atom(what), Term::Atom(peer.clone())]),
            );
        }
    }

    /// The connection to `peer` is gone: links and monitors across it
    /// fire with `noconnection`.
    pub(crate) fn connection_lost(&self, peer: &Atom) {
        self.node_event("nodedown", peer);
        let mut broken = Vec::new();
        for (id, v) in lock(&self.0.links).iter_mut() {
            v.retain(|p| {
                if &p.node == peer {
                    broken.push((*id, p.clone()));
                    false
                } else {
                    true
                }
            });
        }
        for (id, remote) in broken {
            let me = Pid {
                node: self.0.name.clone(),
                id,
                serial: 0,
                creation: self.0.creation,
            };
            self.exit_signal(&me, &remote, Term::atom("noconnection"), false);
        }
        let refs: Vec<Term> = lock(&self.0.out_monitors)
            .iter()
            .filter(|(_, (_, t))| match t {
                Term::Pid(p) => &p.node == peer,
                Term::Tuple(t) => t.get(1).is_some_and(|n| n.as_atom() == Some(peer.as_str())),
                _ => false,
            })
            .map(|(r, _)| r.clone())
            .collect();
        for r in refs {
            self.monitor_fired(&r, Term::atom("noconnection"));
        }
        for v in lock(&self.0.monitors).values_mut() {
            v.retain(|(w, _)| &w.node != peer);
        }
    }

    /// Stops the node: closes every connection and unregisters from EPMD.
    pub fn shutdown(&self) {
        lock(&self.0.conns).clear();
        self.0.stopping.send_replace(true);
        if let Some(server) = lock(&self.0.epmd_server).take() {
            server.stop();
        }
    }
}
