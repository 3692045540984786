//! `nodus start` and `nodus config` with real files: errors that name
//! file, line and column; TOML rendered to a sys.config that real erl
//! reads; Erlang-style flags; the flag-less default; SIGTERM.

mod support;

use std::time::Duration;

use support::World;

const BOOT: Duration = Duration::from_secs(60);

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn config_errors_name_the_file_line_and_column_and_exit_non_zero() {
    let w = World::new("cfgerr");
    let missing = w.home.join("missing.config");
    let out = w.run(&[
        "start",
        "--name",
        "n1@127.0.0.1",
        "--config",
        &missing.to_string_lossy(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("missing.config") && stderr(&out).contains("cannot read"),
        "{}",
        stderr(&out)
    );

    let syntax = w.file(
        "syntax.config",
        "[{kernel,\n  [{sync_nodes_timeout, 10000}\n   {connect_all, true}]}].\n",
    );
    for args in [
        vec!["start", "--name", "n1@127.0.0.1", "--config"],
        vec!["config", "check"],
    ] {
        let mut a = args.clone();
        let p = syntax.to_string_lossy().to_string();
        a.push(&p);
        let out = w.run(&a);
        assert!(!out.status.success());
        let e = stderr(&out);
        assert!(e.contains("syntax.config:3:4"), "{e}");
    }

    let wrong = w.file("wrong.config", "[{kernel,\n  [{sync_nodes_optional, ['n2@127.0.0.1']},\n   {sync_nodes_timeout, soon}]}].\n");
    let out = w.run(&["config", "check", &wrong.to_string_lossy()]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("wrong.config:3:5") && e.contains("sync_nodes_timeout") && e.contains("soon"),
        "{e}"
    );

    let toml = w.file(
        "bad.toml",
        "[kernel]\nsync_nodes_timeout = 10000\nsync_nodes_optional = \"n1@127.0.0.1\"\n",
    );
    let out = w.run(&["config", "check", &toml.to_string_lossy()]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("bad.toml:3:23") && e.contains("sync_nodes_optional"),
        "{e}"
    );

    let toml = w.file("syntax.toml", "[kernel]\nsync_nodes_timeout = = 1\n");
    let out = w.run(&["config", "check", &toml.to_string_lossy()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("syntax.toml:2:"), "{}", stderr(&out));
}

#[test]
fn unknown_parameters_are_warned_about_once_by_name() {
    let w = World::new("cfgwarn");
    let cfg = w.file(
        "sys.config",
        "[{kernel, [{logger_level, info}, {logger_level, debug}, {sync_nodes_timeout, 100}]},\n {my_app, [{port, 4000}]}].\n",
    );
    let mut n1 = w.start("n1@127.0.0.1", &cfg);
    n1.wait_line("booted", BOOT);
    // The warning comes on stderr, read by another thread than stdout's
    // "booted": wait for it, then for anything else that may follow.
    n1.wait_line("logger_level", BOOT);
    std::thread::sleep(std::time::Duration::from_millis(300));
    while let Ok(l) = n1.lines.try_recv() {
        n1.seen.push(l);
    }
    let warnings: Vec<&String> = n1
        .seen
        .iter()
        .filter(|l| l.contains("logger_level"))
        .collect();
    assert_eq!(warnings.len(), 1, "{:?}", n1.seen);
    assert!(
        !n1.seen.iter().any(|l| l.contains("my_app")),
        "{:?}",
        n1.seen
    );
}

#[test]
fn toml_renders_to_a_sys_config_that_erl_reads_and_back() {
    let w = World::new("cfgtoml");
    let toml = w.file(
        "nodus.toml",
        "[node]\nname = \"n1@127.0.0.1\"\n\n[kernel]\nsync_nodes_optional = [\"n1@127.0.0.1\", \"n2@127.0.0.1\"]\nsync_nodes_timeout = 10000\nnet_ticktime = 20\ninet_dist_use_interface = \"127.0.0.1\"\n\n[my_app]\ngreeting = \"hello\"\n",
    );
    let out = w.run(&["config", "render", &toml.to_string_lossy()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rendered = String::from_utf8_lossy(&out.stdout).into_owned();
    let sys = w.file("rendered.config", &rendered);
    // Real erl reads it, and sees what a Mix config would have given.
    let mut erl = w.erl(&[
        "-eval",
        &format!(
            "{{ok, [C]}} = file:consult(\"{}\"), K = proplists:get_value(kernel, C), \
             io:format(\"~w~n\", [{{proplists:get_value(sync_nodes_optional, K), proplists:get_value(sync_nodes_timeout, K), \
             proplists:get_value(net_ticktime, K), proplists:get_value(inet_dist_use_interface, K), \
             proplists:get_value(my_app, C)}}]), halt().",
            sys.to_string_lossy()
        ),
    ]);
    let line = erl.wait_line("n1@127.0.0.1", BOOT);
    assert_eq!(
        line,
        "{['n1@127.0.0.1','n2@127.0.0.1'],10000,20,{127,0,0,1},[{greeting,<<104,101,108,108,111>>}]}"
    );
    // An environment variable overrides the file, as in a deployment.
    let out = w
        .nodus_cmd(&["config", "render", &toml.to_string_lossy()])
        .env("NODUS_KERNEL_SYNC_NODES_TIMEOUT", "infinity")
        .env("NODUS_KERNEL_SYNC_NODES_OPTIONAL", "a@h,b@h")
        .output()
        .expect("nodus");
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("{sync_nodes_timeout, infinity}") && s.contains("[a@h,b@h]"),
        "{s}"
    );
    // sys.config -> TOML -> sys.config gives the same file.
    let out = w.run(&["config", "render", &sys.to_string_lossy()]);
    let back = w.file("back.toml", &String::from_utf8_lossy(&out.stdout));
    let out = w.run(&["config", "render", &back.to_string_lossy()]);
    let again = String::from_utf8_lossy(&out.stdout);
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("%%"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&again), strip(&rendered));
    let out = w.run(&["config", "check", &back.to_string_lossy()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn erlang_spellings_start_a_node_and_sigterm_stops_it_cleanly() {
    let w = World::new("cfgflags");
    let seed = support::seed();
    let cfg = w.file("sys.config", &std::fs::read_to_string(&seed).expect("seed"));
    let mut n1 = w.nodus(&[
        "start",
        "-name",
        "n1@127.0.0.1",
        "-setcookie",
        "c",
        "-config",
        &cfg.to_string_lossy(),
    ]);
    let erl_flag = format!("-config {}", cfg.to_string_lossy());
    let mut n2 = w.nodus(&[
        "start",
        "--name",
        "n2@127.0.0.1",
        "--cookie",
        "c",
        "--erl",
        &erl_flag,
    ]);
    n1.wait_line("booted", BOOT);
    n2.wait_line("booted", BOOT);
    assert_eq!(w.nodes_of("n1@127.0.0.1"), vec!["n2@127.0.0.1"]);
    // The name is taken while n1 runs: a second n1 gives up, saying so.
    let out = w.run(&["start", "--name", "n1@127.0.0.1", "--cookie", "c"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("already registered"),
        "{}",
        stderr(&out)
    );
    n2.signal("TERM");
    n2.wait_line("stopping", BOOT);
    let status = n2.child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    n1.wait_line("nodedown 'n2@127.0.0.1'", BOOT);
    // Unregistered from EPMD: nobody answers to the name any more.
    let out = w.run(&["ping", "n2@127.0.0.1", "--cookie", "c"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "pang");
}

#[test]
fn with_no_flags_it_starts_on_a_default_short_name_and_the_home_cookie() {
    let w = World::new("cfgdefault");
    let mut n = w.nodus(&["start"]);
    let line = n.wait_line("starting as", BOOT);
    assert!(line.contains("nodus@"), "{line}");
    let cookie = w.home.join(".erlang.cookie");
    assert!(
        line.contains(&cookie.to_string_lossy().to_string()),
        "{line}"
    );
    n.wait_line("booted", BOOT);
    let text = std::fs::read_to_string(&cookie).expect("cookie created");
    assert!(text.len() >= 16, "{text:?}");
}

#[test]
fn the_readme_main_command_forms_a_local_cluster() {
    let w = World::new("cluster");
    let epmd = w.epmd.to_string();
    let out = w.run(&[
        "cluster",
        "--nodes",
        "3",
        "--exit",
        "--http-port",
        "0",
        "--epmd-port",
        &epmd,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("{sync_nodes_optional, ['n1@127.0.0.1', 'n2@127.0.0.1', 'n3@127.0.0.1']}"),
        "{text}"
    );
    for (me, others) in [
        ("n1", "['n2@127.0.0.1', 'n3@127.0.0.1']"),
        ("n2", "['n1@127.0.0.1', 'n3@127.0.0.1']"),
        ("n3", "['n1@127.0.0.1', 'n2@127.0.0.1']"),
    ] {
        let line = format!("'{me}@127.0.0.1' Node.list = {others}");
        assert!(text.contains(&line), "{line} not in {text}");
    }
}
