//! What the benchmark programs share: their settings from the environment, and the runtime
//! they run on.

use std::future::Future;

/// The setting `name` from the environment (e.g. `RINGCORE_BENCH_LISTENERS=300`), or
/// `default`.
pub fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `bench` on a multi-threaded Tokio runtime, as a node runs.
pub fn run_on_runtime(bench: impl Future<Output = ()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench);
}
