//! `nodus`: the command-line tool of nodus.

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod term_cmd;

/// Erlang-style clustering for Rust.
#[derive(Parser)]
#[command(name = "nodus", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert terms between Erlang text and the External Term Format.
    #[command(subcommand)]
    Term(term_cmd::TermCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Term(cmd) => term_cmd::run(
            cmd,
            &mut std::io::stdin().lock(),
            &mut std::io::stdout().lock(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "nodus: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Reads all of standard input, up to `limit` bytes.
pub(crate) fn read_limited(input: &mut dyn Read, limit: usize) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    input.take(limit as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > limit {
        anyhow::bail!("input is larger than {limit} bytes");
    }
    Ok(buf)
}
