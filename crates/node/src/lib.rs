//! # nodus
//!
//! Named nodes that speak Erlang's distribution protocol: a nodus node
//! registers with EPMD (or embeds one), dials and accepts BEAM peers, and
//! hosts lightweight processes that exchange messages with Erlang
//! processes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), nodus::Error> {
//! let node = nodus::Node::builder("n1@127.0.0.1").cookie("secret").start().await?;
//! assert!(node.ping("erl@127.0.0.1").await);
//! # Ok(()) }
//! ```
//!
//! Modules are named after their OTP counterparts: [`net_kernel`] (the
//! connections), [`erl_epmd`] (the EPMD client), [`epmd_server`] (an
//! embedded EPMD).

#![warn(missing_docs)]

pub mod application;
mod builder;
pub mod config;
mod conn_gate;
pub mod cookie;
mod dist_ctrl;
mod dist_queue;
mod dist_setup;
mod encoded;
pub mod epmd_server;
pub mod erl_epmd;
mod error;
mod erts;
pub mod gen_server;
pub mod global;
mod introspection;
pub mod kernel_config;
pub mod net_kernel;
mod net_kernel_server;
mod node;
pub mod node_name;
pub mod pg;
mod process;
pub mod pubsub;
mod refusals;
pub mod rpc;
mod rpc_builtins;
mod rpc_net;
pub mod supervisor;
pub mod sys;

pub use builder::NodeBuilder;
pub use encoded::EncodedTerm;
pub use error::Error;
pub use erts::info::ProcessInfo;
pub use erts::node_monitor::{MonitorNodesOpts, NodeType};
pub use erts::process_ref::ProcessRef;
pub use erts::spawn::{catch_panic, panic_reason, ExitHandle};
pub use erts::spawnable::{ProcessFuture, SpawnFn};
pub use node::Node;
pub use nodus_term;
pub use nodus_term::{atom, from_term, to_term, Atom, Pid, Reference, Term};
pub use process::Process;
pub use rpc::Exception;
