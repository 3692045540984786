//! The handshake and EPMD codec against real `erl` and `epmd` (Debian's
//! Erlang/OTP). Each test runs its own `epmd` on a free port, its own node
//! names and a private HOME, and stops every process it starts.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nodus_proto::epmd::{NodeEntry, Reply, Request, NODE_TYPE_NORMAL};
use nodus_proto::flags;
use nodus_proto::handshake::{self, Config, Handshake, HandshakeError, State};

/// Kills the child when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn private_home(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nodus-hs-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("home");
    d
}

fn start_epmd() -> (Proc, u16) {
    let port = free_port();
    let child = Command::new("epmd")
        .args(["-port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .or_else(|_| {
            Command::new("/usr/lib/erlang/bin/epmd")
                .args(["-port", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        })
        .expect("epmd (apt-get install erlang-nox)");
    let p = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "epmd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (p, port)
}

fn start_erl(epmd_port: u16, home: &PathBuf, name: &str, cookie: &str, eval: &str) -> Proc {
    let child = Command::new("erl")
        .args([
            "-noshell",
            "-name",
            name,
            "-setcookie",
            cookie,
            "-eval",
            eval,
        ])
        .env("ERL_EPMD_PORT", epmd_port.to_string())
        .env("HOME", home)
        .env("ERL_CRASH_DUMP_SECONDS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("erl on PATH");
    Proc(child)
}

fn epmd_request(port: u16, req: &Request) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("epmd");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(&req.encode().expect("encode")).expect("write");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    buf
}

fn wait_for_node(epmd_port: u16, name: &str) -> NodeEntry {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let buf = epmd_request(epmd_port, &Request::PortPlease2(name.into()));
        if let Ok(Some((Reply::Port2(Some(e)), _))) = Reply::decode(&buf) {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never registered with epmd"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn cfg(cookie: &str) -> Config {
    Config {
        name: "rust@127.0.0.1".into(),
        flags: flags::NODUS_DEFAULT,
        creation: 7,
        cookie: cookie.as_bytes().to_vec(),
    }
}

/// Runs a handshake over a socket until done or failed.
fn drive(sock: &mut TcpStream, hs: &mut Handshake) -> Result<handshake::Established, String> {
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4096];
    loop {
        let out = hs.take_output();
        if !out.is_empty() {
            sock.write_all(&out).map_err(|e| e.to_string())?;
        }
        match hs.state() {
            State::Done(e) => return Ok(e),
            State::NeedStatus { .. } => {
                hs.set_status(handshake::status::OK)
                    .map_err(|e| e.to_string())?;
                continue;
            }
            State::InProgress => {}
        }
        let n = sock.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("peer closed the connection during the handshake".into());
        }
        hs.input(&buf[..n])
            .map_err(|e: HandshakeError| e.to_string())?;
    }
}

#[test]
fn nodus_dials_erl_and_a_wrong_cookie_is_refused() {
    let (_epmd, port) = start_epmd();
    let home = private_home("dial");
    let _erl = start_erl(
        port,
        &home,
        "a@127.0.0.1",
        "secret",
        "timer:sleep(120000), halt().",
    );
    let entry = wait_for_node(port, "a");
    assert_eq!(entry.highest_version, 6);

    let mut sock = TcpStream::connect(("127.0.0.1", entry.port)).expect("connect to erl");
    let mut hs = Handshake::initiate(cfg("secret"), "a@127.0.0.1", 0xDEAD_BEEF).expect("initiate");
    let est = drive(&mut sock, &mut hs).expect("handshake with erl");
    assert_eq!(est.peer, "a@127.0.0.1");
    assert!(
        est.peer_flags & flags::PUBLISHED != 0,
        "erl is a visible node"
    );
    assert!(flags::has_mandatory_25(est.peer_flags));
    assert_eq!(
        est.flags & flags::PUBLISHED,
        0,
        "nodus offered a hidden connection"
    );
    // After the handshake erl ticks or talks in 4-byte frames: the socket stays open.
    drop(sock);

    let mut sock = TcpStream::connect(("127.0.0.1", entry.port)).expect("connect to erl");
    let mut hs = Handshake::initiate(cfg("wrong"), "a@127.0.0.1", 42).expect("initiate");
    let err = drive(&mut sock, &mut hs).expect_err("wrong cookie refused");
    assert!(err.contains("closed"), "{err}");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn erl_dials_nodus_registered_in_epmd() {
    let (_epmd, port) = start_epmd();
    let home = private_home("accept");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let dist_port = listener.local_addr().expect("addr").port();

    // Register "rust" with ALIVE2, keeping the connection open.
    let mut reg = TcpStream::connect(("127.0.0.1", port)).expect("epmd");
    reg.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let alive = Request::Alive2(NodeEntry {
        port: dist_port,
        node_type: NODE_TYPE_NORMAL,
        protocol: 0,
        highest_version: 6,
        lowest_version: 6,
        name: "rust".into(),
        extra: vec![],
    });
    reg.write_all(&alive.encode().expect("encode"))
        .expect("register");
    let mut buf = [0u8; 16];
    let mut got = Vec::new();
    let (reply, _) = loop {
        let n = reg.read(&mut buf).expect("epmd reply");
        assert!(n > 0, "epmd closed the registration");
        got.extend_from_slice(&buf[..n]);
        if let Some(r) = Reply::decode(&got).expect("valid reply") {
            break r;
        }
    };
    let Reply::Alive2X {
        result: 0,
        creation,
    } = reply
    else {
        panic!("registration failed: {reply:?}");
    };
    assert!(creation > 0);
    assert_eq!(wait_for_node(port, "rust").port, dist_port);

    let mut erl = start_erl(
        port,
        &home,
        "a@127.0.0.1",
        "secret",
        "io:format(\"connect=~p~n\", [net_kernel:connect_node('rust@127.0.0.1')]), timer:sleep(120000), halt().",
    );
    listener.set_nonblocking(false).expect("blocking");
    let (mut sock, _) = listener.accept().expect("erl connects");
    let mut hs = Handshake::accept(
        Config {
            creation,
            ..cfg("secret")
        },
        0x1234,
    )
    .expect("accept");
    let est = drive(&mut sock, &mut hs).expect("handshake with erl");
    assert_eq!(est.peer, "a@127.0.0.1");

    let mut out = erl.0.stdout.take().expect("stdout");
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\n") {
        if out.read(&mut b).unwrap_or(0) == 0 {
            break;
        }
        line.push(b[0]);
    }
    assert_eq!(String::from_utf8_lossy(&line).trim(), "connect=true");
    drop(sock);
    drop(reg);
    let _ = std::fs::remove_dir_all(&home);
}
