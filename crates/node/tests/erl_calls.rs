//! gen_server calls both ways with real `erl`, nodeup/nodedown (SIGKILL,
//! and SIGSTOP past net_ticktime), and hostile peers on the listener.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use nodus::gen_server::{reply, Call};
use nodus::Node;
use nodus_proto::flags;
use nodus_proto::handshake::{Config, Handshake, State};
use nodus_term::Term;

mod support;
use support::{wait_line, Proc};

/// Starts `erl` named `name` (cookie `c`, net_ticktime 4), evaluating `eval`.
fn erl(
    epmd: u16,
    home: &std::path::Path,
    name: &str,
    eval: &str,
) -> (Proc, mpsc::Receiver<String>) {
    support::erl(
        epmd,
        home,
        &[
            "-name",
            name,
            "-setcookie",
            "c",
            "-kernel",
            "net_ticktime",
            "4",
            "-eval",
            eval,
        ],
    )
}

async fn next_node_event(
    me: &mut nodus::Process,
    what: &str,
    node: &str,
    secs: u64,
) -> Option<Term> {
    let (w, n) = (what.to_string(), node.to_string());
    me.recv_match(
        move |m| matches!(m.as_tuple(), Some([t, x]) if t.is_atom(&w) && x.is_atom(&n)),
        Duration::from_secs(secs),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_node_events_and_hostile_peers() {
    let home = support::home("calls");
    let epmd = support::free_port();
    let node = Node::builder("rustcalls@127.0.0.1")
        .cookie("c")
        .epmd_port(epmd)
        .ticktime(Duration::from_secs(4))
        .setup_time(Duration::from_secs(1))
        .max_message_size(1 << 20)
        .start()
        .await
        .expect("node");
    let srv = node.spawn(|mut me| async move {
        while let Some(m) = me.recv().await {
            if let Some(Call { from, request }) = Call::parse(&m) {
                let answer = match request.as_tuple() {
                    Some([op, Term::Int(a), Term::Int(b)]) if op.is_atom("add") => Term::Int(a + b),
                    _ => Term::atom("unknown"),
                };
                reply(me.node(), &from, answer).await;
            }
        }
    });
    node.register("rust_srv", &srv).expect("register");
    let mut events = node.process();
    node.monitor_nodes(events.pid());

    // erl calls a Rust gen_server (alias-tagged calls, OTP 25).
    let eval = "io:format(\"call=~p~n\", [gen_server:call({rust_srv, 'rustcalls@127.0.0.1'}, {add, 1, 2})]), \
                io:format(\"noproc=~p~n\", [catch gen_server:call({nobody, 'rustcalls@127.0.0.1'}, x, 5000)]), \
                timer:sleep(600000).";
    let (mut e1, out1) = erl(epmd, &home, "erlcalls@127.0.0.1", eval);
    assert_eq!(wait_line(&out1, "call="), "call=3");
    let noproc = wait_line(&out1, "noproc=");
    assert!(noproc.starts_with("noproc={'EXIT',{noproc,"), "{noproc}");
    assert_eq!(
        next_node_event(&mut events, "nodeup", "erlcalls@127.0.0.1", 10).await,
        Some(Term::tuple(vec![
            Term::atom("nodeup"),
            Term::atom("erlcalls@127.0.0.1")
        ]))
    );

    // Rust calls an erl gen_server.
    let mut me = node.process();
    let target = Term::tuple(vec![
        Term::atom("application_controller"),
        Term::atom("erlcalls@127.0.0.1"),
    ]);
    let apps = me
        .call(
            &target,
            Term::atom("which_applications"),
            Duration::from_secs(10),
        )
        .await
        .expect("call");
    assert!(apps.to_string().contains("kernel"), "{apps}");
    let missing = Term::tuple(vec![Term::atom("nobody"), Term::atom("erlcalls@127.0.0.1")]);
    let err = me
        .call(&missing, Term::atom("x"), Duration::from_secs(10))
        .await
        .expect_err("noproc");
    assert_eq!(
        err,
        nodus::gen_server::CallError::Down(Term::atom("noproc"))
    );

    // Hostile peers on the listener: each connection is closed, the node goes on.
    let addr = ("127.0.0.1", node.port());
    let closed = |mut s: TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut b = [0u8; 64];
        loop {
            match s.read(&mut b) {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    };
    let mut garbage = TcpStream::connect(addr).expect("connect");
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    assert!(closed(garbage));
    let mut truncated = TcpStream::connect(addr).expect("connect");
    truncated.write_all(&[0, 100, b'N', 0, 0]).expect("write");
    assert!(
        closed(truncated),
        "a truncated handshake times out (net_setuptime)"
    );
    let stalled = TcpStream::connect(addr).expect("connect");
    assert!(closed(stalled), "a silent peer times out (net_setuptime)");
    // A peer that trickles a valid-looking handshake a byte at a time is
    // closed once net_setuptime (1 s here) has passed since accept, not
    // kept open as long as each read comes within it.
    let mut trickle = TcpStream::connect(addr).expect("connect");
    trickle
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let started = std::time::Instant::now();
    let mut b = [0u8; 16];
    let mut open_for = None;
    for byte in [0u8, 40, b'N']
        .into_iter()
        .chain(std::iter::repeat(b'x'))
        .take(40)
    {
        if trickle.write_all(&[byte]).is_err() {
            open_for = Some(started.elapsed());
            break;
        }
        match trickle.read(&mut b) {
            Ok(0) => {
                open_for = Some(started.elapsed());
                break;
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                open_for = Some(started.elapsed());
                break;
            }
        }
    }
    let open_for = open_for.expect("a trickling handshake is closed");
    assert!(
        open_for < Duration::from_secs(5),
        "closed after {open_for:?}"
    );
    let mut big = TcpStream::connect(addr).expect("connect");
    big.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let cfg = Config {
        name: "evil@127.0.0.1".into(),
        flags: flags::NODUS_DEFAULT,
        creation: 1,
        cookie: b"c".to_vec(),
    };
    let mut hs = Handshake::initiate(cfg, "rustcalls@127.0.0.1", 5).expect("hs");
    let mut buf = [0u8; 1024];
    while !matches!(hs.state(), State::Done(_)) {
        big.write_all(&hs.take_output()).expect("write");
        if matches!(hs.state(), State::Done(_)) {
            break;
        }
        let n = big.read(&mut buf).expect("read");
        assert!(n > 0, "handshake refused");
        hs.input(&buf[..n]).expect("handshake");
    }
    big.write_all(&[0xFF, 0xFF, 0xFF, 0xFF, 112])
        .expect("write");
    assert!(closed(big), "a frame over the limit closes the connection");
    assert_eq!(
        me.call(
            &Term::tuple(vec![
                Term::atom("rust_srv"),
                Term::atom("rustcalls@127.0.0.1")
            ]),
            Term::tuple(vec![Term::atom("add"), Term::Int(2), Term::Int(2)]),
            Duration::from_secs(5)
        )
        .await,
        Ok(Term::Int(4))
    );
    assert!(
        node.ping("erlcalls@127.0.0.1").await,
        "still serving its other peers"
    );

    // SIGSTOP: nodedown once net_ticktime passes with no traffic.
    let pid = e1.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .expect("kill")
        .success());
    // Meanwhile a process sends far more than the socket buffers and the
    // busy limit hold: it waits on the busy connection, and goes on once
    // the connection is declared down.
    let sender = tokio::spawn({
        let node = node.clone();
        let from = me.pid().clone();
        async move {
            let big = Term::binary(vec![7u8; 4 << 20]);
            for _ in 0..32 {
                // Once the node is down, the next send fails to connect.
                let sent = node
                    .send_named(&from, "nobody", "erlcalls@127.0.0.1", big.clone())
                    .await;
                if sent.is_err() {
                    break;
                }
            }
        }
    });
    let down = next_node_event(&mut events, "nodedown", "erlcalls@127.0.0.1", 30).await;
    assert_eq!(
        down,
        Some(Term::tuple(vec![
            Term::atom("nodedown"),
            Term::atom("erlcalls@127.0.0.1")
        ]))
    );
    assert!(node.nodes().is_empty());
    tokio::time::timeout(Duration::from_secs(30), sender)
        .await
        .expect("a sender blocked on the busy connection goes on after nodedown")
        .expect("no panic");
    let _ = Command::new("kill").args(["-CONT", &pid]).status();
    let _ = e1.0.kill();

    // SIGKILL: nodedown at once.
    let (mut e2, out2) = erl(
        epmd,
        &home,
        "erlcalls2@127.0.0.1",
        "io:format(\"up~n\"), timer:sleep(600000).",
    );
    wait_line(&out2, "up");
    assert!(node.ping("erlcalls2@127.0.0.1").await);
    next_node_event(&mut events, "nodeup", "erlcalls2@127.0.0.1", 10)
        .await
        .expect("nodeup");
    let _ = e2.0.kill();
    let down = next_node_event(&mut events, "nodedown", "erlcalls2@127.0.0.1", 10).await;
    assert_eq!(
        down,
        Some(Term::tuple(vec![
            Term::atom("nodedown"),
            Term::atom("erlcalls2@127.0.0.1")
        ]))
    );
    node.shutdown();
    let _ = std::fs::remove_dir_all(&home);
}
