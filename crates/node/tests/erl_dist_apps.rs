//! Distributed applications with BEAM's own `dist_ac` as a peer: one
//! `distributed` list names a real `erl` node (OTP 25, application `demo`
//! in `tests/erl/nodus_demo.erl`) and a nodus node (the Rust `demo` of
//! `support/demo_app.rs`). The application runs on exactly one of them,
//! fails over from BEAM to nodus and from nodus to BEAM, and is taken
//! over in both directions.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nodus::application::{self, AppSpec, DistSpec, Whereabouts};
use nodus::Node;

mod support;
use support::demo_app::{whereabouts, Demo, Log};

const COOKIE: &str = "dac";

/// A BEAM node `name` whose kernel has `spec` as `distributed`, which
/// waits up to 3 s for `peer` at boot (`sync_nodes_optional`) and then
/// starts `demo`.
fn beam(
    epmd: u16,
    home: &Path,
    name: &str,
    peer: &str,
    spec: &str,
) -> (support::Proc, mpsc::Receiver<String>) {
    let short = name.split('@').next().unwrap_or(name);
    let cfg = home.join(format!("{short}.config"));
    std::fs::write(
        &cfg,
        format!(
            "[{{kernel, [{{distributed, {spec}}}, {{sync_nodes_optional, ['{peer}']}}, \
             {{sync_nodes_timeout, 3000}}, {{net_ticktime, 4}}]}}].\n"
        ),
    )
    .expect("config");
    support::erl(
        epmd,
        home,
        &[
            "-name",
            name,
            "-setcookie",
            COOKIE,
            "-config",
            cfg.to_str().expect("path"),
            "-eval",
            "ok = application:start(demo), io:format(\"beam ready~n\")",
        ],
    )
}

fn setup(tag: &str) -> (u16, std::path::PathBuf) {
    let home = support::home(tag);
    support::compile(&home, &["nodus_demo"]);
    std::fs::write(
        home.join("demo.app"),
        "{application, demo, [{description, \"demo\"}, {vsn, \"1\"}, {modules, [nodus_demo]}, \
         {registered, [demo_sup, demo_worker]}, {applications, [kernel, stdlib]}, \
         {mod, {nodus_demo, []}}]}.\n",
    )
    .expect("app file");
    (support::free_port(), home)
}

async fn nodus_node(epmd: u16, name: &str, spec: &str, log: &Log, peer: Option<&str>) -> Node {
    let node = Node::builder(name)
        .cookie(COOKIE)
        .epmd_port(epmd)
        .ticktime(Duration::from_secs(4))
        .start()
        .await
        .expect("node");
    if let Some(p) = peer {
        assert!(node.ping(p).await, "{name} reaches {p}");
        assert!(nodus::global::sync(&node, Duration::from_secs(10)).await);
    }
    application::load(
        &node,
        AppSpec::new(
            "demo",
            Demo {
                log: log.clone(),
                phases: false,
            },
        ),
    )
    .expect("load");
    let specs = DistSpec::parse_list(spec).expect("spec");
    application::start_dist_ac(&node, specs, vec![])
        .await
        .expect("dist_ac");
    tokio::time::timeout(Duration::from_secs(30), application::start(&node, "demo"))
        .await
        .expect("start returns")
        .expect("start");
    node
}

async fn wait_event(log: &Log, ev: &str) {
    wait_events(log, ev, 1).await;
}

/// Waits until `ev` has happened `n` times.
async fn wait_events(log: &Log, ev: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while log.lock().unwrap().iter().filter(|e| *e == ev).count() < n {
        assert!(
            Instant::now() < deadline,
            "no {ev:?} in {:?}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The next line of `rx` equal to `want`, within 30 s.
async fn beam_says(rx: &mpsc::Receiver<String>, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match rx.try_recv() {
            Ok(l) if l == want => return,
            Ok(_) => {}
            Err(mpsc::TryRecvError::Empty) => {
                assert!(Instant::now() < deadline, "erl never printed {want:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("erl ended before printing {want:?}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beam_first_in_the_list() {
    let (epmd, home) = setup("dac-beam-first");
    let spec = "[{demo, 500, ['eb1@127.0.0.1', 'nb2@127.0.0.1']}]";
    let log = Log::default();
    // nodus alone: the first operational node of the list runs it.
    let n = nodus_node(epmd, "nb2@127.0.0.1", spec, &log, None).await;
    wait_event(&log, "nb2@127.0.0.1 started normal").await;

    // BEAM, of higher priority, starts: it takes over from nodus, whose
    // instance stops after BEAM's has started.
    let (e, rx) = beam(epmd, &home, "eb1@127.0.0.1", "nb2@127.0.0.1", spec);
    beam_says(&rx, "demo started {takeover,'nb2@127.0.0.1'}").await;
    wait_event(&log, "nb2@127.0.0.1 stopped").await;
    assert!(n.whereis("demo_worker").is_none());
    assert_eq!(
        whereabouts(&n).await,
        Whereabouts::At(nodus::Atom::new("eb1@127.0.0.1"))
    );

    // BEAM is killed: nodus fails over after 500 ms.
    let t0 = Instant::now();
    drop(e);
    wait_events(&log, "nb2@127.0.0.1 started normal", 2).await;
    assert!(t0.elapsed() >= Duration::from_millis(450));
    assert!(n.whereis("demo_worker").is_some());
    n.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodus_first_in_the_list() {
    let (epmd, home) = setup("dac-nodus-first");
    let spec = "[{demo, 500, ['nn1@127.0.0.1', 'en2@127.0.0.1']}]";
    let log = Log::default();
    // BEAM alone runs it.
    let (_e, rx) = beam(epmd, &home, "en2@127.0.0.1", "nn1@127.0.0.1", spec);
    beam_says(&rx, "demo started normal").await;
    support::wait_line(&rx, "beam ready");

    // nodus, of higher priority, starts: it takes over from BEAM, whose
    // instance stops.
    let n = nodus_node(epmd, "nn1@127.0.0.1", spec, &log, Some("en2@127.0.0.1")).await;
    wait_event(&log, "nn1@127.0.0.1 started {takeover,'en2@127.0.0.1'}").await;
    beam_says(&rx, "demo stopped").await;
    let r = n
        .rpc(
            "en2@127.0.0.1",
            "erlang",
            "whereis",
            vec![nodus::Term::atom("demo_worker")],
            Duration::from_secs(10),
        )
        .await
        .expect("rpc");
    assert!(r.is_atom("undefined"), "BEAM's instance is gone: {r}");
    assert_eq!(whereabouts(&n).await, Whereabouts::Here);

    // nodus goes: BEAM fails over.
    n.shutdown();
    beam_says(&rx, "demo started normal").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equal_priority_takeover_and_permit_across_kinds() {
    let (epmd, home) = setup("dac-mixed-ops");
    let spec = "[{demo, 300, [{'nq1@127.0.0.1', 'eq2@127.0.0.1'}]}]";
    let log = Log::default();
    let n = nodus_node(epmd, "nq1@127.0.0.1", spec, &log, None).await;
    wait_event(&log, "nq1@127.0.0.1 started normal").await;
    // BEAM of equal priority joins: no takeover, it stands by.
    let (_e, rx) = beam(epmd, &home, "eq2@127.0.0.1", "nq1@127.0.0.1", spec);
    support::wait_line(&rx, "beam ready");
    let info = n
        .rpc(
            "eq2@127.0.0.1",
            "application",
            "info",
            vec![],
            Duration::from_secs(10),
        )
        .await
        .expect("info");
    assert!(
        info.to_string()
            .contains("{demo,{distributed,'nq1@127.0.0.1'}}"),
        "BEAM stands by for nq1: {info}"
    );
    // application:takeover/2 on BEAM moves it there.
    let r = n
        .rpc(
            "eq2@127.0.0.1",
            "application",
            "takeover",
            vec![nodus::Term::atom("demo"), nodus::Term::atom("temporary")],
            Duration::from_secs(30),
        )
        .await
        .expect("takeover");
    assert!(r.is_atom("ok"), "{r}");
    beam_says(&rx, "demo started {takeover,'nq1@127.0.0.1'}").await;
    wait_event(&log, "nq1@127.0.0.1 stopped").await;
    // application::takeover from nodus moves it back.
    application::takeover(&n, "demo", application::RestartType::Temporary)
        .await
        .expect("takeover back");
    wait_event(&log, "nq1@127.0.0.1 started {takeover,'eq2@127.0.0.1'}").await;
    beam_says(&rx, "demo stopped").await;
    // permit(demo, false) here hands it to BEAM (which, as OTP's dist_ac
    // does, starts it as a takeover from the node that ran it).
    application::permit(&n, "demo", false)
        .await
        .expect("permit");
    beam_says(&rx, "demo started {takeover,'nq1@127.0.0.1'}").await;
    wait_events(&log, "nq1@127.0.0.1 stopped", 2).await;
    assert!(n.whereis("demo_worker").is_none());
    n.shutdown();
}
