//! Starting a node: the settings of [`NodeBuilder`], then what `erl`
//! does at boot: listen, register with EPMD, and start the kernel's
//! services (`net_kernel`'s process, `rex`, `global`). Answers to the
//! boot of ERTS and of the `kernel` application (`kernel.erl`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nodus_proto::flags;
use nodus_term::Atom;

use crate::error::Error;
use crate::erts::Erts;
use crate::net_kernel;
use crate::node::{bind, keep_registered, register_or_embed, Inner, Node};
use crate::{cookie, erl_epmd};

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
    start_pg: bool,
    auto_connect: net_kernel::AutoConnect,
    listen: std::net::IpAddr,
    listen_ports: (u16, u16),
    embed_epmd: bool,
    handshake_caps: crate::conn_gate::Caps,
}

impl NodeBuilder {
    /// The settings of a configuration (`sys.config` or `nodus.toml`):
    /// every kernel parameter nodus knows, and the TOML file's cookie and
    /// EPMD port. `nodus start` builds its node with this, so a library
    /// user and the CLI apply a configuration the same way.
    pub fn from_config(name: impl Into<String>, cfg: &crate::config::Config) -> NodeBuilder {
        let k = &cfg.kernel;
        let mut b = Node::builder(name)
            .ticktime(Duration::from_secs(k.net_ticktime))
            .setup_time(k.setup_time())
            .connect_all(k.connect_all)
            .prevent_overlapping_partitions(k.prevent_overlapping_partitions)
            .start_pg(k.start_pg)
            .auto_connect(k.dist_auto_connect);
        if let Some(c) = &cfg.node.cookie {
            b = b.cookie(c.clone());
        }
        if let Some(p) = cfg.node.epmd_port {
            b = b.epmd_port(p);
        }
        if let Some((min, max)) = k.listen_ports() {
            b = b.listen_ports(min, max);
        }
        if let Some(ip) = k.inet_dist_use_interface {
            b = b.listen_interface(ip);
        }
        b
    }

    /// Whether to start an embedded EPMD when none answers (default
    /// true, as `erl` starts `epmd`); false makes `start` fail with
    /// [`Error::NoEpmd`] instead (what a query such as `nodus ping`
    /// wants: it never starts an EPMD).
    pub fn embed_epmd(mut self, on: bool) -> Self {
        self.embed_epmd = on;
        self
    }

    /// `start_pg` (default false, as in OTP): the node starts the default
    /// `pg` scope ([`crate::pg::DEFAULT_SCOPE`]) when it boots.
    pub fn start_pg(mut self, on: bool) -> Self {
        self.start_pg = on;
        self
    }

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

    /// Caps on accepted handshakes in progress at once: `total` from all
    /// addresses (default 1,024) and `per_address` from one (default
    /// 128). A connection over a cap is closed at once; established
    /// connections are not counted.
    pub fn max_handshakes(mut self, total: usize, per_address: usize) -> Self {
        self.handshake_caps = crate::conn_gate::Caps {
            total: total.max(1),
            per_address: per_address.max(1),
        };
        self
    }

    /// Starts the node: listens, registers with EPMD (starting an embedded
    /// EPMD when none answers), and starts `net_kernel`.
    pub async fn start(self) -> Result<Node, Error> {
        crate::node_name::check(&self.name)?;
        let alive = self.name.split_once('@').map_or("", |(a, _)| a).to_string();
        let name =
            Atom::try_new(&self.name).map_err(|e| Error::bad_name(&self.name, e.to_string()))?;
        let cookie = match self.cookie {
            Some(c) => c,
            None => cookie::read_or_create()?,
        };
        let epmd_port = self.epmd_port.unwrap_or_else(erl_epmd::default_port);
        let listener = bind(self.listen, self.listen_ports).await?;
        let port = listener.local_addr()?.port();
        let (registration, epmd_server) =
            register_or_embed(epmd_port, &alive, port, self.embed_epmd).await?;
        let mut fl = flags::NODUS_DEFAULT
            | flags::SPAWN
            | flags::ALIAS
            | flags::DIST_HDR_ATOM_CACHE
            | flags::FRAGMENTS;
        if self.published {
            fl |= flags::PUBLISHED;
        }
        let inner = Arc::new(Inner {
            erts: Erts::default(),
            started: std::time::Instant::now(),
            name,
            creation: registration.creation,
            cookie: cookie.into_bytes(),
            flags: fl,
            epmd_port,
            port,
            ticktime: self.ticktime,
            setup_time: self.setup_time,
            handshakes: crate::conn_gate::Gate::new(self.handshake_caps),
            refusals: Default::default(),
            max_message: self.max_message,
            busy_poll: self.busy_poll,
            busy_limit: self.busy_limit,
            auto_connect: self.auto_connect,
            ever_connected: Mutex::default(),
            conns: Mutex::default(),
            attempts: Default::default(),
            setups: Mutex::default(),
            stopping: tokio::sync::watch::channel(false).0,
            epmd_server: Mutex::new(epmd_server),
        });
        let node = Node(inner);
        tokio::spawn(keep_registered(node.clone(), alive, registration.stream));
        tokio::spawn(net_kernel::accept_loop(node.clone(), listener));
        crate::net_kernel_server::start(&node);
        crate::rpc::start_rex(&node);
        if self.published {
            crate::global::start(&node, self.connect_all, self.prevent_overlapping_partitions);
        }
        if self.start_pg {
            if let Err(e) = crate::pg::start(&node, crate::pg::DEFAULT_SCOPE).await {
                tracing::warn!("start_pg: {e}");
            }
        }
        tracing::info!("node {} up on port {port} (EPMD {epmd_port})", node.name());
        Ok(node)
    }
}

impl Node {
    /// Settings for a node named `name` (`alive@host`).
    pub fn builder(name: impl Into<String>) -> NodeBuilder {
        NodeBuilder {
            name: name.into(),
            cookie: None,
            epmd_port: None,
            published: true,
            connect_all: true,
            start_pg: false,
            prevent_overlapping_partitions: true,
            auto_connect: net_kernel::AutoConnect::Always,
            listen: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            listen_ports: (0, 0),
            embed_epmd: true,
            ticktime: Duration::from_secs(60),
            setup_time: Duration::from_secs(7),
            handshake_caps: crate::conn_gate::Caps {
                total: 1024,
                per_address: 128,
            },
            max_message: net_kernel::MAX_FRAME,
            busy_poll: net_kernel::BUSY_POLL,
            busy_limit: net_kernel::BUSY_LIMIT,
        }
    }
}
