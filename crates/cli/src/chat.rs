//! The demo each node of `nodus cluster` serves: the chat page and a
//! Phoenix socket whose `room:*` channel is the reference channel of
//! `nodus_channels::demo`, broadcasting through a Phoenix.PubSub-
//! compatible PubSub.

use std::net::SocketAddr;

use anyhow::Context;
use nodus::pubsub::{Options, PubSub};
use nodus::Node;
use nodus_channels::{demo, Endpoint};

/// Starts the PubSub `pubsub` (or takes the running one), binds
/// `127.0.0.1:port` and serves the page and socket there.
pub async fn serve(node: &Node, pubsub: &str, port: u16) -> anyhow::Result<SocketAddr> {
    let ps = match PubSub::lookup(node, pubsub) {
        Some(ps) => ps,
        None => PubSub::start(node, pubsub, Options::default())
            .await
            .with_context(|| format!("{}: starting PubSub {pubsub}", node.name()))?,
    };
    let ep = Endpoint::builder(node, &ps)
        .channel("room:*", demo::Room::default)
        .build()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("{}: cannot listen for HTTP on {addr}", node.name()))?;
    let addr = listener
        .local_addr()
        .with_context(|| format!("HTTP listener on {addr}"))?;
    let page = demo::router(node.name().as_str());
    let name = node.name().clone();
    tokio::spawn(async move {
        if let Err(e) = ep.serve(listener, page).await {
            tracing::error!("{name}: {e}");
        }
    });
    Ok(addr)
}
