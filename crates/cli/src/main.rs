//! `nodus`: the command-line tool of nodus (see the `nodus_cli` library).

fn main() -> std::process::ExitCode {
    nodus_cli::main_with(Vec::new())
}
