//! The workload of a fault test: concurrent writers that record every attempt while the
//! nemesis breaks the cluster, and the reads, after healing, that the history is judged by.
//!
//! ```ignore
//! let workload = Workload::new("faults", seed, |app: &DbApp| app.db.clone());
//! let writers = Writers::start(cluster.targets(), &workload);
//! writers.wait_for_more(200).await;
//! cluster.kill(2).await;            // … the faults of the scenario …
//! let history = writers.stop().await;
//! let verdict = workload.check(&cluster.targets(), &history, Duration::from_secs(60)).await;
//! verdict.assert_holds();
//! ```

use super::history::{Attempt, History, Outcome, Read, Stored, Verdict, agree, judge};
use super::nemesis::Rng;
use super::{AckCounter, Targets};
use crate::app::App;
use crate::streams::{Nwr, StreamCommand, StreamReply, StreamVnode, Streams, StreamsVnode};
use crate::vnode::coordinator::{Quorum, QuorumWaiter};
use futures_util::future::join_all;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How a writer chooses the node each of its writes goes through (among the running ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// One node after the other, each writer starting at another.
    RoundRobin,
    /// Any node, drawn from the writer's seeded [`Rng`].
    Random,
}

/// How a node's stream database is found in its application.
type DbOf<A, Q, V> = Arc<dyn Fn(&A) -> Streams<Q, V> + Send + Sync>;

/// What the writers write, and how it is read back: `writers` concurrent writers append to
/// `streams` streams (`s0`, `s1`, …) of one bucket with `nwr`, each write going through a
/// node chosen by `route`, each writer pausing `pace` between two writes (none: as fast as
/// the cluster answers).
pub struct Workload<A, Q: QuorumWaiter = Quorum, V: StreamsVnode = StreamVnode> {
    pub bucket: String,
    pub writers: usize,
    pub streams: usize,
    pub route: Route,
    pub nwr: Nwr,
    pub pace: Option<Duration>,
    pub seed: u64,
    db: DbOf<A, Q, V>,
}

impl<A: App, Q: QuorumWaiter, V: StreamsVnode> Workload<A, Q, V> {
    /// 4 writers over 4 streams of `bucket`, N=3 W=2, through random nodes; `db` finds the
    /// stream database in a node's application.
    pub fn new(
        bucket: &str,
        seed: u64,
        db: impl Fn(&A) -> Streams<Q, V> + Send + Sync + 'static,
    ) -> Self {
        Workload {
            bucket: bucket.to_string(),
            writers: 4,
            streams: 4,
            route: Route::Random,
            nwr: Nwr { n: 3, w: 2, r: 2 },
            pace: None,
            seed,
            db: Arc::new(db),
        }
    }

    pub fn writers(mut self, writers: usize) -> Self {
        self.writers = writers;
        self
    }

    pub fn streams(mut self, streams: usize) -> Self {
        self.streams = streams;
        self
    }

    pub fn route(mut self, route: Route) -> Self {
        self.route = route;
        self
    }

    /// Each writer pauses `pace` between writes: less data, for tests that move it around.
    pub fn pace(mut self, pace: Duration) -> Self {
        self.pace = Some(pace);
        self
    }

    fn stream_names(&self) -> Vec<String> {
        (0..self.streams).map(|i| format!("s{i}")).collect()
    }

    /// Reads every stream through every node clients may use, with R replicas.
    pub async fn read_all(
        &self,
        targets: &Targets<A>,
        streams: &BTreeSet<String>,
        r: usize,
    ) -> Vec<Read> {
        let nwr = Nwr { r, ..self.nwr };
        let nodes = targets.now();
        let reads = nodes.iter().flat_map(|(k, app)| {
            streams
                .iter()
                .map(move |stream| self.read_one(*k, app, stream, nwr))
        });
        join_all(reads).await
    }

    async fn read_one(&self, k: u32, app: &A, stream: &str, nwr: Nwr) -> Read {
        let result = (self.db)(app)
            .read(&self.bucket, stream, 1, usize::MAX, nwr)
            .await;
        Read {
            node: format!("dev{k}"),
            stream: stream.to_string(),
            r: nwr.r,
            entries: result
                .map(|read| read.entries.iter().map(Stored::of).collect())
                .map_err(|e| e.to_string()),
        }
    }

    /// Whether every replica of every stream holds the same entries in the same order, asked
    /// one by one for their identities (a vnode's own answer: no quorum, no read repair, so
    /// asking changes nothing).
    async fn replicas_agree(&self, targets: &Targets<A>, streams: &BTreeSet<String>) -> bool {
        let Some((_, app)) = targets.now().into_iter().next() else {
            return false;
        };
        let db = (self.db)(&app);
        for stream in streams {
            let replicas =
                crate::ring::apl::targets(&db.preflist(&self.bucket, stream, self.nwr.n));
            let reads = replicas.iter().map(|replica| {
                let command = StreamCommand::Ids {
                    bucket: self.bucket.clone(),
                    stream: stream.clone(),
                };
                db.vnodes().sync_command(replica, command)
            });
            let held: Vec<_> = join_all(reads).await;
            let first = match held.first() {
                Some(Ok(StreamReply::Ids { ids, .. })) => ids,
                _ => return false,
            };
            let same = |reply: &Result<StreamReply, _>| matches!(reply, Ok(StreamReply::Ids { ids, .. }) if ids == first);
            if replicas.len() < self.nwr.n || !held.iter().all(same) {
                return false;
            }
        }
        true
    }

    /// Reads everything back and judges it against `history`.
    ///
    /// First it waits, for at most `within`, until the replicas have converged: every
    /// replica of every stream, asked directly, holds the same entries in the same order, and
    /// the R=1 reads through every node agree. Neither repairs anything, so the wait cannot be
    /// cut short by the checker's own reads: only the cluster (anti-entropy, handoff) can end
    /// it. Then it reads with R=2 (which does repair, so it comes last; again while some of
    /// those reads fail, within the same deadline) and judges both. Prints and returns the
    /// verdict.
    pub async fn check(
        &self,
        targets: &Targets<A>,
        history: &History,
        within: Duration,
    ) -> Verdict {
        let mut streams = history.streams();
        streams.extend(self.stream_names());
        let started = Instant::now();
        let mut rounds = 0;
        let single = loop {
            rounds += 1;
            // The replicas' identities first: they are in memory, where reading whole streams
            // through every node takes the disk, and would slow the cluster it waits for.
            let replicas_agree = self.replicas_agree(targets, &streams).await;
            let out_of_time = started.elapsed() >= within;
            if replicas_agree || out_of_time {
                let single = self.read_all(targets, &streams, 1).await;
                if agree(&single) || out_of_time {
                    break single;
                }
            }
            // Waiting for replicas to converge: look again shortly, until the deadline.
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        // Prefixed by the bucket (the scenario's name): tests print at the same time.
        let bucket = &self.bucket;
        let agreed = if agree(&single) {
            "converged"
        } else {
            "still disagree"
        };
        println!(
            "{bucket}: replicas {agreed} after {rounds} round(s), {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let mut quorum = self.read_all(targets, &streams, 2).await;
        while quorum.iter().any(|r| r.entries.is_err()) && started.elapsed() < within {
            // A read that failed (a timeout on a busy machine) says nothing of what is
            // stored: read again, until the deadline.
            tokio::time::sleep(Duration::from_millis(250)).await;
            quorum = self.read_all(targets, &streams, 2).await;
        }
        let mut reads = single;
        reads.extend(quorum);
        let verdict = judge(history, &reads);
        println!("{bucket}: {verdict}");
        if let Some(line) = unacknowledged_by_node(history) {
            println!("{bucket}: {line}");
        }
        for note in &verdict.notes {
            println!("{bucket}:   {note}");
        }
        verdict
    }
}

/// Which nodes the writes that were not acknowledged went through, e.g. `not acknowledged,
/// by node written through: dev2 1702 of 2113`: a node cut off from the others refuses at
/// once (it cannot find W replicas), so its clients' failures pile up there.
fn unacknowledged_by_node(history: &History) -> Option<String> {
    let mut per_node: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for attempt in &history.attempts {
        let (refused, all) = per_node.entry(attempt.node.as_str()).or_default();
        *all += 1;
        if !matches!(attempt.outcome, Outcome::Acknowledged { .. }) {
            *refused += 1;
        }
    }
    let parts: Vec<String> = per_node
        .iter()
        .filter(|(_, (refused, _))| *refused > 0)
        .map(|(node, (refused, all))| format!("{node} {refused} of {all}"))
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "not acknowledged, by node written through: {}",
            parts.join(", ")
        )
    })
}

/// The writers of a [`Workload`], running until stopped.
pub struct Writers {
    stop: Arc<AtomicBool>,
    acknowledged: AckCounter,
    tasks: Vec<JoinHandle<Vec<Attempt>>>,
}

impl Writers {
    /// Starts the workload's writers on the nodes of `targets` (which follow kills, restarts,
    /// joins and leaves).
    pub fn start<A: App, Q: QuorumWaiter, V: StreamsVnode>(
        targets: Targets<A>,
        workload: &Workload<A, Q, V>,
    ) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = AckCounter::default();
        let mut seeds = Rng::new(workload.seed);
        let tasks = (0..workload.writers)
            .map(|number| {
                let writer = Writer {
                    number,
                    targets: targets.clone(),
                    db: Arc::clone(&workload.db),
                    bucket: workload.bucket.clone(),
                    streams: workload.stream_names(),
                    route: workload.route,
                    nwr: workload.nwr,
                    pace: workload.pace,
                    rng: seeds.fork(number as u64),
                    stop: Arc::clone(&stop),
                    acknowledged: acknowledged.clone(),
                };
                tokio::spawn(writer.run())
            })
            .collect();
        Writers {
            stop,
            acknowledged,
            tasks,
        }
    }

    /// How many writes have been acknowledged so far.
    pub fn acknowledged(&self) -> usize {
        self.acknowledged.count()
    }

    /// Waits until `more` writes past the current count have been acknowledged.
    pub async fn wait_for_more(&self, more: usize) {
        self.acknowledged.wait_for_more(more).await;
    }

    /// Stops the writers (each finishes the write it is in) and returns every attempt.
    pub async fn stop(self) -> History {
        self.stop.store(true, Ordering::Relaxed);
        let mut attempts = Vec::new();
        for task in self.tasks {
            attempts.extend(task.await.expect("a writer does not panic"));
        }
        History { attempts }
    }
}

/// One writer: one write at a time, each with a payload of its own (`w{number}-{i}`).
struct Writer<A, Q: QuorumWaiter, V: StreamsVnode> {
    number: usize,
    targets: Targets<A>,
    db: DbOf<A, Q, V>,
    bucket: String,
    streams: Vec<String>,
    route: Route,
    nwr: Nwr,
    pace: Option<Duration>,
    rng: Rng,
    stop: Arc<AtomicBool>,
    acknowledged: AckCounter,
}

impl<A: App, Q: QuorumWaiter, V: StreamsVnode> Writer<A, Q, V> {
    async fn run(mut self) -> Vec<Attempt> {
        let mut attempts = Vec::new();
        let mut i = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            let Some((k, app)) = self.choose(i) else {
                // Every node is stopped: wait for one to come back.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let stream = self.rng.pick(&self.streams).clone();
            let payload = format!("w{}-{i}", self.number);
            let result = (self.db)(&app)
                .post(
                    &self.bucket,
                    &stream,
                    payload.clone().into_bytes(),
                    self.nwr,
                )
                .await;
            let outcome = match &result {
                Ok(written) => Outcome::Acknowledged {
                    seq: written.entry.seq,
                },
                Err(error) => {
                    self.acknowledged.failed(error);
                    Outcome::of_error(error)
                }
            };
            // A client backs off a little after an error rather than hammer the cluster.
            let pause = match outcome {
                Outcome::Acknowledged { .. } => {
                    self.acknowledged.add_one();
                    self.pace
                }
                _ => Some(self.pace.unwrap_or_default().max(Duration::from_millis(10))),
            };
            if let Some(pause) = pause {
                tokio::time::sleep(pause).await;
            }
            attempts.push(Attempt {
                writer: self.number,
                stream,
                payload,
                node: format!("dev{k}"),
                outcome,
            });
            i += 1;
        }
        attempts
    }

    /// The node the `i`th write goes through, if any node is running.
    fn choose(&mut self, i: u64) -> Option<(u32, A)> {
        let mut nodes = self.targets.now();
        if nodes.is_empty() {
            return None;
        }
        let at = match self.route {
            Route::RoundRobin => (self.number as u64 + i) % nodes.len() as u64,
            Route::Random => self.rng.below(nodes.len() as u64),
        };
        Some(nodes.swap_remove(at as usize))
    }
}
