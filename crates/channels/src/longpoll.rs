//! The long-poll transport (`/socket/longpoll`), as phoenix.js falls back
//! to it: a GET without a token opens a session (`{"status":410,
//! "token":T}`); a GET with it waits up to the window for messages
//! (`{"status":200,"token":T,"messages":[…]}` or `{"status":204}`); a POST
//! with it carries the client's messages, one per line
//! (`application/x-ndjson`). An unknown token gets `{"status":410}` (the
//! client reconnects and rejoins); a refused socket `{"status":403}`.
//! Binary frames cannot reach a long-poll client (phoenix.js reads each
//! message as JSON): they are dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::endpoint::{Endpoint, Transport};
use crate::http::{accept, Accepted, Refused};
use crate::serializer::Frame;
use crate::socket::{Flow, Outbox, SocketCore};

/// Messages returned by one poll at most.
const MAX_PER_POLL: usize = 1000;

/// The open long-poll sessions of an endpoint, by token.
#[derive(Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, Arc<Session>>>);

impl Sessions {
    fn get(&self, token: &str) -> Option<Arc<Session>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    fn remove(&self, token: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token);
    }

    /// Adds a session unless there are `max` already.
    fn insert(&self, token: String, s: Arc<Session>, max: usize) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= max {
            return false;
        }
        m.insert(token, s);
        true
    }
}

pub(crate) struct Session {
    inbound: mpsc::Sender<Frame>,
    outbox: tokio::sync::Mutex<mpsc::Receiver<Frame>>,
    last_seen: Mutex<Instant>,
}

impl Session {
    fn touch(&self) {
        *self.last_seen.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    fn idle(&self) -> std::time::Duration {
        self.last_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }
}

fn status(http: StatusCode, body: Value) -> Response {
    (http, Json(body)).into_response()
}

fn gone() -> Response {
    status(StatusCode::GONE, json!({"status": 410}))
}

fn token_of(params: &HashMap<String, String>) -> Option<&str> {
    params
        .get("token")
        .map(String::as_str)
        .filter(|t| !t.is_empty())
}

/// `GET /socket/longpoll`.
pub(crate) async fn poll(
    State(ep): State<Endpoint>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = token_of(&params) else {
        return open(ep, params, headers, peer).await;
    };
    let Some(s) = ep.0.sessions.get(token) else {
        return gone();
    };
    s.touch();
    let mut rx = s.outbox.lock().await;
    let first = tokio::time::timeout(ep.config().longpoll_window, rx.recv()).await;
    let mut messages = Vec::new();
    let push = |messages: &mut Vec<Value>, f: Frame| match f {
        Frame::Text(b) => messages.push(Value::String(String::from_utf8_lossy(&b).into_owned())),
        Frame::Binary(_) => {
            tracing::debug!("long-poll {token}: a binary frame cannot be sent; dropped")
        }
    };
    let r = match first {
        Err(_) => status(StatusCode::OK, json!({"status": 204, "token": token})),
        Ok(None) => gone(),
        Ok(Some(f)) => {
            push(&mut messages, f);
            while messages.len() < MAX_PER_POLL {
                match rx.try_recv() {
                    Ok(f) => push(&mut messages, f),
                    Err(_) => break,
                }
            }
            status(
                StatusCode::OK,
                json!({"messages": messages, "status": 200, "token": token}),
            )
        }
    };
    drop(rx);
    s.touch();
    r
}

async fn open(
    ep: Endpoint,
    params: HashMap<String, String>,
    headers: HeaderMap,
    peer: SocketAddr,
) -> Response {
    let token_hdr = headers
        .get("x-phoenix-authtoken")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let a = match accept(&ep, &params, &headers, peer, token_hdr, Transport::LongPoll).await {
        Ok(a) => a,
        Err(Refused(code, why)) => {
            tracing::debug!("long-poll from {peer} refused ({code}): {why}");
            return status(code, json!({"status": code.as_u16()}));
        }
    };
    let token: String = (0..16)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let cfg = ep.config();
    let (in_tx, in_rx) = mpsc::channel(cfg.max_queue);
    let (out_tx, out_rx) = mpsc::channel(cfg.max_queue);
    let s = Arc::new(Session {
        inbound: in_tx,
        outbox: tokio::sync::Mutex::new(out_rx),
        last_seen: Mutex::new(Instant::now()),
    });
    if !ep
        .0
        .sessions
        .insert(token.clone(), s.clone(), cfg.max_longpoll_sessions)
    {
        tracing::warn!(
            "long-poll from {peer} refused: {} sessions open (the limit)",
            cfg.max_longpoll_sessions
        );
        return status(StatusCode::FORBIDDEN, json!({"status": 403}));
    }
    tokio::spawn(run(ep.clone(), s, a, in_rx, out_tx, token.clone()));
    status(StatusCode::OK, json!({"status": 410, "token": token}))
}

/// `POST /socket/longpoll`: the client's messages, one per line.
pub(crate) async fn publish(
    State(ep): State<Endpoint>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(s) = token_of(&params).and_then(|t| ep.0.sessions.get(t)) else {
        return gone();
    };
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson"));
    let lines: Vec<Bytes> = if ndjson {
        body.split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.is_empty())
            .map(|l| body.slice_ref(l))
            .collect()
    } else {
        vec![body]
    };
    for line in lines {
        // phoenix.js sends binary pushes base64-encoded; JSON starts
        // with a bracket or a brace.
        let f = match line.first() {
            Some(b'[' | b'{') | None => Frame::Text(line),
            Some(_) => match base64::engine::general_purpose::STANDARD.decode(&line) {
                Ok(b) => Frame::Binary(Bytes::from(b)),
                Err(_) => Frame::Text(line),
            },
        };
        if s.inbound.send(f).await.is_err() {
            return gone();
        }
    }
    s.touch();
    status(StatusCode::OK, json!({"status": 200}))
}

async fn run(
    ep: Endpoint,
    s: Arc<Session>,
    a: Accepted,
    mut inbound: mpsc::Receiver<Frame>,
    out: mpsc::Sender<Frame>,
    token: String,
) {
    let window = ep.config().longpoll_window;
    let mut core = SocketCore::new(ep.clone(), a.vsn, a.assigns, a.id, Outbox::Shared(out));
    let mut tick = tokio::time::interval(window / 2);
    loop {
        let flow = tokio::select! {
            f = inbound.recv() => match f {
                Some(f) => Box::pin(core.handle_frame(f)).await,
                None => break,
            },
            t = core.me.recv() => match t {
                // The rare paths are boxed: the task's future stays small.
                Some(t) => match core.push_frame(&t) {
                    Some(flow) => flow,
                    None => Box::pin(core.handle_info(t)).await,
                },
                None => break,
            },
            _ = tick.tick() => {
                // Idle: no poll in progress, and none for two windows.
                let polling = s.outbox.try_lock().is_err();
                if !polling && s.idle() > 2 * window {
                    tracing::debug!("long-poll {token}: not polled for {:?}; closed", s.idle());
                    break;
                }
                Flow::Continue
            }
        };
        if let Flow::Close(code, why) = flow {
            tracing::debug!("long-poll {token}: closed ({code} {why})");
            break;
        }
    }
    ep.0.sessions.remove(&token);
    core.close().await;
}
