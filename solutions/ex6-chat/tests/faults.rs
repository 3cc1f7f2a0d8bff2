//! The fault suite against real node processes: "nothing acknowledged is ever lost".
//!
//! Three node processes of the finished database (`ex6-chat-solution start`) are joined into
//! one cluster. Writer threads post unique payloads (`w{writer}-{i}`) over HTTP to eight
//! streams of one bucket (N=3, W=2), each through a random node that is a member and
//! running, and record what they were told into a [`History`]. Meanwhile the cluster is
//! broken on purpose, in one of these scenarios:
//!
//! - **crashes and stalls** (the default run: one of each; the ignored soak: random ones
//!   for about 80 s): a seeded schedule crashes nodes (SIGKILL, then a restart on the same
//!   ports with the same data) and stalls them (SIGSTOP for a few seconds, then SIGCONT: a
//!   node that stops answering without closing a connection, as a long garbage-collection
//!   pause or a frozen VM would);
//! - **a join whose receiver is killed, then a leave**: a fourth node process, dev4, joins
//!   (join, plan, commit) while the writers write; while `admin transfers` shows data being
//!   handed to it, it is killed, then restarted on the same ports with the same
//!   data, and the join finishes (every member valid, nothing pending). Then dev2 or dev3
//!   leaves (writers stop sending to it first, as a load balancer would drain it): the test
//!   waits until no member lists it and it sees itself alone (a node that left runs on as a
//!   cluster of one), then stops it, so that what it held must have been handed off.
//!   Handoff is slowed down (`--handoff-rate 1`) so that the kill lands mid-transfer.
//!
//! Once the writers stop and every member sees every other one up again, every stream is
//! read through every member with R=1 and with R=2, and [`judge`] checks the promise of the
//! database: every acknowledged write is returned exactly once, under the number it was
//! acknowledged with, by every R=2 read, and every replica ends up with the same entries in
//! the same order. Replicas need some time to agree (hinted handoff brings back what
//! fallbacks took; anti-entropy fills what a replica missed), so the R=1 reads are repeated
//! until every node returns the same, for at most a minute, before the R=2 reads (whose read
//! repair would otherwise do the cluster's work for it). The R=2 reads are then repeated until
//! they agree: an entry only one replica took (a write that failed) can be missing from the
//! replicas an R=2 read hears first; the log says how many rounds that took.
//!
//! In the crash-and-stall scenarios a listener follows every stream through `GET /listen`
//! meanwhile, as a browser would (reconnecting through another node with `Last-Event-ID`
//! when its node crashes or stalls), and a `listen verdict` line says whether it got every
//! acknowledged write once and in each stream's order ([`Listener`]).
//!
//! The test prints the seed of its schedule, what it did when, the verdict line and how
//! available the database stayed: writes acknowledged of those attempted, overall and
//! outside the few seconds after each fault begins. The scenarios run side by side, each
//! line tagged with its own (`[crashes]`, `[members]`, `[soak]`).
//!
//! ```text
//! cargo test -p ex6-chat-solution --test faults -- --nocapture                      # ~35 s, both
//! cargo test --release -p ex6-chat-solution --test faults -- --ignored --nocapture  # ~2 min soak
//! FAULTS_SEED=1234 cargo test -p ex6-chat-solution --test faults -- --nocapture     # replay a schedule
//! ```
//!
//! (A seed replays the schedule: which node, which fault, how long. The timing of the writes
//! against the faults is up to the machine, so a failure may not come back every time.)
//! When the test fails, the nodes' logs are kept and their directory is printed. Replicas
//! that never agree add the minute of waiting to the run.

use ringcore::testing::history::{Attempt, History, Outcome, Read, Stored, agree, judge};
use ringcore::testing::{NodeProcess, poll_within, run_tool};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BINARY: &str = env!("CARGO_BIN_EXE_ex6-chat-solution");

/// dev1, dev2, dev3: with N=3 every node holds a replica of every stream.
const NODES: u32 = 3;
/// dev4 joins in the membership scenario.
const MAX_NODES: u32 = 4;
/// Every stream written to is `s0` … `s7` of this bucket.
const BUCKET: &str = "faults";
const STREAMS: usize = 8;
/// Entries per read request; longer streams are read page by page.
const PAGE: usize = 1000;
/// How long a writer waits for an answer. Shorter than a stall, so that a request sent to
/// a stalled node times out (the write is then indeterminate) and the writer goes on.
const WRITE_TIMEOUT: Duration = Duration::from_secs(3);
/// A writer whose request through a node got no answer sends its next ones through the
/// other nodes for this long, as a client behind a load balancer would: otherwise a stalled
/// node would soon hold every writer, and nothing would be written through the others.
const SHUN: Duration = Duration::from_secs(3);
/// How long a reader waits for a page (after healing, nothing should be slow).
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Writes in the first seconds of a fault are not counted in the "outside faults"
/// availability: the cluster needs that long to notice a node is gone.
const FAULT_WINDOW: Duration = Duration::from_secs(5);
/// How long replicas may take to agree once the cluster is healed.
const CONVERGENCE_DEADLINE: Duration = Duration::from_secs(60);
/// How long the cluster may take to settle after a join, or to see everyone up again.
const CLUSTER_DEADLINE: Duration = Duration::from_secs(60);
/// How often a waiting loop looks again.
const POLL: Duration = Duration::from_millis(200);

/// How many writes the writers get acknowledged before dev4 joins, so that there is data to
/// hand over (and how long they may take to).
const WRITES_BEFORE_JOIN: usize = 300;
const WRITES_BEFORE_JOIN_DEADLINE: Duration = Duration::from_secs(60);
/// Calm writing between two changes of membership, and at the end.
const CALM: Duration = Duration::from_millis(1500);

/// What `member-status` prints in the Pending column when no partition waits to move.
const NOTHING_PENDING: &str = "      --      ";

#[test]
fn acknowledged_writes_survive_a_crash_and_a_stall_of_node_processes() {
    run("[crashes]", short_schedule, 4);
}

#[test]
#[ignore = "a soak of about two minutes: \
            cargo test --release -p ex6-chat-solution --test faults -- --ignored --nocapture"]
fn acknowledged_writes_survive_two_minutes_of_crashes_and_stalls() {
    run("[soak]", soak_schedule, 6);
}

thread_local! {
    /// The scenario the test on this thread plays: every line it prints starts with it, as
    /// the tests run side by side.
    static SCENARIO: Cell<&'static str> = const { Cell::new("") };
}

/// `println!`, the line tagged with the scenario of the test that prints it.
macro_rules! say {
    ($($arg:tt)*) => {
        println!("{:<10} {}", SCENARIO.get(), format_args!($($arg)*))
    };
}

/// Starts the cluster, writes through the faults of `plan`, heals, reads, judges.
fn run(name: &'static str, plan: fn(&mut SplitMix64) -> Schedule, writer_count: usize) {
    SCENARIO.set(name);
    let seed = seed();
    say!("seed {seed} (FAULTS_SEED={seed} replays this schedule)");
    let mut rng = SplitMix64(seed);
    let schedule = plan(&mut rng);
    say!("schedule: {schedule}");

    let mut cluster = Cluster::start(&[]);
    cluster.join_all();
    let listener = Listener::start(&cluster.targets);
    let writers = Writers::start(writer_count, &cluster.targets, &mut rng);
    let fault_starts = cluster.play(&schedule);
    let (history, reads) = conclude(&cluster, writers, &fault_starts);
    listener.judge(&cluster, &history, &reads);
}

/// dev4 joins while writers write, and is killed while data is being handed to it, then
/// restarted; once the ring has settled, dev2 or dev3 leaves. Handoff is slowed down
/// (`--handoff-rate 1`, a megabyte a second per transfer) so that the kill lands in the
/// middle of a transfer.
#[test]
fn acknowledged_writes_survive_a_join_whose_receiver_is_killed_and_a_leave() {
    SCENARIO.set("[members]");
    let seed = seed();
    say!("seed {seed} (FAULTS_SEED={seed} replays this schedule)");
    let mut rng = SplitMix64(seed);
    let leaver = 2 + rng.below(2) as u32;
    let down = rng.between(Duration::from_secs(1), Duration::from_secs(3));
    say!(
        "schedule: {WRITES_BEFORE_JOIN} writes acknowledged, dev4 joins, killed mid-transfer for {down:.1?}; \
         settled, {CALM:.1?} calm, dev{leaver} leaves; {CALM:.1?} calm"
    );

    let mut cluster = Cluster::start(&["--handoff-rate", "1"]);
    cluster.join_all();
    let writers = Writers::start(4, &cluster.targets, &mut rng);
    let mut fault_starts = Vec::new();
    ringcore::testing::poll_until(
        &format!("{WRITES_BEFORE_JOIN} writes are acknowledged before dev4 joins"),
        WRITES_BEFORE_JOIN_DEADLINE,
        || {
            let acknowledged = writers.acknowledged();
            (acknowledged >= WRITES_BEFORE_JOIN)
                .then_some(())
                .ok_or(format!("{acknowledged} acknowledged"))
        },
    );

    let newcomer = cluster.launch_new();
    fault_starts.push(Instant::now());
    cluster.join(newcomer);
    match cluster.wait_for_transfer_to(1, newcomer) {
        Some(progress) => cluster.log(&format!(
            "a transfer to dev{newcomer} is under way ({progress})"
        )),
        None => cluster.log(&format!(
            "the ring settled before a transfer to dev{newcomer} was seen: the kill comes after the join"
        )),
    }
    fault_starts.push(Instant::now());
    cluster.crash(newcomer);
    thread::sleep(down);
    cluster.restart(newcomer);
    cluster.wait_until_everyone_is_up();

    thread::sleep(CALM);
    fault_starts.push(Instant::now());
    cluster.leave(leaver);
    thread::sleep(CALM);
    conclude(&cluster, writers, &fault_starts);
}

// ---------------------------------------------------------------------------------------------
// A listener through the faults
// ---------------------------------------------------------------------------------------------

/// How long the listener's connection may stay silent before it is taken for broken (its
/// node stalled): writers keep the streams busy, so a healthy one is never this quiet for
/// long, and one that is merely quiet only costs a reconnection.
const LISTEN_QUIET: Duration = Duration::from_secs(2);
/// How long the listener may take, once the replicas agree, to have every acknowledged write:
/// what is left is a late concurrent entry's delivery (a note, a read), seconds at most.
const LISTEN_DEADLINE: Duration = Duration::from_secs(20);

/// An event the listener got: which stream, the entry's number and payload.
#[derive(Debug, Clone)]
struct Heard {
    stream: String,
    seq: u64,
    payload: String,
}

/// What the listener heard, in order, and the signal it gives with each event.
type HeardSoFar = (std::sync::Mutex<Vec<Heard>>, std::sync::Condvar);

/// A client of `GET /listen` following every stream from its start, as a browser's
/// `EventSource` does: when its connection breaks (its node crashed) or goes silent (it
/// stalled), it connects again, through another usable node, with the id of the last event
/// it got (`Last-Event-ID`). The promise it checks: every acknowledged write is delivered,
/// once, and each stream's entries come in the stream's order, whatever happened to the
/// nodes. One exception, counted apart: a *concurrent* write (one that drew the number of
/// another, which only nodes that disagree on who is up can make) may reach the listener's
/// replicas after later entries were delivered; it is then delivered when it comes, after
/// them (`shared/src/http/feed.rs`), or, more than `RECENT` numbers back, left to a read.
struct Listener {
    stop: Arc<AtomicBool>,
    heard: Arc<HeardSoFar>,
    connections: Arc<AtomicUsize>,
    thread: JoinHandle<()>,
}

impl Listener {
    fn start(targets: &Arc<Targets>) -> Listener {
        let stop = Arc::new(AtomicBool::new(false));
        let heard: Arc<HeardSoFar> = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (targets, stop) = (Arc::clone(targets), Arc::clone(&stop));
            let (heard, connections) = (Arc::clone(&heard), Arc::clone(&connections));
            thread::spawn(move || {
                let mut last_id: Option<String> = None;
                let mut k = 0;
                while !stop.load(Ordering::Relaxed) {
                    // A connection answered 200 through the next usable node after the one
                    // tried last: each failed try moves on to the next (every member may be
                    // down or stalled a while, as a browser finds them).
                    let opened = poll_within(LISTEN_QUIET, || {
                        let node = (1..=MAX_NODES)
                            .map(|i| (k + i - 1) % MAX_NODES + 1)
                            .find(|n| targets.usable[*n as usize - 1].load(Ordering::Relaxed))
                            .ok_or("no member to listen through")?;
                        k = node;
                        open_listen(targets.http(node), last_id.as_deref())
                            .map_err(|why| format!("dev{node}: {why}"))
                    });
                    if let Ok(events) = opened {
                        connections.fetch_add(1, Ordering::Relaxed);
                        read_events(events, &stop, &heard, &mut last_id);
                    }
                }
            })
        };
        Listener {
            stop,
            heard,
            connections,
            thread,
        }
    }

    /// Waits (at most [`LISTEN_DEADLINE`]) until every acknowledged write of `history`
    /// has been heard, stops, and judges (a write whose number several entries share is
    /// counted apart, see `reads`): prints the verdict line, panics if the promise was
    /// broken.
    fn judge(self, cluster: &Cluster, history: &History, reads: &[Read]) {
        // The numbers that several entries hold, as the reads after healing found them.
        let mut dots: BTreeMap<(&str, u64), std::collections::BTreeSet<String>> = BTreeMap::new();
        for read in reads {
            for entry in read.entries.iter().flatten() {
                let place = (read.stream.as_str(), entry.seq);
                dots.entry(place).or_default().insert(entry.dot.to_string());
            }
        }
        let shared = |place: &(&str, u64)| dots.get(place).is_some_and(|d| d.len() > 1);
        let acknowledged: BTreeMap<&str, (&str, u64)> = history
            .attempts
            .iter()
            .filter_map(|a| match a.outcome {
                Outcome::Acknowledged { seq } => {
                    Some((a.payload.as_str(), (a.stream.as_str(), seq)))
                }
                _ => None,
            })
            .collect();
        // The answer is final once every acknowledged write has come (a concurrent one left
        // to a read never comes: then the deadline ends the wait). Each event wakes the wait.
        let started = Instant::now();
        let deadline = started + LISTEN_DEADLINE;
        let mut waiting: std::collections::BTreeSet<&str> = acknowledged.keys().copied().collect();
        let (heard, arrived) = &*self.heard;
        let mut seen = 0;
        let mut got = heard.lock().unwrap();
        loop {
            for h in &got[seen..] {
                waiting.remove(h.payload.as_str());
            }
            seen = got.len();
            let left = deadline.saturating_duration_since(Instant::now());
            if waiting.is_empty() || left.is_zero() {
                break;
            }
            got = arrived.wait_timeout(got, left).unwrap().0;
        }
        drop(got);
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the listener thread");
        let heard = std::mem::take(&mut *self.heard.0.lock().unwrap());
        cluster.log(&format!(
            "the listener heard every acknowledged write (or gave up) within {:.1?}",
            started.elapsed()
        ));

        // Twice: a payload heard more than once. Out of order: a stream's number going down.
        let mut times: BTreeMap<&str, usize> = BTreeMap::new();
        let mut last: BTreeMap<&str, u64> = BTreeMap::new();
        let (mut out_of_order, mut late) = (0, 0);
        for h in &heard {
            *times.entry(h.payload.as_str()).or_default() += 1;
            let highest = last.entry(h.stream.as_str()).or_default();
            if h.seq < *highest {
                // Only a concurrent entry may come late, after later ones (see feed.rs).
                if shared(&(h.stream.as_str(), h.seq)) {
                    late += 1;
                } else {
                    out_of_order += 1;
                }
            }
            *highest = (*highest).max(h.seq);
        }
        let twice = times.values().filter(|n| **n > 1).count();
        // Missed: acknowledged, never heard; excused when its number is held by another
        // entry too (a concurrent entry that came after the other was delivered).
        let (mut missed, mut concurrent_missed) = (Vec::new(), 0);
        for (payload, place) in &acknowledged {
            if !times.contains_key(payload) {
                if shared(place) {
                    concurrent_missed += 1;
                } else {
                    missed.push(format!("{payload} ({}#{})", place.0, place.1));
                }
            }
        }
        say!(
            "listen verdict: {} acknowledged, {} events heard over {} connections; missed {}, \
             heard twice {twice}, out of order {out_of_order}; concurrent entries delivered late {late}, not delivered live {concurrent_missed}",
            acknowledged.len(),
            heard.len(),
            self.connections.load(Ordering::Relaxed),
            missed.len(),
        );
        assert!(
            missed.is_empty() && twice == 0 && out_of_order == 0,
            "the listener missed {missed:?}, heard {twice} payloads twice, and {out_of_order} out of order"
        );
    }
}

/// A connection to `GET /listen` of every stream through `addr`, answered 200 (from the
/// start of each stream, or from `last_id`), its events to read; why not, else.
fn open_listen(
    addr: SocketAddr,
    last_id: Option<&str>,
) -> Result<std::io::BufReader<std::net::TcpStream>, String> {
    use std::io::{BufRead, BufReader, Write};
    let mut socket =
        std::net::TcpStream::connect_timeout(&addr, LISTEN_QUIET).map_err(|e| e.to_string())?;
    let streams: Vec<String> = (0..STREAMS).map(|i| format!("s={BUCKET}:s{i}:0")).collect();
    let resume = last_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
    let request = format!("GET /listen?{} HTTP/1.0\r\n{resume}\r\n", streams.join("&"));
    socket
        .set_read_timeout(Some(LISTEN_QUIET))
        .and_then(|()| socket.write_all(request.as_bytes()))
        .map_err(|e| e.to_string())?;
    let mut lines = BufReader::new(socket);
    let mut status = String::new();
    lines.read_line(&mut status).map_err(|e| e.to_string())?;
    if !status.contains(" 200 ") {
        return Err(format!("answered {}", status.trim()));
    }
    Ok(lines)
}

/// Reads the events of a listen connection until it breaks or goes silent, or the test
/// stops: each goes into `heard` (and wakes who waits on it), and `last_id` says how far it
/// got.
fn read_events(
    mut lines: std::io::BufReader<std::net::TcpStream>,
    stop: &AtomicBool,
    heard: &HeardSoFar,
    last_id: &mut Option<String>,
) {
    use std::io::BufRead;
    let mut line = String::new();
    let (mut id, mut data) = (None::<String>, String::new());
    while !stop.load(Ordering::Relaxed) {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if let Some(value) = text.strip_prefix("id:") {
            id = Some(value.trim().to_string());
        } else if let Some(value) = text.strip_prefix("data:") {
            data.push_str(value.trim_start());
        } else if text.is_empty() && !data.is_empty() {
            let event: serde_json::Value = serde_json::from_str(&data).expect("an event is JSON");
            heard.0.lock().unwrap().push(Heard {
                stream: event["meta"]["stream"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                seq: event["meta"]["id"].as_u64().unwrap_or_default(),
                payload: event["data"].as_str().unwrap_or_default().to_string(),
            });
            heard.1.notify_all();
            if let Some(id) = id.take() {
                *last_id = Some(id);
            }
            data.clear();
        }
    }
}

/// Stops the writers, waits until the cluster is healed, reads, judges; prints the verdict
/// and the availability; panics if the promise was broken. Returns what was written, and
/// what the reads found.
fn conclude(cluster: &Cluster, writers: Writers, fault_starts: &[Instant]) -> (History, Vec<Read>) {
    let attempts = writers.finish();
    cluster.log(&format!(
        "writers stopped after {} attempts",
        attempts.len()
    ));
    cluster.wait_until_everyone_is_up();

    let history = History {
        attempts: attempts.iter().map(|t| t.attempt.clone()).collect(),
    };
    let reads = read_after_healing(cluster, &history);
    let verdict = judge(&history, &reads);
    say!("{verdict}");
    say!("{}", availability(&attempts, fault_starts));
    print_failure_reasons(&attempts);
    verdict.assert_holds();
    (history, reads)
}

// ---------------------------------------------------------------------------------------------
// The schedule of faults
// ---------------------------------------------------------------------------------------------

/// One fault at a time, each after some calm writing; then calm writing to end with.
struct Schedule {
    steps: Vec<(Duration, Fault)>,
    calm_at_end: Duration,
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// SIGKILL devK, leave it down this long, start it again.
    Crash { k: u32, down: Duration },
    /// SIGSTOP devK, leave it frozen this long, SIGCONT.
    Stall { k: u32, frozen: Duration },
}

/// The default run: one crash, then one stall, on random nodes.
fn short_schedule(rng: &mut SplitMix64) -> Schedule {
    let calm = Duration::from_millis(1500);
    Schedule {
        steps: vec![
            (
                calm,
                Fault::Crash {
                    k: rng.node(),
                    down: Duration::from_secs(3),
                },
            ),
            (
                calm,
                Fault::Stall {
                    k: rng.node(),
                    frozen: Duration::from_secs(5),
                },
            ),
        ],
        calm_at_end: calm,
    }
}

/// The soak: random crashes and stalls of random lengths, for about 80 s of writing.
fn soak_schedule(rng: &mut SplitMix64) -> Schedule {
    let mut steps = Vec::new();
    let mut planned = Duration::ZERO;
    while planned < Duration::from_secs(75) {
        let calm = rng.between(Duration::from_secs(1), Duration::from_secs(3));
        let fault = if rng.below(2) == 0 {
            Fault::Crash {
                k: rng.node(),
                down: rng.between(Duration::from_secs(1), Duration::from_secs(4)),
            }
        } else {
            Fault::Stall {
                k: rng.node(),
                frozen: rng.between(Duration::from_secs(2), Duration::from_secs(6)),
            }
        };
        planned += calm + fault.length();
        steps.push((calm, fault));
    }
    Schedule {
        steps,
        calm_at_end: Duration::from_secs(2),
    }
}

impl Fault {
    fn length(&self) -> Duration {
        match *self {
            Fault::Crash { down, .. } => down,
            Fault::Stall { frozen, .. } => frozen,
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (calm, fault) in &self.steps {
            match fault {
                Fault::Crash { k, down } => {
                    write!(f, "{calm:.1?} calm, crash dev{k} for {down:.1?}; ")?
                }
                Fault::Stall { k, frozen } => {
                    write!(f, "{calm:.1?} calm, stall dev{k} for {frozen:.1?}; ")?
                }
            }
        }
        write!(f, "{:.1?} calm", self.calm_at_end)
    }
}

// ---------------------------------------------------------------------------------------------
// The cluster of node processes
// ---------------------------------------------------------------------------------------------

/// Where the writers and readers send requests, shared with the writer threads.
struct Targets {
    /// The HTTP address of devK at index K−1, once it has started (kept across restarts).
    http: Vec<OnceLock<SocketAddr>>,
    /// Whether writers may send to devK: a member of the cluster with a process. Not while
    /// it is crashed, not before it joins, not once it is about to leave (as a load
    /// balancer drains a server before it is taken out).
    usable: Vec<AtomicBool>,
}

impl Targets {
    /// A random usable node (a stalled one included: its requests time out), preferring
    /// those not shunned until after now.
    fn pick_running(&self, rng: &mut SplitMix64, shunned_until: &[Instant]) -> Option<u32> {
        let running: Vec<u32> = (1..=MAX_NODES)
            .filter(|k| self.usable[*k as usize - 1].load(Ordering::Relaxed))
            .collect();
        let now = Instant::now();
        let trusted: Vec<u32> = running
            .iter()
            .copied()
            .filter(|k| shunned_until[*k as usize - 1] <= now)
            .collect();
        let choices = if trusted.is_empty() { running } else { trusted };
        (!choices.is_empty()).then(|| choices[rng.below(choices.len() as u64) as usize])
    }

    fn http(&self, k: u32) -> SocketAddr {
        *self.http[k as usize - 1]
            .get()
            .expect("a node that has started")
    }

    fn set_usable(&self, k: u32, usable: bool) {
        self.usable[k as usize - 1].store(usable, Ordering::Relaxed);
    }
}

/// One node: its process (none while crashed or once it has left) and the ports it keeps
/// across restarts.
struct Member {
    process: Option<NodeProcess>,
    cluster_port: u16,
    stalled: bool,
    /// How many times it was started: each run logs to a file of its own.
    runs: u32,
}

/// Node processes, their data and logs in a temporary directory.
struct Cluster {
    /// devK at index K−1: every node ever started, members or not.
    members: Vec<Member>,
    /// The nodes that are (or are becoming) members of the cluster: those the cluster must
    /// see up and settled, and those the readers read through.
    in_cluster: Vec<u32>,
    targets: Arc<Targets>,
    /// Options every node is started with, besides its name, ports and data.
    options: Vec<String>,
    started: Instant,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts dev1, dev2, dev3 on free ports, each alone, with `options`.
    fn start(options: &[&str]) -> Cluster {
        let mut cluster = Cluster {
            members: Vec::new(),
            in_cluster: Vec::new(),
            targets: Arc::new(Targets {
                http: (1..=MAX_NODES).map(|_| OnceLock::new()).collect(),
                usable: (1..=MAX_NODES).map(|_| AtomicBool::new(false)).collect(),
            }),
            options: options.iter().map(|o| o.to_string()).collect(),
            started: Instant::now(),
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        for k in 1..=NODES {
            cluster.launch_new();
            cluster.in_cluster.push(k);
            cluster.targets.set_usable(k, true);
        }
        cluster.log(&format!(
            "started 3 nodes, logs in {}",
            cluster.logs().display()
        ));
        cluster
    }

    /// Starts one more node, dev{N+1}, alone on free ports; returns its K. Writers do not
    /// use it until it joins.
    fn launch_new(&mut self) -> u32 {
        let k = self.members.len() as u32 + 1;
        assert!(k <= MAX_NODES, "at most {MAX_NODES} nodes");
        let process = self.launch(k, 1, 0, 0);
        self.targets.http[k as usize - 1]
            .set(process.places["http"])
            .expect("devK starts once");
        self.members.push(Member {
            cluster_port: process.port(),
            process: Some(process),
            stalled: false,
            runs: 1,
        });
        k
    }

    /// Runs devK's process (its `run`th start) on these ports (0: any free one).
    fn launch(&self, k: u32, run: u32, cluster_port: u16, http_port: u16) -> NodeProcess {
        let log = self.dir.path().join(format!("dev{k}-run{run}.log"));
        let http_port = http_port.to_string();
        let args: Vec<&str> = ["--http-port", &http_port, "--chat-port", "0"]
            .into_iter()
            .chain(self.options.iter().map(String::as_str))
            .collect();
        NodeProcess::start(BINARY, k, self.dir.path(), cluster_port, &args, Some(&log))
    }

    fn logs(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Prints what happens, with the time since the cluster started.
    fn log(&self, what: &str) {
        say!("[{:6.1}s] {what}", self.started.elapsed().as_secs_f64());
    }

    fn member(&mut self, k: u32) -> &mut Member {
        &mut self.members[k as usize - 1]
    }

    /// Runs `admin WORDS…` against devK; returns what it printed.
    fn admin(&self, k: u32, words: &[&str]) -> String {
        let port = self.members[k as usize - 1].cluster_port;
        let args: Vec<&str> = ["admin"].into_iter().chain(words.iter().copied()).collect();
        run_tool(BINARY, k, port, &args, "").0
    }

    /// `devK@127.0.0.1:PORT`, as `cluster join` takes it.
    fn address_name(&self, k: u32) -> String {
        format!(
            "dev{k}@127.0.0.1:{}",
            self.members[k as usize - 1].cluster_port
        )
    }

    /// Commits the staged changes through devK: plan, commit.
    fn plan_and_commit(&self, k: u32) {
        self.admin(k, &["cluster", "plan"]);
        let committed = self.admin(k, &["cluster", "commit"]);
        assert_eq!(committed.trim(), "Cluster changes committed");
    }

    /// dev2 and dev3 join dev1; the plan is committed; waits until the ring has settled.
    fn join_all(&self) {
        let first = self.address_name(1);
        for k in 2..=NODES {
            let joined = self.admin(k, &["cluster", "join", &first]);
            assert!(joined.starts_with("Success"), "dev{k} joins: {joined}");
        }
        self.plan_and_commit(1);
        self.wait_until_everyone_is_up();
    }

    /// devK (started alone) joins dev1's cluster: join, plan, commit. Returns once the plan is
    /// committed, without waiting for the data to move; writers use devK from then on.
    fn join(&mut self, k: u32) {
        let joined = self.admin(k, &["cluster", "join", &self.address_name(1)]);
        assert!(joined.starts_with("Success"), "dev{k} joins: {joined}");
        self.plan_and_commit(1);
        self.in_cluster.push(k);
        self.targets.set_usable(k, true);
        self.log(&format!("dev{k} joins (committed)"));
    }

    /// devK leaves: writers stop sending to it first; leave, plan, commit through another
    /// member; waits until the others have taken its data and no longer list it, then stops
    /// it (a node that left runs on as a cluster of one).
    fn leave(&mut self, k: u32) {
        self.targets.set_usable(k, false);
        self.in_cluster.retain(|j| *j != k);
        let other = self.in_cluster[0];
        let left = self.admin(k, &["cluster", "leave"]);
        assert!(left.starts_with("Success"), "dev{k} leaves: {left}");
        self.plan_and_commit(other);
        self.log(&format!("dev{k} leaves (committed)"));
        let gone = format!("dev{k}@");
        wait_until(&format!("dev{k} has left every member's ring"), || {
            self.in_cluster
                .iter()
                .all(|j| !self.admin(*j, &["member-status"]).contains(&gone))
        });
        wait_until(&format!("dev{k} knows it has left"), || {
            let own = self.admin(k, &["member-status"]);
            own.contains(&all_up(1)) && own.contains(&gone)
        });
        let mut process = self.member(k).process.take().expect("a running node");
        process.child.kill().expect("SIGKILL");
        process.child.wait().expect("the node that left is reaped");
        self.log(&format!("dev{k} has left and is stopped"));
    }

    /// Waits until `admin transfers` on devJ (a member) shows a transfer to devK under way
    /// (its snapshot taken, not all of it sent); returns how far it got ("objects transferred: X
    /// of Y"). None if the ring settled first (the transfers were too quick to catch).
    fn wait_for_transfer_to(&self, j: u32, k: u32) -> Option<String> {
        let target = format!("dev{k}@127.0.0.1");
        let end = Instant::now() + CLUSTER_DEADLINE;
        loop {
            let transfers = self.admin(j, &["transfers"]);
            let lines: Vec<&str> = transfers.lines().collect();
            // Each active transfer: "objects transferred: X of Y", …, "SOURCE =======> TARGET".
            let part_way = lines.iter().enumerate().find_map(|(at, line)| {
                let to_target = line.contains("=======>") && line.trim_end().ends_with(&target);
                let progress = lines[..at]
                    .iter()
                    .rev()
                    .find(|line| line.starts_with("objects transferred: "))?;
                let (sent, total) = progress
                    .trim_start_matches("objects transferred: ")
                    .split_once(" of ")?;
                let (sent, total): (u64, u64) = (sent.parse().ok()?, total.trim().parse().ok()?);
                (to_target && sent < total).then(|| progress.trim().to_string())
            });
            if part_way.is_some() {
                return part_way;
            }
            let status = self.admin(j, &["member-status"]);
            if status.matches(NOTHING_PENDING).count() == self.in_cluster.len() {
                return None;
            }
            assert!(
                Instant::now() < end,
                "timed out after {CLUSTER_DEADLINE:?} waiting for a transfer to dev{k}"
            );
        }
    }

    /// Waits until every member's member-status shows every member valid, none down, and no
    /// partition waiting to move.
    fn wait_until_everyone_is_up(&self) {
        let n = self.in_cluster.len();
        let names: Vec<String> = self.in_cluster.iter().map(|k| format!("dev{k}@")).collect();
        let settled = |status: &str| {
            status.contains(&all_up(n))
                && status.matches(NOTHING_PENDING).count() == n
                && names.iter().all(|name| status.contains(name))
        };
        wait_until(&format!("every member sees all {n} up and settled"), || {
            self.in_cluster
                .iter()
                .all(|k| settled(&self.admin(*k, &["member-status"])))
        });
        self.log(&format!("every member sees all {n} up and settled"));
    }

    /// Plays the schedule while the writers write; returns when each fault began.
    fn play(&mut self, schedule: &Schedule) -> Vec<Instant> {
        let mut fault_starts = Vec::new();
        for (calm, fault) in &schedule.steps {
            thread::sleep(*calm);
            fault_starts.push(Instant::now());
            match *fault {
                Fault::Crash { k, down } => {
                    self.crash(k);
                    thread::sleep(down);
                    self.restart(k);
                }
                Fault::Stall { k, frozen } => {
                    self.stall(k);
                    thread::sleep(frozen);
                    self.resume(k);
                }
            }
        }
        thread::sleep(schedule.calm_at_end);
        fault_starts
    }

    /// SIGKILL: the process dies at once, mid-request, without closing anything in order.
    fn crash(&mut self, k: u32) {
        // Writers stop choosing it first; requests already sent to it fail as they would.
        self.targets.set_usable(k, false);
        let mut process = self.member(k).process.take().expect("a running node");
        process.child.kill().expect("SIGKILL");
        process.child.wait().expect("the killed node is reaped");
        self.log(&format!("SIGKILL dev{k}"));
    }

    /// Starts devK again with its data, on the ports it had, so that the others find it.
    fn restart(&mut self, k: u32) {
        let http = self.targets.http(k);
        let member = &self.members[k as usize - 1];
        let (run, port) = (member.runs + 1, member.cluster_port);
        let process = self.launch(k, run, port, http.port());
        assert_eq!(
            process.places["http"], http,
            "dev{k} serves HTTP where it did"
        );
        let member = self.member(k);
        member.runs = run;
        member.process = Some(process);
        self.targets.set_usable(k, true);
        self.log(&format!("restarted dev{k}"));
    }

    /// SIGSTOP: the process freezes; its sockets stay open, so nobody is told it is gone.
    fn stall(&mut self, k: u32) {
        self.signal(k, "-STOP");
        self.member(k).stalled = true;
        self.log(&format!("SIGSTOP dev{k}"));
    }

    fn resume(&mut self, k: u32) {
        self.signal(k, "-CONT");
        self.member(k).stalled = false;
        self.log(&format!("SIGCONT dev{k}"));
    }

    /// Sends a signal with `kill(1)`, which saves this test a dependency on libc.
    fn signal(&self, k: u32, signal: &str) {
        let process = self.members[k as usize - 1]
            .process
            .as_ref()
            .expect("a running node");
        let pid = process.child.id().to_string();
        let status = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {pid} (dev{k})");
    }

    /// [`Cluster::signal`] for a drop, which must not panic.
    fn signal_quietly(&self, k: u32, signal: &str) -> std::io::Result<()> {
        if let Some(process) = &self.members[k as usize - 1].process {
            Command::new("kill")
                .args([signal, &process.child.id().to_string()])
                .status()?;
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A stopped process would ignore a friendlier end; wake it so that it can die (each
        // NodeProcess kills its child when dropped, after this).
        for k in 1..=self.members.len() as u32 {
            if self.members[k as usize - 1].stalled {
                let _ = self.signal_quietly(k, "-CONT");
            }
        }
        if thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!("node logs kept in {}", self.logs().display());
        }
    }
}

/// The footer of `member-status` when all `n` members are valid and up.
fn all_up(n: usize) -> String {
    format!("Valid:{n} / Leaving:0 / Exiting:0 / Joining:0 / Down:0")
}

/// Calls `condition` every [`POLL`] until it holds; panics after [`CLUSTER_DEADLINE`].
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let end = Instant::now() + CLUSTER_DEADLINE;
    while !condition() {
        assert!(
            Instant::now() < end,
            "timed out after {CLUSTER_DEADLINE:?} waiting until {what}"
        );
        thread::sleep(POLL);
    }
}

// ---------------------------------------------------------------------------------------------
// The writers
// ---------------------------------------------------------------------------------------------

/// An attempt, when it was made, and for one not acknowledged what the answer said.
struct Timed {
    attempt: Attempt,
    at: Instant,
    failure: Option<String>,
}

/// Writer threads posting until told to stop (also when the test panics: they must not
/// outlive it).
struct Writers {
    stop: Arc<AtomicBool>,
    /// Writes acknowledged so far, by all writers.
    acknowledged: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<Vec<Timed>>>,
}

impl Writers {
    fn start(count: usize, targets: &Arc<Targets>, rng: &mut SplitMix64) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let threads = (0..count)
            .map(|writer| {
                let (targets, stop) = (Arc::clone(targets), Arc::clone(&stop));
                let acknowledged = Arc::clone(&acknowledged);
                let rng = SplitMix64(rng.next());
                thread::spawn(move || {
                    write_until_stopped(writer, &targets, &stop, &acknowledged, rng)
                })
            })
            .collect();
        Writers {
            stop,
            acknowledged,
            threads,
        }
    }

    /// How many writes have been acknowledged so far.
    fn acknowledged(&self) -> usize {
        self.acknowledged.load(Ordering::Relaxed)
    }

    /// Stops the writers; returns every attempt they made.
    fn finish(mut self) -> Vec<Timed> {
        self.stop.store(true, Ordering::Relaxed);
        std::mem::take(&mut self.threads)
            .into_iter()
            .flat_map(|thread| thread.join().expect("a writer thread"))
            .collect()
    }
}

impl Drop for Writers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One writer: `w{writer}-0`, `w{writer}-1`, … each to a random stream through a random
/// running node, one after the other.
fn write_until_stopped(
    writer: usize,
    targets: &Targets,
    stop: &AtomicBool,
    acknowledged: &AtomicUsize,
    mut rng: SplitMix64,
) -> Vec<Timed> {
    let agent = http_agent(WRITE_TIMEOUT);
    let mut shunned_until = vec![Instant::now(); MAX_NODES as usize];
    let mut attempts = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let Some(k) = targets.pick_running(&mut rng, &shunned_until) else {
            thread::sleep(POLL);
            continue;
        };
        let stream = format!("s{}", rng.below(STREAMS as u64));
        let payload = format!("w{writer}-{i}");
        let at = Instant::now();
        let answer = post(&agent, targets.http(k), &stream, &payload);
        match answer {
            Answer::Nothing(_) => shunned_until[k as usize - 1] = Instant::now() + SHUN,
            Answer::Acknowledged { .. } => {
                acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            Answer::Refused { .. } => {}
        }
        attempts.push(Timed {
            attempt: Attempt {
                writer,
                stream,
                payload,
                node: format!("dev{k}"),
                outcome: answer.outcome(),
            },
            at,
            failure: answer.failure(),
        });
        i += 1;
    }
    attempts
}

/// A blocking HTTP client that answers every status (errors included) as a response, and
/// opens a connection per request: a pooled connection to a node that was killed and
/// restarted would fail a write that never reached the new process.
fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .build()
        .into()
}

/// What a write was answered.
enum Answer {
    /// 201, with the entry stored under this number.
    Acknowledged { seq: u64 },
    /// An error answer: its status and reason.
    Refused { status: u16, reason: String },
    /// No answer: the client timed out, or the connection failed or broke.
    Nothing(String),
}

impl Answer {
    /// What the write's attempt counts as. A timeout or a broken connection inside the
    /// cluster leaves the write undecided, as no answer does (a replica may hold it); any
    /// other error is a failure (still possibly stored, by a replica, at most once).
    fn outcome(&self) -> Outcome {
        match self {
            Answer::Acknowledged { seq } => Outcome::Acknowledged { seq: *seq },
            Answer::Refused {
                status: 503,
                reason,
            } if reason.contains("timed out") || reason.contains("broke before it answered") => {
                Outcome::Indeterminate
            }
            Answer::Refused { .. } => Outcome::Failed,
            Answer::Nothing(_) => Outcome::Indeterminate,
        }
    }

    /// Why the write was not acknowledged, if it was not.
    fn failure(&self) -> Option<String> {
        match self {
            Answer::Acknowledged { .. } => None,
            Answer::Refused { status, reason } => Some(format!("{status} {reason}")),
            Answer::Nothing(error) => Some(format!("no answer: {error}")),
        }
    }
}

/// Posts `payload` to `stream` through the node at `addr`.
fn post(agent: &ureq::Agent, addr: SocketAddr, stream: &str, payload: &str) -> Answer {
    let url = format!("http://{addr}/msgs/{BUCKET}/{stream}?n=3&w=2");
    let body = serde_json::json!({ "msg": payload }).to_string();
    let response = agent
        .post(&url)
        .header("content-type", "application/json")
        .send(&body);
    let mut response = match response {
        Ok(response) => response,
        Err(error) => return Answer::Nothing(error.to_string()),
    };
    let status = response.status().as_u16();
    let text = match response.body_mut().read_to_string() {
        Ok(text) => text,
        Err(error) => return Answer::Nothing(error.to_string()),
    };
    if status != 201 {
        let reason = error_reason(&text);
        return Answer::Refused { status, reason };
    }
    let entry: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("a 201 carries the entry ({e}): {text}"));
    assert_eq!(
        entry["msg"], payload,
        "the answer is the entry posted: {text}"
    );
    let seq = entry["id"].as_u64().expect("the entry's id");
    Answer::Acknowledged { seq }
}

/// The `reason` of an error body `{"type": …, "reason": …}`, or the body itself.
fn error_reason(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["reason"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.to_string())
}

// ---------------------------------------------------------------------------------------------
// The reads
// ---------------------------------------------------------------------------------------------

/// Reads the healed cluster for the judge, in two waits of at most
/// [`CONVERGENCE_DEADLINE`] together:
///
/// 1. with R=1 until every node returns, for every stream, the same entries, and those hold
///    every acknowledged write (the promise of anti-entropy: every node's R=1 read holds
///    every acknowledged entry within a minute of healing);
/// 2. then once with R=2, and again with R=1 until those reads return exactly what the R=2
///    reads did: an entry that only one replica held (a write that failed after its first
///    replica stored it) must reach the others too.
///
/// The order matters. A read with R=2 sends the replicas it heard from what they lacked
/// (read repair); a read with R=1 hears from one replica and repairs nothing. Reading with
/// R=1 first leaves it to the cluster's own repair (hinted handoff, anti-entropy) to make the
/// replicas agree, as it must for streams that nobody reads.
fn read_after_healing(cluster: &Cluster, history: &History) -> Vec<Read> {
    let agent = http_agent(READ_TIMEOUT);
    let started = Instant::now();
    let acknowledged = acknowledged_by_stream(history);
    let mut single = read_everything(&agent, cluster, 1);
    let mut rounds = 1;
    cluster.log(&format!(
        "first R=1 reads: {} of {STREAMS} streams differ between nodes or lack acknowledged writes",
        behind(&single, &acknowledged)
    ));
    while behind(&single, &acknowledged) > 0 && started.elapsed() < CONVERGENCE_DEADLINE {
        thread::sleep(POLL);
        single = read_everything(&agent, cluster, 1);
        rounds += 1;
    }
    cluster.log(&format!(
        "after {rounds} rounds of R=1 reads ({:.1?}): {} of {STREAMS} streams differ or lack acknowledged writes",
        started.elapsed(),
        behind(&single, &acknowledged)
    ));
    // R=1 reads through every node ask the same first replica, so they agree while another
    // replica still lacks an entry that only one replica took (a write that failed after its
    // coordinating replica stored it: promised to nobody). R=2 reads through different nodes
    // may then hear different replicas first: they are repeated until they agree (their read
    // repair and anti-entropy finish the job), and how many rounds it took is logged.
    let mut quorum_rounds = 0;
    let left = CONVERGENCE_DEADLINE.saturating_sub(started.elapsed());
    let mut last = Vec::new();
    let agreed = poll_within(left, || {
        quorum_rounds += 1;
        let reads = read_everything(&agent, cluster, 2);
        if agree(&reads) {
            return Ok(reads);
        }
        last = reads;
        Err("the R=2 reads through the nodes differ".to_string())
    });
    // Past the deadline, the last reads are judged as they are: the verdict says unconverged.
    let quorum = agreed.unwrap_or(last);
    cluster.log(&format!(
        "R=2 reads through every node agree after {quorum_rounds} round(s) ({:.1?})",
        started.elapsed()
    ));
    while !same_as(&single, &quorum) && started.elapsed() < CONVERGENCE_DEADLINE {
        thread::sleep(POLL);
        single = read_everything(&agent, cluster, 1);
    }
    cluster.log(&format!(
        "R=1 reads {} the R=2 reads ({:.1?} after healing)",
        if same_as(&single, &quorum) {
            "match"
        } else {
            "still differ from"
        },
        started.elapsed()
    ));
    let mut reads = quorum;
    reads.extend(single);
    reads
}

/// The payloads acknowledged in each stream.
fn acknowledged_by_stream(history: &History) -> BTreeMap<String, Vec<&str>> {
    let mut acknowledged: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for attempt in &history.attempts {
        if let Outcome::Acknowledged { .. } = attempt.outcome {
            let stream = acknowledged.entry(attempt.stream.clone()).or_default();
            stream.push(attempt.payload.as_str());
        }
    }
    acknowledged
}

/// How many streams are read differently through different nodes, or lack an acknowledged
/// write in some read.
fn behind(reads: &[Read], acknowledged: &BTreeMap<String, Vec<&str>>) -> usize {
    let lacking = |read: &Read| {
        let Ok(entries) = &read.entries else {
            return true;
        };
        let held: std::collections::HashSet<&str> =
            entries.iter().map(|e| e.payload.as_str()).collect();
        let wanted = acknowledged
            .get(&read.stream)
            .map_or(&[][..], Vec::as_slice);
        wanted.iter().any(|payload| !held.contains(payload))
    };
    (0..STREAMS)
        .map(|s| format!("s{s}"))
        .filter(|stream| {
            let reads: Vec<&Read> = reads.iter().filter(|r| r.stream == *stream).collect();
            reads
                .iter()
                .any(|r| lacking(r) || r.entries != reads[0].entries)
        })
        .count()
}

/// Whether every read in `single` returned what every read of its stream in `quorum` did.
fn same_as(single: &[Read], quorum: &[Read]) -> bool {
    single.iter().all(|one| {
        quorum
            .iter()
            .filter(|q| q.stream == one.stream)
            .all(|q| q.entries.is_ok() && q.entries == one.entries)
    })
}

/// Every stream through every member, with R replicas.
fn read_everything(agent: &ureq::Agent, cluster: &Cluster, r: usize) -> Vec<Read> {
    let mut reads = Vec::new();
    for &k in &cluster.in_cluster {
        for s in 0..STREAMS {
            let stream = format!("s{s}");
            reads.push(Read {
                node: format!("dev{k}"),
                entries: read_stream(agent, cluster.targets.http(k), &stream, r),
                stream,
                r,
            });
        }
    }
    reads
}

/// A whole stream, page by page: each page starts after the last number of the one before
/// (a page never splits the entries that share a number).
fn read_stream(
    agent: &ureq::Agent,
    addr: SocketAddr,
    stream: &str,
    r: usize,
) -> Result<Vec<Stored>, String> {
    let mut entries: Vec<Stored> = Vec::new();
    let mut from = 1;
    loop {
        let page = read_page(agent, addr, stream, r, from)?;
        let full = page.len() >= PAGE;
        entries.extend(page);
        match entries.last() {
            Some(last) if full => from = last.seq + 1,
            _ => return Ok(entries),
        }
    }
}

fn read_page(
    agent: &ureq::Agent,
    addr: SocketAddr,
    stream: &str,
    r: usize,
    from: u64,
) -> Result<Vec<Stored>, String> {
    let url = format!("http://{addr}/msgs/{BUCKET}/{stream}?from={from}&limit={PAGE}&n=3&r={r}");
    let mut response = agent.get(&url).call().map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status} {}", error_reason(&text)));
    }
    let page: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
    Ok(page
        .iter()
        .map(|entry| Stored {
            seq: entry["id"].as_u64().expect("an entry's id"),
            dot: entry["dot"]
                .as_str()
                .and_then(|dot| dot.parse().ok())
                .expect("an entry's dot"),
            payload: entry["msg"].as_str().expect("an entry's msg").to_string(),
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// What the writers saw
// ---------------------------------------------------------------------------------------------

/// Writes acknowledged of those attempted: overall, and leaving out those made in the
/// [`FAULT_WINDOW`] after a fault began (when some failures are expected).
fn availability(attempts: &[Timed], fault_starts: &[Instant]) -> String {
    let in_a_fault = |t: &Timed| {
        fault_starts
            .iter()
            .any(|start| t.at >= *start && t.at < *start + FAULT_WINDOW)
    };
    let share = |of: Vec<&Timed>| {
        let acked = of
            .iter()
            .filter(|t| matches!(t.attempt.outcome, Outcome::Acknowledged { .. }))
            .count();
        let percent = 100.0 * acked as f64 / of.len().max(1) as f64;
        format!("{acked}/{} ({percent:.1}%)", of.len())
    };
    format!(
        "availability: acknowledged/attempted {} overall, {} outside the {FAULT_WINDOW:?} after each fault began",
        share(attempts.iter().collect()),
        share(attempts.iter().filter(|t| !in_a_fault(t)).collect()),
    )
}

/// The commonest reasons writes were not acknowledged (numbers masked, so that alike
/// reasons count together).
fn print_failure_reasons(attempts: &[Timed]) {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for failure in attempts.iter().filter_map(|t| t.failure.as_deref()) {
        *reasons.entry(mask_numbers(failure)).or_default() += 1;
    }
    let mut commonest: Vec<(String, usize)> = reasons.into_iter().collect();
    commonest.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    for (reason, count) in commonest.iter().take(6) {
        say!("  {count:6} × {reason}");
    }
}

fn mask_numbers(text: &str) -> String {
    let mut masked = String::new();
    for c in text.chars() {
        if !c.is_ascii_digit() {
            masked.push(c);
        } else if !masked.ends_with('#') {
            masked.push('#');
        }
    }
    masked
}

// ---------------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------------

/// The seed of a run: `FAULTS_SEED` to replay one, else the clock.
fn seed() -> u64 {
    if let Some(seed) = std::env::var("FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return seed;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    now.as_nanos() as u64
}

/// splitmix64: a few lines of well-mixed pseudo-randomness, enough to pick nodes and
/// durations reproducibly from a seed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in 0..n (the tiny bias of `%` does not matter here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// dev1 … dev3.
    fn node(&mut self) -> u32 {
        1 + self.below(u64::from(NODES)) as u32
    }

    /// A duration in [low, high), to the millisecond.
    fn between(&mut self, low: Duration, high: Duration) -> Duration {
        let span = (high - low).as_millis() as u64;
        low + Duration::from_millis(self.below(span.max(1)))
    }
}
