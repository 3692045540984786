//! Distributed applications between nodus nodes (each a node of its own
//! in this process, on a private EPMD port): the application runs on the
//! first node of its list and stands by on the others, fails over after
//! the restart time when its node goes, is taken over when a node of
//! higher priority comes back, with the start types OTP gives; equal
//! priority, `permit` and `takeover`.

use std::time::Duration;

use nodus::application::{self, AppSpec, DistSpec, Whereabouts};
use nodus::Node;

mod support;
use support::demo_app::{whereabouts, Demo, Log};

struct Cluster {
    epmd: u16,
    spec: String,
    log: Log,
    phases: bool,
}

impl Cluster {
    /// Starts node `name`, connects it to `peers`, starts dist_ac, loads
    /// and starts `demo`.
    async fn node(&self, name: &str, peers: &[&str]) -> Node {
        let node = Node::builder(name)
            .cookie("dac")
            .epmd_port(self.epmd)
            .ticktime(Duration::from_secs(4))
            .start()
            .await
            .expect("node");
        for p in peers {
            assert!(node.ping(p).await, "{name} reaches {p}");
        }
        assert!(
            nodus::global::sync(&node, Duration::from_secs(10)).await,
            "global synced"
        );
        application::load(
            &node,
            AppSpec::new(
                "demo",
                Demo {
                    log: self.log.clone(),
                    phases: self.phases,
                },
            ),
        )
        .expect("load");
        let specs = DistSpec::parse_list(&self.spec).expect("spec");
        application::start_dist_ac(&node, specs, vec![])
            .await
            .expect("dist_ac");
        tokio::time::timeout(Duration::from_secs(30), application::start(&node, "demo"))
            .await
            .expect("start returns")
            .expect("start");
        node
    }

    fn events(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    async fn wait_event(&self, ev: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !self.events().iter().any(|e| e == ev) {
            assert!(
                std::time::Instant::now() < deadline,
                "no {ev:?} in {:?}",
                self.events()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn runs_here(node: &Node) -> bool {
    node.whereis("demo_worker").is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_then_takeover_between_three_nodes() {
    let c = Cluster {
        epmd: support::free_port(),
        spec: "[{demo, 500, ['da1@127.0.0.1', 'da2@127.0.0.1', 'da3@127.0.0.1']}]".into(),
        log: Log::default(),
        phases: false,
    };
    let a = c.node("da1@127.0.0.1", &[]).await;
    let b = c.node("da2@127.0.0.1", &["da1@127.0.0.1"]).await;
    let d = c
        .node("da3@127.0.0.1", &["da1@127.0.0.1", "da2@127.0.0.1"])
        .await;
    c.wait_event("da1@127.0.0.1 started normal").await;
    assert!(runs_here(&a) && !runs_here(&b) && !runs_here(&d));
    assert_eq!(
        whereabouts(&b).await,
        Whereabouts::At(nodus::Atom::new("da1@127.0.0.1"))
    );
    assert_eq!(whereabouts(&a).await, Whereabouts::Here);
    assert!(application::which_applications(&a)
        .iter()
        .any(|(n, _, _)| n == "demo"));
    assert!(!application::which_applications(&b)
        .iter()
        .any(|(n, _, _)| n == "demo"));

    // Failover: da1 goes; after 500 ms da2 (next in the list) starts it,
    // as `normal` (no start phases).
    let t0 = std::time::Instant::now();
    a.shutdown();
    c.wait_event("da2@127.0.0.1 started normal").await;
    assert!(
        t0.elapsed() >= Duration::from_millis(450),
        "not before the restart time"
    );
    assert!(runs_here(&b) && !runs_here(&d));
    assert_eq!(
        whereabouts(&d).await,
        Whereabouts::At(nodus::Atom::new("da2@127.0.0.1"))
    );

    // Takeover: da1 comes back and starts it with {takeover, da2}; da2's
    // instance stops after the new one has started.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let a2 = c
        .node("da1@127.0.0.1", &["da2@127.0.0.1", "da3@127.0.0.1"])
        .await;
    c.wait_event("da1@127.0.0.1 started {takeover,'da2@127.0.0.1'}")
        .await;
    c.wait_event("da2@127.0.0.1 stopped").await;
    let ev = c.events();
    let started = ev
        .iter()
        .position(|e| e.starts_with("da1@127.0.0.1 started {takeover"))
        .unwrap();
    let stopped = ev
        .iter()
        .rposition(|e| e == "da2@127.0.0.1 stopped")
        .unwrap();
    assert!(
        started < stopped,
        "the old instance stops after the new one started: {ev:?}"
    );
    assert!(runs_here(&a2) && !runs_here(&b) && !runs_here(&d));
    let count = ev.iter().filter(|e| e.contains(" started ")).count();
    assert_eq!(count, 3, "{ev:?}");
    for n in [&a2, &b, &d] {
        n.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_phases_permit_and_takeover() {
    let c = Cluster {
        epmd: support::free_port(),
        spec: "[{demo, 200, ['dp1@127.0.0.1', 'dp2@127.0.0.1']}]".into(),
        log: Log::default(),
        phases: true,
    };
    let a = c.node("dp1@127.0.0.1", &[]).await;
    let b = c.node("dp2@127.0.0.1", &["dp1@127.0.0.1"]).await;
    c.wait_event("dp1@127.0.0.1 phase go normal").await;

    // With start phases, failover is {failover, Node}.
    a.shutdown();
    c.wait_event("dp2@127.0.0.1 started {failover,'dp1@127.0.0.1'}")
        .await;
    c.wait_event("dp2@127.0.0.1 phase go {failover,'dp1@127.0.0.1'}")
        .await;

    let a2 = c.node("dp1@127.0.0.1", &["dp2@127.0.0.1"]).await;
    c.wait_event("dp1@127.0.0.1 phase go {takeover,'dp2@127.0.0.1'}")
        .await;
    c.wait_event("dp2@127.0.0.1 stopped").await;
    assert!(runs_here(&a2) && !runs_here(&b));

    // takeover/2 moves it to the node that asks.
    application::takeover(&b, "demo", application::RestartType::Temporary)
        .await
        .expect("takeover");
    c.wait_event("dp2@127.0.0.1 started {takeover,'dp1@127.0.0.1'}")
        .await;
    c.wait_event("dp1@127.0.0.1 stopped").await;
    assert!(runs_here(&b) && !runs_here(&a2));

    // permit(false) on the node that runs it hands it over.
    application::permit(&b, "demo", false)
        .await
        .expect("permit false");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !runs_here(&a2) || runs_here(&b) {
        assert!(
            std::time::Instant::now() < deadline,
            "handed over: {:?}",
            c.events()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for n in [&a2, &b] {
        n.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equal_priority_goes_to_the_least_loaded_node() {
    let c = Cluster {
        epmd: support::free_port(),
        spec: "[{demo, 0, [{'de1@127.0.0.1', 'de2@127.0.0.1'}]}]".into(),
        log: Log::default(),
        phases: false,
    };
    let a = c.node("de1@127.0.0.1", &[]).await;
    let b = c.node("de2@127.0.0.1", &["de1@127.0.0.1"]).await;
    c.wait_event("de1@127.0.0.1 started normal").await;
    assert!(runs_here(&a) && !runs_here(&b));
    a.shutdown();
    c.wait_event("de2@127.0.0.1 started normal").await;
    // de1 comes back: equal priority, so no takeover.
    let a2 = c.node("de1@127.0.0.1", &["de2@127.0.0.1"]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(runs_here(&b) && !runs_here(&a2), "{:?}", c.events());
    assert_eq!(
        whereabouts(&a2).await,
        Whereabouts::At(nodus::Atom::new("de2@127.0.0.1"))
    );
    for n in [&a2, &b] {
        n.shutdown();
    }
}

/// A worker that exits when told; its application's restart type decides.
struct Fragile;

impl nodus::application::Application for Fragile {
    fn start(
        &self,
        ctx: nodus::application::AppContext,
        _st: nodus::application::StartType,
    ) -> nodus::application::AppFuture<Result<nodus::Pid, nodus::Term>> {
        Box::pin(async move {
            let name = format!("{}_top", ctx.name);
            let pid = ctx.node.spawn(|mut me| async move {
                let _ = me.register(&name);
                let _ = me.recv().await;
            });
            Ok(pid)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_types_decide_what_an_exit_does() {
    let epmd = support::free_port();
    for (restart, stops) in [
        (application::RestartType::Temporary, false),
        (application::RestartType::Permanent, true),
    ] {
        let node = Node::builder(format!("rt_{}@127.0.0.1", restart.as_str()))
            .cookie("rt")
            .epmd_port(epmd)
            .start()
            .await
            .expect("node");
        application::load(&node, AppSpec::new("fragile", Fragile).restart(restart)).expect("load");
        application::start(&node, "fragile").await.expect("start");
        assert!(application::which_applications(&node)
            .iter()
            .any(|(n, _, _)| n == "fragile"));
        let mut top = None;
        for _ in 0..100 {
            top = node.whereis("fragile_top");
            if top.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let top = top.expect("running");
        node.send(&top, nodus::Term::atom("go"))
            .await
            .expect("send");
        let stopped = tokio::time::timeout(Duration::from_secs(5), node.stopped())
            .await
            .is_ok();
        assert_eq!(
            stopped,
            stops,
            "{}: node stopped = {stopped}",
            restart.as_str()
        );
        assert!(!application::which_applications(&node)
            .iter()
            .any(|(n, _, _)| n == "fragile"));
        node.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_start_first_and_env_has_defaults_and_overrides() {
    let node = Node::builder("deps@127.0.0.1")
        .cookie("rt")
        .epmd_port(support::free_port())
        .start()
        .await
        .expect("node");
    application::load(
        &node,
        AppSpec::new("base", Fragile).env("level", nodus::Term::from(1)),
    )
    .expect("load");
    application::load(&node, AppSpec::new("top", Fragile).depends_on(&["base"])).expect("load");
    application::set_env(&node, "base", "level", nodus::Term::from(2));
    application::start(&node, "top").await.expect("start");
    let running: Vec<String> = application::which_applications(&node)
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    assert_eq!(
        &running[..2],
        ["top", "base"],
        "the dependency started first (listed last)"
    );
    assert_eq!(
        application::get_env(&node, "base", "level"),
        Some(nodus::Term::from(2))
    );
    assert_eq!(application::get_env(&node, "base", "nothing"), None);
    let e = application::start(&node, "absent")
        .await
        .expect_err("not loaded");
    assert!(e.to_string().contains("not_loaded"), "{e}");
    node.shutdown();
}
