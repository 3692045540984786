//! `nodus term encode|decode`.

use std::io::{Read, Write};

use anyhow::Context;
use clap::Subcommand;
use nodus_term::etf::{self, AtomEncoding, EncodeOptions, Limits};
use nodus_term::text;

/// The `term` subcommands.
#[derive(Subcommand)]
pub enum TermCmd {
    /// Read one term as Erlang text on stdin; write its External Term Format on stdout.
    Encode {
        /// Compress as `term_to_binary(T, [compressed])` does.
        #[arg(long)]
        compressed: bool,
        /// Write atoms as OTP 26 does (always UTF-8).
        #[arg(long)]
        otp26: bool,
    },
    /// Read the External Term Format on stdin; write the term as Erlang text ending with `.`.
    Decode,
}

/// Runs a `term` subcommand.
pub fn run(cmd: TermCmd, input: &mut dyn Read, out: &mut dyn Write) -> anyhow::Result<()> {
    let limit = Limits::DEFAULT.max_size;
    let data = crate::read_limited(input, limit)?;
    match cmd {
        TermCmd::Encode { compressed, otp26 } => {
            let src = String::from_utf8(data).context("input is not UTF-8")?;
            let term = text::parse_term(&src).context("cannot parse the term on stdin")?;
            let opts = EncodeOptions {
                atoms: if otp26 {
                    AtomEncoding::Utf8
                } else {
                    AtomEncoding::Otp25
                },
                compressed: compressed.then_some(6),
            };
            let bytes = etf::encode_with(&term, opts)?;
            out.write_all(&bytes)?;
        }
        TermCmd::Decode => {
            let term = etf::decode(&data).context("cannot decode the term on stdin")?;
            writeln!(out, "{term}.")?;
        }
    }
    out.flush()?;
    Ok(())
}
