//! The physical ceiling for `bench/dist.sh`: loopback TCP ping-pong of
//! small frames and a bulk transfer, with std sockets and no protocol.
//! Prints `result <metric> <value>` lines.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

const RTT: usize = 5_000;
/// Untimed round trips first, as in `dist_bench`.
const WARMUP: usize = 1_000;
const BULK: usize = 512 << 20;

fn main() -> std::io::Result<()> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = l.accept()?;
        s.set_nodelay(true)?;
        let mut b = [0u8; 8];
        for _ in 0..WARMUP + RTT {
            s.read_exact(&mut b)?;
            s.write_all(&b)?;
        }
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
        Ok(())
    });
    let mut c = TcpStream::connect(addr)?;
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
    println!("result rtt_p50_us {:.1}", p(0.5));
    println!("result rtt_p99_us {:.1}", p(0.99));
    let chunk = vec![1u8; 1 << 20];
    let t0 = Instant::now();
    for _ in 0..(BULK >> 20) {
        c.write_all(&chunk)?;
    }
    c.read_exact(&mut b[..1])?;
    println!(
        "result bulk_MB_per_s {:.1}",
        BULK as f64 / t0.elapsed().as_secs_f64() / 1e6
    );
    server
        .join()
        .map_err(|_| std::io::Error::other("server thread"))??;
    Ok(())
}
