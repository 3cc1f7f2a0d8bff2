//! The fault suite (issue 11: "nothing acknowledged is ever lost").
//!
//! Each scenario runs a 3-node cluster of the stream database (N=3, W=2), starts concurrent
//! writers that record every attempt (a unique payload each, and whether it was acknowledged,
//! failed, or timed out), breaks the cluster while they write — a node killed and restarted,
//! a node stalled, the network partitioned, a node joining and another leaving, the receiver
//! of a handoff killed mid-transfer — heals it, and reads every stream back through every
//! node with R=2 and R=1. The verdict line says what it found:
//!
//! ```text
//! acknowledged 4123, lost 0, duplicated 0, concurrent 3 (kept both), unconverged 0, failed 12, indeterminate 2
//! ```
//!
//! and the scenario fails unless nothing acknowledged was lost, nothing was stored twice, and
//! every read through every node returns the same entries in the same order (within a
//! deadline: replicas converge in the background). See `ringcore::testing::history`.
//!
//! Run it, with the verdicts shown:
//!
//! ```text
//! cargo test -p ringcore --test faults -- --nocapture
//! cargo test -p ringcore --test faults -- --ignored --nocapture     # the longer soak runs
//! ```
//!
//! Every scenario draws its schedule (which node, how long) from a seed it prints; run it
//! again with `RINGCORE_SEED=<seed>` to replay the same schedule.

mod common;

use common::{DbApp, WhoApp};
use ringcore::net::wire::TransferStatus;
use ringcore::streams::Nwr;
use ringcore::testing::{
    Attempt, History, Outcome, Rng, Route, TestCluster, Verdict, Workload, Writers, seed_from_env,
    wait_until,
};
use ringcore::{Error, NodeName};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the checker waits for every read to agree once the faults are over.
const CONVERGE_WITHIN: Duration = Duration::from_secs(60);

/// How much a scenario does: quick for every test run, longer for a soak.
#[derive(Clone, Copy)]
struct Size {
    /// Faults in a row (kills, stalls, partitions…).
    faults: usize,
    /// Writes acknowledged before, during and after each fault.
    writes: usize,
    /// How long a fault lasts, at least and at most.
    hold: (Duration, Duration),
}

const QUICK: Size = Size {
    faults: 3,
    writes: 300,
    hold: (Duration::from_millis(500), Duration::from_millis(1500)),
};

const SOAK: Size = Size {
    faults: 8,
    writes: 1000,
    hold: (Duration::from_millis(500), Duration::from_secs(4)),
};

/// A running scenario: its cluster, its seeded dice, its writers.
struct Scenario {
    name: &'static str,
    started: Instant,
    rng: Rng,
    cluster: TestCluster<DbApp>,
    workload: Workload<DbApp>,
    writers: Writers,
}

impl Scenario {
    /// Starts a joined 3-node cluster (configured by `adjust`) and the writers (six, over
    /// four streams, unless `tune` changes that).
    async fn begin(
        name: &'static str,
        adjust: impl Fn(&mut ringcore::NodeConfig),
        tune: impl FnOnce(Workload<DbApp>) -> Workload<DbApp>,
    ) -> Scenario {
        let seed = seed_from_env();
        // The test harness names the thread after the test: the name to replay it by.
        let test = std::thread::current().name().unwrap_or(name).to_string();
        println!(
            "{name}: seed {seed} (replay: RINGCORE_SEED={seed} cargo test -p ringcore --test faults -- --exact {test} --nocapture)"
        );
        let started = Instant::now();
        let cluster = TestCluster::<DbApp>::start_joined_with(3, adjust).await;
        let workload = tune(Workload::new(name, seed, |app: &DbApp| app.db.clone()).writers(6));
        let writers = Writers::start(cluster.targets(), &workload);
        Scenario {
            name,
            started,
            rng: Rng::new(seed),
            cluster,
            workload,
            writers,
        }
    }

    /// One of devK for K in `low..=high`, drawn from the scenario's dice.
    fn any_node(&mut self, low: u32, high: u32) -> u32 {
        self.rng.between(low as u64, high as u64) as u32
    }

    fn hold_time(&mut self, size: Size) -> Duration {
        self.rng.duration(size.hold.0, size.hold.1)
    }

    /// Waits until every running node takes every other for up.
    async fn wait_all_up(&self) {
        let cluster = &self.cluster;
        wait_until("every node sees every other up", || async {
            cluster.running_nodes().all(|n| n.down_nodes().is_empty())
        })
        .await;
    }

    /// Heals the network, lets the writers work a little longer, stops them and judges what
    /// every node reads back.
    async fn finish(self, size: Size) -> Verdict {
        self.cluster.heal();
        self.wait_all_up().await;
        self.writers.wait_for_more(size.writes).await;
        let history = self.writers.stop().await;
        let verdict = self
            .workload
            .check(&self.cluster.targets(), &history, CONVERGE_WITHIN)
            .await;
        println!(
            "{}: {:.1} s, {} attempts",
            self.name,
            self.started.elapsed().as_secs_f64(),
            history.attempts.len()
        );
        self.cluster.stop().await;
        verdict
    }
}

/// How long a request waits for replicas: shorter than usual, so that writers stuck behind
/// a silent node come back (indeterminate) while the fault still lasts, and write again.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// How often a scenario's nodes run an anti-entropy exchange: a node goes round its ~21 key
/// ranges in about two seconds, where a real node (one a second) takes about twenty.
const ANTI_ENTROPY: Duration = Duration::from_millis(100);

/// The nodes of a scenario: test nodes (quick background ticks) with a shorter timeout, and
/// anti-entropy on, as on the real database: without it a replica that missed writes while
/// it was down or cut off stays behind until a read happens to repair it.
fn scenario_node(config: &mut ringcore::NodeConfig) {
    config.request_timeout = REQUEST_TIMEOUT;
    config.anti_entropy = Some(ANTI_ENTROPY);
}

// The switch itself: a cut link behaves like a silent peer.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_is_silence_until_the_deadline_not_an_error() {
    let wait = Duration::from_millis(600);
    let cluster = TestCluster::<WhoApp>::start_joined_with(2, |c| c.request_timeout = wait).await;
    let (dev1, dev2) = (cluster.node(1), cluster.node(2));
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    dev2.register_mailbox("probe", move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    let send = || async {
        let started = Instant::now();
        let result = dev1.deliver(dev2.name(), "probe", vec![1]).await;
        (result, started.elapsed())
    };
    assert!(send().await.0.is_ok());
    assert_eq!(received.load(Ordering::Relaxed), 1);

    // dev1 → dev2 cut: the request never arrives, and dev1 hears nothing until its deadline.
    cluster.faults().block(dev1.name(), dev2.name());
    let (result, took) = send().await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(took >= wait, "answered after {took:?}, before the deadline");
    assert_eq!(received.load(Ordering::Relaxed), 1, "not delivered");

    // dev2 → dev1 cut: the request is carried out, but its answer is lost on the way back.
    cluster.heal();
    cluster.faults().block(dev2.name(), dev1.name());
    let (result, took) = send().await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(took >= wait, "answered after {took:?}, before the deadline");
    assert_eq!(received.load(Ordering::Relaxed), 2, "delivered");

    cluster.heal();
    assert!(send().await.0.is_ok());
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_node_is_seen_down_and_then_up_again() {
    let cluster = TestCluster::<WhoApp>::start_joined(3).await;
    let dev3 = cluster.name(3);
    cluster.stall(3);
    wait_until(
        "dev1 and dev2 see dev3 down, and dev3 sees them down",
        || async {
            !cluster.node(1).is_up(&dev3)
                && !cluster.node(2).is_up(&dev3)
                && cluster.node(3).down_nodes().len() == 2
        },
    )
    .await;
    assert!(
        cluster.node(1).is_up(&cluster.name(2)),
        "dev1 and dev2 still talk"
    );
    cluster.unstall(3);
    wait_until("everyone is up again", || async {
        cluster.running_nodes().all(|n| n.down_nodes().is_empty())
    })
    .await;
    cluster.stop().await;
}

// (a) A node crashes and comes back, a few times, under writes.

async fn kill_and_restart(name: &'static str, size: Size) -> Verdict {
    // Round robin: every node coordinates writes in turn, the restarted one included.
    let mut s = Scenario::begin(name, scenario_node, |w| w.route(Route::RoundRobin)).await;
    s.writers.wait_for_more(size.writes).await;
    for _ in 0..size.faults {
        let k = s.any_node(1, 3);
        let hold = s.hold_time(size);
        println!("{name}: kill dev{k} for {hold:?}");
        s.cluster.kill(k).await;
        s.cluster.hold(hold).await;
        // The others must have taken writes while it was away.
        s.writers.wait_for_more(size.writes / 2).await;
        s.cluster.restart(k).await;
        s.writers.wait_for_more(size.writes).await;
    }
    s.finish(size).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_and_restarted_loses_nothing() {
    kill_and_restart("kill_restart", QUICK).await.assert_holds();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: run with --ignored"]
async fn soak_nodes_killed_and_restarted_lose_nothing() {
    kill_and_restart("soak_kill_restart", SOAK)
        .await
        .assert_holds();
}

// (b) A node stalls: it runs, but nobody hears it, for a few seconds.

async fn stall(name: &'static str, size: Size, stall_for: Duration) -> Verdict {
    let mut s = Scenario::begin(name, scenario_node, |w| w).await;
    s.writers.wait_for_more(size.writes).await;
    for _ in 0..size.faults.div_ceil(2) {
        let k = s.any_node(1, 3);
        println!("{name}: stall dev{k} for {stall_for:?}");
        s.cluster.stall(k);
        s.cluster.hold(stall_for).await;
        s.writers.wait_for_more(size.writes / 2).await;
        s.cluster.unstall(k);
        s.wait_all_up().await;
        s.writers.wait_for_more(size.writes).await;
    }
    s.finish(size).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_node_loses_nothing() {
    stall("stall", QUICK, Duration::from_secs(3))
        .await
        .assert_holds();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: run with --ignored"]
async fn soak_stalled_nodes_lose_nothing() {
    stall("soak_stall", SOAK, Duration::from_secs(6))
        .await
        .assert_holds();
}

// (c) The network splits dev1 from dev2 and dev3; the writers write through both sides.

async fn partition(name: &'static str, size: Size) -> Verdict {
    let mut s = Scenario::begin(name, scenario_node, |w| w).await;
    s.writers.wait_for_more(size.writes).await;
    for round in 0..size.faults.div_ceil(2) {
        // The first split is the issue's, {dev1} | {dev2, dev3}; later ones draw the lone node.
        let alone = if round == 0 { 1 } else { s.any_node(1, 3) };
        let rest: Vec<u32> = (1..=3).filter(|k| *k != alone).collect();
        let hold = s.hold_time(size).max(Duration::from_secs(2));
        println!("{name}: partition {{dev{alone}}} | {rest:?} for {hold:?}");
        s.cluster.partition(&[&[alone], &rest]);
        s.cluster.hold(hold).await;
        s.writers.wait_for_more(size.writes / 2).await;
        s.cluster.heal();
        s.wait_all_up().await;
        s.writers.wait_for_more(size.writes).await;
    }
    s.finish(size).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_loses_nothing_once_healed() {
    partition("partition", QUICK).await.assert_holds();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: run with --ignored"]
async fn soak_partitions_lose_nothing_once_healed() {
    partition("soak_partition", SOAK).await.assert_holds();
}

// (d) A fourth node joins, then one node leaves, while the writers write.

async fn join_and_leave(name: &'static str, size: Size) -> Verdict {
    let mut s = Scenario::begin(name, scenario_node, |w| w).await;
    s.writers.wait_for_more(size.writes).await;
    for _ in 0..size.faults.div_ceil(2) {
        let k = s.cluster.add_node().await;
        println!("{name}: dev{k} joins");
        s.cluster.join(k).await;
        s.writers.wait_for_more(size.writes / 2).await;
        s.cluster.wait_settled().await;
        s.writers.wait_for_more(size.writes).await;
        // Any member but dev1, which the harness joins new nodes through.
        let members: Vec<u32> = (2..=k).filter(|j| s.cluster.is_running(*j)).collect();
        let leaving = *s.rng.pick(&members);
        println!("{name}: dev{leaving} leaves");
        s.cluster.leave(leaving).await;
        s.writers.wait_for_more(size.writes).await;
    }
    s.finish(size).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_and_a_leave_under_writes_lose_nothing() {
    join_and_leave("join_leave", QUICK).await.assert_holds();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: run with --ignored"]
async fn soak_joins_and_leaves_under_writes_lose_nothing() {
    join_and_leave("soak_join_leave", SOAK).await.assert_holds();
}

// (e) The node receiving a handoff crashes in the middle of the transfer, and comes back.

/// Slow transfers (bytes per second), so that a test can catch one in the middle; still
/// faster than the writers add data to a partition, or a transfer would never end.
const SLOW_HANDOFF: u64 = 256 * 1024;

async fn handoff_receiver_killed(name: &'static str, size: Size) -> Verdict {
    let slow = |c: &mut ringcore::NodeConfig| {
        scenario_node(c);
        c.handoff_rate = Some(SLOW_HANDOFF);
    };
    // Eight streams: enough partitions hold data that some of them move to the new node.
    // Paced writers: data that grows without bound would take long to move at this rate.
    let tune = |w: Workload<DbApp>| w.streams(8).pace(Duration::from_millis(2));
    let mut s = Scenario::begin(name, slow, tune).await;
    // Some data first, so that there is something to move.
    s.writers.wait_for_more(size.writes * 5).await;
    // Each round adds a node for good: fewer rounds than other scenarios have faults.
    for _ in 0..size.faults.div_ceil(3) {
        let k = s.cluster.add_node().await;
        s.cluster.join(k).await;
        let receiver = s.cluster.name(k);
        let transfer = transfer_to(&s.cluster, &receiver).await;
        let hold = s.hold_time(size);
        println!(
            "{name}: {receiver} receives partition {} from {} ({} of {} bytes sent); kill it for {hold:?}",
            transfer.partition, transfer.source, transfer.bytes_sent, transfer.bytes_total
        );
        s.cluster.kill(k).await;
        s.cluster.hold(hold).await;
        s.cluster.restart(k).await;
        s.cluster.wait_settled().await;
        s.writers.wait_for_more(size.writes).await;
    }
    s.finish(size).await
}

/// Waits until some node is sending data to `receiver` (a transfer with objects to move has
/// begun and not ended), and says what it sends.
async fn transfer_to(cluster: &TestCluster<DbApp>, receiver: &NodeName) -> TransferStatus {
    let caught = Mutex::new(None);
    wait_until(
        &format!("a transfer to {receiver} is under way"),
        || async {
            let sending = cluster
                .running_nodes()
                .flat_map(|n| n.transfers())
                .find(|t| t.target == *receiver && t.objects_total > 0);
            let found = sending.is_some();
            *caught.lock().unwrap() = sending;
            found
        },
    )
    .await;
    caught.into_inner().unwrap().expect("a transfer was found")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_receiver_killed_mid_transfer_loses_nothing() {
    handoff_receiver_killed("handoff_receiver_killed", QUICK)
        .await
        .assert_holds();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: run with --ignored"]
async fn soak_handoff_receivers_killed_mid_transfer_lose_nothing() {
    handoff_receiver_killed("soak_handoff_receiver_killed", SOAK)
        .await
        .assert_holds();
}

// (f) A stream two of whose three replicas sit on one node X (with 3 nodes on 64 partitions,
// the ring's wrap puts two neighbouring partitions on one node): writes through the other
// node Y, X killed, writes through Y (to Y and a fallback), X back, writes through X, whose
// two stale replicas then number entries as if nothing had happened. Three times. Numbers
// drawn twice must keep both entries.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_holding_two_replicas_of_a_stream_killed_and_restarted_loses_nothing() {
    const BUCKET: &str = "two_on_one";
    const WRITES: usize = 150;
    let seed = seed_from_env();
    let mut cluster = TestCluster::<DbApp>::start_joined_with(3, scenario_node).await;
    let (stream, x, y) = stream_with_two_replicas_on_one_node(&cluster, BUCKET);
    println!(
        "two_on_one: seed {seed}; {BUCKET}/{stream} has two replicas on dev{x}, one on dev{y}"
    );
    let mut history = History::default();
    for round in 0..3 {
        write_through(&cluster, y, BUCKET, &stream, WRITES, &mut history).await;
        cluster.kill(x).await;
        let gone = cluster.name(x);
        wait_until(&format!("dev{y} sees dev{x} down"), || async {
            !cluster.node(y).is_up(&gone)
        })
        .await;
        write_through(&cluster, y, BUCKET, &stream, WRITES, &mut history).await;
        cluster.restart(x).await;
        write_through(&cluster, x, BUCKET, &stream, WRITES, &mut history).await;
        println!(
            "two_on_one: round {round} done, {} writes",
            history.attempts.len()
        );
    }
    let workload = Workload::new(BUCKET, seed, |app: &DbApp| app.db.clone()).streams(0);
    let verdict = workload
        .check(&cluster.targets(), &history, CONVERGE_WITHIN)
        .await;
    cluster.stop().await;
    verdict.assert_holds();
}

/// A stream of `bucket` whose preference list holds two replicas on one node, the first of
/// them included: (its name, that node, the node of the third replica).
fn stream_with_two_replicas_on_one_node(
    cluster: &TestCluster<DbApp>,
    bucket: &str,
) -> (String, u32, u32) {
    let db = &cluster.app(1).db;
    let dev = |name: &NodeName| {
        (1..=3)
            .find(|k| cluster.name(*k) == *name)
            .expect("a member")
    };
    (0..10_000)
        .map(|i| format!("t{i}"))
        .find_map(|stream| {
            let nodes: Vec<NodeName> = db
                .preflist(bucket, &stream, 3)
                .iter()
                .map(|e| e.target.node.clone())
                .collect();
            // The first replica coordinates the stream's writes: on X, so that X, back with
            // two stale replicas, numbers entries again.
            let twice = &nodes[0];
            if nodes.iter().filter(|m| *m == twice).count() != 2 {
                return None;
            }
            let once = nodes.iter().find(|n| *n != twice)?;
            Some((stream, dev(twice), dev(once)))
        })
        .expect("with 3 nodes on 64 partitions, some stream has two replicas on one node")
}

/// Writes `count` messages to `bucket/stream` through devK, one after the other, and records
/// each attempt.
async fn write_through(
    cluster: &TestCluster<DbApp>,
    k: u32,
    bucket: &str,
    stream: &str,
    count: usize,
    history: &mut History,
) {
    let db = &cluster.app(k).db;
    for _ in 0..count {
        let payload = format!("w0-{}", history.attempts.len());
        let outcome = match db
            .post(bucket, stream, payload.clone().into(), Nwr::default())
            .await
        {
            Ok(written) => Outcome::Acknowledged {
                seq: written.entry.seq,
            },
            Err(error) => Outcome::of_error(&error),
        };
        history.attempts.push(Attempt {
            writer: 0,
            stream: stream.to_string(),
            payload,
            node: format!("dev{k}"),
            outcome,
        });
    }
}
