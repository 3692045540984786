//! One client's socket, whatever its transport (`Phoenix.Socket`): the
//! channels it joined, the messages it sends them, what the cluster
//! broadcasts to them, in one task with one mailbox (a nodus process, so
//! PubSub delivers to it). The transport feeds it frames and mailbox
//! messages and writes out what it queues; a full queue ends the socket.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use nodus::{Process, ProcessRef, Term};
use serde_json::json;
use tokio::sync::mpsc;

use crate::broadcast::parse_broadcast;
use crate::channel::{Assigns, ChannelSocket, DynChannel, HandleIn, Reason};
use crate::endpoint::Endpoint;
use crate::payload::Payload;
use crate::serializer::{decode, encode_control, encode_push, encode_reply, Frame, Message, Vsn};

/// What the transport does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Keep going.
    Continue,
    /// Close with this WebSocket close code and reason.
    Close(u16, &'static str),
}

/// The close code for a frame that cannot be decoded (as Phoenix).
pub(crate) const CLOSE_UNDECODABLE: u16 = 1011;
/// The close code when the client reads too slowly.
pub(crate) const CLOSE_SLOW: u16 = 1008;

struct Joined {
    chan: Box<dyn DynChannel>,
    ctx: ChannelSocket,
}

/// A socket's channels by topic: a vector, as a socket joins few (a map
/// would cost a kilobyte for one).
#[derive(Default)]
struct Channels(Vec<Joined>);

impl Channels {
    fn position(&self, topic: &str) -> Option<usize> {
        self.0.iter().position(|j| &*j.ctx.topic == topic)
    }
    fn contains(&self, topic: &str) -> bool {
        self.position(topic).is_some()
    }
    fn get_mut(&mut self, topic: &str) -> Option<&mut Joined> {
        let i = self.position(topic)?;
        Some(&mut self.0[i])
    }
    fn remove(&mut self, topic: &str) -> Option<Joined> {
        let i = self.position(topic)?;
        Some(self.0.swap_remove(i))
    }
    fn insert(&mut self, j: Joined) {
        self.0.push(j);
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn pop(&mut self) -> Option<Joined> {
        self.0.pop()
    }
}

/// Where a socket's frames go: a queue its own task writes out
/// (WebSocket), or one another task drains (long-poll).
pub(crate) enum Outbox {
    /// Drained by the socket's task (at most `max_queue` frames).
    Local(VecDeque<Frame>),
    /// Drained by the long-poll requests.
    Shared(mpsc::Sender<Frame>),
}

/// A socket's state.
pub(crate) struct SocketCore {
    ep: Endpoint,
    pub(crate) me: Process,
    proc: ProcessRef,
    vsn: Vsn,
    assigns: Assigns,
    id: Option<Arc<str>>,
    channels: Channels,
    pub(crate) out: Outbox,
    max_queue: usize,
    overflow: bool,
}

/// The text of a panic.
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".into()
    }
}

fn reason_json(why: &str) -> Payload {
    Payload::Json(json!({ "reason": why }))
}

impl SocketCore {
    /// A socket whose frames go to `out`; subscribed to its id's topic.
    pub(crate) fn new(
        ep: Endpoint,
        vsn: Vsn,
        assigns: Assigns,
        id: Option<String>,
        out: Outbox,
    ) -> SocketCore {
        let me = ep.node().process();
        // A process that was just made is alive.
        let proc = ep
            .node()
            .process_ref(me.pid())
            .expect("a new process is alive");
        let id: Option<Arc<str>> = id.map(Arc::from);
        if let Some(id) = &id {
            ep.pubsub().subscribe(me.pid(), id);
        }
        let max_queue = ep.config().max_queue;
        SocketCore {
            ep,
            me,
            proc,
            vsn,
            assigns,
            id,
            channels: Channels::default(),
            max_queue,
            out,
            overflow: false,
        }
    }

    fn flow(&self) -> Flow {
        if self.overflow {
            Flow::Close(CLOSE_SLOW, "outgoing queue full")
        } else {
            Flow::Continue
        }
    }

    /// Queues a frame for the client; a full queue marks the socket for
    /// closing.
    fn send(&mut self, f: Frame) {
        if self.overflow {
            return;
        }
        let full = match &mut self.out {
            Outbox::Local(q) => {
                if q.len() < self.max_queue {
                    q.push_back(f);
                    false
                } else {
                    true
                }
            }
            Outbox::Shared(tx) => tx.try_send(f).is_err(),
        };
        if full {
            self.overflow = true;
            tracing::info!(
                "socket {}: client not reading, {} frames queued; disconnected",
                self.me.pid(),
                self.ep.config().max_queue
            );
        }
    }

    fn reply(
        &mut self,
        join_ref: Option<&str>,
        reference: Option<&str>,
        topic: &str,
        status: &str,
        p: &Payload,
    ) {
        match encode_reply(self.vsn, join_ref, reference, topic, status, p) {
            Ok(f) => self.send(f),
            Err(e) => {
                tracing::warn!(
                    "socket {}: reply on {topic} cannot be sent: {e}",
                    self.me.pid()
                );
                // The client still gets an answer to its push.
                let why = reason_json(&e.to_string());
                if let Ok(f) = encode_reply(self.vsn, join_ref, reference, topic, "error", &why) {
                    self.send(f);
                }
            }
        }
    }

    fn control(&mut self, join_ref: Option<&str>, topic: &str, event: &str) {
        let f = encode_control(self.vsn, join_ref, topic, event);
        self.send(f);
    }

    /// A frame from the client.
    pub(crate) async fn handle_frame(&mut self, f: Frame) -> Flow {
        let m = match decode(self.vsn, &f) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!("socket {}: {e}; closing", self.me.pid());
                return Flow::Close(CLOSE_UNDECODABLE, "undecodable frame");
            }
        };
        self.handle_message(m).await;
        self.flow()
    }

    async fn handle_message(&mut self, m: Message) {
        if m.topic == "phoenix" && m.event == "heartbeat" {
            self.reply(
                m.join_ref.as_deref(),
                m.reference.as_deref(),
                "phoenix",
                "ok",
                &Payload::empty(),
            );
            return;
        }
        match m.event.as_str() {
            "phx_join" => self.join(m).await,
            _ if !self.channels.contains(&m.topic) => self.unmatched(&m),
            "phx_leave" => {
                self.reply(
                    m.join_ref.as_deref(),
                    m.reference.as_deref(),
                    &m.topic,
                    "ok",
                    &Payload::empty(),
                );
                self.end(&m.topic, Reason::Shutdown("left".into())).await;
            }
            _ => self.handle_in(m).await,
        }
    }

    /// The reply to a message for a topic with no route or not joined
    /// (its join_ref null, as Phoenix sends it).
    fn unmatched(&mut self, m: &Message) {
        let why = reason_json("unmatched topic");
        self.reply(None, m.reference.as_deref(), &m.topic, "error", &why);
    }

    async fn join(&mut self, m: Message) {
        let Some(mut chan) = self.ep.route(&m.topic) else {
            self.unmatched(&m);
            return;
        };
        let topic: Arc<str> = Arc::from(m.topic.as_str());
        let old = match self.channels.remove(&topic) {
            Some(old) => {
                tracing::debug!(
                    "socket {}: duplicate join of {topic}; closing the old channel",
                    self.me.pid()
                );
                let old_ref = old.ctx.join_ref.clone();
                self.terminate(old, Reason::Shutdown("duplicate_join".into()))
                    .await;
                Some(old_ref)
            }
            None => None,
        };
        if self.channels.len() >= self.ep.config().max_channels {
            self.reply(
                m.join_ref.as_deref(),
                m.reference.as_deref(),
                &topic,
                "error",
                &reason_json("too many channels"),
            );
            return;
        }
        let join_ref: Option<Arc<str>> = m.join_ref.as_deref().map(Arc::from);
        let mut ctx = ChannelSocket {
            topic: topic.clone(),
            join_ref: join_ref.clone(),
            reference: m.reference.clone(),
            assigns: self.assigns.clone(),
            endpoint: self.ep.clone(),
            pid: self.me.pid().clone(),
            proc: self.proc.clone(),
            vsn: self.vsn,
            socket_id: self.id.clone(),
            pending: Vec::new(),
        };
        let r = AssertUnwindSafe(chan.join(&topic, m.payload, &mut ctx))
            .catch_unwind()
            .await;
        let (jr, rf) = (m.join_ref.as_deref(), m.reference.as_deref());
        match r {
            Ok(Ok(reply)) => {
                let intercepts = chan.intercepts();
                let meta = Term::tuple(vec![
                    Term::atom("fastlane"),
                    Term::Pid(self.me.pid().clone()),
                    Term::atom(self.vsn.module()),
                    Term::List(
                        intercepts
                            .iter()
                            .map(|e| Term::binary(e.as_bytes()))
                            .collect(),
                    ),
                ]);
                self.ep.pubsub().subscribe_with(self.me.pid(), &topic, meta);
                self.reply(jr, rf, &topic, "ok", &reply);
                for f in std::mem::take(&mut ctx.pending) {
                    self.send(f);
                }
                self.channels.insert(Joined { chan, ctx });
            }
            Ok(Err(reply)) => self.reply(jr, rf, &topic, "error", &reply),
            Err(p) => {
                tracing::error!("channel {topic}: join panicked: {}", panic_text(&*p));
                self.reply(jr, rf, &topic, "error", &reason_json("join crashed"));
            }
        }
        if let Some(old_ref) = old {
            self.control(old_ref.as_deref(), &topic, "phx_close");
        }
    }

    async fn handle_in(&mut self, m: Message) {
        let Some(j) = self.channels.get_mut(m.topic.as_str()) else {
            return;
        };
        j.ctx.reference = m.reference.clone();
        let r = AssertUnwindSafe(j.chan.handle_in(&m.event, m.payload, &mut j.ctx))
            .catch_unwind()
            .await;
        let pending = std::mem::take(&mut j.ctx.pending);
        let join_ref = j.ctx.join_ref.clone();
        for f in pending {
            self.send(f);
        }
        let (jr, rf) = (join_ref.as_deref(), m.reference.as_deref());
        match r {
            Ok(HandleIn::Reply(status, p)) => self.reply(jr, rf, &m.topic, &status, &p),
            Ok(HandleIn::NoReply) => {}
            Ok(HandleIn::Stop(reason, reply)) => {
                if let Some((status, p)) = reply {
                    self.reply(jr, rf, &m.topic, &status, &p);
                }
                self.end(&m.topic, reason).await;
            }
            Err(p) => {
                let why = panic_text(&*p);
                tracing::error!(
                    "channel {}: handle_in({}) panicked: {why}",
                    m.topic,
                    m.event
                );
                self.end(&m.topic, Reason::Error(format!("panic: {why}")))
                    .await;
            }
        }
    }

    /// Ends the channel of `topic` with `reason`: `terminate`, then
    /// `phx_close` (normal reasons) or `phx_error` to the client.
    async fn end(&mut self, topic: &str, reason: Reason) {
        let Some(j) = self.channels.remove(topic) else {
            return;
        };
        let join_ref = j.ctx.join_ref.clone();
        let normal = reason.is_normal();
        self.terminate(j, reason).await;
        self.control(
            join_ref.as_deref(),
            topic,
            if normal { "phx_close" } else { "phx_error" },
        );
    }

    /// Calls `terminate` (a panic there is logged) and unsubscribes.
    async fn terminate(&mut self, mut j: Joined, reason: Reason) {
        self.ep.pubsub().unsubscribe(self.me.pid(), &j.ctx.topic);
        let r = AssertUnwindSafe(j.chan.terminate(&reason, &mut j.ctx))
            .catch_unwind()
            .await;
        if let Err(p) = r {
            tracing::error!(
                "channel {}: terminate panicked: {}",
                j.ctx.topic,
                panic_text(&*p)
            );
        }
    }

    /// The hot path of a message to the socket's process: a fastlane
    /// frame (`{socket_push, Opcode, Bytes}`), queued without an await;
    /// `None` for anything else (see [`SocketCore::handle_info`]).
    pub(crate) fn push_frame(&mut self, t: &Term) -> Option<Flow> {
        let Some([tag, op, Term::Binary(b)]) = t.as_tuple() else {
            return None;
        };
        if !tag.is_atom("socket_push") {
            return None;
        }
        let f = if op.is_atom("binary") {
            Frame::Binary(b.clone())
        } else {
            Frame::Text(b.clone())
        };
        self.send(f);
        Some(self.flow())
    }

    /// A message to the socket's process.
    pub(crate) async fn handle_info(&mut self, t: Term) -> Flow {
        if let Some(flow) = self.push_frame(&t) {
            return flow;
        }
        let Some(b) = parse_broadcast(&t) else {
            tracing::debug!("socket {}: ignored message {t}", self.me.pid());
            return self.flow();
        };
        if self.id.as_deref() == Some(b.topic) && b.event == "disconnect" {
            return Flow::Close(1000, "disconnect");
        }
        let payload = match Payload::from_term(b.payload) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("broadcast {} on {}: {e}", b.event, b.topic);
                return self.flow();
            }
        };
        let (topic, event) = (b.topic.to_string(), b.event.to_string());
        let Some(j) = self.channels.get_mut(topic.as_str()) else {
            return self.flow();
        };
        if j.chan.intercepts().contains(&event) {
            let r = AssertUnwindSafe(j.chan.handle_out(&event, payload, &mut j.ctx))
                .catch_unwind()
                .await;
            let pending = std::mem::take(&mut j.ctx.pending);
            for f in pending {
                self.send(f);
            }
            if let Err(p) = r {
                let why = panic_text(&*p);
                tracing::error!("channel {topic}: handle_out({event}) panicked: {why}");
                self.end(&topic, Reason::Error(format!("panic: {why}")))
                    .await;
            }
        } else {
            let jr = j.ctx.join_ref.clone();
            match encode_push(self.vsn, jr.as_deref(), &topic, &event, &payload) {
                Ok(f) => self.send(f),
                Err(e) => tracing::warn!("broadcast {event} on {topic}: {e}"),
            }
        }
        self.flow()
    }

    /// The socket closes: every channel ends with `{shutdown, closed}`.
    pub(crate) async fn close(&mut self) {
        while let Some(j) = self.channels.pop() {
            self.terminate(j, Reason::Shutdown("closed".into())).await;
        }
        if let Some(id) = &self.id {
            self.ep.pubsub().unsubscribe(self.me.pid(), id);
        }
    }
}
