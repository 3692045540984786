//! What a new user hit (issue #9, point 10), each checked on the `nodus`
//! binary.

use std::process::Command;
use std::time::Duration;

mod support;
use support::World;

fn text(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

#[test]
fn cluster_prints_its_cookie_and_the_join_command_and_exits_quietly() {
    let w = World::new("nu-cluster");
    // A private EPMD port with nothing on it: the cluster embeds one.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let o = w.run(&[
        "cluster",
        "--exit",
        "--http-port",
        "0",
        "--epmd-port",
        &port.to_string(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let cookie = out
        .lines()
        .find_map(|l| l.strip_prefix("cookie: "))
        .expect("cookie line");
    assert!(out.contains(&format!("--cookie {cookie}")), "{out}");
    assert!(out.contains("iex --name"), "{out}");
    assert!(!err.contains("EPMD"), "spurious EPMD warnings: {err}");
}

#[test]
fn cluster_stops_on_sigterm() {
    let w = World::new("nu-term");
    let mut c = w.nodus(&[
        "cluster",
        "--http-port",
        "0",
        "--epmd-port",
        &w.epmd.to_string(),
    ]);
    c.wait_line("running", Duration::from_secs(60));
    c.signal("TERM");
    let status = c.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_bad_target_name_is_reported_as_given() {
    let w = World::new("nu-ping");
    let o = w.run(&["ping", "n1@"]);
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("\"n1@\""), "{err}");
    assert!(!err.contains("nodus_cli"), "{err}");
    let o = w.run(&["ping", "bad name@127.0.0.1"]);
    assert!(text(&o).1.contains("\"bad name@127.0.0.1\""));
}

#[test]
fn queries_never_start_an_epmd() {
    let w = World::new("nu-noepmd");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    for args in [
        vec!["ping", "n1@127.0.0.1"],
        vec!["nodes", "n1@127.0.0.1"],
        vec!["rpc", "n1@127.0.0.1", "erlang", "node"],
    ] {
        let mut cmd = w.nodus_cmd(&args);
        cmd.env("ERL_EPMD_PORT", port.to_string());
        let o = cmd.output().expect("nodus");
        let (_, err) = text(&o);
        assert!(!o.status.success(), "{args:?}");
        assert!(
            err.contains(&format!("no EPMD answers on 127.0.0.1:{port}")),
            "{args:?}: {err}"
        );
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "an EPMD was started"
        );
    }
}

#[test]
fn io_errors_name_the_port_once() {
    let w = World::new("nu-io");
    let taken = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let o = w.run(&[
        "start",
        "--name",
        "io1@127.0.0.1",
        "--cookie",
        "c",
        "--listen-min",
        &port,
        "--listen-max",
        &port,
    ]);
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains(&port), "{err}");
    assert_eq!(err.matches("os error 98").count(), 1, "{err}");
}

#[test]
fn rpc_exits_non_zero_on_badrpc() {
    let w = World::new("nu-rpc");
    let mut n = w.nodus(&["start", "--name", "r1@127.0.0.1", "--cookie", "c"]);
    n.wait_line("booted", Duration::from_secs(60));
    let ok = w.run(&["rpc", "r1@127.0.0.1", "erlang", "node", "--cookie", "c"]);
    assert!(ok.status.success());
    let bad = w.run(&["rpc", "r1@127.0.0.1", "no_such", "fun", "--cookie", "c"]);
    let (out, _) = text(&bad);
    assert!(out.starts_with("{badrpc,"), "{out}");
    assert!(!bad.status.success());
}

#[test]
fn erlang_spellings_config_without_extension_and_kernel_flags() {
    let w = World::new("nu-erl");
    // Read as sys.config, this would wait forever for zz; `-kernel` cuts
    // the wait to 300 ms, so the boot fails at once, naming zz.
    w.file(
        "sys.config",
        "[{kernel, [{sync_nodes_mandatory, ['zz@127.0.0.1']}, {sync_nodes_timeout, infinity}]}].\n",
    );
    let mut n = w.nodus(&[
        "start",
        "--name",
        "e1@127.0.0.1",
        "--cookie",
        "c",
        "--erl",
        "-config sys -kernel sync_nodes_timeout 300 +P 100000 -noshell",
    ]);
    let warned = n.wait_line("+P 100000", Duration::from_secs(30));
    assert!(warned.contains("ignored"), "{warned}");
    let failed = n.wait_line("mandatory nodes down", Duration::from_secs(30));
    assert!(failed.contains("zz@127.0.0.1"), "{failed}");
    assert!(!n.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn misspelt_names_get_a_suggestion_and_check_prints_erlang_terms() {
    let w = World::new("nu-typo");
    let f = w.file(
        "typo.config",
        "[{kernal, [{x, 1}]}, {kernel, [{sync_nodes_timout, 500}, {sync_nodes_timeout, 500}]}].\n",
    );
    let o = w.run(&["config", "check", &f.to_string_lossy()]);
    let (out, _) = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("did you mean sync_nodes_timeout?"), "{out}");
    assert!(out.contains("did you mean kernel?"), "{out}");
    assert!(out.contains("{sync_nodes_timeout, 500}"), "{out}");
    assert!(!out.contains("Millis"), "{out}");
}

#[test]
fn long_names_need_a_dot_and_names_no_spaces() {
    let w = World::new("nu-names");
    let o = w.run(&["start", "--name", "n1", "--cookie", "c"]);
    let (_, err) = text(&o);
    // This machine's host name may have a dot; only check when it has none.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    if !host.trim().contains('.') {
        assert!(!o.status.success());
        assert!(err.contains("long name"), "{err}");
    }
    let o = w.run(&["start", "--name", "a b@127.0.0.1", "--cookie", "c"]);
    assert!(!o.status.success());
    assert!(text(&o).1.contains("not allowed"), "{}", text(&o).1);
}

#[test]
fn logs_have_no_colours_in_a_pipe() {
    let w = World::new("nu-ansi");
    let f = w.file("u.config", "[{kernel, [{logger_level, info}]}].\n");
    let taken = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_nodus"))
        .args([
            "start",
            "--name",
            "c1@127.0.0.1",
            "--cookie",
            "c",
            "--config",
            &f.to_string_lossy(),
            "--listen-min",
            &port,
            "--listen-max",
            &port,
        ])
        .env("HOME", &w.home)
        .output()
        .expect("nodus");
    let (_, err) = text(&o);
    assert!(err.contains("not implemented by nodus"), "{err}");
    assert!(!err.contains('\u{1b}'), "ANSI escapes in a pipe: {err:?}");
}
