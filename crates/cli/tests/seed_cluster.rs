//! The seed scenario with real processes: `nodus start` nodes booting
//! from the seed's `sys.config`, a real `erl` in the same cluster, the
//! full mesh, and a node that restarts.

mod support;

use std::time::{Duration, Instant};

use support::{seed, World};

const BOOT: Duration = Duration::from_secs(60);

#[test]
fn two_nodus_nodes_started_with_the_seed_file_list_each_other() {
    let w = World::new("seed2");
    let mut n1 = w.start("n1@127.0.0.1", &seed());
    std::thread::sleep(Duration::from_millis(300));
    let mut n2 = w.start("n2@127.0.0.1", &seed());
    // n2 finds n1 up when it boots; n1 waits until n2 connects.
    let l2 = n2.wait_line("booted", BOOT);
    assert!(l2.contains("nodes: ['n1@127.0.0.1']"), "{l2}");
    let l1 = n1.wait_line("booted", BOOT);
    assert!(l1.contains("nodes: ['n2@127.0.0.1']"), "{l1}");
    assert_eq!(w.nodes_of("n1@127.0.0.1"), vec!["n2@127.0.0.1"]);
    assert_eq!(w.nodes_of("n2@127.0.0.1"), vec!["n1@127.0.0.1"]);
}

#[test]
fn optional_nodes_wait_for_the_timeout_and_mandatory_ones_stop_the_boot() {
    let w = World::new("syncwait");
    let optional = w.file(
        "optional.config",
        "[{kernel, [{sync_nodes_optional, ['n1@127.0.0.1', 'n2@127.0.0.1']},\n {sync_nodes_timeout, 2000}]}].\n",
    );
    let t0 = Instant::now();
    let mut n1 = w.start("n1@127.0.0.1", &optional);
    let line = n1.wait_line("booted", BOOT);
    let waited = t0.elapsed();
    assert!(line.contains("nodes: []"), "{line}");
    assert!(
        waited >= Duration::from_millis(1900),
        "booted after {waited:?}, before sync_nodes_timeout"
    );
    drop(n1);

    let mandatory = w.file(
        "mandatory.config",
        "[{kernel, [{sync_nodes_mandatory, ['n2@127.0.0.1']},\n {sync_nodes_timeout, 1500}]}].\n",
    );
    let t0 = Instant::now();
    let out = w.run(&[
        "start",
        "--name",
        "n1@127.0.0.1",
        "--cookie",
        "c",
        "--config",
        &mandatory.to_string_lossy(),
    ]);
    let waited = t0.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a missing mandatory node must fail the boot"
    );
    assert!(
        stderr.contains("n2@127.0.0.1") && stderr.contains("mandatory"),
        "{stderr}"
    );
    assert!(
        waited >= Duration::from_millis(1400),
        "failed after {waited:?}, before the timeout"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("booted"));

    // With the mandatory node up, the same file boots.
    let mut n2 = w.start("n2@127.0.0.1", &optional);
    n2.wait_line("booted", BOOT);
    let mut n1 = w.start("n1@127.0.0.1", &mandatory);
    let line = n1.wait_line("booted", BOOT);
    assert!(line.contains("'n2@127.0.0.1'"), "{line}");
}

#[test]
fn a_third_node_that_lists_only_n1_is_connected_to_n2_as_well() {
    let w = World::new("mesh3");
    let mut n1 = w.start("n1@127.0.0.1", &seed());
    let mut n2 = w.start("n2@127.0.0.1", &seed());
    n1.wait_line("booted", BOOT);
    n2.wait_line("booted", BOOT);
    let only_n1 = w.file(
        "n3.config",
        "[{kernel, [{sync_nodes_optional, ['n1@127.0.0.1']}, {sync_nodes_timeout, 10000}]}].\n",
    );
    let mut n3 = w.start("n3@127.0.0.1", &only_n1);
    n3.wait_line("booted", BOOT);
    n3.wait_line("nodeup 'n2@127.0.0.1'", BOOT);
    w.wait_nodes("n3@127.0.0.1", &["n1@127.0.0.1", "n2@127.0.0.1"], BOOT);
    w.wait_nodes("n2@127.0.0.1", &["n1@127.0.0.1", "n3@127.0.0.1"], BOOT);
    w.wait_nodes("n1@127.0.0.1", &["n2@127.0.0.1", "n3@127.0.0.1"], BOOT);
}

#[test]
fn a_mixed_cluster_of_erl_and_nodus_nodes_forms_from_one_sys_config() {
    let w = World::new("mixed");
    let (mut erl, _n2, _n3) = w.mixed_cluster(
        "io:format(\"erl booted ~p~n\", [nodes()]), \
         io:format(\"registered ~p~n\", [global:register_name(seed_name, self())]), \
         timer:sleep(120000), halt().",
    );
    // `nodus nodes` asks each node, erl included, for its nodes().
    w.wait_nodes("n1@127.0.0.1", &["n2@127.0.0.1", "n3@127.0.0.1"], BOOT);
    w.wait_nodes("n2@127.0.0.1", &["n1@127.0.0.1", "n3@127.0.0.1"], BOOT);
    w.wait_nodes("n3@127.0.0.1", &["n1@127.0.0.1", "n2@127.0.0.1"], BOOT);
    // global is in sync with the nodus nodes: erl can register a name
    // cluster-wide, and global:sync/0 returns.
    assert_eq!(w.rpc("n1@127.0.0.1", "global", "sync", "[]"), "ok");
    erl.wait_line("registered yes", BOOT);
    for n in ["n2@127.0.0.1", "n3@127.0.0.1"] {
        let deadline = Instant::now() + BOOT;
        loop {
            let s = w.rpc(n, "global", "whereis_name", "[seed_name]");
            if s.contains("#Pid<'n1@127.0.0.1'") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{n}: global:whereis_name(seed_name) = {s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn a_node_killed_and_restarted_rejoins_the_mesh() {
    let w = World::new("rejoin");
    let mut n1 = w.start("n1@127.0.0.1", &seed());
    let mut n2 = w.start("n2@127.0.0.1", &seed());
    n1.wait_line("booted", BOOT);
    n2.wait_line("booted", BOOT);
    w.wait_nodes("n1@127.0.0.1", &["n2@127.0.0.1"], BOOT);
    n1.wait_line("nodeup 'n2@127.0.0.1'", BOOT);
    n2.signal("KILL");
    n1.wait_line("nodedown 'n2@127.0.0.1'", BOOT);
    w.wait_nodes("n1@127.0.0.1", &[], BOOT);
    drop(n2);
    n1.seen.clear();
    let mut n2 = w.start("n2@127.0.0.1", &seed());
    let line = n2.wait_line("booted", BOOT);
    assert!(line.contains("'n1@127.0.0.1'"), "{line}");
    n1.wait_line("nodeup 'n2@127.0.0.1'", BOOT);
    w.wait_nodes("n1@127.0.0.1", &["n2@127.0.0.1"], BOOT);
    w.wait_nodes("n2@127.0.0.1", &["n1@127.0.0.1"], BOOT);
}

#[test]
fn sync_semantics_match_a_real_erl_given_the_same_files() {
    let w = World::new("syncerl");
    let mut n1 = w.start("n1@127.0.0.1", &seed());
    // n1 waits for n2 (optional, 10 s); it need not have booted.
    std::thread::sleep(Duration::from_millis(300));
    // No sync_nodes_timeout: nothing waits and nobody is contacted, even a
    // listed node that is up.
    let no_timeout = w.file(
        "nto.config",
        "[{kernel, [{sync_nodes_optional, ['n1@127.0.0.1']}]}].\n",
    );
    let mut erl = w.erl(&[
        "-name",
        "e2@127.0.0.1",
        "-setcookie",
        "c",
        "-config",
        &no_timeout.to_string_lossy(),
        "-eval",
        "io:format(\"erl booted ~w~n\", [nodes()]), timer:sleep(500), io:format(\"erl later ~w~n\", [nodes()]), halt().",
    ]);
    assert_eq!(erl.wait_line("erl booted", BOOT), "erl booted []");
    assert_eq!(erl.wait_line("erl later", BOOT), "erl later []");
    let mut n3 = w.start("n3@127.0.0.1", &no_timeout);
    let line = n3.wait_line("booted", BOOT);
    assert!(line.ends_with("nodes: []"), "{line}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(w.nodes_of("n3@127.0.0.1"), Vec::<String>::new());
    // A mandatory node missing at the timeout stops both boots, non-zero.
    let mandatory = w.file(
        "mand.config",
        "[{kernel, [{sync_nodes_mandatory, ['nx@127.0.0.1']}, {sync_nodes_timeout, 1000}]}].\n",
    );
    let erl_out = std::process::Command::new("erl")
        .args([
            "-noshell",
            "-name",
            "e4@127.0.0.1",
            "-setcookie",
            "c",
            "-config",
            &mandatory.to_string_lossy(),
        ])
        .args(["-eval", "io:format(\"erl booted~n\"), halt()."])
        .env("HOME", &w.home)
        .env("ERL_EPMD_PORT", w.epmd.to_string())
        .env("ERL_CRASH_DUMP_SECONDS", "0")
        .current_dir(&w.home)
        .output()
        .expect("erl");
    let erl_text = format!(
        "{}{}",
        String::from_utf8_lossy(&erl_out.stdout),
        String::from_utf8_lossy(&erl_out.stderr)
    );
    assert!(!erl_out.status.success(), "{erl_text}");
    assert!(
        erl_text.contains("mandatory_nodes_down") && erl_text.contains("nx@127.0.0.1"),
        "{erl_text}"
    );
    let out = w.run(&[
        "start",
        "--name",
        "n5@127.0.0.1",
        "--cookie",
        "c",
        "--config",
        &mandatory.to_string_lossy(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nx@127.0.0.1"));
    let _ = n1.child.kill();
}

#[test]
fn a_lost_connection_reported_by_erl_makes_nodus_nodes_drop_the_lost_node() {
    // prevent_overlapping_partitions (OTP 25's default): when erl n1 drops
    // n3, n2 must not stay connected to n3, or n2 would sit in two
    // partitions that cannot see each other.
    let w = World::new("pop");
    let (_erl, mut n2, _n3) =
        w.mixed_cluster("io:format(\"erl booted~n\"), timer:sleep(120000), halt().");
    w.wait_nodes("n2@127.0.0.1", &["n1@127.0.0.1", "n3@127.0.0.1"], BOOT);
    // Every node synced first: a node not yet synced with n3 has no
    // reason to drop it (OTP's global ignores lost_connection then).
    w.global_sync(&["n1@127.0.0.1", "n2@127.0.0.1", "n3@127.0.0.1"]);
    assert_eq!(
        w.rpc(
            "n1@127.0.0.1",
            "erlang",
            "disconnect_node",
            "['n3@127.0.0.1']"
        ),
        "true"
    );
    n2.wait_line("nodedown 'n3@127.0.0.1'", BOOT);
    let deadline = Instant::now() + BOOT;
    loop {
        let of2 = w.nodes_of("n2@127.0.0.1");
        let of3 = w.nodes_of("n3@127.0.0.1");
        if !of2.contains(&"n3@127.0.0.1".to_string()) && !of3.contains(&"n2@127.0.0.1".to_string())
        {
            break;
        }
        assert!(Instant::now() < deadline, "n2: {of2:?}, n3: {of3:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_infinite_timeout_waits_for_every_listed_node() {
    let w = World::new("infinity");
    let cfg = w.file(
        "inf.config",
        "[{kernel, [{sync_nodes_optional, ['n1@127.0.0.1', 'n2@127.0.0.1']}, {sync_nodes_timeout, infinity}]}].\n",
    );
    let mut n1 = w.start("n1@127.0.0.1", &cfg);
    // Still waiting after 3 s: infinity waits until every node is up.
    std::thread::sleep(Duration::from_secs(3));
    while let Ok(l) = n1.lines.try_recv() {
        assert!(!l.contains("booted"), "booted without n2: {l}");
    }
    let mut n2 = w.start("n2@127.0.0.1", &seed());
    n2.wait_line("booted", BOOT);
    let line = n1.wait_line("booted", BOOT);
    assert!(line.contains("nodes: ['n2@127.0.0.1']"), "{line}");
}
