//! The node: its name, its connections, and the handle through which
//! processes and services reach the process core ([`crate::erts`]).
//! Answers to the parts of ERTS that own a node's identity and its
//! distribution entries (`erl_node_tables.c`, `dist.c`).

use std::any::{Any, TypeId};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nodus_proto::dist::Control;
use nodus_term::{Atom, Pid, Reference, Term};
use tokio::net::{TcpListener, TcpStream};

use crate::epmd_server::EpmdServer;
use crate::erl_epmd;
use crate::error::Error;
use crate::erts::ptab::ProcEntry;
use crate::erts::Erts;
use crate::net_kernel::{self, Conn};
use crate::process::Process;

/// Registers with the EPMD on `epmd_port`, starting an embedded one when
/// none answers (as `erl` starts `epmd`). Another node may be starting one
/// at the same moment, or a previous holder of the name may be going: then
/// the registration is retried (for about 3 s).
pub(crate) async fn register_or_embed(
    epmd_port: u16,
    alive: &str,
    port: u16,
    embed: bool,
) -> Result<(erl_epmd::Registration, Option<EpmdServer>), Error> {
    let mut last = None;
    for _ in 0..20 {
        match erl_epmd::register("127.0.0.1", epmd_port, alive, port).await {
            Ok(r) => return Ok((r, None)),
            // A previous instance that just died may still hold the name
            // until EPMD sees its connection close: try again shortly.
            Err(e @ Error::NameTaken { .. }) => last = Some(e),
            // An EPMD that is stopping (the node that embedded it just
            // ended) resets what it had accepted: ask again, and start
            // one if none answers then.
            Err(e) if is_reset(&e) => last = Some(e),
            Err(e @ Error::NoEpmd { .. }) if !embed => return Err(e),
            Err(e @ Error::NoEpmd { .. }) => {
                if let Ok(server) = EpmdServer::start(epmd_port).await {
                    tracing::info!("no EPMD on port {epmd_port}: started an embedded one");
                    let r = erl_epmd::register("127.0.0.1", epmd_port, alive, port).await?;
                    return Ok((r, Some(server)));
                }
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(Duration::from_millis(50 + u64::from(rand::random::<u8>()))).await;
    }
    Err(last
        .unwrap_or_else(|| Error::Epmd(format!("cannot reach or start EPMD on port {epmd_port}"))))
}

/// True for an EPMD connection reset or cut short (an EPMD stopping).
fn is_reset(e: &Error) -> bool {
    matches!(e, Error::Io { error, .. } if matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
    ))
}

/// Holds the EPMD registration open; if EPMD goes away (the node that
/// embedded it stopped), registers again, starting an embedded EPMD when
/// none answers, so that the node stays reachable by name.
pub(crate) async fn keep_registered(node: Node, alive: String, mut stream: TcpStream) {
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
            match register_or_embed(epmd_port, &alive, node.0.port, true).await {
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
pub(crate) async fn bind(
    ip: std::net::IpAddr,
    (min, max): (u16, u16),
) -> Result<TcpListener, Error> {
    if min == 0 && max == 0 {
        return listen(ip, 0)
            .map_err(|e| Error::io(format!("cannot listen on {ip} (any port)"), e));
    }
    let mut last = None;
    for port in min..=max {
        match listen(ip, port) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    let e = last
        .unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::AddrInUse, "no port in range"));
    Err(Error::io(
        format!("cannot listen on {ip}, ports {min}..={max} (inet_dist_listen_min/max)"),
        e,
    ))
}

/// Locks a mutex, ignoring poisoning (no invariant spans a panic here).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
    /// Accepted handshakes in progress, against their caps.
    pub(crate) handshakes: crate::conn_gate::Gate,
    /// The log of refused connections (aggregated).
    pub(crate) refusals: crate::refusals::Refusals,
    pub(crate) max_message: usize,
    pub(crate) busy_poll: Duration,
    pub(crate) busy_limit: usize,
    pub(crate) auto_connect: net_kernel::AutoConnect,
    /// Nodes connected at least once (for `dist_auto_connect = once`).
    pub(crate) ever_connected: Mutex<std::collections::HashSet<String>>,
    /// The process core.
    pub(crate) erts: Erts,
    pub(crate) conns: Mutex<HashMap<Atom, Conn>>,
    /// Connection attempts in progress, one per peer, and what is sent
    /// meanwhile.
    pub(crate) attempts: crate::dist_setup::Attempts,
    /// Handshakes in progress, both ways (for simultaneous connects).
    pub(crate) setups: Mutex<net_kernel::Setups>,
    /// Set when the node shuts down.
    pub(crate) stopping: tokio::sync::watch::Sender<bool>,
    pub(crate) epmd_server: Mutex<Option<EpmdServer>>,
    /// When the node started (`statistics(wall_clock)`).
    pub(crate) started: std::time::Instant,
}

/// A running node. Cheap to clone.
#[derive(Clone)]
pub struct Node(pub(crate) Arc<Inner>);

impl Node {
    /// The node's name.
    pub fn name(&self) -> &Atom {
        &self.0.name
    }

    /// The creation EPMD gave this incarnation.
    pub fn creation(&self) -> u32 {
        self.0.creation
    }

    /// `net_ticktime`.
    pub fn ticktime(&self) -> Duration {
        self.0.ticktime
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

    /// `net_kernel:node_info/1`: what is known about the connection to
    /// `peer`, if connected.
    pub fn node_info(&self, peer: &str) -> Option<net_kernel::ConnInfo> {
        let conns = lock(&self.0.conns);
        let (name, conn) = conns.get_key_value(peer)?;
        Some(conn.info(name))
    }

    /// `net_kernel:nodes_info/0`: every connection, by peer name.
    pub fn nodes_info(&self) -> Vec<net_kernel::ConnInfo> {
        let mut v: Vec<_> = lock(&self.0.conns)
            .iter()
            .map(|(name, conn)| conn.info(name))
            .collect();
        v.sort_by(|a, b| a.node.cmp(&b.node));
        v
    }

    /// `erlang:disconnect_node/1`: closes the connection to `peer`.
    pub fn disconnect(&self, peer: &str) -> bool {
        let removed = lock(&self.0.conns).remove(peer);
        match removed {
            Some(c) => {
                // Nothing of the old connection is delivered after the
                // DOWNs and the nodedown below.
                c.stop_dispatching();
                if let Ok(a) = Atom::try_new(peer) {
                    self.connection_lost(&a, c.visible, "disconnect");
                }
                true
            }
            None => false,
        }
    }

    /// The live connection to `peer`, if any.
    pub(crate) fn connection_of(&self, peer: &Atom) -> Option<Conn> {
        lock(&self.0.conns).get(peer).cloned()
    }

    /// `erlang:send(Pid, Msg, [noconnect])`: sends only if `to` is here or
    /// its node is connected; false when the message was dropped. Never
    /// waits (not even on a busy connection).
    pub fn send_noconnect(&self, to: &Pid, msg: Term) -> bool {
        if to.node == self.0.name {
            return self.deliver_local(to, msg);
        }
        let conn = lock(&self.0.conns).get(&to.node).cloned();
        match conn {
            Some(c) => c
                .send(&Control::Send { to: to.clone() }, Some(&msg))
                .is_ok(),
            None => false,
        }
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

    /// A number unique on this node.
    pub(crate) fn make_ref_number(&self) -> u32 {
        self.0.erts.next_ref.fetch_add(1, Ordering::Relaxed)
    }

    /// A new reference (`make_ref()`).
    pub fn make_ref(&self) -> Term {
        let n = self.0.erts.next_ref.fetch_add(1, Ordering::Relaxed);
        Term::from(Reference {
            node: self.0.name.clone(),
            creation: self.0.creation,
            ids: vec![n & 0x3FFFF, rand::random(), rand::random()],
        })
    }

    #[inline]
    pub(crate) fn is_local(&self, pid: &Pid) -> bool {
        pid.node == self.0.name && pid.creation == self.0.creation
    }

    /// Delivers to a local process; false when it does not exist.
    #[inline]
    pub(crate) fn deliver_local(&self, pid: &Pid, msg: Term) -> bool {
        self.deliver_local_from(pid, &mut Some(msg))
    }

    /// Delivers the message in `slot` (moving it out) to a local process;
    /// false when it does not exist (and `slot` still holds it).
    #[inline(always)]
    pub(crate) fn deliver_local_from(&self, pid: &Pid, slot: &mut Option<Term>) -> bool {
        self.is_local(pid) && crate::erts::dest_cache::deliver(&self.0.erts.procs, pid.id, slot)
    }

    /// True while local process `pid` lives.
    pub fn is_process_alive(&self, pid: &Pid) -> bool {
        self.local_alive(pid)
    }

    pub(crate) fn local_alive(&self, pid: &Pid) -> bool {
        self.local_entry(pid).is_some()
    }

    /// The table entry of live local process `pid`.
    pub(crate) fn local_entry(&self, pid: &Pid) -> Option<Arc<ProcEntry>> {
        if self.is_local(pid) {
            self.0.erts.procs.get(pid.id)
        } else {
            None
        }
    }

    /// The pid of local process `id`.
    pub(crate) fn local_pid(&self, id: u32) -> Pid {
        Pid {
            node: self.0.name.clone(),
            id,
            serial: 0,
            creation: self.0.creation,
        }
    }

    /// A new process for the calling task (its `self()`); it ends
    /// (`normal`) when the returned value is dropped.
    pub fn process(&self) -> Process {
        let (id, entry) = self.0.erts.procs.insert();
        Process {
            pid: self.local_pid(id),
            entry,
            saved: VecDeque::new(),
            node: self.clone(),
            spawned: false,
        }
    }

    /// A process whose end its task's guard decides.
    pub(crate) fn spawned_process(&self) -> Process {
        let mut p = self.process();
        p.spawned = true;
        p
    }

    /// Live local processes (`erlang:system_info(process_count)`).
    pub fn process_count(&self) -> usize {
        self.0.erts.procs.len()
    }

    /// Every live local process, in pid order (`erlang:processes()`).
    pub fn processes(&self) -> Vec<Pid> {
        self.0
            .erts
            .procs
            .ids()
            .into_iter()
            .map(|id| self.local_pid(id))
            .collect()
    }

    /// Per-node state of a service, made by `init` on first use: the
    /// way a service keeps tables that other processes read (as an ETS
    /// table a service owns). One value per type.
    pub fn extension<T, F>(&self, init: F) -> Arc<T>
    where
        T: Any + Send + Sync,
        F: FnOnce() -> T,
    {
        let mut ext = lock(&self.0.erts.extensions);
        let v = ext
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(init()) as Arc<dyn Any + Send + Sync>)
            .clone();
        drop(ext);
        match v.downcast::<T>() {
            Ok(t) => t,
            Err(_) => unreachable!("extensions are keyed by their type"),
        }
    }

    /// The extension of type `T`, if a service made one.
    pub fn try_extension<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let v = lock(&self.0.erts.extensions)
            .get(&TypeId::of::<T>())
            .cloned()?;
        v.downcast::<T>().ok()
    }

    /// Sends `msg` to a process alias (a reference made by `alias()` on
    /// this node or a BEAM node); an inactive alias drops it, as on BEAM.
    pub async fn send_alias(&self, from: &Pid, alias: &Term, msg: Term) -> Result<(), Error> {
        let Term::Ref(r) = alias else {
            return Err(Error::bad_name(
                alias.to_string(),
                "not an alias (a reference)",
            ));
        };
        if r.node == self.0.name {
            self.deliver_alias(alias, msg);
            return Ok(());
        }
        let control = Control::AliasSend {
            from: from.clone(),
            alias: alias.clone(),
        };
        self.send_remote(&r.node, control, msg).await
    }

    /// Sends to another node without waiting for a connection to be set
    /// up (it is set up in the background and the message queued on it;
    /// dropped if it fails, as BEAM's `!`); waits only while a live
    /// connection is busy.
    pub(crate) async fn send_remote(
        &self,
        peer: &Atom,
        control: Control,
        msg: Term,
    ) -> Result<(), Error> {
        if let Some(conn) = crate::dist_setup::send(self, peer, control, Some(msg))? {
            conn.not_busy(self.0.busy_limit).await;
        }
        Ok(())
    }

    /// Sends `msg` to `to`, here or on another node (connecting if need
    /// be), as `To ! Msg` does: the message is sent by this call. The
    /// future only paces the sender, and should be awaited: a process
    /// that sends in a loop yields after a slice of local sends (a send
    /// costs reductions on BEAM), so its receivers run and keep their
    /// queues short instead of the sender filling memory, and it waits
    /// while the connection to `to`'s node is busy. Its error is the
    /// send's (a bad node name, a node that may not be connected to).
    pub fn send(
        &self,
        to: &Pid,
        msg: Term,
    ) -> impl std::future::Future<Output = Result<(), Error>> + Send + 'static {
        crate::erts::send::SendFuture::start(self, to, msg)
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
        let to = Atom::try_new(name).map_err(|e| Error::bad_name(name, e.to_string()))?;
        let peer = Atom::try_new(node).map_err(|e| Error::bad_name(node, e.to_string()))?;
        let control = Control::RegSend {
            from: from.clone(),
            to,
        };
        self.send_remote(&peer, control, msg).await
    }

    /// `net_adm:ping/1`: true (`pong`) when `node` answers `net_kernel`'s
    /// `is_auth` call.
    pub async fn ping(&self, node: &str) -> bool {
        // Connected first (a shared attempt), so that an unreachable node
        // is pang within net_setuptime, not after the reply timeout.
        if node != self.0.name.as_str() {
            if let Err(e) = net_kernel::connection(self, node).await {
                tracing::info!("ping {node}: {e}");
                return false;
            }
        }
        let mut me = self.process();
        let r = self.make_ref();
        let call = Term::tuple(vec![
            Term::atom("$gen_call"),
            Term::tuple(vec![Term::from(me.pid.clone()), r.clone()]),
            Term::tuple(vec![Term::atom("is_auth"), Term::Atom(self.0.name.clone())]),
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

    /// A future that completes when the node stops.
    pub async fn stopped(&self) {
        let mut rx = self.0.stopping.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// True once [`Node::shutdown`] ran.
    pub fn is_stopping(&self) -> bool {
        *self.0.stopping.borrow()
    }

    /// Stops the node: closes every connection and unregisters from EPMD.
    pub fn shutdown(&self) {
        for (_, c) in lock(&self.0.conns).drain() {
            c.close();
        }
        self.0.stopping.send_replace(true);
        if let Some(server) = lock(&self.0.epmd_server).take() {
            server.stop();
        }
    }
}
