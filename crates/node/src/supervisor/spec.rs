//! What a supervisor is told: its flags and its child specifications.
//! Answers to the `sup_flags()` and `child_spec()` maps of OTP's
//! `supervisor`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use nodus_term::{Pid, Term};

use crate::gen_server::{self, GenServer, Options};
use crate::node::Node;
use crate::process::Process;

/// How a supervisor restarts children (`strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Only the child that exited is restarted.
    #[default]
    OneForOne,
    /// Every child is terminated and all are restarted.
    OneForAll,
    /// The child and those started after it are terminated and restarted.
    RestForOne,
}

/// When a child is restarted (`restart`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// Always.
    #[default]
    Permanent,
    /// Only after an abnormal exit (not `normal`, `shutdown` or
    /// `{shutdown, _}`).
    Transient,
    /// Never; its spec is dropped when it exits.
    Temporary,
}

/// How a child is stopped (`shutdown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// `brutal_kill`: `exit(Child, kill)`.
    BrutalKill,
    /// `exit(Child, shutdown)`, then `kill` if it has not exited within
    /// the time.
    Timeout(Duration),
    /// `exit(Child, shutdown)` and wait for as long as it takes (the
    /// default for supervisors).
    Infinity,
}

/// `worker` or `supervisor` (`type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChildType {
    /// A worker.
    #[default]
    Worker,
    /// A supervisor.
    Supervisor,
}

/// The supervisor's flags: strategy and restart intensity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    /// The strategy.
    pub strategy: Strategy,
    /// At most this many restarts...
    pub intensity: u32,
    /// ...within this period; one more and the supervisor gives up: it
    /// terminates its children and exits with `shutdown`.
    pub period: Duration,
}

impl Default for Flags {
    /// OTP's defaults: `one_for_one`, 1 restart in 5 s.
    fn default() -> Self {
        Flags {
            strategy: Strategy::OneForOne,
            intensity: 1,
            period: Duration::from_secs(5),
        }
    }
}

impl Flags {
    /// `strategy` with OTP's default intensity (1 in 5 s).
    pub fn new(strategy: Strategy) -> Flags {
        Flags {
            strategy,
            ..Flags::default()
        }
    }

    /// At most `intensity` restarts within `period`.
    pub fn intensity(mut self, intensity: u32, period: Duration) -> Flags {
        self.intensity = intensity;
        self.period = period;
        self
    }
}

/// What a child's start function returns.
pub type StartFuture = Pin<Box<dyn Future<Output = Result<Pid, Term>> + Send>>;

/// Starts a child: given the node and the supervisor's pid, a process
/// linked to the supervisor, or why it could not start.
pub type StartFn = Arc<dyn Fn(Node, Pid) -> StartFuture + Send + Sync>;

/// A child specification.
#[derive(Clone)]
pub struct ChildSpec {
    /// Its id among its siblings (an atom on the wire).
    pub id: String,
    /// How it starts.
    pub start: StartFn,
    /// When it is restarted.
    pub restart: Restart,
    /// How it is stopped.
    pub shutdown: Shutdown,
    /// Worker or supervisor.
    pub kind: ChildType,
    /// The module name `which_children` shows (`[Module]`).
    pub module: String,
}

impl ChildSpec {
    /// A worker started by `start`, permanent, with a 5 s shutdown (OTP's
    /// worker defaults).
    pub fn new<F, Fut>(id: &str, start: F) -> ChildSpec
    where
        F: Fn(Node, Pid) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Pid, Term>> + Send + 'static,
    {
        ChildSpec {
            id: id.to_string(),
            start: Arc::new(move |n, s| Box::pin(start(n, s))),
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            kind: ChildType::Worker,
            module: id.to_string(),
        }
    }

    /// A process running `f` (spawned linked to the supervisor).
    pub fn task<F, Fut>(id: &str, f: F) -> ChildSpec
    where
        F: Fn(Process) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let f = Arc::new(f);
        ChildSpec::new(id, move |node, sup| {
            let f = f.clone();
            async move { Ok(node.spawn_linked_to(&sup, move |p| f(p))) }
        })
    }

    /// A [`GenServer`] started with `args` (cloned for each restart),
    /// linked to the supervisor, trapping exits so that a shutdown runs
    /// its `terminate`; registered as `name` when given.
    pub fn gen_server<S>(id: &str, args: S::Args, name: Option<&str>) -> ChildSpec
    where
        S: GenServer,
        S::Args: Clone + Sync,
    {
        let name = name.map(str::to_string);
        let mut spec = ChildSpec::new(id, move |node, sup| {
            let args = args.clone();
            let mut opts = match &name {
                Some(n) => Options::named(n),
                None => Options::default(),
            };
            opts = opts.link(&sup).trap_exit();
            async move { gen_server::start::<S>(&node, args, opts).await }
        });
        spec.module = "gen_server".into();
        spec
    }

    /// A nested supervisor (type `supervisor`, shutdown `infinity`).
    pub fn supervisor(id: &str, flags: Flags, children: Vec<ChildSpec>) -> ChildSpec {
        let mut spec = ChildSpec::new(id, move |node, sup| {
            let children = children.clone();
            async move { super::start_link(&node, &sup, flags, children, None).await }
        });
        spec.kind = ChildType::Supervisor;
        spec.shutdown = Shutdown::Infinity;
        spec.module = "supervisor".into();
        spec
    }

    /// With restart type `r`.
    pub fn restart(mut self, r: Restart) -> ChildSpec {
        self.restart = r;
        self
    }

    /// With shutdown `s`.
    pub fn shutdown(mut self, s: Shutdown) -> ChildSpec {
        self.shutdown = s;
        self
    }
}
