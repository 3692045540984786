//! What an attacker can do to a `nodus start` node's log and to the
//! embedded EPMD (`nodus epmd`): a flood of garbage handshakes writes the
//! first refusal in full and then one summary line per interval, not a
//! line per connection; an EPMD request trickled a byte at a time is
//! closed within its timeout; idle EPMD connections past the cap are
//! closed at once, and EPMD keeps answering.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

mod support;
use support::World;

/// The port EPMD on `epmd` gives for `name`.
fn port_of(epmd: u16, name: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", epmd)).expect("epmd");
    s.write_all(&[0, 1, b'n']).expect("names");
    let mut out = String::new();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("names reply");
    out.push_str(&String::from_utf8_lossy(&raw[4..]));
    out.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(&format!("name {name} at port "))?;
            rest.trim().parse().ok()
        })
        .unwrap_or_else(|| panic!("{name} not in {out:?}"))
}

#[test]
fn a_garbage_flood_is_summed_up_not_logged_line_by_line() {
    let w = World::new("hostile-log");
    let mut n = w.nodus(&[
        "start",
        "--name",
        "hl@127.0.0.1",
        "--cookie",
        "c",
        "--epmd-port",
        &w.epmd.to_string(),
    ]);
    n.wait_line("booted", Duration::from_secs(30));
    let port = port_of(w.epmd, "hl");
    for _ in 0..500 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"\x00\x05GET / HTTP/1.1\r\n\r\n");
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut b = [0u8; 16];
            let _ = s.read(&mut b);
        }
    }
    // The summary comes at the end of the 10 s interval.
    let summary = n.wait_line(
        "more distribution connections from 127.0.0.1",
        Duration::from_secs(30),
    );
    let counted: u32 = summary
        .split("refused ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        counted >= 400,
        "the summary counts the refusals after the first: {summary}"
    );
    let refused = n.seen.iter().filter(|l| l.contains("refused")).count();
    assert!(
        refused <= 3,
        "{refused} log lines for 500 refusals: {:?}",
        n.seen
    );
    let ping = w.run(&[
        "ping",
        "hl@127.0.0.1",
        "--epmd-port",
        &w.epmd.to_string(),
        "--cookie",
        "c",
    ]);
    assert!(ping.status.success(), "the node still answers");
}

#[test]
fn epmd_closes_trickled_requests_and_caps_idle_ones() {
    let w = World::new("hostile-epmd");
    // A NAMES request sent one byte a second: closed within the 5 s timeout.
    let mut s = TcpStream::connect(("127.0.0.1", w.epmd)).expect("epmd");
    let t0 = Instant::now();
    let mut closed = false;
    for b in [0u8, 1, b'n'].iter().cycle().take(30) {
        if s.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
        s.set_read_timeout(Some(Duration::from_millis(1)))
            .expect("timeout");
        let mut buf = [0u8; 4];
        if matches!(s.read(&mut buf), Ok(0)) {
            closed = true;
            break;
        }
    }
    let took = t0.elapsed();
    assert!(closed, "a trickled request was never closed");
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(15),
        "closed after {took:?}"
    );

    // 200 idle connections from one address: those past the cap (64) are closed at once.
    let socks: Vec<TcpStream> = (0..200)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", w.epmd)).ok())
        .collect();
    let mut shut = 0;
    for s in &socks {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut b = [0u8; 4];
        if matches!((&*s).read(&mut b), Ok(0)) {
            shut += 1;
        }
    }
    assert!(
        shut >= socks.len() - 64,
        "{shut} of {} closed at once",
        socks.len()
    );
    drop(socks);
    std::thread::sleep(Duration::from_millis(200));
    let mut s = TcpStream::connect(("127.0.0.1", w.epmd)).expect("epmd");
    s.write_all(&[0, 1, b'n']).expect("names");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("names reply");
    assert!(raw.len() >= 4, "EPMD still answers NAMES: {raw:?}");
}
