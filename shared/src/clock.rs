//! Time as the runtime uses it: wall-clock milliseconds since the Unix epoch (entry
//! timestamps, node incarnations, chat connection ids), and the pause between two rounds of a
//! background loop (gossip, liveness, anti-entropy), which a stopping node cuts short.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Waits `pause` before a background loop's next round: `true` when it is time for it,
/// `false` as soon as `shutdown` is cancelled (the node is stopping; the loop ends).
pub(crate) async fn next_round(shutdown: &CancellationToken, pause: Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep(pause) => true,
    }
}
