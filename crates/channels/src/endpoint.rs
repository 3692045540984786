//! The endpoint: what `socket "/socket", UserSocket` and the channel
//! routes of a Phoenix endpoint give, with the limits a server on the
//! open network needs, and `Endpoint::broadcast` through `nodus::pubsub`.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use nodus::pubsub::PubSub;
use nodus::{Node, Pid};

use crate::broadcast::{broadcast_term, CHANNEL_SERVER};
use crate::channel::{Assigns, BoxFuture, Channel, DynChannel};
use crate::fastlane::ChannelServer;
use crate::longpoll::Sessions;
use crate::payload::Payload;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The PubSub refused the broadcast.
    #[error(transparent)]
    PubSub(#[from] nodus::pubsub::Error),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        /// Where.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
    /// Serving stopped with an error.
    #[error("serving HTTP on {addr}: {error}")]
    Serve {
        /// Where.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

/// Which origins may open a socket (`check_origin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOrigin {
    /// Any origin (`check_origin: false`).
    Off,
    /// An `Origin` whose host (and port) is the request's `Host` (the
    /// default: a page served by this endpoint).
    SameHost,
    /// These origins, as `scheme://host[:port]` or `//host` (any scheme).
    List(Vec<String>),
}

/// How the endpoint runs; the defaults are Phoenix's where Phoenix has one.
#[derive(Debug, Clone)]
pub struct Config {
    /// The socket's mount point (`socket "/socket"`).
    pub path: String,
    /// Client silence after which a WebSocket is closed (60 s).
    pub timeout: Duration,
    /// `check_origin` (on: [`CheckOrigin::SameHost`]).
    pub check_origin: CheckOrigin,
    /// The largest frame (and long-poll body) a client may send; a bigger
    /// one closes the socket (1 MiB).
    pub max_frame_size: usize,
    /// Frames queued for a client that is not reading before it is
    /// disconnected (1,024).
    pub max_queue: usize,
    /// Channels one socket may have joined at once (100); joins beyond
    /// get `{"reason":"too many channels"}`.
    pub max_channels: usize,
    /// How long a long-poll request is held open without messages (10 s,
    /// Phoenix's `window_ms`); a session not polled for twice this long
    /// ends.
    pub longpoll_window: Duration,
    /// Long-poll sessions open at once (10,000); more get 403.
    pub max_longpoll_sessions: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            path: "/socket".into(),
            timeout: Duration::from_secs(60),
            check_origin: CheckOrigin::SameHost,
            max_frame_size: 1 << 20,
            max_queue: 1024,
            max_channels: 100,
            longpoll_window: Duration::from_secs(10),
            max_longpoll_sessions: 10_000,
        }
    }
}

/// The transport a socket came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `/socket/websocket`.
    WebSocket,
    /// `/socket/longpoll`.
    LongPoll,
}

/// What `connect` learns of the client besides its params.
#[derive(Debug, Clone)]
pub struct ConnectInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// Its `Origin` header.
    pub origin: Option<String>,
    /// The Phoenix 1.8 `authToken` (from the WebSocket subprotocol
    /// `base64url.bearer.phx.…`, or long-poll's `X-Phoenix-AuthToken`).
    pub auth_token: Option<String>,
    /// The transport.
    pub transport: Transport,
}

/// The socket module (`use Phoenix.Socket`): `connect/3` and `id/1`.
pub trait SocketHandler: Send + Sync + 'static {
    /// Accepts the client (`Ok`, with assigns set for its channels) or
    /// refuses it (`Err`: HTTP 403). Accepts everyone by default.
    fn connect(
        &self,
        params: &HashMap<String, String>,
        info: &ConnectInfo,
        assigns: &mut Assigns,
    ) -> impl Future<Output = Result<(), ()>> + Send {
        let _ = (params, info, assigns);
        std::future::ready(Ok(()))
    }

    /// The socket's id: a broadcast of `"disconnect"` to this topic
    /// closes every socket with it. None by default.
    fn id(&self, assigns: &Assigns) -> Option<String> {
        let _ = assigns;
        None
    }
}

/// Accepts every client, with no id.
pub struct AcceptAll;
impl SocketHandler for AcceptAll {}

pub(crate) trait DynSocketHandler: Send + Sync {
    fn connect<'a>(
        &'a self,
        params: &'a HashMap<String, String>,
        info: &'a ConnectInfo,
        assigns: &'a mut Assigns,
    ) -> BoxFuture<'a, Result<(), ()>>;
    fn id(&self, assigns: &Assigns) -> Option<String>;
}

impl<H: SocketHandler> DynSocketHandler for H {
    fn connect<'a>(
        &'a self,
        params: &'a HashMap<String, String>,
        info: &'a ConnectInfo,
        assigns: &'a mut Assigns,
    ) -> BoxFuture<'a, Result<(), ()>> {
        Box::pin(SocketHandler::connect(self, params, info, assigns))
    }
    fn id(&self, assigns: &Assigns) -> Option<String> {
        SocketHandler::id(self, assigns)
    }
}

type Factory = Arc<dyn Fn() -> Box<dyn DynChannel> + Send + Sync>;

/// A `channel "room:*", RoomChannel` route.
struct Route {
    /// The topic, or its prefix when it ends in `*`.
    pattern: String,
    wildcard: bool,
    factory: Factory,
}

/// Builds an [`Endpoint`].
pub struct Builder {
    node: Node,
    pubsub: PubSub,
    routes: Vec<Route>,
    handler: Arc<dyn DynSocketHandler>,
    config: Config,
}

impl Builder {
    /// Routes topics matching `pattern` (`"room:lobby"`, or `"room:*"`
    /// for every topic starting with `room:`) to a new channel made by
    /// `factory` for each join. The first matching route wins.
    pub fn channel<C: Channel, F>(mut self, pattern: &str, factory: F) -> Builder
    where
        F: Fn() -> C + Send + Sync + 'static,
    {
        let (pattern, wildcard) = match pattern.strip_suffix('*') {
            Some(p) => (p.to_string(), true),
            None => (pattern.to_string(), false),
        };
        self.routes.push(Route {
            pattern,
            wildcard,
            factory: Arc::new(move || Box::new(factory()) as Box<dyn DynChannel>),
        });
        self
    }

    /// The socket handler (`connect`, `id`); [`AcceptAll`] by default.
    pub fn socket(mut self, handler: impl SocketHandler) -> Builder {
        self.handler = Arc::new(handler);
        self
    }

    /// The configuration.
    pub fn config(mut self, config: Config) -> Builder {
        self.config = config;
        self
    }

    /// The endpoint; from now on its PubSub delivers channel broadcasts
    /// (dispatcher `Phoenix.Channel.Server`) to its sockets.
    pub fn build(self) -> Result<Endpoint, Error> {
        self.pubsub
            .set_dispatcher(CHANNEL_SERVER, Arc::new(ChannelServer))?;
        Ok(Endpoint(Arc::new(Inner {
            node: self.node,
            pubsub: self.pubsub,
            routes: self.routes,
            handler: self.handler,
            sessions: Sessions::default(),
            config: self.config,
        })))
    }
}

pub(crate) struct Inner {
    pub(crate) node: Node,
    pub(crate) pubsub: PubSub,
    routes: Vec<Route>,
    pub(crate) handler: Arc<dyn DynSocketHandler>,
    pub(crate) config: Config,
    pub(crate) sessions: Sessions,
}

/// A Phoenix endpoint's socket and channels. Cheap to clone.
#[derive(Clone)]
pub struct Endpoint(pub(crate) Arc<Inner>);

impl Endpoint {
    /// Starts building an endpoint on `node` whose broadcasts go through
    /// `pubsub` (the endpoint's `pubsub_server`).
    pub fn builder(node: &Node, pubsub: &PubSub) -> Builder {
        Builder {
            node: node.clone(),
            pubsub: pubsub.clone(),
            routes: Vec::new(),
            handler: Arc::new(AcceptAll),
            config: Config::default(),
        }
    }

    /// The node.
    pub fn node(&self) -> &Node {
        &self.0.node
    }

    /// The PubSub.
    pub fn pubsub(&self) -> &PubSub {
        &self.0.pubsub
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// A new channel for `topic`, from the first matching route.
    pub(crate) fn route(&self, topic: &str) -> Option<Box<dyn DynChannel>> {
        self.0
            .routes
            .iter()
            .find(|r| {
                if r.wildcard {
                    topic.starts_with(&r.pattern)
                } else {
                    topic == r.pattern
                }
            })
            .map(|r| (r.factory)())
    }

    /// `Endpoint.broadcast/3`: `event` with `payload` to every client of
    /// `topic` on every node of the cluster, BEAM nodes running Phoenix
    /// included (a `%Phoenix.Socket.Broadcast{}` with the dispatcher
    /// `Phoenix.Channel.Server`).
    pub fn broadcast(&self, topic: &str, event: &str, payload: Payload) -> Result<(), Error> {
        let msg = broadcast_term(topic, event, &payload);
        self.0
            .pubsub
            .broadcast_with(None, topic, msg, CHANNEL_SERVER)?;
        Ok(())
    }

    /// `Endpoint.broadcast_from/4`: as [`Endpoint::broadcast`], except to
    /// the socket of process `from`.
    pub fn broadcast_from(
        &self,
        from: &Pid,
        topic: &str,
        event: &str,
        payload: Payload,
    ) -> Result<(), Error> {
        let msg = broadcast_term(topic, event, &payload);
        self.0
            .pubsub
            .broadcast_with(Some(from), topic, msg, CHANNEL_SERVER)?;
        Ok(())
    }

    /// The HTTP routes of the socket (`{path}/websocket`,
    /// `{path}/longpoll`), to serve or to merge into an application's
    /// own `axum::Router`.
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.clone())
    }

    /// Serves [`Endpoint::router`] plus `extra` routes on `listener` until
    /// the node stops.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        extra: axum::Router,
    ) -> Result<(), Error> {
        let addr = listener.local_addr().map_err(|error| Error::Bind {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            error,
        })?;
        let app = self.router().merge(extra);
        let node = self.0.node.clone();
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { node.stopped().await })
        .await
        .map_err(|error| Error::Serve { addr, error })
    }
}
