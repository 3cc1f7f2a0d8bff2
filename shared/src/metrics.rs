//! The node's own counters, served at `GET /metrics` in the Prometheus text format
//! (OpenMetrics): what it did since it started, counted where it happens, cheaply (an atomic
//! add), and only for this node — a scrape never asks another node anything.
//!
//! | metric | what |
//! |---|---|
//! | `ring_requests_total{op, outcome}` | the stream database's requests through this node: `op` post, read, last, list; `outcome` ok or the error's kind |
//! | `ring_request_duration_seconds{op}` | how long they took (a histogram), for reads and writes |
//! | `ring_quorum_failures_total{op}` | requests that did not get their W or R replicas |
//! | `ring_read_repairs_total` | entries sent to a replica that lacked them, by read repair |
//! | `ring_anti_entropy_repairs_total` | entries copied between replicas by anti-entropy |
//! | `ring_handoff_objects_total`, `ring_handoff_bytes_total` | what this node handed off |
//! | `ring_connections{listener}` | connections open now on the cluster and HTTP ports |
//! | `ring_slow_listeners_dropped_total` | WebSocket listeners dropped because they did not read (`http/listen_ws.rs`) |
//! | `ring_vnodes_running`, `ring_ring_version`, `ring_members_down` | read at each scrape |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A request's operation and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub op: &'static str,
    pub outcome: &'static str,
}

/// An operation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Op {
    pub op: &'static str,
}

/// A listener: `cluster` or `http`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Listener {
    pub listener: &'static str,
}

type Latency = Family<Op, LatencyHistogram, fn() -> LatencyHistogram>;

/// The counters of one node. Each clone of a metric is the same metric.
pub struct Metrics {
    registry: Registry,
    /// The metrics of each of [`OPS`], looked up once.
    ops: Vec<(&'static str, OpMetrics)>,
    pub requests: Family<Outcome, Counter>,
    pub latency: Latency,
    pub quorum_failures: Family<Op, Counter>,
    pub read_repairs: Counter,
    pub anti_entropy_repairs: Counter,
    pub handoff_objects: Counter,
    pub handoff_bytes: Counter,
    pub connections: Family<Listener, Gauge>,
    pub slow_listeners_dropped: Counter,
    pub vnodes_running: Gauge,
    pub ring_version: Gauge,
    pub members_down: Gauge,
}

/// A histogram of durations: 100 µs … about 13 s, doubling. Observing is a few atomic adds
/// with no lock (prometheus-client's histogram takes a lock per observation, which the
/// stream database's requests felt: 10% fewer writes a second with 8 callers).
#[derive(Clone, Debug)]
pub struct LatencyHistogram(Arc<Buckets>);

#[derive(Debug)]
struct Buckets {
    /// Upper bounds, in seconds; one more bucket past the last holds the rest (`+Inf`).
    bounds: Vec<f64>,
    counts: Vec<AtomicU64>,
    sum_nanos: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        let bounds: Vec<f64> = (0..18).map(|i| 0.0001 * f64::from(1u32 << i)).collect();
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        LatencyHistogram(Arc::new(Buckets {
            bounds,
            counts,
            sum_nanos: AtomicU64::new(0),
        }))
    }
}

impl LatencyHistogram {
    /// Counts one duration.
    pub fn observe(&self, took: Duration) {
        let buckets = &self.0;
        let seconds = took.as_secs_f64();
        let at = buckets.bounds.partition_point(|bound| *bound < seconds);
        buckets.counts[at].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        buckets.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// How many durations were counted, and their sum.
    pub fn total(&self) -> (u64, Duration) {
        let buckets = &self.0;
        let count = buckets
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum();
        let sum = Duration::from_nanos(buckets.sum_nanos.load(Ordering::Relaxed));
        (count, sum)
    }
}

impl TypedMetric for LatencyHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets = &self.0;
        let counts: Vec<u64> = buckets
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let upper = buckets.bounds.iter().copied().chain([f64::MAX]);
        let pairs: Vec<(f64, u64)> = upper.zip(counts.iter().copied()).collect();
        let sum = buckets.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, counts.iter().sum(), &pairs, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ring");
        let requests = Family::<Outcome, Counter>::default();
        let latency: Latency = Family::new_with_constructor(LatencyHistogram::default);
        let quorum_failures = Family::<Op, Counter>::default();
        let (read_repairs, anti_entropy_repairs) = (Counter::default(), Counter::default());
        let (handoff_objects, handoff_bytes) = (Counter::default(), Counter::default());
        let connections = Family::<Listener, Gauge>::default();
        let slow_listeners_dropped = Counter::default();
        let (vnodes_running, ring_version, members_down) =
            (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register(
            "requests",
            "Stream database requests through this node",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "How long reads and writes took",
            latency.clone(),
        );
        registry.register(
            "quorum_failures",
            "Requests that missed their W or R replicas",
            quorum_failures.clone(),
        );
        registry.register(
            "read_repairs",
            "Entries sent to replicas that lacked them, by read repair",
            read_repairs.clone(),
        );
        registry.register(
            "anti_entropy_repairs",
            "Entries copied between replicas by anti-entropy",
            anti_entropy_repairs.clone(),
        );
        registry.register(
            "handoff_objects",
            "Objects this node handed off",
            handoff_objects.clone(),
        );
        registry.register(
            "handoff_bytes",
            "Bytes this node handed off",
            handoff_bytes.clone(),
        );
        registry.register(
            "connections",
            "Connections open now, by listener",
            connections.clone(),
        );
        registry.register(
            "slow_listeners_dropped",
            "WebSocket listeners dropped because they did not read",
            slow_listeners_dropped.clone(),
        );
        registry.register(
            "vnodes_running",
            "Vnodes started on this node",
            vnodes_running.clone(),
        );
        registry.register(
            "ring_version",
            "The version of the ring this node holds",
            ring_version.clone(),
        );
        registry.register(
            "members_down",
            "Members this node sees down",
            members_down.clone(),
        );
        let ops = OPS
            .iter()
            .map(|&op| {
                let ok = requests
                    .get_or_create(&Outcome { op, outcome: "ok" })
                    .clone();
                let latency = latency.get_or_create(&Op { op }).clone();
                (op, OpMetrics { ok, latency })
            })
            .collect();
        Metrics {
            registry,
            ops,
            requests,
            latency,
            quorum_failures,
            read_repairs,
            anti_entropy_repairs,
            handoff_objects,
            handoff_bytes,
            connections,
            slow_listeners_dropped,
            vnodes_running,
            ring_version,
            members_down,
        }
    }
}

/// The operations counted, whose metrics are looked up once, when the node starts: counting a
/// request is then an atomic add and a histogram's observation, with no label to hash.
pub const OPS: [&str; 5] = ["post", "read", "last", "list", "delete"];

/// The metrics of one operation, ready to count.
#[derive(Clone)]
struct OpMetrics {
    ok: Counter,
    latency: LatencyHistogram,
}

impl Metrics {
    /// Counts one request of `op` that took `took` and ended with `outcome` (`ok`, or its
    /// error's kind).
    pub fn request(&self, op: &'static str, outcome: &'static str, took: Duration) {
        match self.ops.iter().find(|(name, _)| *name == op) {
            Some((_, metrics)) => {
                if outcome == "ok" {
                    metrics.ok.inc();
                } else {
                    self.requests.get_or_create(&Outcome { op, outcome }).inc();
                }
                metrics.latency.observe(took);
            }
            None => {
                self.requests.get_or_create(&Outcome { op, outcome }).inc();
                self.latency.get_or_create(&Op { op }).observe(took);
            }
        }
    }

    /// How many requests of `op` (one of [`OPS`]) this node counted, whatever their outcome,
    /// and how long they took together: what the ring page's charts draw rates from.
    pub fn requests_of(&self, op: &'static str) -> (u64, Duration) {
        self.ops
            .iter()
            .find(|(name, _)| *name == op)
            .map_or((0, Duration::ZERO), |(_, metrics)| metrics.latency.total())
    }

    /// A connection opened on `listener`; it counts until the guard is dropped.
    pub fn connection(&self, listener: &'static str) -> ConnectionGuard {
        let gauge = self
            .connections
            .get_or_create(&Listener { listener })
            .clone();
        gauge.inc();
        ConnectionGuard(gauge)
    }

    /// Everything, in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }
}

/// Counts one open connection while it lives.
pub struct ConnectionGuard(Gauge);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_connections_show_in_the_text() {
        let metrics = Metrics::default();
        metrics.request("post", "ok", Duration::from_millis(3));
        metrics.request("post", "ok", Duration::from_millis(5));
        metrics.request("read", "unavailable", Duration::from_secs(5));
        let open = metrics.connection("http");
        let text = metrics.render();
        assert!(
            text.contains(r#"ring_requests_total{op="post",outcome="ok"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"ring_requests_total{op="read",outcome="unavailable"} 1"#));
        assert!(
            text.contains(r#"ring_request_duration_seconds_count{op="post"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"ring_connections{listener="http"} 1"#),
            "{text}"
        );
        drop(open);
        assert!(
            metrics
                .render()
                .contains(r#"ring_connections{listener="http"} 0"#)
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn requests_of_an_op_count_every_outcome_and_add_up_their_time() {
        let metrics = Metrics::default();
        metrics.request("post", "ok", Duration::from_millis(3));
        metrics.request("post", "unavailable", Duration::from_millis(7));
        metrics.request("read", "ok", Duration::from_millis(1));
        assert_eq!(metrics.requests_of("post"), (2, Duration::from_millis(10)));
        assert_eq!(metrics.requests_of("read"), (1, Duration::from_millis(1)));
        assert_eq!(metrics.requests_of("list"), (0, Duration::ZERO));
    }
}
