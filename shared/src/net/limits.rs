//! What one client may take of a node's listener, so that no client — a buggy tool, a peer
//! that stopped reading, someone who found the port — can grow the node's memory or hold its
//! connections without bound. Each limit is configurable and logged when it bites.
//!
//! - **Connections**: at most `max_connections` open at once; one more is closed as soon as
//!   it is accepted.
//! - **Requests in flight**: at most `max_in_flight` requests of one connection are being
//!   answered or wait to be written back. When that many are, the node stops reading the
//!   connection: the caller's sends back up in TCP (backpressure, not buffering).
//! - **A caller that does not read**: an answer that cannot be written for `write_timeout`
//!   closes the connection, and everything it held is freed.
//! - **Idle connections**: a connection with no request for `idle_timeout`, and none in
//!   flight, is closed. Nodes ping each other far more often; a tool opens one per command.
//!
//! The HTTP API has its own ([`HttpLimits`]): connections at once, the time a client may
//! take to send a request's headers (a client that sends them a byte every few seconds is
//! cut off), and the time a whole request may take, its body included.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The limits of one listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub max_in_flight: usize,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_in_flight: 64,
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// The limits of an HTTP listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    pub max_connections: usize,
    /// How long a request's headers may take to arrive, the first request's or the next one
    /// on a kept-alive connection.
    pub header_timeout: Duration,
    /// How long a request may take until its answer starts, its body included; a live feed
    /// then streams for as long as it likes.
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Counts the times a limit bit, and says when to log it: the first time, then at most once
/// per `every`, with how many times it bit since the last line — so that a flood of
/// refusals is a line every few seconds, not a line per refusal.
#[derive(Debug)]
pub(crate) struct Bites {
    count: AtomicU64,
    told: AtomicU64,
    last_told_ms: AtomicU64,
    every: Duration,
}

impl Bites {
    pub(crate) fn new(every: Duration) -> Self {
        Bites {
            count: AtomicU64::new(0),
            told: AtomicU64::new(0),
            last_told_ms: AtomicU64::new(0),
            every,
        }
    }

    /// Notes one more bite at `now_ms`; `Some(n)`: log a line now, for the `n` bites since
    /// the last one.
    pub(crate) fn bite(&self, now_ms: u64) -> Option<u64> {
        let count = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let last = self.last_told_ms.load(Ordering::Relaxed);
        let first = self.told.load(Ordering::Relaxed) == 0;
        let due = first || now_ms.saturating_sub(last) >= self.every.as_millis() as u64;
        if due
            && self
                .last_told_ms
                .compare_exchange(last, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let told = self.told.swap(count, Ordering::Relaxed);
            return Some(count - told);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bite_is_told_the_first_time_then_once_per_period_with_a_count() {
        let bites = Bites::new(Duration::from_secs(10));
        assert_eq!(bites.bite(1_000), Some(1));
        assert_eq!(bites.bite(2_000), None);
        assert_eq!(bites.bite(5_000), None);
        assert_eq!(bites.bite(11_000), Some(3));
        assert_eq!(bites.bite(12_000), None);
        assert_eq!(bites.bite(21_500), Some(2));
    }
}
