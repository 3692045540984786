//! `gen_server`: a behaviour for servers with state, and its client
//! functions. Answers to OTP's `gen_server` (and `gen`), on the wire as
//! BEAM's: a nodus server answers `GenServer.call/3`, `:gen_server.cast/2`
//! and `:sys.get_state/1` from iex, and [`call`] reaches BEAM servers.
//!
//! ```no_run
//! use nodus::gen_server::{self, CallReply, GenServer, ReplyTo};
//! use nodus::{Process, Term};
//! use serde::Deserialize;
//!
//! struct Counter(i64);
//!
//! #[derive(Deserialize)]
//! #[serde(rename_all = "snake_case")]
//! enum Req { Get, Add(i64) }
//!
//! impl GenServer for Counter {
//!     type Args = i64;
//!     type Call = Req;
//!     type Reply = i64;
//!     type Cast = Term;
//!     async fn init(start: i64, _me: &mut Process) -> Result<Self, Term> { Ok(Counter(start)) }
//!     async fn handle_call(&mut self, req: Req, _from: ReplyTo, _me: &mut Process) -> CallReply<i64> {
//!         match req {
//!             Req::Get => CallReply::Reply(self.0),
//!             Req::Add(n) => { self.0 += n; CallReply::Reply(self.0) }
//!         }
//!     }
//!     fn format_state(&self) -> Term { Term::from(self.0) }
//! }
//!
//! # async fn demo(node: nodus::Node) -> Result<(), Term> {
//! let pid = gen_server::start::<Counter>(&node, 0, gen_server::Options::named("counter")).await?;
//! # Ok(()) }
//! ```
//!
//! A callback that panics ends the server with `{panic, Message}` (after
//! `terminate`); the caller of a call in flight gets that reason as
//! [`CallError::Down`]. A request that does not decode into `Call` is
//! answered `{error, {bad_request, Request}}` and the server goes on.

pub(crate) mod client;
mod server;

pub use client::{
    abcast, call, call_term, cast, cast_term, multi_call, reply, Call, CallError, ServerRef,
};
pub use server::{start, stop, Options, Registration};

use std::future::Future;

use nodus_term::Term;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::node::Node;
use crate::process::Process;

/// What `handle_call` answers.
#[derive(Debug)]
pub enum CallReply<R> {
    /// `{reply, Reply, State}`.
    Reply(R),
    /// `{noreply, State}`: the reply comes later, from [`ReplyTo::reply`].
    NoReply,
    /// `{stop, Reason, Reply, State}` (with a reply) or `{stop, Reason,
    /// State}` (without).
    Stop(Term, Option<R>),
}

/// What `handle_cast` and `handle_info` answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Flow {
    /// `{noreply, State}`.
    Continue,
    /// `{stop, Reason, State}`.
    Stop(Term),
}

/// The `From` of a call: where its reply goes. Cheap to clone and `Send`,
/// so a reply may come later from another task (`gen_server:reply/2`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyTo {
    pub(crate) from: Term,
}

impl ReplyTo {
    /// The caller's pid.
    pub fn caller(&self) -> Option<nodus_term::Pid> {
        match self.from.as_tuple() {
            Some([Term::Pid(p), _]) => Some(p.clone()),
            _ => None,
        }
    }

    /// `gen_server:reply(From, Reply)`.
    pub async fn reply<R: Serialize + ?Sized>(&self, node: &Node, value: &R) {
        let t = reply_term(value);
        reply(node, &self.from, t).await;
    }

    /// The `From` term (`{Pid, Tag}`).
    pub fn as_term(&self) -> &Term {
        &self.from
    }
}

/// A reply as a term; one that serde cannot write becomes `{error,
/// <<"why">>}`.
pub(crate) fn reply_term<R: Serialize + ?Sized>(value: &R) -> Term {
    nodus_term::to_term(value).unwrap_or_else(|e| {
        Term::tuple(vec![
            Term::atom("error"),
            Term::binary(e.to_string().into_bytes()),
        ])
    })
}

/// A server's callbacks. Every callback gets the server's own
/// [`Process`] (to send, monitor, link, spawn).
pub trait GenServer: Sized + Send + 'static {
    /// What `init` is started with.
    type Args: Send + 'static;
    /// Calls, read from the request term with serde (`Term` takes any).
    type Call: DeserializeOwned + Send;
    /// Replies, written with serde.
    type Reply: Serialize + Send;
    /// Casts, read with serde (`Term` takes any).
    type Cast: DeserializeOwned + Send;

    /// `init/1`: the initial state, or `Err(Reason)` to stop (`start`
    /// then returns the reason).
    fn init(args: Self::Args, me: &mut Process) -> impl Future<Output = Result<Self, Term>> + Send;

    /// `handle_call/3`.
    fn handle_call(
        &mut self,
        request: Self::Call,
        from: ReplyTo,
        me: &mut Process,
    ) -> impl Future<Output = CallReply<Self::Reply>> + Send;

    /// `handle_cast/2` (default: ignore).
    fn handle_cast(
        &mut self,
        _msg: Self::Cast,
        _me: &mut Process,
    ) -> impl Future<Output = Flow> + Send {
        async { Flow::Continue }
    }

    /// `handle_info/2`: any other message (default: ignore, as
    /// `gen_server` logs and drops unexpected messages).
    fn handle_info(&mut self, msg: Term, _me: &mut Process) -> impl Future<Output = Flow> + Send {
        tracing::debug!("gen_server: unexpected message {msg}");
        async { Flow::Continue }
    }

    /// `terminate/2`: the server stops with `reason` (default: nothing).
    fn terminate(&mut self, _reason: &Term, _me: &mut Process) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// The state as `sys:get_state/1` shows it (default `undefined`);
    /// with a `Serialize` state, `nodus::to_term(self)` is one line.
    fn format_state(&self) -> Term {
        Term::atom("undefined")
    }
}
