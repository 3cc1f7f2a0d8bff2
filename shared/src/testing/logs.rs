//! The log lines of a test's cluster, captured for the test to read: what a user would see in
//! the terminal of a devrel, for tests of what the runtime logs.
//!
//! The lines are captured per runtime, not per process (tests of one binary run side by
//! side): [`CapturedLogs::run`] runs the test on a runtime of its own whose threads, and the
//! test's thread, log to the capture.

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use tracing::Dispatch;
use tracing_subscriber::EnvFilter;

/// Captured log lines, formatted as a node prints them (without the time).
pub struct CapturedLogs {
    buffer: Arc<Mutex<Vec<u8>>>,
    dispatch: Dispatch,
}

impl CapturedLogs {
    /// Captures what passes `filter`, in `RUST_LOG` syntax (e.g. `ringcore=debug`).
    pub fn new(filter: &str) -> Self {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buffer);
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(filter))
            .with_writer(move || Sink(Arc::clone(&sink)))
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .finish();
        CapturedLogs {
            buffer,
            dispatch: Dispatch::new(subscriber),
        }
    }

    /// Runs `test` to the end on a runtime like `#[tokio::test(flavor = "multi_thread",
    /// worker_threads = 2)]`'s, capturing what it logs.
    pub fn run<F: Future>(&self, test: F) -> F::Output {
        let dispatch = self.dispatch.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            // Every thread of the runtime (workers, blocking threads) logs here for its whole
            // life, which ends with the runtime.
            .on_thread_start(move || std::mem::forget(tracing::dispatcher::set_default(&dispatch)))
            .build()
            .expect("a runtime");
        let _here = tracing::dispatcher::set_default(&self.dispatch);
        runtime.block_on(test)
    }

    /// Every line captured so far.
    pub fn lines(&self) -> Vec<String> {
        let buffer = self.buffer.lock().expect("captured logs");
        String::from_utf8_lossy(&buffer)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The lines captured so far that contain `text`.
    pub fn matching(&self, text: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|line| line.contains(text))
            .collect()
    }
}

/// Appends what the subscriber writes to the shared buffer.
struct Sink(Arc<Mutex<Vec<u8>>>);

impl io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .expect("captured logs")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
