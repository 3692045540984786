//! The physical ceiling for `bench/dist.sh`: loopback TCP ping-pong of
//! small frames and a bulk transfer, with blocking std sockets and no
//! protocol. Prints `result <metric> <value>` lines.
//!
//! The far end runs in a second process, as the far node does in every
//! other column of the table (`rtt_*`, `bulk_*`); the same ping-pong with
//! the far end in a thread of this process is printed too
//! (`rtt_threads_*`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

const RTT: usize = 5_000;
/// Untimed round trips first, as in `dist_bench`.
const WARMUP: usize = 1_000;
const BULK: usize = 512 << 20;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, addr] = args.as_slice() {
        if mode == "serve" {
            let s = TcpStream::connect(addr)?;
            return serve(s, true);
        }
    }
    // The far end in another process.
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?.to_string();
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["serve", &addr])
        .spawn()?;
    let (c, _) = l.accept()?;
    // The bulk transfer first, then the ping-pong: the order in which
    // `dist_bench` clients measure.
    println!("result bulk_MB_per_s {:.1}", bulk(&c)?);
    let (p50, p99) = ping_pong(&c)?;
    println!("result rtt_p50_us {p50:.1}");
    println!("result rtt_p99_us {p99:.1}");
    child.wait()?;
    // The far end in a thread.
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    let server = std::thread::spawn(move || serve(TcpStream::connect(addr)?, false));
    let (c, _) = l.accept()?;
    let (p50, p99) = ping_pong(&c)?;
    println!("result rtt_threads_p50_us {p50:.1}");
    println!("result rtt_threads_p99_us {p99:.1}");
    drop(c);
    server
        .join()
        .map_err(|_| std::io::Error::other("server thread"))??;
    Ok(())
}

/// The far end: (with `sink`) counts the bulk transfer and answers one
/// byte at its end, then echoes the ping-pong.
fn serve(mut s: TcpStream, sink: bool) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    if sink {
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0;
        while got < BULK {
            let n = s.read(&mut buf)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        s.write_all(&[1])?;
    }
    let mut b = [0u8; 8];
    for _ in 0..WARMUP + RTT {
        s.read_exact(&mut b)?;
        s.write_all(&b)?;
    }
    Ok(())
}

/// Round trips of 8 bytes: (p50, p99) in microseconds.
fn ping_pong(mut c: &TcpStream) -> std::io::Result<(f64, f64)> {
    c.set_nodelay(true)?;
    let mut lat = Vec::with_capacity(WARMUP + RTT);
    let mut b = [0u8; 8];
    for _ in 0..WARMUP + RTT {
        let t0 = Instant::now();
        c.write_all(&b)?;
        c.read_exact(&mut b)?;
        lat.push(t0.elapsed());
    }
    let mut lat = lat.split_off(WARMUP);
    lat.sort();
    let p = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6;
    Ok((p(0.5), p(0.99)))
}

/// MB/s of a one-way transfer in 1 MiB writes, until the far end says it
/// has it all.
fn bulk(mut c: &TcpStream) -> std::io::Result<f64> {
    let chunk = vec![1u8; 1 << 20];
    let t0 = Instant::now();
    for _ in 0..(BULK >> 20) {
        c.write_all(&chunk)?;
    }
    let mut b = [0u8; 1];
    c.read_exact(&mut b)?;
    Ok(BULK as f64 / t0.elapsed().as_secs_f64() / 1e6)
}
