//! The demo that `nodus cluster` serves on each node: a chat page (with
//! the official phoenix.js, vendored from the npm package `phoenix`) and
//! a reference channel `room:*` that load and conformance tools can
//! point at.
//!
//! `room:*` behaves as a reference endpoint should: a join answers ok,
//! except `room:forbidden`, refused with `{"reason":"unauthorized"}`;
//! `ping` replies `{"pong": payload}` (a binary ping gets a binary reply
//! with the same bytes); `shout` broadcasts the payload to the topic as
//! `shout`; `stop` stops the channel normally; any other event makes the
//! channel fail (`phx_error`).

use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde_json::json;

use crate::channel::{Channel, ChannelSocket, HandleIn, Reason};
use crate::payload::Payload;

/// phoenix.js (`phoenix.min.js` of the npm package `phoenix`, MIT).
pub const PHOENIX_JS: &str = include_str!("../static/phoenix.min.js");

/// The chat page; `{{NODE}}` stands for the node's name.
const CHAT_HTML: &str = include_str!("../static/chat.html");

/// The reference channel.
#[derive(Debug, Default)]
pub struct Room;

impl Channel for Room {
    async fn join(
        &mut self,
        topic: &str,
        _p: Payload,
        _s: &mut ChannelSocket,
    ) -> Result<Payload, Payload> {
        if topic == "room:forbidden" {
            Err(Payload::Json(json!({"reason": "unauthorized"})))
        } else {
            Ok(Payload::empty())
        }
    }

    async fn handle_in(
        &mut self,
        event: &str,
        payload: Payload,
        socket: &mut ChannelSocket,
    ) -> HandleIn {
        match event {
            "ping" => match payload {
                Payload::Binary(b) => HandleIn::ok(Payload::Binary(b)),
                Payload::Json(v) => HandleIn::ok(Payload::Json(json!({ "pong": v }))),
            },
            "shout" => {
                socket.broadcast("shout", payload);
                HandleIn::NoReply
            }
            "stop" => HandleIn::stop(Reason::Normal),
            other => HandleIn::stop(Reason::Error(format!("no handle_in for event {other:?}"))),
        }
    }
}

/// The page and its script: `/` and `/assets/phoenix.min.js`.
pub fn router(node_name: &str) -> axum::Router {
    let page = CHAT_HTML.replace("{{NODE}}", &html_escape(node_name));
    axum::Router::new()
        .route("/", get(move || std::future::ready(Html(page.clone()))))
        .route(
            "/assets/phoenix.min.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    PHOENIX_JS,
                )
                    .into_response()
            }),
        )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
