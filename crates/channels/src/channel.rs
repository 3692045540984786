//! The channel behaviour (`Phoenix.Channel`): a trait with `join`,
//! `handle_in`, `handle_out` and `terminate`, and the socket a callback
//! gets (`ChannelSocket`: topic, assigns, push, broadcast, deferred
//! replies).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use nodus::{Pid, ProcessRef};
use serde_json::Value;

use crate::endpoint::Endpoint;
use crate::payload::Payload;
use crate::serializer::{encode_push, encode_reply, Frame, Vsn};

/// A boxed future of a callback.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a channel ends (the reason `terminate` gets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// It stopped normally (`:normal`): the client gets `phx_close`.
    Normal,
    /// `{:shutdown, what}`: `left` (the client left), `closed` (the
    /// socket closed), `duplicate_join` (the client joined the topic
    /// again), or the application's own; the client gets `phx_close`.
    Shutdown(String),
    /// It failed: a callback panicked (the text says what), or the
    /// application stopped it with an error; the client gets `phx_error`.
    Error(String),
}

impl Reason {
    /// True for the reasons that close the channel quietly (`phx_close`).
    pub fn is_normal(&self) -> bool {
        !matches!(self, Reason::Error(_))
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Normal => f.write_str("normal"),
            Reason::Shutdown(w) => write!(f, "{{shutdown, {w}}}"),
            Reason::Error(e) => f.write_str(e),
        }
    }
}

/// What `handle_in` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum HandleIn {
    /// `{:reply, {status, payload}, socket}`.
    Reply(String, Payload),
    /// `{:noreply, socket}` (a reply may come later, see
    /// [`ChannelSocket::reply_later`]).
    NoReply,
    /// `{:stop, reason, socket}` or, with a reply sent first,
    /// `{:stop, reason, reply, socket}`.
    Stop(Reason, Option<(String, Payload)>),
}

impl HandleIn {
    /// Replies `ok` with `payload`.
    pub fn ok(payload: Payload) -> HandleIn {
        HandleIn::Reply("ok".into(), payload)
    }

    /// Replies `error` with `payload`.
    pub fn error(payload: Payload) -> HandleIn {
        HandleIn::Reply("error".into(), payload)
    }

    /// Stops the channel with `reason`.
    pub fn stop(reason: Reason) -> HandleIn {
        HandleIn::Stop(reason, None)
    }
}

/// A Phoenix channel: one per joined topic of a socket, with its own
/// state (the struct) and assigns. Callbacks of one socket's channels run
/// one at a time, in the order the client's messages came; a panic ends
/// that channel only (`phx_error`), never the socket or the node.
///
/// ```
/// use nodus_channels::{Channel, ChannelSocket, HandleIn, Payload};
///
/// #[derive(Default)]
/// struct Room;
///
/// impl Channel for Room {
///     async fn join(&mut self, _topic: &str, _p: Payload, _s: &mut ChannelSocket) -> Result<Payload, Payload> {
///         Ok(Payload::empty())
///     }
///     async fn handle_in(&mut self, event: &str, payload: Payload, s: &mut ChannelSocket) -> HandleIn {
///         s.broadcast(event, payload);
///         HandleIn::NoReply
///     }
/// }
/// ```
pub trait Channel: Send + 'static {
    /// `join/3`: `Ok(reply)` joins (the client's join gets `ok` with
    /// `reply`), `Err(reply)` refuses (`error` with `reply`).
    fn join(
        &mut self,
        topic: &str,
        payload: Payload,
        socket: &mut ChannelSocket,
    ) -> impl Future<Output = Result<Payload, Payload>> + Send;

    /// `handle_in/3`: a message from the client.
    fn handle_in(
        &mut self,
        event: &str,
        payload: Payload,
        socket: &mut ChannelSocket,
    ) -> impl Future<Output = HandleIn> + Send;

    /// The events this channel intercepts (`intercept [...]`): their
    /// broadcasts go through [`Channel::handle_out`] instead of straight
    /// to the client.
    fn intercepts(&self) -> Vec<String> {
        Vec::new()
    }

    /// `handle_out/3`: an intercepted broadcast; pushes it unchanged
    /// unless overridden.
    fn handle_out(
        &mut self,
        event: &str,
        payload: Payload,
        socket: &mut ChannelSocket,
    ) -> impl Future<Output = ()> + Send {
        socket.push(event, payload);
        std::future::ready(())
    }

    /// `terminate/2`: the channel ends (it left, the socket closed, it
    /// stopped or failed).
    fn terminate(
        &mut self,
        reason: &Reason,
        socket: &mut ChannelSocket,
    ) -> impl Future<Output = ()> + Send {
        let _ = (reason, socket);
        std::future::ready(())
    }
}

/// A channel behind a pointer (routes hold channels of many types).
pub(crate) trait DynChannel: Send {
    fn join<'a>(
        &'a mut self,
        topic: &'a str,
        p: Payload,
        s: &'a mut ChannelSocket,
    ) -> BoxFuture<'a, Result<Payload, Payload>>;
    fn handle_in<'a>(
        &'a mut self,
        event: &'a str,
        p: Payload,
        s: &'a mut ChannelSocket,
    ) -> BoxFuture<'a, HandleIn>;
    fn handle_out<'a>(
        &'a mut self,
        event: &'a str,
        p: Payload,
        s: &'a mut ChannelSocket,
    ) -> BoxFuture<'a, ()>;
    fn terminate<'a>(&'a mut self, r: &'a Reason, s: &'a mut ChannelSocket) -> BoxFuture<'a, ()>;
    fn intercepts(&self) -> Vec<String>;
}

impl<C: Channel> DynChannel for C {
    fn join<'a>(
        &'a mut self,
        topic: &'a str,
        p: Payload,
        s: &'a mut ChannelSocket,
    ) -> BoxFuture<'a, Result<Payload, Payload>> {
        Box::pin(Channel::join(self, topic, p, s))
    }
    fn handle_in<'a>(
        &'a mut self,
        event: &'a str,
        p: Payload,
        s: &'a mut ChannelSocket,
    ) -> BoxFuture<'a, HandleIn> {
        Box::pin(Channel::handle_in(self, event, p, s))
    }
    fn handle_out<'a>(
        &'a mut self,
        event: &'a str,
        p: Payload,
        s: &'a mut ChannelSocket,
    ) -> BoxFuture<'a, ()> {
        Box::pin(Channel::handle_out(self, event, p, s))
    }
    fn terminate<'a>(&'a mut self, r: &'a Reason, s: &'a mut ChannelSocket) -> BoxFuture<'a, ()> {
        Box::pin(Channel::terminate(self, r, s))
    }
    fn intercepts(&self) -> Vec<String> {
        Channel::intercepts(self)
    }
}

/// Assigns: what `connect` and the channel callbacks keep about a socket
/// or a channel, by key (`assign(socket, key, value)`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Assigns(serde_json::Map<String, Value>);

impl Assigns {
    /// Sets `key` (a value serde cannot turn into JSON is stored as null).
    pub fn insert(&mut self, key: &str, value: impl serde::Serialize) {
        self.0.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
    }

    /// Reads `key` as a `T`.
    pub fn get<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.0.get(key).and_then(|v| T::deserialize(v).ok())
    }

    /// The raw value of `key`.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key)
    }
}

/// A handle on a joined channel that outlives the callback and can be
/// sent to another task: pushes to the client, and answers a deferred
/// reply. Sends are dropped once the socket is gone.
#[derive(Clone)]
pub struct ChannelRef {
    pub(crate) proc: ProcessRef,
    pub(crate) vsn: Vsn,
    pub(crate) topic: Arc<str>,
    pub(crate) join_ref: Option<Arc<str>>,
}

impl ChannelRef {
    fn deliver(&self, f: Frame) -> bool {
        self.proc.send(crate::fastlane::socket_push(&f))
    }

    /// Pushes `event` to the client (`push/3`); false if the socket is
    /// gone or the payload cannot be encoded for its serializer.
    pub fn push(&self, event: &str, payload: &Payload) -> bool {
        match encode_push(
            self.vsn,
            self.join_ref.as_deref(),
            &self.topic,
            event,
            payload,
        ) {
            Ok(f) => self.deliver(f),
            Err(e) => {
                tracing::warn!("channel {}: push of {event} dropped: {e}", self.topic);
                false
            }
        }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }
}

/// A reply owed to one client message (`socket_ref` + `reply/2`).
pub struct ReplyRef {
    chan: ChannelRef,
    reference: Option<String>,
}

impl ReplyRef {
    /// Sends the reply; false if the socket is gone.
    pub fn reply(self, status: &str, payload: &Payload) -> bool {
        let c = &self.chan;
        match encode_reply(
            c.vsn,
            c.join_ref.as_deref(),
            self.reference.as_deref(),
            &c.topic,
            status,
            payload,
        ) {
            Ok(f) => c.deliver(f),
            Err(e) => {
                tracing::warn!("channel {}: reply dropped: {e}", c.topic);
                false
            }
        }
    }
}

/// The socket a channel callback gets: the channel's topic, join
/// reference and assigns (a copy of the socket's at join time, the
/// channel's own after), and what it can do.
pub struct ChannelSocket {
    pub(crate) topic: Arc<str>,
    pub(crate) join_ref: Option<Arc<str>>,
    pub(crate) reference: Option<String>,
    /// The channel's assigns.
    pub assigns: Assigns,
    pub(crate) endpoint: Endpoint,
    pub(crate) pid: Pid,
    pub(crate) proc: ProcessRef,
    pub(crate) vsn: Vsn,
    pub(crate) socket_id: Option<Arc<str>>,
    pub(crate) pending: Vec<Frame>,
}

impl ChannelSocket {
    /// The channel's topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The socket's id (from the socket handler's `id`), if any.
    pub fn socket_id(&self) -> Option<&str> {
        self.socket_id.as_deref()
    }

    /// The join reference of this channel.
    pub fn join_ref(&self) -> Option<&str> {
        self.join_ref.as_deref()
    }

    /// The socket's process (what `broadcast_from` leaves out).
    pub fn pid(&self) -> &Pid {
        &self.pid
    }

    /// The serializer the client speaks.
    pub fn vsn(&self) -> Vsn {
        self.vsn
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Pushes `event` to this client (`push/3`), after the callback's
    /// reply for a join, before it otherwise.
    pub fn push(&mut self, event: &str, payload: Payload) {
        match encode_push(
            self.vsn,
            self.join_ref.as_deref(),
            &self.topic,
            event,
            &payload,
        ) {
            Ok(f) => self.pending.push(f),
            Err(e) => tracing::warn!("channel {}: push of {event} dropped: {e}", self.topic),
        }
    }

    /// Broadcasts `event` to every client of the topic, on every node
    /// (`broadcast/3`).
    pub fn broadcast(&self, event: &str, payload: Payload) {
        if let Err(e) = self.endpoint.broadcast(&self.topic, event, payload) {
            tracing::warn!("channel {}: broadcast of {event} failed: {e}", self.topic);
        }
    }

    /// As [`ChannelSocket::broadcast`], except to this socket
    /// (`broadcast_from/3`).
    pub fn broadcast_from(&self, event: &str, payload: Payload) {
        if let Err(e) = self
            .endpoint
            .broadcast_from(&self.pid, &self.topic, event, payload)
        {
            tracing::warn!(
                "channel {}: broadcast_from of {event} failed: {e}",
                self.topic
            );
        }
    }

    /// A handle to push to this channel from another task.
    pub fn channel_ref(&self) -> ChannelRef {
        ChannelRef {
            proc: self.proc.clone(),
            vsn: self.vsn,
            topic: self.topic.clone(),
            join_ref: self.join_ref.clone(),
        }
    }

    /// In `handle_in`: the reply to the current message, to be sent later
    /// (return [`HandleIn::NoReply`] now).
    pub fn reply_later(&self) -> ReplyRef {
        ReplyRef {
            chan: self.channel_ref(),
            reference: self.reference.clone(),
        }
    }

    /// Raw bytes for a binary push (a shorthand).
    pub fn binary(data: impl Into<Bytes>) -> Payload {
        Payload::Binary(data.into())
    }
}
