//! Applications, as OTP's `application` module: an [`Application`] is
//! loaded ([`load`]), started ([`start`]: its dependencies first, then
//! `start(StartType, Args)`, which returns the top supervisor, then its
//! start phases), and stopped ([`stop`]). Its [`RestartType`] says what
//! its exit does: a `permanent` application's exit stops the node, a
//! `transient` one's does when the reason is not `normal`, a `temporary`
//! one's is only logged, as in OTP.
//!
//! Distributed applications (the kernel's `distributed` parameter) are
//! run by [`dist_ac`](start_dist_ac), a port of OTP's `dist_ac` that
//! speaks its protocol, so one `distributed` list can name nodus and BEAM
//! nodes: the application runs on the first operational node of its
//! list, fails over after the restart time when that node goes, and is
//! taken over when a node of higher priority starts it.

mod appl;
mod dist_ac;
mod instance;

pub use appl::{DistSpec, Priority, RestartTime};

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nodus_term::{Atom, Pid, Term};

use crate::gen_server;
use crate::node::Node;

/// The future an [`Application`] callback returns.
pub type AppFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// How an application is started (`StartType` of `Module:start/2`).
#[derive(Debug, Clone, PartialEq)]
pub enum StartType {
    /// `normal`.
    Normal,
    /// `{takeover, Node}`: taken over from `Node`, which still runs it
    /// until this start and its start phases have returned.
    Takeover(Atom),
    /// `{failover, Node}`: restarted here after `Node` went down (only
    /// for applications with start phases, as OTP; else `normal`).
    Failover(Atom),
}

impl StartType {
    /// As Erlang writes it: `normal`, `{takeover, Node}`, `{failover,
    /// Node}`.
    pub fn to_term(&self) -> Term {
        match self {
            StartType::Normal => Term::atom("normal"),
            StartType::Takeover(n) => {
                Term::tuple(vec![Term::atom("takeover"), Term::Atom(n.clone())])
            }
            StartType::Failover(n) => {
                Term::tuple(vec![Term::atom("failover"), Term::Atom(n.clone())])
            }
        }
    }
}

/// What an application's exit does (`application:start/2`'s `Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartType {
    /// Its exit, whatever the reason, stops the node.
    Permanent,
    /// Its exit with a reason other than `normal` stops the node.
    Transient,
    /// Its exit is logged (OTP's default).
    #[default]
    Temporary,
}

impl RestartType {
    /// `permanent`, `transient` or `temporary`.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartType::Permanent => "permanent",
            RestartType::Transient => "transient",
            RestartType::Temporary => "temporary",
        }
    }
}

/// What an application's callbacks get: the node and the application's
/// name, to read its environment with [`AppContext::env`].
#[derive(Clone)]
pub struct AppContext {
    /// The node it runs on.
    pub node: Node,
    /// The application's name.
    pub name: String,
}

impl AppContext {
    /// `application:get_env(App, Key)` for this application.
    pub fn env(&self, key: &str) -> Option<Term> {
        get_env(&self.node, &self.name, key)
    }
}

/// An application (OTP's `application` behaviour).
pub trait Application: Send + Sync + 'static {
    /// `Module:start(StartType, Args)`: starts the application's top
    /// supervisor and returns its pid (or the reason it could not).
    fn start(&self, ctx: AppContext, start_type: StartType) -> AppFuture<Result<Pid, Term>>;

    /// The `start_phases` of the `.app` file: `(Phase, Args)` in order;
    /// none by default. An application with start phases is started with
    /// `{failover, Node}` on failover (else `normal`), as in OTP. `ctx`
    /// gives the environment, so the configuration may decide.
    fn start_phases(&self, _ctx: &AppContext) -> Vec<(String, Term)> {
        Vec::new()
    }

    /// `Module:start_phase(Phase, StartType, Args)`, after `start`.
    fn start_phase(
        &self,
        _ctx: AppContext,
        _phase: String,
        _start_type: StartType,
        _args: Term,
    ) -> AppFuture<Result<(), Term>> {
        Box::pin(async { Ok(()) })
    }

    /// `Module:stop(State)`, after the top supervisor has stopped.
    fn stop(&self, _ctx: AppContext) -> AppFuture<()> {
        Box::pin(async {})
    }
}

/// A loadable application: the callbacks and the `.app` keys.
#[derive(Clone)]
pub struct AppSpec {
    name: String,
    app: Arc<dyn Application>,
    restart: RestartType,
    applications: Vec<String>,
    description: String,
    vsn: String,
    env: Vec<(String, Term)>,
}

impl AppSpec {
    /// An application `name` run by `app` (temporary, no dependencies).
    pub fn new(name: &str, app: impl Application) -> AppSpec {
        AppSpec {
            name: name.to_string(),
            app: Arc::new(app),
            restart: RestartType::default(),
            applications: Vec::new(),
            description: name.to_string(),
            vsn: "1.0.0".to_string(),
            env: Vec::new(),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its restart type.
    pub fn restart(mut self, r: RestartType) -> AppSpec {
        self.restart = r;
        self
    }

    /// Applications started before it (`applications` in the `.app`).
    pub fn depends_on(mut self, apps: &[&str]) -> AppSpec {
        self.applications = apps.iter().map(|s| s.to_string()).collect();
        self
    }

    /// `description` and `vsn`, as `which_applications` shows them.
    pub fn describe(mut self, description: &str, vsn: &str) -> AppSpec {
        self.description = description.to_string();
        self.vsn = vsn.to_string();
        self
    }

    /// A default environment value (`env` in the `.app`); the node's
    /// configuration and [`set_env`] override it.
    pub fn env(mut self, key: &str, value: Term) -> AppSpec {
        self.env.push((key.to_string(), value));
        self
    }
}

/// A running instance.
pub(crate) struct Running {
    pub(crate) name: String,
    pub(crate) pid: Pid,
    pub(crate) restart: RestartType,
    pub(crate) start_type: StartType,
}

#[derive(Default)]
struct State {
    specs: HashMap<String, AppSpec>,
    env: HashMap<(String, String), Term>,
    running: Vec<Running>,
    distributed: Vec<String>,
    /// dist_ac's view: (app, id term, started here).
    dist: Vec<(String, Term, bool)>,
}

/// The applications of a node (a node extension).
#[derive(Default)]
pub(crate) struct Apps(Mutex<State>);

impl Apps {
    pub(crate) fn of(node: &Node) -> Arc<Apps> {
        node.extension(Apps::default)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn spec(&self, name: &str) -> Option<AppSpec> {
        self.lock().specs.get(name).cloned()
    }

    pub(crate) fn running_pid(&self, name: &str) -> Option<Pid> {
        self.lock()
            .running
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.pid.clone())
    }

    pub(crate) fn set_running(&self, r: Running) {
        self.lock().running.push(r);
    }

    pub(crate) fn take_running(&self, name: &str) -> Option<Running> {
        let mut s = self.lock();
        let i = s.running.iter().position(|r| r.name == name)?;
        Some(s.running.remove(i))
    }

    pub(crate) fn take_running_if(&self, name: &str, pid: &Pid) -> Option<Running> {
        let mut s = self.lock();
        let i = s
            .running
            .iter()
            .position(|r| r.name == name && r.pid == *pid)?;
        Some(s.running.remove(i))
    }

    pub(crate) fn set_dist(&self, v: Vec<(String, Term, bool)>) {
        self.lock().dist = v;
    }

    fn is_distributed(&self, name: &str) -> bool {
        self.lock().distributed.iter().any(|d| d == name)
    }
}

/// `application:load/1`: makes `spec` known to the node (a later load of
/// the same name replaces it, unless it runs).
pub fn load(node: &Node, spec: AppSpec) -> Result<(), Term> {
    let apps = Apps::of(node);
    let mut s = apps.lock();
    if s.running.iter().any(|r| r.name == spec.name) {
        return Err(Term::tuple(vec![
            Term::atom("already_loaded"),
            Term::atom(&spec.name),
        ]));
    }
    s.specs.insert(spec.name.clone(), spec);
    Ok(())
}

/// `application:start(App, Type)`: starts the application's dependencies
/// (each as `temporary`, as OTP's `ensure_all_started` does), then the
/// application. A distributed one goes through `dist_ac`: it may then run
/// on another node, and this node stands by.
pub async fn start(node: &Node, name: &str) -> Result<(), Term> {
    let apps = Apps::of(node);
    let spec = apps
        .spec(name)
        .ok_or_else(|| Term::tuple(vec![Term::atom("not_loaded"), Term::atom(name)]))?;
    for dep in &spec.applications {
        if apps.running_pid(dep).is_none() && !matches!(dep.as_str(), "kernel" | "stdlib" | "nodus")
        {
            Box::pin(start(node, dep))
                .await
                .map_err(|e| Term::tuple(vec![Term::atom("not_started"), Term::atom(dep), e]))?;
        }
    }
    if apps.is_distributed(name) {
        let mut me = node.process();
        let req = Term::tuple(vec![Term::atom("start_application"), Term::atom(name)]);
        return match gen_server::call_term(&mut me, "dist_ac", req, Duration::from_secs(24 * 3600))
            .await
        {
            Ok(r) if r.is_atom("ok") => Ok(()),
            Ok(r) => Err(r.as_tuple().and_then(|v| v.get(1).cloned()).unwrap_or(r)),
            Err(e) => Err(Term::atom(&format!("dist_ac: {e}"))),
        };
    }
    if apps.running_pid(name).is_some() {
        return Err(Term::tuple(vec![
            Term::atom("already_started"),
            Term::atom(name),
        ]));
    }
    instance::start(node, name, StartType::Normal, false).await
}

/// `application:stop/1`: stops the application here (a distributed one
/// must be stopped on every node, or it just moves, as in OTP).
pub async fn stop(node: &Node, name: &str) -> Result<(), Term> {
    let apps = Apps::of(node);
    if apps.is_distributed(name) {
        let mut me = node.process();
        let req = Term::tuple(vec![Term::atom("stop_application"), Term::atom(name)]);
        let _ = gen_server::call_term(&mut me, "dist_ac", req, Duration::from_secs(60)).await;
        return Ok(());
    }
    if apps.running_pid(name).is_none() {
        return Err(Term::tuple(vec![
            Term::atom("not_started"),
            Term::atom(name),
        ]));
    }
    instance::stop(node, name).await;
    Ok(())
}

/// `application:which_applications/0`: `{Name, Description, Vsn}` of
/// what runs here, the last started first, as BEAM lists them (the
/// runtime's own, `nodus`, `stdlib` and `kernel`, last).
pub fn which_applications(node: &Node) -> Vec<(String, String, String)> {
    let apps = Apps::of(node);
    let s = apps.lock();
    let mut v: Vec<(String, String, String)> = s
        .running
        .iter()
        .rev()
        .map(|r| {
            let (d, vsn) = s
                .specs
                .get(&r.name)
                .map_or((r.name.clone(), String::new()), |x| {
                    (x.description.clone(), x.vsn.clone())
                });
            (r.name.clone(), d, vsn)
        })
        .collect();
    v.push((
        "nodus".into(),
        "nodus runtime".into(),
        env!("CARGO_PKG_VERSION").into(),
    ));
    v.push((
        "stdlib".into(),
        "ERTS  CXC 138 10 (nodus)".into(),
        "4.2".into(),
    ));
    v.push((
        "kernel".into(),
        "ERTS  CXC 138 10 (nodus)".into(),
        "8.5".into(),
    ));
    v
}

/// The start type the running instance of `name` was started with.
pub fn start_type(node: &Node, name: &str) -> Option<StartType> {
    let apps = Apps::of(node);
    let s = apps.lock();
    s.running
        .iter()
        .find(|r| r.name == name)
        .map(|r| r.start_type.clone())
}

/// `application:get_env(App, Key)`: [`set_env`]'s value, else the
/// spec's default.
pub fn get_env(node: &Node, app: &str, key: &str) -> Option<Term> {
    let apps = Apps::of(node);
    let s = apps.lock();
    s.env
        .get(&(app.to_string(), key.to_string()))
        .cloned()
        .or_else(|| {
            s.specs
                .get(app)
                .and_then(|x| x.env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
        })
}

/// `application:set_env(App, Key, Value)` (what a `sys.config` section
/// of the application's name sets at boot).
pub fn set_env(node: &Node, app: &str, key: &str, value: Term) {
    Apps::of(node)
        .lock()
        .env
        .insert((app.to_string(), key.to_string()), value);
}

/// Starts `dist_ac` for the kernel's `distributed` entries (`start_dist_ac`),
/// with the kernel's `permissions` (`(App, false)` keeps this node from
/// running `App`). Call it after the node has connected to its peers (as
/// OTP's `dist_ac` waits for `sync_nodes_*`) and after loading the
/// applications; it returns once it has synced with every connected
/// node's `dist_ac`.
pub async fn start_dist_ac(
    node: &Node,
    specs: Vec<DistSpec>,
    permissions: Vec<(String, bool)>,
) -> Result<Pid, Term> {
    {
        let apps = Apps::of(node);
        let mut s = apps.lock();
        s.distributed = specs.iter().map(|d| d.app.as_str().to_string()).collect();
    }
    let perms = permissions
        .into_iter()
        .map(|(a, b)| (Atom::new(&a), b))
        .collect();
    dist_ac::start(node, specs, perms).await
}

/// `application:takeover(App, Type)`: moves the distributed application
/// `app` to this node, under the global lock `{dist_ac, Caller}` as OTP.
pub async fn takeover(node: &Node, app: &str, restart: RestartType) -> Result<(), Term> {
    dist_call_locked(
        node,
        app,
        Term::tuple(vec![
            Term::atom("takeover_application"),
            Term::atom(app),
            Term::atom(restart.as_str()),
        ]),
    )
    .await
}

/// `application:permit(App, Bool)`: whether this node may run `app`; a
/// node not permitted hands it over, or stops it when no other may run
/// it.
pub async fn permit(node: &Node, app: &str, on: bool) -> Result<(), Term> {
    dist_call_locked(
        node,
        app,
        Term::tuple(vec![
            Term::atom("permit_application"),
            Term::atom(app),
            Term::from(on),
        ]),
    )
    .await
}

async fn dist_call_locked(node: &Node, app: &str, req: Term) -> Result<(), Term> {
    let mut me = node.process();
    let get = Term::tuple(vec![Term::atom("get_nodes"), Term::atom(app)]);
    let nodes: Vec<Atom> =
        match gen_server::call_term(&mut me, "dist_ac", get, Duration::from_secs(60)).await {
            Ok(Term::List(l)) => l
                .iter()
                .filter_map(|t| t.as_atom().map(Atom::new))
                .collect(),
            _ => return Err(Term::atom("no_dist_ac")),
        };
    let nodes = if nodes.is_empty() {
        vec![node.name().clone()]
    } else {
        nodes
    };
    let holder = node.process();
    let id = Term::tuple(vec![
        Term::atom("dist_ac"),
        Term::from(holder.pid().clone()),
    ]);
    crate::global::set_lock(node, &holder, &id, &nodes, None).await;
    let r = gen_server::call_term(&mut me, "dist_ac", req, Duration::from_secs(24 * 3600)).await;
    crate::global::del_lock(node, &holder, &id, &nodes).await;
    match r {
        Ok(r) if r.is_atom("ok") => Ok(()),
        Ok(r) => Err(r.as_tuple().and_then(|v| v.get(1).cloned()).unwrap_or(r)),
        Err(e) => Err(Term::atom(&format!("dist_ac: {e}"))),
    }
}

/// Where a distributed application is, as this node's `dist_ac` sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Whereabouts {
    /// Running here.
    Here,
    /// Running on that node; this one stands by.
    At(Atom),
    /// Its node went down; the restart time runs.
    FailingOver(Atom),
    /// Being started here.
    Starting,
    /// Not running (not started, or not permitted anywhere).
    Nowhere,
}

/// The distributed applications of this node's `dist_ac`: each with
/// where it runs and whether it was started here.
pub async fn distributed(node: &Node) -> Vec<(String, Whereabouts, bool)> {
    let mut me = node.process();
    let Ok(Term::List(l)) = gen_server::call_term(
        &mut me,
        "dist_ac",
        Term::atom("info"),
        Duration::from_secs(10),
    )
    .await
    else {
        return Vec::new();
    };
    l.iter()
        .filter_map(|e| match e.as_tuple() {
            Some([Term::Atom(n), id, started]) => {
                let w = match id.as_tuple() {
                    Some([k, Term::Atom(at)]) if k.is_atom("distributed") => {
                        Whereabouts::At(at.clone())
                    }
                    Some([k, Term::Atom(at)]) if k.is_atom("failover") => {
                        Whereabouts::FailingOver(at.clone())
                    }
                    _ if id.is_atom("local") => Whereabouts::Here,
                    _ if id.is_atom("run_waiting") || id.is_atom("takeover") => {
                        Whereabouts::Starting
                    }
                    _ => Whereabouts::Nowhere,
                };
                Some((n.as_str().to_string(), w, started.is_atom("true")))
            }
            _ => None,
        })
        .collect()
}

/// `application:info/0` as BEAM's application controller answers it:
/// `[{loaded, [{App, Description, Vsn}]}, {loading, []}, {started, [{App,
/// Type}]}, {start_p_false, []}, {running, [{App, Pid | {distributed,
/// Node} | {distributed, []}}]}, {starting, []}]`.
pub fn info(node: &Node) -> Term {
    let apps = Apps::of(node);
    let s = apps.lock();
    let charlist = |x: &str| Term::List(x.chars().map(|c| Term::Int(c as i64)).collect());
    let tup = Term::tuple;
    let mut loaded = vec![
        tup(vec![
            Term::atom("kernel"),
            charlist("ERTS  CXC 138 10 (nodus)"),
            charlist("8.5"),
        ]),
        tup(vec![
            Term::atom("stdlib"),
            charlist("ERTS  CXC 138 10 (nodus)"),
            charlist("4.2"),
        ]),
        tup(vec![
            Term::atom("nodus"),
            charlist("nodus runtime"),
            charlist(env!("CARGO_PKG_VERSION")),
        ]),
    ];
    let mut names: Vec<&String> = s.specs.keys().collect();
    names.sort();
    for n in names {
        let x = &s.specs[n];
        loaded.push(tup(vec![
            Term::atom(n),
            charlist(&x.description),
            charlist(&x.vsn),
        ]));
    }
    let mut started = vec![
        tup(vec![Term::atom("nodus"), Term::atom("permanent")]),
        tup(vec![Term::atom("stdlib"), Term::atom("permanent")]),
        tup(vec![Term::atom("kernel"), Term::atom("permanent")]),
    ];
    let mut running = vec![
        tup(vec![Term::atom("nodus"), Term::atom("undefined")]),
        tup(vec![Term::atom("stdlib"), Term::atom("undefined")]),
        tup(vec![Term::atom("kernel"), Term::atom("undefined")]),
    ];
    for r in &s.running {
        started.insert(
            0,
            tup(vec![Term::atom(&r.name), Term::atom(r.restart.as_str())]),
        );
        running.insert(0, tup(vec![Term::atom(&r.name), Term::from(r.pid.clone())]));
    }
    for (app, id, was_started) in &s.dist {
        if s.running.iter().any(|r| r.name == *app) || !was_started {
            continue;
        }
        let restart = s.specs.get(app).map_or("temporary", |x| x.restart.as_str());
        started.insert(0, tup(vec![Term::atom(app), Term::atom(restart)]));
        let at = match id.as_tuple() {
            Some([k, n]) if k.is_atom("distributed") => n.clone(),
            _ => Term::list(vec![]),
        };
        running.insert(
            0,
            tup(vec![
                Term::atom(app),
                tup(vec![Term::atom("distributed"), at]),
            ]),
        );
    }
    let kv = |k: &str, v: Vec<Term>| tup(vec![Term::atom(k), Term::list(v)]);
    Term::list(vec![
        kv("loaded", loaded),
        kv("loading", vec![]),
        kv("started", started),
        kv("start_p_false", vec![]),
        kv("running", running),
        kv("starting", vec![]),
    ])
}
