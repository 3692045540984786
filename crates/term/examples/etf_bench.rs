//! Times ETF decoding and encoding over a corpus written by
//! `tests/erl/nodus_corpus.erl` (records `<<Size:32, Flags:8, Etf/binary>>`).
//! Used by `bench/etf.sh`; prints lines the script reads:
//! `nodus <what> <rounds> <terms> <bytes> <microseconds>`.

use std::time::Instant;

use bytes::Bytes;
use nodus_term::etf;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(rounds)) = (args.next(), args.next()) else {
        eprintln!("usage: etf_bench CORPUS ROUNDS");
        std::process::exit(2);
    };
    let rounds: u32 = rounds.parse().unwrap_or(5);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("etf_bench: {path}: {e}");
            std::process::exit(2);
        }
    };
    let mut bins = Vec::new();
    let mut rest = &data[..];
    while rest.len() >= 4 {
        let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if rest.len() < 4 + n || n == 0 {
            break;
        }
        bins.push(Bytes::copy_from_slice(&rest[5..4 + n]));
        rest = &rest[4 + n..];
    }
    let bytes: usize = bins.iter().map(|b| b.len()).sum();
    let terms: Vec<_> = bins
        .iter()
        .map(|b| etf::decode(b).expect("corpus decodes"))
        .collect();
    let time = |what: &str, f: &dyn Fn()| {
        f();
        let t0 = Instant::now();
        for _ in 0..rounds {
            f();
        }
        let us = t0.elapsed().as_micros();
        println!("nodus {what} {rounds} {} {bytes} {us}", bins.len());
    };
    time("decode", &|| {
        for b in &bins {
            std::hint::black_box(etf::decode(b).ok());
        }
    });
    time("decode_zero_copy", &|| {
        for b in &bins {
            std::hint::black_box(etf::decode_bytes(b).ok());
        }
    });
    time("encode", &|| {
        for t in &terms {
            std::hint::black_box(etf::encode(t).ok());
        }
    });
}
