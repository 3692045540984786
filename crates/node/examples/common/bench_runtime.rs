//! The runtime the benchmark examples run on: tokio's multi-thread
//! runtime with 2 workers (BEAM's 2 schedulers on these machines), or one
//! thread with `NODUS_RUNTIME=current` (the runtime `nodus start` uses).

/// The runtime `NODUS_RUNTIME` asks for.
pub fn build() -> std::io::Result<tokio::runtime::Runtime> {
    if std::env::var("NODUS_RUNTIME").is_ok_and(|v| v == "current") {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    }
}
