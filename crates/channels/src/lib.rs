//! Phoenix Channels on nodus: a server that the official `phoenix` JS
//! client (1.7 and 1.8) takes for a Phoenix endpoint, whose broadcasts
//! travel through [`nodus::pubsub`] exactly as Phoenix's do, so browser
//! clients on a nodus node and on a BEAM node running Phoenix share
//! topics.
//!
//! ```no_run
//! use nodus::pubsub::{Options, PubSub};
//! use nodus_channels::{Channel, ChannelSocket, Endpoint, HandleIn, Payload};
//!
//! #[derive(Default)]
//! struct Room;
//!
//! impl Channel for Room {
//!     async fn join(&mut self, _t: &str, _p: Payload, _s: &mut ChannelSocket) -> Result<Payload, Payload> {
//!         Ok(Payload::empty())
//!     }
//!     async fn handle_in(&mut self, event: &str, p: Payload, s: &mut ChannelSocket) -> HandleIn {
//!         s.broadcast(event, p); // to every client of the topic, on every node
//!         HandleIn::NoReply
//!     }
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let node = nodus::Node::builder("chat@127.0.0.1").start().await?;
//! let pubsub = PubSub::start(&node, "Chat.PubSub", Options::default()).await?;
//! let endpoint = Endpoint::builder(&node, &pubsub).channel("room:*", Room::default).build()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:4000").await?;
//! endpoint.serve(listener, nodus_channels::axum::Router::new()).await?; // ws://127.0.0.1:4000/socket
//! # Ok(()) }
//! ```
//!
//! Transports: WebSocket at `{path}/websocket` and long-poll at
//! `{path}/longpoll`; serializers V1 JSON (`vsn=1.0.0`), V2 JSON and V2
//! binary (`vsn=2.0.0`); another vsn is refused with 403. WebSocket
//! compression (`permessage-deflate`) is never negotiated.
//!
//! The HTTP stack is axum on hyper, with tokio-tungstenite for
//! WebSockets: the most used and best kept tokio stack, whose upgrade
//! lets us pick the subprotocol (`authToken`), bound frame sizes and
//! buffer sizes per connection.

mod broadcast;
mod channel;
pub mod demo;
mod endpoint;
mod fastlane;
mod http;
mod longpoll;
mod payload;
pub mod serializer;
mod socket;
mod ws;

pub use axum;
pub use broadcast::{broadcast_term, parse_broadcast, BroadcastRef, BROADCAST, CHANNEL_SERVER};
pub use channel::{Assigns, Channel, ChannelRef, ChannelSocket, HandleIn, Reason, ReplyRef};
pub use endpoint::{
    AcceptAll, Builder, CheckOrigin, Config, ConnectInfo, Endpoint, Error, SocketHandler, Transport,
};
pub use payload::{json_to_term, term_to_json, Payload, Unencodable};
pub use serializer::{Frame, Message, Vsn};
