//! The `dist_app` example as a user runs it: one node booted from a
//! `sys.config`, the other from a `nodus.toml` with the same
//! `distributed` entry; the application's environment (`{demo, [{phases,
//! true}]}` / `[apps.demo]`) gives it a start phase, so failover is
//! `{failover, Node}`; SIGTERM of the runner fails it over too; a node
//! whose `distributed` entry differs is reported as OTP reports it.

use std::process::Command;
use std::time::Duration;

mod support;
use support::{dist_app_example as example, spawn, Proc, World};

fn start(w: &World, name: &str, config: &std::path::Path) -> Proc {
    let mut cmd = Command::new(example());
    cmd.args(["start", "--name", name, "--cookie", "c", "--config"])
        .arg(config)
        .env("HOME", &w.home)
        .env("ERL_EPMD_PORT", w.epmd.to_string())
        .current_dir(&w.home);
    let mut p = spawn(cmd);
    p.wait_line("booted", Duration::from_secs(30));
    p
}

#[test]
fn failover_and_takeover_from_sys_config_and_toml() {
    let w = World::new("dist-app-cli");
    let sys = w.file(
        "sys.config",
        "[{kernel, [{distributed, [{demo, 300, ['c1@127.0.0.1', 'c2@127.0.0.1']}]},\n\
         {sync_nodes_optional, ['c1@127.0.0.1', 'c2@127.0.0.1']}, {sync_nodes_timeout, 2000}]},\n\
         {demo, [{phases, true}]}].\n",
    );
    let toml = w.file(
        "nodus.toml",
        "[kernel]\n\
         distributed = [\"{demo, 300, ['c1@127.0.0.1', 'c2@127.0.0.1']}\"]\n\
         sync_nodes_optional = [\"c1@127.0.0.1\", \"c2@127.0.0.1\"]\n\
         sync_nodes_timeout = 2000\n\n\
         [apps.demo]\n\
         phases = true\n",
    );
    // c2 alone runs it (c1, first in the list, is not up).
    let mut c2 = start(&w, "c2@127.0.0.1", &toml);
    c2.wait_line("demo phase go normal", Duration::from_secs(10));
    // c1 starts: it takes over; c2's instance stops.
    let mut c1 = start(&w, "c1@127.0.0.1", &sys);
    c1.wait_line(
        "demo phase go {takeover,'c2@127.0.0.1'}",
        Duration::from_secs(10),
    );
    c2.wait_line("demo stopped", Duration::from_secs(10));
    let apps = w.run(&["apps", "c2@127.0.0.1", "--cookie", "c"]);
    let text = String::from_utf8_lossy(&apps.stdout);
    assert!(
        text.lines()
            .any(|l| l == "standby demo (runs on c1@127.0.0.1)"),
        "{text}"
    );
    // SIGTERM of c1: c2 fails over, with the start type of an
    // application with start phases.
    c1.signal("TERM");
    c1.wait_exit(Duration::from_secs(10));
    c2.wait_line(
        "demo phase go {failover,'c1@127.0.0.1'}",
        Duration::from_secs(10),
    );
    let apps = w.run(&["apps", "c2@127.0.0.1", "--cookie", "c"]);
    let text = String::from_utf8_lossy(&apps.stdout);
    assert!(text.lines().any(|l| l == "running demo"), "{text}");

    // A third node whose entry lists the nodes in another order.
    let odd = w.file(
        "odd.config",
        "[{kernel, [{distributed, [{demo, 300, ['c2@127.0.0.1', 'c3@127.0.0.1']}]},\n\
         {sync_nodes_optional, ['c2@127.0.0.1']}, {sync_nodes_timeout, 2000}]}].\n",
    );
    let _c3 = start(&w, "c3@127.0.0.1", &odd);
    c2.wait_line(
        "Distribution mismatch for application \"demo\"",
        Duration::from_secs(10),
    );
}
