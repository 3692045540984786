//! What an attacker can do to a `nodus start` node's log and to the
//! embedded EPMD (`nodus epmd`): a flood of garbage handshakes writes the
//! first refusal in full and then one summary line per interval, not a
//! line per connection; an EPMD request trickled a byte at a time is
//! closed within its timeout; idle EPMD connections past the cap are
//! closed after a short grace, and EPMD keeps answering; a burst of quick
//! requests (a cluster booting) is never refused.

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

    // 200 idle connections from one address: past the grace (500 ms),
    // those over the cap (64) are closed.
    let socks: Vec<TcpStream> = (0..200)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", w.epmd)).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(900));
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

#[test]
fn a_burst_of_quick_epmd_requests_from_one_address_is_all_answered() {
    // What a cluster booting on one host does: every node asks for every
    // other's port at once, far more than the cap (64) from 127.0.0.1 in
    // flight together. Requests that arrive whole within the grace
    // (500 ms) are never counted, so none is refused. All 200 connect
    // first, then all ask.
    let w = World::new("hostile-epmd-burst");
    let epmd = w.epmd;
    let all_connected = std::sync::Arc::new(std::sync::Barrier::new(200));
    let answered: usize = (0..200)
        .map(|_| {
            let all_connected = all_connected.clone();
            std::thread::spawn(move || {
                let s = TcpStream::connect(("127.0.0.1", epmd));
                all_connected.wait();
                let Ok(mut s) = s else {
                    return 0;
                };
                // PORT_PLEASE2_REQ for a name nobody registered.
                if s.write_all(&[0, 6, 122, b'n', b'o', b'b', b'o', b'd'])
                    .is_err()
                {
                    return 0;
                }
                let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
                let mut reply = Vec::new();
                let _ = s.read_to_end(&mut reply);
                // PORT2_RESP (119) with result 1: not registered.
                usize::from(reply.first() == Some(&119))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap_or(0))
        .sum();
    assert_eq!(answered, 200, "every quick request answered");
}
