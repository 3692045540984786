//! `sys.config` and `nodus.toml` reading: OTP's types and defaults, errors
//! with file, line and column, includes, TOML and environment overrides.

use std::path::{Path, PathBuf};

use nodus::config::{render_sys_config, Config, SyncTimeout};
use nodus::net_kernel::AutoConnect;

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed")
}

fn sys(text: &str) -> Result<Config, nodus::config::ConfigError> {
    Config::from_sys_config(Path::new("t.config"), text)
}

#[test]
fn the_seed_file_and_its_toml_say_the_same() {
    let a = Config::load(&seed_dir().join("sys.config")).expect("sys.config");
    let b = Config::load(&seed_dir().join("nodus.toml")).expect("nodus.toml");
    assert_eq!(a.kernel, b.kernel);
    assert_eq!(
        a.kernel.sync_nodes_optional,
        ["n1@127.0.0.1", "n2@127.0.0.1"]
    );
    assert_eq!(
        a.kernel.sync_nodes_timeout,
        Some(SyncTimeout::Millis(10_000))
    );
    // Rendering and reading back keeps every setting.
    let again = sys(&render_sys_config(&a)).expect("rendered");
    assert_eq!(again.kernel, a.kernel);
}

#[test]
fn defaults_are_otps() {
    let c = sys("[].").expect("empty list");
    let k = c.kernel;
    assert_eq!(k.sync_nodes_timeout, None);
    assert_eq!(k.net_ticktime, 60);
    assert!((k.net_setuptime - 7.0).abs() < f64::EPSILON);
    assert!(k.connect_all);
    assert_eq!(k.dist_auto_connect, AutoConnect::Always);
    assert_eq!(k.listen_ports(), None);
}

#[test]
fn every_parameter_is_read_with_its_type() {
    let c = sys(
        "[{kernel, [{sync_nodes_mandatory, [a@h]}, {sync_nodes_timeout, infinity},\n\
         {net_ticktime, 20}, {net_setuptime, 2.5}, {connect_all, false},\n\
         {dist_auto_connect, once}, {inet_dist_listen_min, 9100},\n\
         {inet_dist_use_interface, {127,0,0,1}}]}].",
    )
    .expect("valid");
    let k = &c.kernel;
    assert_eq!(k.sync_nodes_mandatory, ["a@h"]);
    assert_eq!(k.sync_nodes_timeout, Some(SyncTimeout::Infinity));
    assert_eq!(k.net_ticktime, 20);
    assert!((k.net_setuptime - 2.5).abs() < f64::EPSILON);
    assert!(!k.connect_all);
    assert_eq!(k.dist_auto_connect, AutoConnect::Once);
    // Only min set: max is min, as in OTP.
    assert_eq!(k.listen_ports(), Some((9100, 9100)));
    assert_eq!(
        k.inet_dist_use_interface,
        Some("127.0.0.1".parse().expect("ip"))
    );
}

#[test]
fn wrong_types_name_the_parameter_and_where_it_is() {
    for (text, needle, line, col) in [
        (
            "[{kernel, [{sync_nodes_timeout, 0}]}].",
            "sync_nodes_timeout",
            1,
            13,
        ),
        (
            "[{kernel,\n [{sync_nodes_optional, n1}]}].",
            "sync_nodes_optional",
            2,
            4,
        ),
        (
            "[{kernel,\n [{sync_nodes_optional, [\"n1@h\"]}]}].",
            "node names",
            2,
            4,
        ),
        ("[{kernel, [{net_ticktime, -1}]}].", "net_ticktime", 1, 13),
        (
            "[{kernel, [{net_ticktime, 9223372036854775807}]}].",
            "net_ticktime",
            1,
            13,
        ),
        ("[{kernel, [{connect_all, yes}]}].", "connect_all", 1, 13),
        (
            "[{kernel, [{dist_auto_connect, sometimes}]}].",
            "dist_auto_connect",
            1,
            13,
        ),
        (
            "[{kernel, [{inet_dist_listen_min, 70000}]}].",
            "inet_dist_listen_min",
            1,
            13,
        ),
        (
            "[{kernel, [{inet_dist_use_interface, \"lo\"}]}].",
            "inet_dist_use_interface",
            1,
            13,
        ),
    ] {
        let e = sys(text).expect_err(text);
        assert!(e.message.contains(needle), "{text}: {e}");
        assert_eq!((e.line, e.column), (Some(line), Some(col)), "{text}: {e}");
        assert!(
            e.to_string()
                .starts_with(&format!("t.config:{line}:{col}: ")),
            "{e}"
        );
    }
}

#[test]
fn syntax_errors_and_bad_shapes_are_errors() {
    let e = sys("[{kernel, [{sync_nodes_timeout 1}]}].").expect_err("syntax");
    assert_eq!(e.line, Some(1));
    assert!(e.column.is_some());
    assert!(sys("{kernel, []}.").is_err());
    assert!(sys("[{kernel, []}]. [].").is_err());
    assert!(sys("").is_err());
    assert!(sys("[{kernel, [sync_nodes_timeout]}].").is_err());
}

#[test]
fn unknown_kernel_parameters_are_listed_once_and_other_apps_kept() {
    let c =
        sys("[{kernel, [{logger_level, info}, {logger_level, debug}]}, {my_app, [{port, 4000}]}].")
            .expect("valid");
    assert_eq!(c.unknown, ["logger_level"]);
    assert_eq!(c.env.len(), 1);
    assert_eq!(c.env[0].0, "my_app");
}

#[test]
fn included_files_are_read_and_loops_stop() {
    let dir = std::env::temp_dir().join(format!("nodus-config-inc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let base = dir.join("base.config");
    std::fs::write(&base, "[{kernel, [{sync_nodes_timeout, 5000}]}].").expect("write");
    let main = dir.join("sys.config");
    std::fs::write(&main, format!("[\"{}\"].", dir.join("base").display())).expect("write");
    let c = Config::load(&main).expect("include");
    assert_eq!(c.kernel.sync_nodes_timeout, Some(SyncTimeout::Millis(5000)));
    let selfref = dir.join("loop.config");
    std::fs::write(&selfref, format!("[\"{}\"].", selfref.display())).expect("write");
    let e = Config::load(&selfref).expect_err("loop");
    assert!(e.message.contains("deep"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn toml_takes_environment_overrides() {
    let text = "[node]\nsname = \"n1\"\n\n[kernel]\nsync_nodes_timeout = 10000\n";
    let env = |k: &str| match k {
        "NODUS_KERNEL_SYNC_NODES_TIMEOUT" => Some("\"infinity\"".to_string()),
        "NODUS_KERNEL_SYNC_NODES_MANDATORY" => Some("a@h, b@h".to_string()),
        "NODUS_NODE_COOKIE" => Some("s3cret".to_string()),
        _ => None,
    };
    let c = Config::from_toml(Path::new("n.toml"), text, &env).expect("valid");
    assert_eq!(c.kernel.sync_nodes_timeout, Some(SyncTimeout::Infinity));
    assert_eq!(c.kernel.sync_nodes_mandatory, ["a@h", "b@h"]);
    assert_eq!(c.node.name.as_deref(), Some("n1"));
    assert!(c.node.short_names);
    assert_eq!(c.node.cookie.as_deref(), Some("s3cret"));
    let bad = |k: &str| (k == "NODUS_KERNEL_NET_TICKTIME").then(|| "soon".to_string());
    let e = Config::from_toml(Path::new("n.toml"), text, &bad).expect_err("bad env");
    assert!(e.to_string().contains("NODUS_KERNEL_NET_TICKTIME"), "{e}");
    let e =
        Config::from_toml(Path::new("n.toml"), "[node]\nport = 1\n", &|_| None).expect_err("key");
    assert_eq!((e.line, e.column), (Some(2), Some(8)), "{e}");
}

/// Inputs fuzzing found (`fuzz/regressions/config_parse`): each is read
/// or refused, and what is read renders to both formats and reads back
/// the same, as the fuzz target checks.
#[test]
fn config_parse_fuzz_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/config_parse");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("regressions") {
        let data = std::fs::read(entry.expect("entry").path()).expect("read");
        let s = String::from_utf8_lossy(&data);
        let none = |_: &str| None;
        for cfg in [
            Config::from_sys_config(Path::new("f.config"), &s),
            Config::from_toml(Path::new("f.toml"), &s, &none),
        ]
        .into_iter()
        .flatten()
        {
            let back = sys(&render_sys_config(&cfg)).expect("rendered sys.config reads");
            assert_eq!(back.kernel, cfg.kernel);
            let toml = nodus::config::render_toml(&cfg);
            let back =
                Config::from_toml(Path::new("r.toml"), &toml, &none).expect("rendered TOML reads");
            assert_eq!(back.kernel, cfg.kernel);
            // Other applications keep their keys (TOML has no atoms: values may
            // change type, as Mix config values do).
            assert_eq!(back.env.len(), cfg.env.len());
        }
        n += 1;
    }
    assert!(n > 0);
}

#[test]
fn distributed_applications_render_to_toml_and_back() {
    let c = sys(
        "[{kernel, [{distributed, [{demo, 5000, ['a@h', {'b@h', 'c@h'}]}, {other, ['a@h']}]},\n\
                 {permissions, [{demo, false}]}, {start_dist_ac, true}]}].",
    )
    .expect("sys.config");
    let k = &c.kernel;
    assert_eq!(k.distributed.len(), 2);
    assert_eq!(k.distributed[0].app.as_str(), "demo");
    assert_eq!(
        k.distributed[0].restart_time,
        nodus::application::RestartTime::Ms(5000)
    );
    assert_eq!(
        k.distributed[0].nodes,
        vec![
            nodus::application::Priority::One(nodus::Atom::new("a@h")),
            nodus::application::Priority::Any(vec![
                nodus::Atom::new("b@h"),
                nodus::Atom::new("c@h")
            ]),
        ]
    );
    assert_eq!(k.permissions, vec![("demo".to_string(), false)]);
    assert!(k.start_dist_ac);
    let toml = nodus::config::render_toml(&c);
    let back = Config::from_toml(Path::new("t.toml"), &toml, &|_| None).expect("toml");
    assert_eq!(back.kernel, c.kernel, "{toml}");
    let again = sys(&render_sys_config(&c)).expect("rendered");
    assert_eq!(again.kernel, c.kernel);
    // A bad entry names the parameter.
    let e = sys("[{kernel, [{distributed, [{demo, -1, ['a@h']}]}]}].").expect_err("bad");
    assert!(e.to_string().contains("distributed"), "{e}");
}
