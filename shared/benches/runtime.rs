//! The runtime's own speed, on the workload riak_core_lite was measured on, so that the figures
//! compare: one node in-process, a ring of 64, 200,000 operations per line on distinct keys
//! with 64-byte values, spread over 1 and then 8 concurrent callers.
//!
//! Lines (each printed once for 1 caller and once for 8):
//!
//! - `ping`: hash the key, take its primary (`primary_apl`, n=1), `sync_command` a ping to it;
//! - `ping_onevnode`: `sync_command` a ping to one fixed vnode, with no routing at all;
//! - `store_n1`: `Streams::post` of a 64-byte payload with N=W=R=1 (the primary vnode appends
//!   to its stream store, a `write(2)` per append);
//! - `fetch_n1`: `Streams::last(…, 1, N=1)` of the keys `store_n1` wrote;
//! - `store_n3w2`: `Streams::post` with N=3, W=2 (last-seq round, append, replication).
//!
//! Keys are `key-C-I` (C the caller's index, I the op's index within the caller) in bucket
//! `bench`, as in the riak_core_lite run. They are distinct within a line, not across lines:
//! the 8-caller line reuses caller 0's keys of the 1-caller line, and `store_n3w2` appends to
//! the streams `store_n1` created on their primary (while its two other replicas get new
//! streams).
//!
//! Every vnode of both vnode types is started before anything is timed, and every measured
//! line follows a warm-up pass of a tenth of its operations. Each operation is timed in its
//! caller, routing (SHA-1, preference list) included; the percentiles come from every single
//! operation's duration. No figure is checked against anything: this program only prints.
//!
//! The whole sequence runs 5 times, each time on a fresh node with an empty data directory,
//! and the figures printed last are the medians of the 5 runs, as riak_core_lite's were: on a
//! shared 2-core machine one run can be 30% off the next.
//!
//! Run it with `cargo bench -p ringcore` (about a minute on 2 cores, after the build), or for
//! a quick smoke run `RINGCORE_BENCH_OPS=2000 RINGCORE_BENCH_RUNS=1 cargo bench -p ringcore`. Line names after `--` pick lines:
//! `cargo bench -p ringcore --bench runtime -- store_n3w2` (a `fetch_n1` also runs
//! `store_n1`, which writes the keys it reads).

use ringcore::store::{Durability, StoreConfig};
use ringcore::streams::{Nwr, StreamCommand, Streams};
use ringcore::testing::ScratchDir;
use ringcore::{
    IndexNode, Node, NodeConfig, Partition, Vnode, VnodeContext, VnodeMaster, chash_key,
};
use std::fmt::Write;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RING_SIZE: u32 = 64;
const DEFAULT_OPS: usize = 200_000;
const DEFAULT_RUNS: usize = 5;
const VALUE_BYTES: usize = 64;
const CALLERS: [usize; 2] = [1, 8];
const BUCKET: &str = "bench";

/// The smallest vnode there is: it answers every ping with its partition.
struct PingVnode {
    partition: Partition,
}

impl Vnode for PingVnode {
    type Command = ();
    type Reply = Partition;
    type CoverageRequest = ();
    type CoverageReply = ();
    type HandoffItem = ();

    fn init(ctx: VnodeContext) -> Result<Self, String> {
        Ok(PingVnode {
            partition: ctx.partition,
        })
    }

    fn handle_command(&mut self, _ping: ()) -> Partition {
        self.partition
    }

    fn handle_coverage(&mut self, _request: ()) {}
}

/// What one line measured.
struct Figures {
    ops: usize,
    wall: Duration,
    /// Every operation's duration in nanoseconds, sorted.
    sorted_ns: Vec<u32>,
}

impl Figures {
    fn ops_per_s(&self) -> f64 {
        self.ops as f64 / self.wall.as_secs_f64()
    }

    /// The nearest-rank percentile, in microseconds.
    fn percentile_us(&self, p: f64) -> f64 {
        let n = self.sorted_ns.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        f64::from(self.sorted_ns[rank.clamp(1, n) - 1]) / 1000.0
    }
}

/// A finished line of one run.
struct Measured {
    line: &'static str,
    callers: usize,
    ops_s: f64,
    p50_us: f64,
    p99_us: f64,
}

/// riak_core_lite on the same 2-core machine, median of 5 runs: ops/s with 1 and 8 callers,
/// then p99 in µs with 1 and 8 callers.
const RIAK_CORE_LITE: [(&str, [f64; 4]); 5] = [
    ("ping", [172_000.0, 274_000.0, 13.0, 73.0]),
    ("ping_onevnode", [303_000.0, 438_000.0, 4.0, 50.0]),
    ("store_n1", [127_000.0, 211_000.0, 38.0, 142.0]),
    ("fetch_n1", [141_000.0, 215_000.0, 11.0, 117.0]),
    ("store_n3w2", [39_000.0, 81_000.0, 73.0, 426.0]),
];

fn main() {
    // The default worker count (one per core), as the riak_core_lite run had one scheduler
    // per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (ops, runs, lines) = (
        number_from_env("RINGCORE_BENCH_OPS", DEFAULT_OPS, CALLERS[1]),
        number_from_env("RINGCORE_BENCH_RUNS", DEFAULT_RUNS, 1),
        Lines::from_args(),
    );
    print_header(ops, runs);
    let mut every_run = Vec::new();
    for run in 1..=runs {
        every_run.push(runtime.block_on(one_run(ops, &lines, format!("run {run}/{runs}"))));
    }
    let medians = medians(&every_run);
    println!();
    println!("ringcore medians of {runs} run(s):");
    for m in &medians {
        println!(
            "ringcore {}_{}caller(s) ops_s={:.0} p50_us={:.1} p99_us={:.1}",
            m.line, m.callers, m.ops_s, m.p50_us, m.p99_us
        );
    }
    print_comparison(&medians, runs);
}

/// `name` from the environment (at least `min`), or `default`.
fn number_from_env(name: &str, default: usize, min: usize) -> usize {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .ok()
            .filter(|&n: &usize| n >= min)
            .unwrap_or_else(|| panic!("{name} must be a number ≥ {min}, not {text:?}")),
        Err(_) => default,
    }
}

/// For every line, the median of each figure over the runs (taken separately).
fn medians(runs: &[Vec<Measured>]) -> Vec<Measured> {
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        let middle = values.len() / 2;
        match values.len() % 2 {
            1 => values[middle],
            _ => (values[middle - 1] + values[middle]) / 2.0,
        }
    };
    runs[0]
        .iter()
        .map(|first| {
            let same: Vec<&Measured> = runs
                .iter()
                .flat_map(|run| run.iter())
                .filter(|m| m.line == first.line && m.callers == first.callers)
                .collect();
            Measured {
                line: first.line,
                callers: first.callers,
                ops_s: median(same.iter().map(|m| m.ops_s).collect()),
                p50_us: median(same.iter().map(|m| m.p50_us).collect()),
                p99_us: median(same.iter().map(|m| m.p99_us).collect()),
            }
        })
        .collect()
}

/// Which lines to run: those named on the command line, or all of them.
struct Lines(Vec<String>);

impl Lines {
    fn from_args() -> Self {
        // `cargo bench` adds `--bench`; every other word names a line.
        Lines(
            std::env::args()
                .skip(1)
                .filter(|arg| !arg.starts_with("--"))
                .collect(),
        )
    }

    fn wants(&self, line: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|word| word == line)
    }
}

/// Every line once, on a fresh node; prints each line as it is measured, tagged with `run`.
async fn one_run(ops: usize, lines: &Lines, run: String) -> Vec<Measured> {
    let scratch = ScratchDir::new("bench");
    let mut config = NodeConfig::for_test(1, scratch.path().join("dev1"));
    config.ring_size = RING_SIZE;
    let node = Node::start(config).await.expect("the node starts");
    let pings = node.register::<PingVnode>("ping_vnode");
    let streams = Arc::new(Streams::start(&node));
    start_every_vnode(&node, &pings, &streams).await;
    let run = run.as_str();

    let mut results = Vec::new();
    let n1 = Nwr::ONE;
    let n3w2 = Nwr { n: 3, w: 2, r: 2 };
    for callers in CALLERS {
        if lines.wants("ping") {
            results.push(ping_line(run, &pings, ops, callers).await);
        }
    }
    for callers in CALLERS {
        if lines.wants("ping_onevnode") {
            results.push(ping_onevnode_line(run, &pings, ops, callers).await);
        }
    }
    for callers in CALLERS {
        if lines.wants("store_n1") || lines.wants("fetch_n1") {
            results.push(store_line(run, "store_n1", &streams, n1, ops, callers).await);
        }
    }
    for callers in CALLERS {
        if lines.wants("fetch_n1") {
            results.push(fetch_line(run, &streams, ops, callers).await);
        }
    }
    for callers in CALLERS {
        if lines.wants("store_n3w2") {
            results.push(store_line(run, "store_n3w2", &streams, n3w2, ops, callers).await);
        }
    }
    // Stopping closes every partition store, which fsyncs what was written since the last
    // fsync: part of the cost of a store-heavy run, so it is shown rather than hidden. Likewise
    // the clean-up of everything the run wrote.
    let stopping = Instant::now();
    node.stop().await;
    let stopped = stopping.elapsed();
    let removing = Instant::now();
    drop(scratch);
    println!(
        "  {run}: node stop (stores fsync and close) took {:.1} s, data directory removed in {:.1} s",
        stopped.as_secs_f64(),
        removing.elapsed().as_secs_f64()
    );
    results
}

/// Sends one command to every partition of both vnode types, so that no measured operation
/// pays for starting a vnode or opening a store.
async fn start_every_vnode(node: &Node, pings: &VnodeMaster<PingVnode>, streams: &Streams) {
    for index in 0..RING_SIZE {
        let target = IndexNode {
            partition: Partition::new(index, RING_SIZE),
            node: node.name().clone(),
        };
        pings
            .sync_command(&target, ())
            .await
            .expect("a ping vnode starts");
        let command = StreamCommand::LastSeq {
            bucket: BUCKET.into(),
            stream: "start".into(),
        };
        streams
            .vnodes()
            .sync_command(&target, command)
            .await
            .expect("a stream vnode starts");
    }
}

fn print_header(ops: usize, runs: usize) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let durability = match StoreConfig::default().durability {
        Durability::Buffered => {
            "Buffered (write(2) per append before the ack; fsync on segment roll, flush and close)"
        }
        Durability::Fsync => "Fsync (fsync per append before the ack)",
    };
    println!(
        "ringcore bench: cores={cores} (tokio workers={cores}) ring_size={RING_SIZE} \
         ops_per_line={ops} value_bytes={VALUE_BYTES} runs={runs} durability={durability}"
    );
}

async fn ping_line(
    run: &str,
    pings: &VnodeMaster<PingVnode>,
    ops: usize,
    callers: usize,
) -> Measured {
    let service = pings.clone();
    let op = move |key: String| {
        let service = service.clone();
        async move {
            let hash = chash_key(b"ping", key.as_bytes());
            let preflist = service.primary_apl(&hash, 1);
            service
                .sync_command(&preflist[0].target, ())
                .await
                .expect("ping");
        }
    };
    line(run, "ping", ops, callers, op).await
}

async fn ping_onevnode_line(
    run: &str,
    pings: &VnodeMaster<PingVnode>,
    ops: usize,
    callers: usize,
) -> Measured {
    let service = pings.clone();
    let target = Arc::new(IndexNode {
        partition: Partition::new(0, RING_SIZE),
        node: service.node().name().clone(),
    });
    let op = move |_key: String| {
        let (service, target) = (service.clone(), Arc::clone(&target));
        async move {
            service.sync_command(&target, ()).await.expect("ping");
        }
    };
    line(run, "ping_onevnode", ops, callers, op).await
}

async fn store_line(
    run: &str,
    name: &'static str,
    streams: &Arc<Streams>,
    nwr: Nwr,
    ops: usize,
    callers: usize,
) -> Measured {
    let streams = Arc::clone(streams);
    let value = Arc::new(vec![b'v'; VALUE_BYTES]);
    let op = move |key: String| {
        let (streams, value) = (Arc::clone(&streams), Arc::clone(&value));
        async move {
            // `post` takes the payload by value, as a caller handing over its message would.
            let payload = value.to_vec();
            streams.post(BUCKET, &key, payload, nwr).await.expect(name);
        }
    };
    line(run, name, ops, callers, op).await
}

async fn fetch_line(run: &str, streams: &Arc<Streams>, ops: usize, callers: usize) -> Measured {
    let streams = Arc::clone(streams);
    let op = move |key: String| {
        let streams = Arc::clone(&streams);
        async move {
            let found = streams
                .last(BUCKET, &key, 1, Nwr::ONE)
                .await
                .expect("fetch");
            // A miss would measure less work than a fetch: every key was written by store_n1.
            assert_eq!(found.entries.len(), 1, "{key} was not stored");
        }
    };
    line(run, "fetch_n1", ops, callers, op).await
}

/// Runs a warm-up pass (keys `warm-C-I`, a tenth of the operations; `store_n1`'s warm-up
/// writes the keys `fetch_n1`'s reads), then the measured pass, and prints its line.
async fn line<F, Fut>(run: &str, name: &'static str, ops: usize, callers: usize, op: F) -> Measured
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let warm_up = (ops / 10).max(callers);
    measure("warm", warm_up, callers, op.clone()).await;
    let figures = measure("key", ops, callers, op).await;
    let (ops_s, p50_us, p99_us) = (
        figures.ops_per_s(),
        figures.percentile_us(50.0),
        figures.percentile_us(99.0),
    );
    println!(
        "  {run}: {name}_{callers}caller(s) ops_s={ops_s:.0} p50_us={p50_us:.1} p99_us={p99_us:.1}"
    );
    Measured {
        line: name,
        callers,
        ops_s,
        p50_us,
        p99_us,
    }
}

/// `ops` operations split evenly over `callers` concurrent tasks, each timing its own.
async fn measure<F, Fut>(prefix: &'static str, ops: usize, callers: usize, op: F) -> Figures
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let per_caller = ops / callers;
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|caller| tokio::spawn(caller_loop(prefix, caller, per_caller, op.clone())))
        .collect();
    let mut sorted_ns = Vec::with_capacity(per_caller * callers);
    for task in tasks {
        sorted_ns.extend(task.await.expect("a caller finishes"));
    }
    let wall = started.elapsed();
    sorted_ns.sort_unstable();
    Figures {
        ops: sorted_ns.len(),
        wall,
        sorted_ns,
    }
}

/// One caller: its operations one after the other, each timed from before routing to the
/// reply. The key is made before the clock starts: it is the caller's work, not the runtime's.
async fn caller_loop<F, Fut>(prefix: &str, caller: usize, ops: usize, op: F) -> Vec<u32>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut durations = Vec::with_capacity(ops);
    for i in 0..ops {
        // Room for the whole key up front: growing a string goes through `realloc`, which
        // takes the allocator's lock, and the callers share the runtime's two threads.
        let mut key = String::with_capacity(32);
        write!(key, "{prefix}-{caller}-{i}").expect("writing to a string");
        let started = Instant::now();
        op(key).await;
        let ns = started.elapsed().as_nanos();
        durations.push(u32::try_from(ns).unwrap_or(u32::MAX));
    }
    durations
}

/// Our figures next to riak_core_lite's, with ours/theirs: above 1 is better for ops/s, below
/// 1 is better for p99.
fn print_comparison(results: &[Measured], runs: usize) {
    println!();
    println!(
        "ringcore (median of {runs} run(s)) vs riak_core_lite (median of 5 runs), same 2-core machine"
    );
    println!(
        "{:<14} {:>24} {:>24} {:>20} {:>20}",
        "line", "ops/s 1 caller", "ops/s 8 callers", "p99 µs 1 caller", "p99 µs 8 callers"
    );
    println!(
        "{:<14} {:>24} {:>24} {:>20} {:>20}",
        "", "ours/riak=ratio", "ours/riak=ratio", "ours/riak=ratio", "ours/riak=ratio"
    );
    for (name, riak) in RIAK_CORE_LITE {
        let find = |callers| {
            results
                .iter()
                .find(|m| m.line == name && m.callers == callers)
        };
        let (Some(one), Some(eight)) = (find(1), find(8)) else {
            continue;
        };
        println!(
            "{:<14} {:>24} {:>24} {:>20} {:>20}",
            name,
            compare_ops(one.ops_s, riak[0]),
            compare_ops(eight.ops_s, riak[1]),
            compare_us(one.p99_us, riak[2]),
            compare_us(eight.p99_us, riak[3]),
        );
    }
    println!("(ops/s: ratio above 1 means faster than riak_core_lite; p99: below 1 means faster)");
}

fn compare_ops(ours: f64, theirs: f64) -> String {
    format!(
        "{}k/{}k={:.2}",
        (ours / 1000.0).round(),
        (theirs / 1000.0).round(),
        ours / theirs
    )
}

fn compare_us(ours: f64, theirs: f64) -> String {
    format!("{ours:.1}/{theirs:.0}={:.2}", ours / theirs)
}
