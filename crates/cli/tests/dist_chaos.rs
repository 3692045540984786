//! Distributed applications under chaos: two nodus nodes (the
//! `dist_app` example: `nodus start` plus the Rust application `demo`)
//! and two BEAM nodes (`erl` with `tests/erl/nodus_demo.erl`) share one
//! `distributed` list, `[{demo, 500, [n1, e3, n2, e4]}]`. Each round
//! SIGKILLs (one in four: SIGTERMs) a random node, then restarts it. After every step, every
//! live node's own report (`application:info/0`) is read: once settled,
//! exactly one node runs `demo` and every other one says it runs there;
//! after the runner is killed, `demo` runs again within its restart time
//! plus 3 s. A takeover (the restarted node is of higher priority) may
//! run both instances for a moment, as in OTP: the old one stops once the
//! new one has started; no other overlap is allowed. The end checks
//! `nodus apps` on a node of each kind.
//!
//! `NODUS_CHAOS_ROUNDS` (default 100) and `NODUS_CHAOS_SEED` change the
//! run.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use nodus::{Node, Term};

mod support;
use support::{dist_app_example as example, spawn, Proc, World};

const NODES: [&str; 4] = [
    "n1@127.0.0.1",
    "e3@127.0.0.1",
    "n2@127.0.0.1",
    "e4@127.0.0.1",
];
const RESTART_MS: u64 = 500;
/// After the runner is killed, demo runs again within RESTART_MS + this.
const FAILOVER_BOUND: Duration = Duration::from_secs(3);

struct Chaos {
    w: World,
    config: PathBuf,
    procs: Vec<Option<Proc>>,
}

impl Chaos {
    fn start(&mut self, i: usize) {
        let name = NODES[i];
        let cfg = self.config.to_string_lossy().to_string();
        let mut p = if name.starts_with('n') {
            let mut cmd = Command::new(example());
            cmd.args(["start", "--name", name, "--cookie", "c", "--config", &cfg])
                .env("HOME", &self.w.home)
                .env("ERL_EPMD_PORT", self.w.epmd.to_string())
                .current_dir(&self.w.home);
            let mut p = spawn(cmd);
            p.wait_line("booted", Duration::from_secs(60));
            p
        } else {
            let home = self.w.home.to_string_lossy().to_string();
            let mut p = self.w.erl(&[
                "-name",
                name,
                "-setcookie",
                "c",
                "-config",
                &cfg,
                "-pa",
                &home,
                "-eval",
                "ok = application:start(demo), io:format(\"beam ready~n\")",
            ]);
            p.wait_line("beam ready", Duration::from_secs(60));
            p
        };
        p.seen.clear();
        self.procs[i] = Some(p);
    }

    fn alive(&self) -> Vec<usize> {
        (0..NODES.len())
            .filter(|i| self.procs[*i].is_some())
            .collect()
    }
}

/// What `node` says of demo: `Some(None)` it runs here, `Some(Some(n))`
/// it runs on `n`, `None` it runs nowhere (or no answer).
async fn report(me: &Node, node: &str) -> Option<Option<String>> {
    let info = me
        .rpc(node, "application", "info", vec![], Duration::from_secs(5))
        .await
        .ok()?;
    let running = info.as_list()?.iter().find_map(|e| match e.as_tuple() {
        Some([k, v]) if k.is_atom("running") => v.as_list(),
        _ => None,
    })?;
    running.iter().find_map(|e| match e.as_tuple() {
        Some([Term::Atom(a), how]) if a.as_str() == "demo" => match how.as_tuple() {
            Some([_, Term::Atom(n)]) => Some(Some(n.as_str().to_string())),
            Some(_) => None,
            None => Some(None),
        },
        _ => None,
    })
}

/// Every live node's report; (runners, reports).
async fn survey(me: &Node, c: &Chaos) -> (Vec<String>, Vec<(String, Option<Option<String>>)>) {
    let mut runners = Vec::new();
    let mut reports = Vec::new();
    for i in c.alive() {
        let r = report(me, NODES[i]).await;
        if r == Some(None) {
            runners.push(NODES[i].to_string());
        }
        reports.push((NODES[i].to_string(), r));
    }
    (runners, reports)
}

/// Polls until one node runs demo and every other live node says it runs
/// there, twice in a row; fails on two runners for longer than a
/// takeover may take, or when nothing settles within `within`.
async fn settle(me: &Node, c: &Chaos, within: Duration, step: &str) -> (String, Duration) {
    let t0 = Instant::now();
    let mut last: Option<String> = None;
    let mut two_since: Option<Instant> = None;
    loop {
        let (runners, reports) = survey(me, c).await;
        if runners.len() > 1 {
            let since = *two_since.get_or_insert_with(Instant::now);
            assert!(
                since.elapsed() < Duration::from_secs(2),
                "{step}: two instances for over 2 s: {reports:?}"
            );
        } else {
            two_since = None;
        }
        let agreed = runners.len() == 1
            && reports
                .iter()
                .all(|(n, r)| *n == runners[0] || *r == Some(Some(runners[0].clone())));
        if agreed {
            if last.as_deref() == Some(runners[0].as_str()) {
                return (runners[0].clone(), t0.elapsed());
            }
            last = Some(runners[0].clone());
        } else {
            last = None;
        }
        assert!(
            t0.elapsed() < within,
            "{step}: not settled after {within:?}: {reports:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_through_random_kills_and_restarts() {
    let rounds: usize = std::env::var("NODUS_CHAOS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let mut seed: u64 = std::env::var("NODUS_CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_cafe);
    println!("chaos: {rounds} rounds, seed {seed}");
    let w = World::new("dist-chaos");
    let erlc = Command::new("erlc")
        .arg("-o")
        .arg(&w.home)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/erl/nodus_demo.erl"
        ))
        .status()
        .expect("erlc");
    assert!(erlc.success());
    w.file(
        "demo.app",
        "{application, demo, [{description, \"demo\"}, {vsn, \"1\"}, {modules, [nodus_demo]}, \
         {registered, [demo_sup, demo_worker]}, {applications, [kernel, stdlib]}, \
         {mod, {nodus_demo, []}}]}.\n",
    );
    let list = NODES
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let config = w.file(
        "sys.config",
        &format!(
            "[{{kernel, [{{distributed, [{{demo, {RESTART_MS}, [{list}]}}]}},\n\
             {{sync_nodes_optional, [{list}]}}, {{sync_nodes_timeout, 5000}}]}}].\n"
        ),
    );
    let mut c = Chaos {
        w,
        config,
        procs: (0..NODES.len()).map(|_| None).collect(),
    };
    // The first boot: all four at once (each waits for the others).
    let handles: Vec<_> = (0..NODES.len()).collect();
    for i in handles {
        c.start(i);
    }
    let me = Node::builder("chaos_watch@127.0.0.1")
        .cookie("c")
        .epmd_port(c.w.epmd)
        .published(false)
        .start()
        .await
        .expect("watcher");
    let (runner, _) = settle(&me, &c, Duration::from_secs(30), "boot").await;
    assert_eq!(runner, NODES[0], "the first node of the list runs it");
    let mut failovers = Vec::new();
    for round in 0..rounds {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let victim = ((seed >> 33) % NODES.len() as u64) as usize;
        let (before, _) = settle(
            &me,
            &c,
            Duration::from_secs(20),
            &format!("round {round} before"),
        )
        .await;
        // Mostly SIGKILL; every fourth round SIGTERM (a node that stops
        // itself: BEAM's init:stop, nodus start's shutdown).
        let sig = if (seed >> 40).is_multiple_of(4) {
            "TERM"
        } else {
            "KILL"
        };
        if let Some(mut p) = c.procs[victim].take() {
            p.signal(sig);
            p.wait_exit(Duration::from_secs(30));
        }
        let step = format!("round {round}: after SIG{sig} of {}", NODES[victim]);
        let (_, took) = settle(
            &me,
            &c,
            Duration::from_millis(RESTART_MS) + FAILOVER_BOUND + Duration::from_secs(10),
            &step,
        )
        .await;
        if before == NODES[victim] {
            assert!(
                took <= Duration::from_millis(RESTART_MS) + FAILOVER_BOUND,
                "{step}: demo ran again after {took:?}"
            );
            failovers.push(took);
        }
        c.start(victim);
        settle(
            &me,
            &c,
            Duration::from_secs(20),
            &format!("round {round}: after restarting {}", NODES[victim]),
        )
        .await;
    }
    // The same as the CLI shows it, on a node of each kind.
    let (runner, _) = settle(&me, &c, Duration::from_secs(20), "end").await;
    for node in ["n2@127.0.0.1", "e4@127.0.0.1"] {
        let out = c.w.run(&["apps", node, "--cookie", "c"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let want = if runner == node {
            "running demo".to_string()
        } else {
            format!("standby demo (runs on {runner})")
        };
        assert!(text.lines().any(|l| l == want), "nodus apps {node}: {text}");
        assert!(text.lines().any(|l| l == "running kernel"), "{text}");
    }
    failovers.sort();
    println!(
        "chaos: {} failovers of the runner, median {:?}, max {:?}",
        failovers.len(),
        failovers.get(failovers.len() / 2),
        failovers.last()
    );
    me.shutdown();
}
