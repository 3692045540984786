//! `nodus`: the command-line tool of nodus (see the `nodus_cli` library).

/// mimalloc: many small, short-lived allocations (messages, terms, process
/// state) from several threads; it is faster there than glibc's malloc and
/// keeps an idle process smaller (see `bench/RESULTS.md`).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    nodus_cli::main_with(Vec::new())
}
