//! PubSub and pg from the configuration and the command line: `nodus
//! start` starts the PubSub servers a nodus.toml or sys.config names (and
//! the `pg` scope with `start_pg`), the two files render to each other,
//! `nodus pg` shows the groups, and `nodus pubsub ... subscribe` prints
//! what `nodus pubsub ... broadcast` sends from either node.

mod support;

use std::time::Duration;

use support::World;

const BOOT: Duration = Duration::from_secs(60);

const TOML: &str = r#"[kernel]
sync_nodes_optional = ["n2@127.0.0.1", "n3@127.0.0.1"]
sync_nodes_timeout = 10000
start_pg = true

[pubsub."Demo.PubSub"]
pool_size = 3
"#;

const SYS: &str = "[{kernel, [{sync_nodes_optional, ['n2@127.0.0.1', 'n3@127.0.0.1']}, {sync_nodes_timeout, 10000}, {start_pg, true}]},\n {nodus, [{pubsub, [{'Demo.PubSub', [{pool_size, 2}]}]}]}].\n";

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn the_two_files_render_to_each_other() {
    let w = World::new("pubsub-render");
    let toml = w.file("nodus.toml", TOML);
    let o = w.run(&["config", "render", &toml.to_string_lossy()]);
    assert!(o.status.success(), "{o:?}");
    let sys = out(&o);
    let flat: String = sys.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(flat.contains("{start_pg,true}"), "{sys}");
    assert!(
        flat.contains("{nodus,[{pubsub,[{'Demo.PubSub',[{pool_size,3}]}]}]}"),
        "{sys}"
    );
    let back = w.file("back.config", &sys);
    let o = w.run(&["config", "render", &back.to_string_lossy()]);
    let toml2 = out(&o);
    assert!(
        toml2.contains("[pubsub.\"Demo.PubSub\"]\npool_size = 3"),
        "{toml2}"
    );
    assert!(toml2.contains("start_pg = true"), "{toml2}");
    assert!(!toml2.contains("[nodus]"), "{toml2}");

    // A bad option is an error that names it.
    let bad = w.file("bad.toml", "[pubsub.\"Demo.PubSub\"]\npool_size = 0\n");
    let o = w.run(&["config", "check", &bad.to_string_lossy()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:2:") && err.contains("pool_size"),
        "{err}"
    );
    let bad = w.file(
        "bad.config",
        "[{nodus, [{pubsub, [{'Demo.PubSub', [{pool_sise, 2}]}]}]}].\n",
    );
    let o = w.run(&["config", "check", &bad.to_string_lossy()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.config") && err.contains("unknown option pool_sise"),
        "{err}"
    );
}

#[test]
fn nodes_started_from_config_share_a_pubsub_driven_from_the_cli() {
    let w = World::new("pubsub-cli");
    let toml = w.file("nodus.toml", TOML);
    let sys = w.file("sys.config", SYS);
    let mut n2 = w.start("n2@127.0.0.1", &toml);
    let mut n3 = w.start("n3@127.0.0.1", &sys);
    n2.wait_line("pubsub Elixir.Demo.PubSub started (pool_size 3)", BOOT);
    n3.wait_line("pubsub Elixir.Demo.PubSub started (pool_size 2)", BOOT);
    n2.wait_line("booted", BOOT);
    n3.wait_line("booted", BOOT);

    // The groups, as each node sees them: n3 also serves n2's third group.
    let deadline = std::time::Instant::now() + BOOT;
    let groups = loop {
        let o = w.run(&[
            "pg",
            "n3@127.0.0.1",
            "Elixir.Phoenix.PubSub",
            "--cookie",
            "c",
        ]);
        let lines: Vec<String> = out(&o).lines().map(str::to_string).collect();
        let full = lines.len() == 3 && lines.iter().all(|l| l.matches("#Pid<").count() == 2);
        if full {
            break lines;
        }
        assert!(std::time::Instant::now() < deadline, "{lines:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        groups[0].starts_with("'Elixir.Demo.PubSub.Adapter' ["),
        "{groups:?}"
    );
    assert!(
        groups[2].starts_with("'Elixir.Demo.PubSub.Adapter_3' ["),
        "{groups:?}"
    );
    // start_pg: the default scope runs, with no groups.
    let o = w.run(&["pg", "n2@127.0.0.1", "--cookie", "c"]);
    assert!(o.status.success());
    assert_eq!(out(&o), "");
    assert!(w
        .rpc("n2@127.0.0.1", "erlang", "whereis", "[pg]")
        .starts_with("#Pid<"));

    // A subscriber through n3 prints what is broadcast from n2 and n3.
    let mut sub = w.nodus(&[
        "pubsub",
        "n3@127.0.0.1",
        "Demo.PubSub",
        "subscribe",
        "room",
        "--cookie",
        "c",
    ]);
    sub.wait_line("subscribed to room", BOOT);
    // Its worker is known to both nodes once they synced with it.
    let deadline = std::time::Instant::now() + BOOT;
    loop {
        let o = w.run(&[
            "pg",
            "n2@127.0.0.1",
            "Elixir.Phoenix.PubSub",
            "--cookie",
            "c",
        ]);
        if out(&o)
            .lines()
            .next()
            .is_some_and(|l| l.matches("#Pid<").count() == 3)
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", out(&o));
        std::thread::sleep(Duration::from_millis(200));
    }
    for (from, msg) in [
        ("n2@127.0.0.1", "{hello,1}"),
        ("n3@127.0.0.1", "{hello,<<\"two\">>}"),
    ] {
        let o = w.run(&[
            "pubsub",
            from,
            "Demo.PubSub",
            "broadcast",
            "room",
            msg,
            "--cookie",
            "c",
        ]);
        assert_eq!(out(&o).trim(), "ok", "{o:?}");
        sub.wait_line(msg, BOOT);
    }
    // Another topic is not shown.
    let o = w.run(&[
        "pubsub",
        "n2@127.0.0.1",
        "Demo.PubSub",
        "broadcast",
        "elsewhere",
        "other",
        "--cookie",
        "c",
    ]);
    assert!(o.status.success());
    let o = w.run(&[
        "pubsub",
        "n2@127.0.0.1",
        "Demo.PubSub",
        "broadcast",
        "room",
        "last",
        "--cookie",
        "c",
    ]);
    assert!(o.status.success());
    sub.wait_line("last", BOOT);
    assert!(!sub.seen.iter().any(|l| l == "other"), "{:?}", sub.seen);
    // Exactly once each.
    assert_eq!(sub.seen.iter().filter(|l| *l == "{hello,1}").count(), 1);

    // An unknown PubSub is a failure.
    let o = w.run(&[
        "pubsub",
        "n2@127.0.0.1",
        "Nope.PubSub",
        "broadcast",
        "room",
        "x",
        "--cookie",
        "c",
    ]);
    assert!(!o.status.success());
}
