//! The floor under `bench/channels.sh`'s join rate: a WebSocket server on
//! the same HTTP stack as nodus-channels (axum, tungstenite) that does
//! nothing a Channels server must do (no socket process, no channel, no
//! PubSub subscription, no JSON decoding): it answers every text frame
//! that carries `phx_join` or a heartbeat with a canned `ok` reply. Run
//! under `../shared/bench/phoenix-load.cjs`, its join rate is what the
//! load generator itself can reach on this machine: no server can do
//! better under that load.
//!
//! `join_floor PORT` serves `ws://127.0.0.1:PORT/socket/websocket` on
//! one thread (as `nodus start`). Not a Phoenix endpoint: a yardstick.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::routing::get;

const JOIN_OK: &str = r#"["1","1","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#;

async fn serve(mut ws: WebSocket) {
    while let Some(Ok(msg)) = ws.recv().await {
        let Message::Text(t) = msg else { continue };
        let reply = if t.contains("\"phx_join\"") {
            JOIN_OK.to_string()
        } else if t.contains("\"heartbeat\"") {
            t.replace(
                "\"heartbeat\",{}",
                "\"phx_reply\",{\"response\":{},\"status\":\"ok\"}",
            )
        } else {
            continue;
        };
        if ws.send(Message::Text(reply.into())).await.is_err() {
            break;
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or("usage: join_floor PORT")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let app = axum::Router::new().route(
            "/socket/websocket",
            // The buffer sizes of nodus-channels' sockets (tungstenite's
            // defaults cost about 130 kB per connection).
            get(|ws: WebSocketUpgrade| async move {
                ws.read_buffer_size(512)
                    .write_buffer_size(4096)
                    .on_upgrade(serve)
            }),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("join_floor listening on 127.0.0.1:{port}");
        axum::serve(listener, app).await?;
        Ok(())
    })
}
