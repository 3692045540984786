//! The WebSocket transport (`/socket/websocket`): one task reads the
//! client and the socket's mailbox, a second writes what is queued for
//! the client (a bounded queue: a client that stops reading is
//! disconnected when it is full, so memory never grows with it).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};

use crate::endpoint::{Endpoint, Transport};
use crate::http::{accept, auth_token_of_protocols, Accepted, Refused};
use crate::serializer::Frame;
use crate::socket::{Flow, SocketCore};

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
        .write_buffer_size(0)
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
    let cfg = ep.config().clone();
    let (tx, rx) = mpsc::channel::<Frame>(cfg.max_queue);
    let mut core = SocketCore::new(ep, a.vsn, a.assigns, a.id, tx);
    let (sink, mut stream) = ws.split();
    let (close_tx, close_rx) = oneshot::channel::<(u16, &'static str)>();
    let mut writer = tokio::spawn(write(sink, rx, close_rx));
    let idle = tokio::time::sleep(cfg.timeout);
    tokio::pin!(idle);
    let close = loop {
        let flow = tokio::select! {
            m = stream.next() => {
                idle.as_mut().reset(tokio::time::Instant::now() + cfg.timeout);
                match m {
                    Some(Ok(Message::Text(t))) => core.handle_frame(Frame::Text(t.into())).await,
                    Some(Ok(Message::Binary(b))) => core.handle_frame(Frame::Binary(b)).await,
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
                Some(t) => core.handle_info(t).await,
                None => Flow::Close(1001, "node stopping"),
            },
            () = &mut idle => Flow::Close(1001, "timeout: no message from the client"),
        };
        if let Flow::Close(code, why) = flow {
            break Some((code, why));
        }
    };
    core.close().await;
    let slow = matches!(close, Some((crate::socket::CLOSE_SLOW, _)));
    drop(core);
    if slow {
        // A client that does not read would never take a close frame.
        writer.abort();
        return;
    }
    if let Some(c) = close {
        let _ = close_tx.send(c);
    } else {
        drop(close_tx);
    }
    if tokio::time::timeout(FLUSH_ON_CLOSE, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

async fn write(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Frame>,
    close: oneshot::Receiver<(u16, &'static str)>,
) {
    while let Some(f) = rx.recv().await {
        let m = match f {
            Frame::Text(b) => match Utf8Bytes::try_from(b) {
                Ok(t) => Message::Text(t),
                Err(_) => continue,
            },
            Frame::Binary(b) => Message::Binary(b),
        };
        if sink.feed(m).await.is_err() {
            return;
        }
        if rx.is_empty() && sink.flush().await.is_err() {
            return;
        }
    }
    if let Ok((code, reason)) = close.await {
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            })))
            .await;
    }
    let _ = sink.close().await;
}
