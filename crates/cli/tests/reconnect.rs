//! A running node told to connect or disconnect: `nodus connect` and
//! `nodus disconnect` against nodus and BEAM nodes, and the kernel
//! functions behind them called over rpc from a real `erl`
//! (`net_adm:ping/1`, `net_kernel:connect_node/1`, `nodes_info/0`,
//! `net_adm:names/0`). Re-forming a mesh logs nothing about cookies.

mod support;

use std::time::Duration;

use support::World;

const BOOT: Duration = Duration::from_secs(60);

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn nodus_nodes_are_disconnected_and_reconnected_by_cli_and_by_erl() {
    let w = World::new("reconnect");
    let cfg = w.file(
        "two.config",
        "[{kernel, [{sync_nodes_optional, ['n2@127.0.0.1', 'n3@127.0.0.1']}, {sync_nodes_timeout, 10000}]}].\n",
    );
    let mut n2 = w.start("n2@127.0.0.1", &cfg);
    let mut n3 = w.start("n3@127.0.0.1", &cfg);
    n2.wait_line("booted", BOOT);
    n3.wait_line("booted", BOOT);
    w.wait_nodes("n2@127.0.0.1", &["n3@127.0.0.1"], BOOT);
    w.global_sync(&["n2@127.0.0.1", "n3@127.0.0.1"]);

    // Disconnected by the CLI: both sides see it.
    let out = w.run(&[
        "disconnect",
        "n2@127.0.0.1",
        "n3@127.0.0.1",
        "--cookie",
        "c",
    ]);
    assert_eq!(stdout(&out), "true");
    assert!(out.status.success());
    w.wait_nodes("n2@127.0.0.1", &[], BOOT);
    w.wait_nodes("n3@127.0.0.1", &[], BOOT);
    // Not connected any more: false, and a failing exit status.
    let out = w.run(&[
        "disconnect",
        "n2@127.0.0.1",
        "n3@127.0.0.1",
        "--cookie",
        "c",
    ]);
    assert_eq!(stdout(&out), "false");
    assert!(!out.status.success());

    // Reconnected by the CLI.
    let out = w.run(&["connect", "n2@127.0.0.1", "n3@127.0.0.1", "--cookie", "c"]);
    assert_eq!(stdout(&out), "true", "{out:?}");
    assert!(out.status.success());
    w.wait_nodes("n2@127.0.0.1", &["n3@127.0.0.1"], BOOT);
    w.wait_nodes("n3@127.0.0.1", &["n2@127.0.0.1"], BOOT);
    w.global_sync(&["n2@127.0.0.1", "n3@127.0.0.1"]);

    // Disconnected again, and healed by erl with one rpc to net_adm:ping.
    let out = w.run(&[
        "disconnect",
        "n3@127.0.0.1",
        "n2@127.0.0.1",
        "--cookie",
        "c",
    ]);
    assert_eq!(stdout(&out), "true");
    w.wait_nodes("n2@127.0.0.1", &[], BOOT);
    let mut probe = w.erl(&[
        "-name",
        "probe@127.0.0.1",
        "-hidden",
        "-setcookie",
        "c",
        "-eval",
        "io:format(\"ping ~p~n\", [rpc:call('n2@127.0.0.1', net_adm, ping, ['n3@127.0.0.1'])]), \
         io:format(\"connect ~p~n\", [rpc:call('n3@127.0.0.1', net_kernel, connect_node, ['n2@127.0.0.1'])]), \
         {ok, Info} = rpc:call('n2@127.0.0.1', net_kernel, nodes_info, []), \
         {_, I3} = lists:keyfind('n3@127.0.0.1', 1, Info), \
         io:format(\"info ~p ~p~n\", [proplists:get_value(type, I3), proplists:get_value(state, I3)]), \
         {ok, Names} = rpc:call('n2@127.0.0.1', net_adm, names, []), \
         io:format(\"names ~p~n\", [lists:sort([N || {N, _} <- Names, N =/= \"probe\"])]), \
         io:format(\"undef ~p~n\", [element(1, element(2, rpc:call('n2@127.0.0.1', net_kernel, no_such, [])))]), \
         halt().",
    ]);
    assert_eq!(probe.wait_line("ping ", BOOT), "ping pong");
    assert_eq!(probe.wait_line("connect ", BOOT), "connect true");
    assert_eq!(probe.wait_line("info ", BOOT), "info normal up");
    assert_eq!(probe.wait_line("names ", BOOT), "names [\"n2\",\"n3\"]");
    assert_eq!(probe.wait_line("undef ", BOOT), "undef 'EXIT'");
    w.wait_nodes("n2@127.0.0.1", &["n3@127.0.0.1"], BOOT);
    w.wait_nodes("n3@127.0.0.1", &["n2@127.0.0.1"], BOOT);

    // Nothing in the logs suggests a cookie problem.
    n2.signal("TERM");
    n3.signal("TERM");
    n2.wait_exit(BOOT);
    n3.wait_exit(BOOT);
    for p in [&mut n2, &mut n3] {
        while let Ok(l) = p.lines.try_recv() {
            p.seen.push(l);
        }
        let bad: Vec<&String> = p.seen.iter().filter(|l| l.contains("cookie")).collect();
        assert!(bad.is_empty(), "{bad:?}");
    }
}

#[test]
fn a_beam_node_and_a_nodus_node_are_steered_both_ways() {
    let w = World::new("steer");
    let cfg = w.file("alone.config", "[{kernel, []}].\n");
    let mut erl = w.erl(&[
        "-name",
        "n1@127.0.0.1",
        "-setcookie",
        "c",
        "-eval",
        "io:format(\"erl booted~n\"), timer:sleep(120000), halt().",
    ]);
    erl.wait_line("erl booted", BOOT);
    let mut n2 = w.start("n2@127.0.0.1", &cfg);
    n2.wait_line("booted", BOOT);
    w.wait_nodes("n1@127.0.0.1", &[], BOOT);

    // BEAM told to connect to nodus, then to disconnect.
    let out = w.run(&["connect", "n1@127.0.0.1", "n2@127.0.0.1", "--cookie", "c"]);
    assert_eq!(stdout(&out), "true", "{out:?}");
    w.wait_nodes("n1@127.0.0.1", &["n2@127.0.0.1"], BOOT);
    w.wait_nodes("n2@127.0.0.1", &["n1@127.0.0.1"], BOOT);
    w.global_sync(&["n1@127.0.0.1", "n2@127.0.0.1"]);
    let out = w.run(&[
        "disconnect",
        "n1@127.0.0.1",
        "n2@127.0.0.1",
        "--cookie",
        "c",
    ]);
    assert_eq!(stdout(&out), "true");
    w.wait_nodes("n2@127.0.0.1", &[], BOOT);

    // nodus told to connect to BEAM.
    let out = w.run(&["connect", "n2@127.0.0.1", "n1@127.0.0.1", "--cookie", "c"]);
    assert_eq!(stdout(&out), "true", "{out:?}");
    w.wait_nodes("n1@127.0.0.1", &["n2@127.0.0.1"], BOOT);

    // A node that does not exist: false, and a failing exit status.
    let out = w.run(&[
        "connect",
        "n2@127.0.0.1",
        "nobody@127.0.0.1",
        "--cookie",
        "c",
    ]);
    assert_eq!(stdout(&out), "false");
    assert!(!out.status.success());
}
