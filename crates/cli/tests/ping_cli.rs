//! `nodus epmd` serving a real `erl`, and `nodus ping` against it.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn nodus_epmd_serves_erl_and_nodus_ping_answers_pong_or_pang() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let home = std::env::temp_dir().join(format!("nodus-ping-cli-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("home");
    let _epmd = Proc(
        Command::new(env!("CARGO_BIN_EXE_nodus"))
            .args(["epmd", "--port", &port.to_string()])
            .stderr(Stdio::null())
            .spawn()
            .expect("nodus epmd"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nodus epmd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _erl = Proc(
        Command::new("erl")
            .args([
                "-noshell",
                "-name",
                "pingme@127.0.0.1",
                "-setcookie",
                "secret",
                "-eval",
                "timer:sleep(60000), halt().",
            ])
            .env("ERL_EPMD_PORT", port.to_string())
            .env("HOME", &home)
            .env("ERL_CRASH_DUMP_SECONDS", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("erl"),
    );
    let ping = |node: &str, cookie: &str| {
        Command::new(env!("CARGO_BIN_EXE_nodus"))
            .args([
                "ping",
                node,
                "--cookie",
                cookie,
                "--epmd-port",
                &port.to_string(),
            ])
            .env("HOME", &home)
            .output()
            .expect("nodus ping")
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        let out = ping("pingme@127.0.0.1", "secret");
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "pong");
    assert!(out.status.success());

    let out = ping("pingme@127.0.0.1", "wrong");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "pang");
    assert_eq!(out.status.code(), Some(1));

    let rpc = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_nodus"));
        c.arg("rpc")
            .args(args)
            .args(["--cookie", "secret", "--epmd-port", &port.to_string()])
            .env("HOME", &home);
        c.output().expect("nodus rpc")
    };
    let out = rpc(&["pingme@127.0.0.1", "lists", "reverse", "[[1, 2, 3]]"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[3,2,1]");
    let out = rpc(&["pingme@127.0.0.1", "erlang", "node"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "'pingme@127.0.0.1'"
    );
    let out = rpc(&["pingme@127.0.0.1", "lists", "reverse", "[1, 2"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ARGS: line 1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = ping("nobody@127.0.0.1", "secret");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "pang");
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&home);
}
