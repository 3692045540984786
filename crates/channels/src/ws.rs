//! The WebSocket transport (`/socket/websocket`): one task per socket
//! reads the client and the socket's mailbox and writes what is queued
//! for the client as fast as the client takes it (a bounded queue: a
//! client that stops reading is disconnected when it is full, so memory
//! never grows with it).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{ready, Context, Poll};

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};

use crate::endpoint::{Endpoint, Transport};
use crate::http::{accept, auth_token_of_protocols, Accepted, Refused};
use crate::serializer::Frame;
use crate::socket::{Flow, Outbox, SocketCore, CLOSE_SLOW};

/// How long a closing socket may take to flush what is queued.
const FLUSH_ON_CLOSE: Duration = Duration::from_secs(5);

/// `GET /socket/websocket`.
pub(crate) async fn upgrade(
    State(ep): State<Endpoint>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return e.into_response(),
    };
    let token = auth_token_of_protocols(&headers);
    let accepted = match accept(&ep, &params, &headers, peer, token, Transport::WebSocket).await {
        Ok(a) => a,
        Err(Refused(status, why)) => {
            tracing::debug!("websocket from {peer} refused ({status}): {why}");
            return (status, why).into_response();
        }
    };
    let cfg = ep.config();
    ws.protocols(["phoenix"])
        .max_frame_size(cfg.max_frame_size)
        .max_message_size(cfg.max_frame_size)
        .read_buffer_size(512)
        .write_buffer_size(4096)
        .on_failed_upgrade(move |e| tracing::debug!("websocket upgrade from {peer} failed: {e}"))
        .on_upgrade(move |socket| run(ep, socket, accepted))
}

/// The close code of a read error.
fn read_error_code(e: &axum::Error) -> (u16, &'static str) {
    let text = e.to_string();
    if text.contains("too long") || text.contains("too big") || text.contains("Space limit") {
        (1009, "frame too big")
    } else {
        (1002, "protocol error")
    }
}

async fn run(ep: Endpoint, ws: WebSocket, a: Accepted) {
    let timeout = ep.config().timeout;
    let mut core = SocketCore::new(ep, a.vsn, a.assigns, a.id, Outbox::Local(VecDeque::new()));
    let (mut sink, mut stream) = ws.split();
    let mut unflushed = false;
    let idle = tokio::time::sleep(timeout);
    tokio::pin!(idle);
    let close = loop {
        let Outbox::Local(queue) = &mut core.out else {
            break Some((1011, "internal error"));
        };
        let writing = !queue.is_empty() || unflushed;
        let flow = tokio::select! {
            // What is queued goes out first, as far as the client takes it.
            r = poll_fn(|cx| write_some(&mut sink, queue, &mut unflushed, cx)), if writing => match r {
                Ok(()) => Flow::Continue,
                Err(_) => break None,
            },
            m = stream.next() => {
                idle.as_mut().reset(tokio::time::Instant::now() + timeout);
                match m {
                    Some(Ok(Message::Text(t))) => Box::pin(core.handle_frame(Frame::Text(t.into()))).await,
                    Some(Ok(Message::Binary(b))) => Box::pin(core.handle_frame(Frame::Binary(b))).await,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Flow::Continue,
                    Some(Ok(Message::Close(_))) | None => break None,
                    Some(Err(e)) => {
                        tracing::debug!("socket {}: read error: {e}", core.me.pid());
                        let (code, why) = read_error_code(&e);
                        Flow::Close(code, why)
                    }
                }
            }
            t = core.me.recv() => match t {
                // The rare paths are boxed: the task's future stays small.
                Some(t) => match core.push_frame(&t) {
                    Some(flow) => flow,
                    None => Box::pin(core.handle_info(t)).await,
                },
                None => Flow::Close(1001, "node stopping"),
            },
            () = &mut idle => Flow::Close(1001, "timeout: no message from the client"),
        };
        if let Flow::Close(code, why) = flow {
            break Some((code, why));
        }
    };
    core.close().await;
    let pending = match &mut core.out {
        Outbox::Local(q) => std::mem::take(q),
        Outbox::Shared(_) => VecDeque::new(),
    };
    drop(core);
    // A client that does not read would never take a close frame.
    if matches!(close, Some((CLOSE_SLOW, _))) {
        return;
    }
    let _ = tokio::time::timeout(FLUSH_ON_CLOSE, async move {
        for f in pending {
            if let Some(m) = message(f) {
                if sink.feed(m).await.is_err() {
                    return;
                }
            }
        }
        if let Some((code, reason)) = close {
            let _ = sink
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: Utf8Bytes::from_static(reason),
                })))
                .await;
        }
        let _ = sink.close().await;
    })
    .await;
}

fn message(f: Frame) -> Option<Message> {
    match f {
        Frame::Text(b) => Utf8Bytes::try_from(b).ok().map(Message::Text),
        Frame::Binary(b) => Some(Message::Binary(b)),
    }
}

/// Writes queued frames while the client takes them, then flushes; ready
/// when everything queued is written and flushed.
fn write_some(
    sink: &mut SplitSink<WebSocket, Message>,
    queue: &mut VecDeque<Frame>,
    unflushed: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<Result<(), axum::Error>> {
    while !queue.is_empty() {
        ready!(sink.poll_ready_unpin(cx))?;
        if let Some(m) = queue.pop_front().and_then(message) {
            sink.start_send_unpin(m)?;
            *unflushed = true;
        }
    }
    if *unflushed {
        ready!(sink.poll_flush_unpin(cx))?;
        *unflushed = false;
    }
    Poll::Ready(Ok(()))
}
