//! `pubsub`: a PubSub that Phoenix.PubSub 2.x nodes take for one of
//! their own (its PG2 adapter, over OTP's `pg`). A broadcast on any node,
//! nodus or BEAM, reaches the subscribers of its topic on every node.
//!
//! ```no_run
//! # async fn demo(node: nodus::Node, me: nodus::Process) -> Result<(), nodus::pubsub::Error> {
//! use nodus::{pubsub::{PubSub, Options}, Term};
//! let ps = PubSub::start(&node, "MyApp.PubSub", Options::default()).await?;
//! ps.subscribe(me.pid(), "room:lobby");
//! ps.broadcast("room:lobby", Term::atom("hello"))?; // here and on every node
//! # Ok(()) }
//! ```
//!
//! What runs, as Phoenix.PubSub starts it for `name: MyApp.PubSub`:
//! the `pg` scope `'Elixir.Phoenix.PubSub'` (if no one started it), and
//! `pool_size` workers registered as `'Elixir.MyApp.PubSub.Adapter'`,
//! `…Adapter_2`, … each a member of the `pg` group of its name. A
//! broadcast sends one `{forward_to_local, Topic, Message, Dispatcher}`
//! to one worker of each other node (encoded once), then dispatches
//! locally; a worker dispatches what it is forwarded to this node's
//! subscribers.
//!
//! Exactly once per node, whatever the pool sizes: the sender's group is
//! chosen by a hash of the sending process (so one sender's broadcasts
//! always take the same path and stay in order), and a node with no
//! worker in that group gets the message through its worker in the first
//! group (`…Adapter`, which every node has). When a BEAM node runs a
//! bigger pool, nodus joins a worker to each of its extra groups, so a
//! BEAM sender that picks `…Adapter_4` still reaches nodus.
//!
//! Dispatchers: `'Elixir.Phoenix.PubSub'` (the default) sends the message
//! as it is to each subscriber; another dispatcher (Phoenix Channels'
//! `'Elixir.Phoenix.Channel.Server'`) is a [`Dispatcher`] registered with
//! [`PubSub::set_dispatcher`]; without one, the message is delivered as
//! with the default (and logged once).

mod registry;
pub(crate) mod rpc;
mod worker;

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use nodus_term::{Atom, Pid, Term};
use serde::de::DeserializeOwned;

use crate::encoded::EncodedTerm;
use crate::node::Node;
use crate::pg;
use crate::process::Process;

pub use registry::Subscriber;
use registry::{Registry, Sub};

/// The `pg` scope of every Phoenix.PubSub (`Phoenix.PubSub` in Elixir).
pub const SCOPE: &str = "Elixir.Phoenix.PubSub";

/// The default dispatcher (`Phoenix.PubSub`).
pub const DEFAULT_DISPATCHER: &str = "Elixir.Phoenix.PubSub";

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name that cannot be an atom.
    #[error("bad PubSub name {0:?}: {1}")]
    BadName(String, String),
    /// Inconsistent options.
    #[error("PubSub {name}: {reason}")]
    Options {
        /// The PubSub.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A PubSub of that name already runs on this node.
    #[error("PubSub {0} is already running on this node")]
    AlreadyStarted(String),
    /// The `pg` side failed.
    #[error(transparent)]
    Pg(#[from] pg::Error),
    /// A worker's name is taken.
    #[error("PubSub {name}: {error}")]
    Register {
        /// The PubSub.
        name: String,
        /// Why.
        error: crate::Error,
    },
    /// A message that cannot be encoded, or not sent.
    #[error(transparent)]
    Node(#[from] crate::Error),
}

/// How a PubSub runs (`Phoenix.PubSub`'s options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Workers, one per `pg` group (default 1).
    pub pool_size: usize,
    /// Groups a sender picks from (default `pool_size`; at most
    /// `pool_size`): lower it while the cluster moves to a bigger pool.
    pub broadcast_pool_size: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pool_size: 1,
            broadcast_pool_size: None,
        }
    }
}

/// Delivers a message broadcast with a dispatcher other than the default
/// to this node's subscribers of its topic.
pub trait Dispatcher: Send + Sync + 'static {
    /// Called with the topic's subscribers; `from` is the process
    /// excluded by `broadcast_from` (`None` for `:none`). Runs under the
    /// topic's read lock: it must not subscribe or unsubscribe.
    fn dispatch(
        &self,
        node: &Node,
        subscribers: &Subscribers<'_>,
        from: Option<&Pid>,
        message: &Term,
    );
}

/// The subscriptions of one topic, as a [`Dispatcher`] gets them: read in
/// place (no copy of their metadata), sent to without a process-table
/// lookup.
pub struct Subscribers<'a> {
    subs: &'a [Sub],
    node: &'a Node,
    dead: std::cell::Cell<bool>,
}

impl<'a> Subscribers<'a> {
    /// How many there are (dead ones not yet dropped included).
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// True when the topic has none.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// Each subscription, in the order they were made.
    pub fn iter(&self) -> impl Iterator<Item = SubscriberRef<'_>> + '_ {
        self.subs
            .iter()
            .map(move |sub| SubscriberRef { sub, all: self })
    }
}

/// One subscription seen by a [`Dispatcher`].
pub struct SubscriberRef<'a> {
    sub: &'a Sub,
    all: &'a Subscribers<'a>,
}

impl SubscriberRef<'_> {
    /// The subscribed process.
    pub fn pid(&self) -> Pid {
        self.sub
            .view(self.all.node.name(), self.all.node.creation())
            .pid
    }

    /// True if this is `pid`'s subscription.
    pub fn is(&self, pid: &Pid) -> bool {
        self.all.node.is_local(pid) && self.sub.is(pid)
    }

    /// What it subscribed with (`nil` when nothing was given).
    pub fn metadata(&self) -> &Term {
        self.sub.metadata()
    }

    /// Queues `message` to the subscriber; false if it has exited (its
    /// subscription is then dropped).
    pub fn send(&self, message: Term) -> bool {
        let alive = self.sub.proc.send(message);
        if !alive {
            self.all.dead.set(true);
        }
        alive
    }
}

/// A running PubSub. Cheap to clone.
#[derive(Clone)]
pub struct PubSub(Arc<Inner>);

pub(crate) struct Inner {
    node: Node,
    name: Atom,
    adapter: Atom,
    /// The groups of the pool (listeners), first the adapter name.
    groups: Vec<Term>,
    /// How many of them senders pick from.
    broadcast_groups: usize,
    registry: Arc<Registry>,
    dispatchers: RwLock<HashMap<Atom, Arc<dyn Dispatcher>>>,
    /// Dispatchers already reported as unknown.
    unknown: std::sync::Mutex<HashSet<Atom>>,
}

/// The PubSubs running on a node, by name (a node extension).
#[derive(Default)]
struct Running(RwLock<HashMap<Atom, PubSub>>);

/// `MyApp.PubSub` -> `'Elixir.MyApp.PubSub'` (an Elixir module name); a
/// name already prefixed, or one starting in lower case (an Erlang atom),
/// is kept.
pub fn full_name(name: &str) -> String {
    if name.starts_with("Elixir.") || !name.starts_with(|c: char| c.is_ascii_uppercase()) {
        name.to_string()
    } else {
        format!("Elixir.{name}")
    }
}

/// `Module.concat(Name, "Adapter")`.
fn adapter_name(full: &str) -> String {
    format!(
        "Elixir.{}.Adapter",
        full.strip_prefix("Elixir.").unwrap_or(full)
    )
}

fn atom_of(s: &str) -> Result<Atom, Error> {
    Atom::try_new(s).map_err(|e| Error::BadName(s.to_string(), e.to_string()))
}

/// A topic as Phoenix has it: a binary.
fn topic_term(topic: &str) -> Term {
    Term::binary(topic.as_bytes())
}

impl PubSub {
    /// Starts PubSub `name` (`MyApp.PubSub`, as in Elixir) on `node`,
    /// with the `pg` scope `'Elixir.Phoenix.PubSub'` if it is not running.
    pub async fn start(node: &Node, name: &str, opts: Options) -> Result<PubSub, Error> {
        let full = full_name(name);
        let name_atom = atom_of(&full)?;
        let adapter = atom_of(&adapter_name(&full))?;
        let broadcast = opts.broadcast_pool_size.unwrap_or(opts.pool_size);
        if opts.pool_size == 0 || broadcast == 0 || broadcast > opts.pool_size {
            return Err(Error::Options {
                name: full,
                reason: format!(
                    "pool_size ({}) must be at least 1 and at least broadcast_pool_size ({broadcast})",
                    opts.pool_size
                ),
            });
        }
        let running = node.extension(Running::default);
        if running
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&name_atom)
        {
            return Err(Error::AlreadyStarted(full));
        }
        if node.whereis(SCOPE).is_none() {
            match pg::start(node, SCOPE).await {
                Ok(_) | Err(pg::Error::AlreadyStarted(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let groups: Vec<Term> = (1..=opts.pool_size)
            .map(|i| worker::group_name(&adapter, i))
            .collect::<Result<_, _>>()?;
        let registry = Arc::new(Registry::default());
        let ps = PubSub(Arc::new(Inner {
            node: node.clone(),
            name: name_atom.clone(),
            adapter,
            groups: groups.clone(),
            broadcast_groups: broadcast,
            registry,
            dispatchers: RwLock::default(),
            unknown: std::sync::Mutex::default(),
        }));
        worker::sweep_every_second(&ps);
        for g in &groups {
            worker::start_worker(&ps, g).await?;
        }
        worker::watch_pool(&ps);
        running
            .0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name_atom, ps.clone());
        Ok(ps)
    }

    /// The PubSub `name` running on `node`, if any.
    pub fn lookup(node: &Node, name: &str) -> Option<PubSub> {
        let running = node.try_extension::<Running>()?;
        let full = full_name(name);
        let r = running.0.read().unwrap_or_else(|e| e.into_inner());
        r.get(full.as_str()).cloned()
    }

    /// Its name (`'Elixir.MyApp.PubSub'`).
    pub fn name(&self) -> &Atom {
        &self.0.name
    }

    /// The adapter name its workers use (`'Elixir.MyApp.PubSub.Adapter'`).
    pub fn adapter_name(&self) -> &Atom {
        &self.0.adapter
    }

    /// The node it runs on.
    pub fn node(&self) -> &Node {
        &self.0.node
    }

    /// `Phoenix.PubSub.subscribe/2`: `pid` (a process of this node) gets
    /// every message broadcast on `topic` until it unsubscribes or exits.
    /// False (and nothing done) when `pid` is not a live local process.
    pub fn subscribe(&self, pid: &Pid, topic: &str) -> bool {
        self.subscribe_with(pid, topic, Term::atom("nil"))
    }

    /// `Phoenix.PubSub.subscribe/3` with `metadata:` (what a
    /// [`Dispatcher`] sees).
    pub fn subscribe_with(&self, pid: &Pid, topic: &str, metadata: Term) -> bool {
        let Some(proc) = self.0.node.process_ref(pid) else {
            return false;
        };
        self.0
            .registry
            .subscribe(topic_term(topic), Sub::new(proc, pid, metadata));
        true
    }

    /// `Phoenix.PubSub.unsubscribe/2`: every subscription of `pid` to
    /// `topic` goes.
    pub fn unsubscribe(&self, pid: &Pid, topic: &str) {
        self.0.registry.unsubscribe(&topic_term(topic), pid);
    }

    /// A subscription as a [`futures_core::Stream`] of messages decoded
    /// into `T` (with serde; a message that does not fit `T` is an
    /// `Err`). It is a process of its own: dropping it unsubscribes.
    pub fn stream<T: DeserializeOwned>(&self, topic: &str) -> Subscription<T> {
        let me = self.0.node.process();
        self.subscribe(me.pid(), topic);
        Subscription {
            me,
            _t: PhantomData,
        }
    }

    /// The subscribers of `topic` on this node.
    pub fn subscribers(&self, topic: &str) -> Vec<Subscriber> {
        let node = &self.0.node;
        self.0
            .registry
            .subscribers(&topic_term(topic), node.name(), node.creation())
    }

    /// Subscriptions on this node, in all topics.
    pub fn subscription_count(&self) -> usize {
        self.0.registry.len()
    }

    /// Registers the dispatcher for messages broadcast with `module`
    /// (such as `Elixir.Phoenix.Channel.Server`).
    pub fn set_dispatcher(&self, module: &str, d: Arc<dyn Dispatcher>) -> Result<(), Error> {
        let a = atom_of(module)?;
        self.0
            .dispatchers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(a, d);
        Ok(())
    }

    /// `Phoenix.PubSub.broadcast/3`: to the subscribers of `topic` on
    /// every node. Never waits.
    pub fn broadcast(&self, topic: &str, message: Term) -> Result<(), Error> {
        self.broadcast_with(None, topic, message, DEFAULT_DISPATCHER)
    }

    /// `Phoenix.PubSub.broadcast_from/4`: as [`PubSub::broadcast`], except
    /// to `from` (the sending process; its hash picks the group).
    pub fn broadcast_from(&self, from: &Pid, topic: &str, message: Term) -> Result<(), Error> {
        self.broadcast_with(Some(from), topic, message, DEFAULT_DISPATCHER)
    }

    /// `broadcast/4` or `broadcast_from/5` with a dispatcher module.
    pub fn broadcast_with(
        &self,
        from: Option<&Pid>,
        topic: &str,
        message: Term,
        dispatcher: &str,
    ) -> Result<(), Error> {
        let d = atom_of(dispatcher)?;
        let t = topic_term(topic);
        let forward = EncodedTerm::new(Term::tuple(vec![
            Term::atom("forward_to_local"),
            t.clone(),
            message,
            Term::Atom(d.clone()),
        ]))?;
        for target in self.remote_targets(from) {
            self.0.node.send_encoded(&target, &forward)?;
        }
        let Some([_, _, message, _]) = forward.term().as_tuple() else {
            return Ok(());
        };
        self.local_dispatch(&t, message, &d, from);
        Ok(())
    }

    /// `Phoenix.PubSub.local_broadcast/3`: this node's subscribers only.
    pub fn local_broadcast(&self, topic: &str, message: &Term) {
        let d = Atom::new(DEFAULT_DISPATCHER);
        self.local_dispatch(&topic_term(topic), message, &d, None);
    }

    /// `Phoenix.PubSub.direct_broadcast/4`: to the subscribers on `node`
    /// only (through its `…Adapter` worker).
    pub async fn direct_broadcast(
        &self,
        node: &str,
        topic: &str,
        message: Term,
    ) -> Result<(), Error> {
        if node == self.0.node.name().as_str() {
            self.local_broadcast(topic, &message);
            return Ok(());
        }
        let msg = Term::tuple(vec![
            Term::atom("forward_to_local"),
            topic_term(topic),
            message,
            Term::atom(DEFAULT_DISPATCHER),
        ]);
        let me = self.0.node.process();
        self.0
            .node
            .send_named(me.pid(), self.0.adapter.as_str(), node, msg)
            .await?;
        Ok(())
    }

    /// One worker per other node: the member of the sender's group there,
    /// or of the first broadcast group that node has.
    fn remote_targets(&self, from: Option<&Pid>) -> Vec<Pid> {
        let here = self.0.node.name().clone();
        let n = self.0.broadcast_groups;
        let first = from.map_or(0, |p| pick(p, n));
        let mut seen: HashSet<Atom> = HashSet::new();
        let mut out = Vec::new();
        let order = std::iter::once(first).chain((0..n).filter(|&i| i != first));
        for i in order {
            pg::with_members(&self.0.node, SCOPE, &self.0.groups[i], |pids| {
                for p in pids {
                    if p.node != here && seen.insert(p.node.clone()) {
                        out.push(p.clone());
                    }
                }
            });
        }
        out
    }

    /// `Phoenix.PubSub.local_dispatch/4`.
    pub(crate) fn local_dispatch(
        &self,
        topic: &Term,
        message: &Term,
        dispatcher: &Atom,
        from: Option<&Pid>,
    ) {
        let node = &self.0.node;
        if dispatcher.as_str() != DEFAULT_DISPATCHER {
            let custom = self
                .0
                .dispatchers
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(dispatcher)
                .cloned();
            match custom {
                Some(d) => {
                    self.0.registry.dispatch(topic, |subs| {
                        let all = Subscribers {
                            subs,
                            node,
                            dead: std::cell::Cell::new(false),
                        };
                        d.dispatch(node, &all, from, message);
                        all.dead.get()
                    });
                    return;
                }
                None => {
                    if self
                        .0
                        .unknown
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(dispatcher.clone())
                    {
                        tracing::warn!(
                            "PubSub {}: no dispatcher {dispatcher} registered; its messages are delivered as they are",
                            self.0.name
                        );
                    }
                }
            }
        }
        let from = from.filter(|p| node.is_local(p));
        self.0.registry.dispatch(topic, |subs| {
            let mut dead = false;
            for s in subs {
                if from.is_some_and(|f| s.is(f)) {
                    continue;
                }
                dead |= !s.proc.send(message.clone());
            }
            dead
        });
    }
}

/// The group index a sender uses (a stable hash of its pid, so its
/// broadcasts always take the same worker and arrive in order).
fn pick(pid: &Pid, n: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    pid.hash(&mut h);
    (h.finish() as usize) % n
}

/// A subscription read as a stream (see [`PubSub::stream`]).
pub struct Subscription<T> {
    me: Process,
    _t: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Subscription<T> {
    /// The next message; `None` once the node stops.
    pub async fn next(&mut self) -> Option<Result<T, nodus_term::serde::Error>> {
        let m = self.me.recv().await?;
        Some(nodus_term::from_term(&m))
    }

    /// The subscribing process.
    pub fn pid(&self) -> &Pid {
        self.me.pid()
    }
}

impl<T: DeserializeOwned> futures_core::Stream for Subscription<T> {
    type Item = Result<T, nodus_term::serde::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.me
            .poll_recv(cx)
            .map(|m| m.map(|m| nodus_term::from_term(&m)))
    }
}
