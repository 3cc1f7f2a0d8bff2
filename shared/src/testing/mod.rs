//! A cluster in one test process: N real nodes on 127.0.0.1, each on a free port with its own
//! data directory, talking over real TCP. Tests join, stop, restart and query them, and wait
//! for conditions with deadlines instead of sleeping — and stop waiting as soon as the answer
//! is final: a node that ran into a hole of the exercise ([`crate::holes`]) will never get
//! there, so the wait fails at once and names the hole.
//!
//! For fault tests: [`nemesis`] breaks the cluster on purpose (kill, stall, partition),
//! [`workload`] runs concurrent writers that record every attempt and reads everything back,
//! and [`history`] judges what was read against what was written (a [`Verdict`]).
//! [`logs`] captures what the nodes log, for tests of the log lines a user reads.
//!
//! For the console: [`Terminal`] runs a node's binary in a pseudo-terminal, to type keys into
//! it as a person would. For exercise 3: [`quorum_rule`], the cases every quorum waiting must
//! pass.
//!
//! All of it is behind the cargo feature `testing`, which test code turns on
//! (`ringcore = { workspace = true, features = ["testing"] }` under `[dev-dependencies]`): a
//! node's binary never carries it.

pub mod history;
pub mod logs;
pub mod nemesis;
pub mod quorum_rule;
pub mod raw;
#[cfg(unix)]
pub mod terminal;
pub mod workload;
mod writer;

pub use history::{Attempt, History, Outcome, Read, Stored, Verdict, agree, judge};
// Where a node started, read from its one line on stdout (the `cli` prints it).
pub use crate::ops::cli::parse_started_line;
pub use logs::CapturedLogs;
pub use nemesis::{Rng, seed_from_env};
#[cfg(unix)]
pub use terminal::Terminal;
pub use workload::{Route, Workload, Writers};
pub use writer::{Acknowledged, SteadyWriter, assert_acknowledged_stored};

use crate::app::App;
use crate::error::Error;
use crate::net::cookie::Cookie;
use crate::net::transport::Faults;
use crate::node::{Node, NodeConfig};
use crate::ring::{NodeName, Partition};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// How many writes a test's writers have had acknowledged so far, shared between the writer
/// tasks (which count) and the test (which waits for more); and the hole a write ran into,
/// if one did: then no more will be acknowledged.
#[derive(Clone, Default)]
pub(crate) struct AckCounter {
    acknowledged: Arc<AtomicUsize>,
    hole: Arc<OnceLock<String>>,
}

impl AckCounter {
    pub(crate) fn add_one(&self) {
        self.acknowledged.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count(&self) -> usize {
        self.acknowledged.load(Ordering::Relaxed)
    }

    /// Notes a failed write: one that ran into a hole of the exercise ends the wait.
    pub(crate) fn failed(&self, error: &Error) {
        if let Some(hole) = crate::holes::hole_in(&error.to_string()) {
            let _ = self.hole.set(hole.to_string());
        }
    }

    /// Waits until `more` writes past the current count have been acknowledged.
    pub(crate) async fn wait_for_more(&self, more: usize) {
        let target = self.count() + more;
        wait_or_give_up(
            &format!("{target} writes are acknowledged"),
            DEFAULT_DEADLINE,
            || async {
                match self.hole.get() {
                    Some(hole) => Err(format!("a write answered: {hole}")),
                    None => Ok(self.count() >= target),
                }
            },
        )
        .await;
    }
}

/// How long `wait_until` waits by default: generous, for a loaded 2-core machine.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// The cookie that the node processes and tools run here are given (`--cookie`), unless a
/// test says otherwise: the one of [`NodeConfig::for_test`].
pub const COOKIE: &str = crate::node::DEV_COOKIE;

/// A directory removed when dropped.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(label: &str) -> ScratchDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let unique = format!(
            "ringcore-{label}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).expect("scratch directory");
        ScratchDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One node of a test cluster, running or stopped.
struct Member<A> {
    config: NodeConfig,
    running: Option<(Node, A)>,
}

/// N nodes `dev1` … `devN` running application `A`, sharing one cookie of their own (unless a
/// test's `adjust` gives some node another).
pub struct TestCluster<A: App> {
    members: Vec<Member<A>>,
    dir: ScratchDir,
    /// The network switch every node shares (see [`nemesis`]).
    faults: Faults,
    /// The cluster's cookie, fresh for each test cluster: the clusters of tests running side
    /// by side have nodes of the same names, and one that finds a port another test's node
    /// had (a restart, a port the system gave again) is refused rather than joined to it.
    cookie: Cookie,
    /// The nodes clients may send requests to.
    targets: Targets<A>,
}

/// The applications of the nodes that clients may use, by K: the running members of the
/// cluster. The cluster keeps it current as nodes stop, start, join and leave, so clients
/// running beside the test (the [`Writers`]) follow the changes without borrowing the
/// cluster. Clones are the same list.
pub struct Targets<A>(Arc<RwLock<BTreeMap<u32, A>>>);

impl<A> Clone for Targets<A> {
    fn clone(&self) -> Self {
        Targets(Arc::clone(&self.0))
    }
}

impl<A: Clone> Targets<A> {
    fn new() -> Self {
        Targets(Arc::new(RwLock::new(BTreeMap::new())))
    }

    /// The nodes clients may use now, with their applications, by K.
    pub fn now(&self) -> Vec<(u32, A)> {
        let map = self.0.read().expect("targets");
        map.iter().map(|(k, a)| (*k, a.clone())).collect()
    }

    fn insert(&self, k: u32, app: A) {
        self.0.write().expect("targets").insert(k, app);
    }

    fn remove(&self, k: u32) {
        self.0.write().expect("targets").remove(&k);
    }
}

impl<A: App> TestCluster<A> {
    /// Starts `n` nodes, each alone in its own cluster (not joined).
    pub async fn start(n: u32) -> Self {
        Self::start_with(n, |_| {}).await
    }

    /// Starts `n` nodes after `adjust` has changed each one's configuration.
    pub async fn start_with(n: u32, adjust: impl Fn(&mut NodeConfig)) -> Self {
        // A hole hit in a vnode callback: one line per place, not a backtrace per call.
        crate::holes::report_briefly();
        let mut cluster = TestCluster {
            members: Vec::new(),
            dir: ScratchDir::new("cluster"),
            faults: Faults::new(),
            cookie: Cookie::generate(),
            targets: Targets::new(),
        };
        for _ in 0..n {
            cluster.add_member(&adjust);
        }
        for k in 1..=n {
            cluster.start_node(k).await;
        }
        cluster
    }

    /// [`TestCluster::start_joined`] after `adjust` has changed each node's configuration.
    pub async fn start_joined_with(n: u32, adjust: impl Fn(&mut NodeConfig)) -> Self {
        let cluster = Self::start_with(n, adjust).await;
        cluster.join_all().await;
        cluster
    }

    /// Configures one more node, `dev{N+1}`, sharing the cluster's network switch.
    fn add_member(&mut self, adjust: impl Fn(&mut NodeConfig)) -> u32 {
        let k = self.members.len() as u32 + 1;
        let mut config = NodeConfig::for_test(k, self.dir.path().join(format!("dev{k}")));
        config.cookie = self.cookie.clone();
        adjust(&mut config);
        // After `adjust`: every node of the cluster must share the one switch.
        config.faults = self.faults.clone();
        self.members.push(Member {
            config,
            running: None,
        });
        k
    }

    /// Starts one more node, `dev{N+1}`, alone in a cluster of its own, configured like
    /// dev1 was; returns its K. Clients do not use it until it has joined ([`Self::join`]).
    pub async fn add_node(&mut self) -> u32 {
        let template = self.members[0].config.clone();
        let k = self.add_member(|config| {
            // Everything as dev1, except what makes a node itself.
            let (name, data_dir) = (config.name.clone(), config.data_dir.clone());
            *config = template.clone();
            config.name = name;
            config.data_dir = data_dir;
            config.listen.set_port(0);
        });
        self.launch(k).await;
        k
    }

    /// Joins devK (a node of its own cluster, say from [`Self::add_node`]) to dev1's cluster:
    /// join, plan, commit. Returns once the plan is committed, without waiting for the data to
    /// move; clients may use devK from then on.
    pub async fn join(&self, k: u32) {
        let first = self.address_name(1);
        self.admin(k, &format!("cluster join {first}"))
            .await
            .expect("join");
        self.admin(1, "cluster plan").await.expect("plan");
        self.admin(1, "cluster commit").await.expect("commit");
        self.targets.insert(k, self.app(k).clone());
    }

    /// Makes devK leave the cluster (leave, plan, commit on another member), waits until it
    /// has handed its data over and the others no longer count it a member, then stops it.
    /// Clients stop using devK first, as one drains a server before taking it out.
    pub async fn leave(&mut self, k: u32) {
        self.targets.remove(k);
        let other = (1..=self.members.len() as u32)
            .find(|&j| j != k && self.members[j as usize - 1].running.is_some())
            .expect("another running member");
        self.admin(k, "cluster leave").await.expect("leave");
        self.admin(other, "cluster plan").await.expect("plan");
        self.admin(other, "cluster commit").await.expect("commit");
        let gone = self.name(k);
        self.wait_until(&format!("{gone} has left"), || async {
            let version = self.node(other).ring().version();
            self.running_nodes()
                .filter(|n| *n.name() != gone)
                .map(|n| n.ring())
                .all(|r| !r.is_member(&gone) && r.is_settled() && r.version() == version)
        })
        .await;
        self.stop_node(k).await;
    }

    /// Starts `n` nodes and joins them all to dev1 (join, plan, commit), then waits until
    /// every node holds the same settled ring.
    pub async fn start_joined(n: u32) -> Self {
        let cluster = Self::start(n).await;
        cluster.join_all().await;
        cluster
    }

    /// Joins every other node to dev1, commits, and waits for the ring to settle everywhere.
    pub async fn join_all(&self) {
        let first = self.address_name(1);
        for k in 2..=self.members.len() as u32 {
            self.admin(k, &format!("cluster join {first}"))
                .await
                .expect("join");
        }
        if self.members.len() > 1 {
            self.admin(1, "cluster plan").await.expect("plan");
            self.admin(1, "cluster commit").await.expect("commit");
        }
        self.wait_settled().await;
    }

    /// `devK@127.0.0.1:PORT`: a name that also says where the node listens, as `cluster join`
    /// accepts it.
    pub fn address_name(&self, k: u32) -> String {
        format!("{}:{}", self.name(k), self.addr(k).port())
    }

    /// The running node `devK`.
    pub fn node(&self, k: u32) -> &Node {
        &self.running(k).0
    }

    /// The application on node `devK`.
    pub fn app(&self, k: u32) -> &A {
        &self.running(k).1
    }

    fn running(&self, k: u32) -> &(Node, A) {
        self.members[k as usize - 1]
            .running
            .as_ref()
            .unwrap_or_else(|| panic!("dev{k} is stopped"))
    }

    pub fn name(&self, k: u32) -> NodeName {
        self.members[k as usize - 1].config.name.clone()
    }

    /// Where devK listens (kept across restarts).
    pub fn addr(&self, k: u32) -> SocketAddr {
        self.members[k as usize - 1].config.listen
    }

    /// The data directory of devK.
    pub fn data_dir(&self, k: u32) -> PathBuf {
        self.members[k as usize - 1].config.data_dir.clone()
    }

    /// The directory all nodes keep their data under.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The cookie of devK, which a tool must prove it knows to talk to it (see
    /// [`crate::net::transport::client_request`]).
    pub fn cookie(&self, k: u32) -> Cookie {
        self.members[k as usize - 1].config.cookie.clone()
    }

    /// Runs an admin command on devK, as `admin --node devK …` would.
    pub async fn admin(&self, k: u32, line: &str) -> Result<String, Error> {
        let words: Vec<&str> = line.split_whitespace().collect();
        crate::node::admin::run(self.node(k), &words).await
    }

    /// The nodes clients may use: see [`Targets`].
    pub fn targets(&self) -> Targets<A> {
        self.targets.clone()
    }

    /// Stops devK (its port closes: to the others it looks like a crash).
    pub async fn stop_node(&mut self, k: u32) {
        // Clients stop choosing it first; a request already on its way meets the stop.
        self.targets.remove(k);
        let member = &mut self.members[k as usize - 1];
        if let Some((node, _)) = member.running.take() {
            // A node that never finishes stopping is a bug to report, not a test to hang.
            if tokio::time::timeout(DEFAULT_DEADLINE, node.stop())
                .await
                .is_err()
            {
                panic!(
                    "dev{k} did not stop within {DEFAULT_DEADLINE:?}: some task of it never ends"
                );
            }
        }
    }

    /// Starts devK again, with its data directory and on the port it had.
    pub async fn start_node(&mut self, k: u32) {
        let app = self.launch(k).await;
        self.targets.insert(k, app);
    }

    /// Starts devK, without offering it to clients yet; returns its application.
    async fn launch(&mut self, k: u32) -> A {
        let member = &mut self.members[k as usize - 1];
        assert!(member.running.is_none(), "dev{k} is already running");
        let node = Node::start(member.config.clone())
            .await
            .unwrap_or_else(|e| panic!("dev{k} starts: {e}"));
        // Restarts reuse the port so that other nodes find the node where it was.
        member.config.listen = node.addr();
        let app = A::start(&node)
            .await
            .unwrap_or_else(|e| panic!("the application starts on dev{k}: {e}"));
        member.running = Some((node, app.clone()));
        app
    }

    /// Whether devK is running.
    pub fn is_running(&self, k: u32) -> bool {
        self.members[k as usize - 1].running.is_some()
    }

    /// The nodes that are running.
    pub fn running_nodes(&self) -> impl Iterator<Item = &Node> {
        self.members
            .iter()
            .filter_map(|m| m.running.as_ref().map(|(n, _)| n))
    }

    /// Waits until every running node holds the same ring version with no transfer pending.
    pub async fn wait_settled(&self) {
        self.wait_until("every node holds the same settled ring", || async {
            let rings: Vec<_> = self.running_nodes().map(|n| n.ring()).collect();
            rings
                .iter()
                .all(|r| r.is_settled() && r.version() == rings[0].version())
        })
        .await;
    }

    /// Waits until `condition` holds, checking every 20 ms, for at most [`DEFAULT_DEADLINE`],
    /// as [`wait_until`] does; but gives up at once, naming the hole, when a node has run into
    /// a hole of the exercise (see [`Node::holes_met`]): a callback that is not written yet
    /// fails every time, so what the test waits for (a handoff, a settled ring) never comes.
    pub async fn wait_until<F, Fut>(&self, what: &str, condition: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = bool>,
    {
        wait_or_give_up(what, DEFAULT_DEADLINE, || async {
            match self.hole_met() {
                Some(hole) => Err(hole),
                None => Ok(condition().await),
            }
        })
        .await
    }

    /// The first hole a running node has run into, said as `devK ran into …`.
    fn hole_met(&self) -> Option<String> {
        (1..=self.members.len() as u32)
            .filter(|&k| self.is_running(k))
            .find_map(|k| {
                let hole = self.node(k).holes_met().into_iter().next()?;
                Some(format!(
                    "dev{k} ran into a hole of the exercise, which fails every time: {hole}"
                ))
            })
    }

    /// Stops every node.
    pub async fn stop(mut self) {
        for k in 1..=self.members.len() as u32 {
            self.stop_node(k).await;
        }
    }
}

/// The partitions whose `vnode_type` data has a directory on a node's disk, in ring order: a
/// vnode creates its directory on its first write, and deletes it once handed off.
pub fn partition_dirs(data_dir: &Path, vnode_type: &str, ring_size: u32) -> Vec<Partition> {
    let mut found: Vec<Partition> = std::fs::read_dir(data_dir.join(vnode_type))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| Partition::from_id(&e.file_name().to_string_lossy(), ring_size))
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| p.index());
    found
}

/// Waits until `condition` holds, checking every 20 ms, for at most [`DEFAULT_DEADLINE`];
/// panics with `what` if it never does.
pub async fn wait_until<F, Fut>(what: &str, condition: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_until_within(what, DEFAULT_DEADLINE, condition).await
}

/// [`wait_until`] with a deadline of your choosing.
pub async fn wait_until_within<F, Fut>(what: &str, deadline: Duration, condition: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_or_give_up(what, deadline, || async { Ok(condition().await) }).await
}

/// Waits until `check` answers `Ok(true)`, checking every 20 ms, for at most `deadline`.
/// `Ok(false)` is "not yet"; `Err(why)` is a final answer — the condition can no longer come
/// true (a hole answered, a write was refused) — and the wait fails at once, saying why,
/// instead of waiting the deadline out.
pub async fn wait_or_give_up<F, Fut>(what: &str, deadline: Duration, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<bool, String>>,
{
    let end = Instant::now() + deadline;
    loop {
        match check().await {
            Ok(true) => return,
            Ok(false) => {}
            Err(why) => panic!("stopped waiting until {what}: {why}"),
        }
        if Instant::now() > end {
            panic!("timed out after {deadline:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Fails, saying `what` was being checked, if `text` (a console session, an answer) names a
/// hole of the exercise: a snapshot's diff would bury the one line that says what to write.
#[track_caller]
pub fn assert_no_hole(what: &str, text: &str) {
    if let Some(hole) = crate::holes::hole_in(text) {
        panic!("{what} ran into a hole: {hole}\n--- all of it:\n{text}");
    }
}

/// A node process of an exercise's binary (`start --node devK`), killed when dropped so that a
/// failing test leaves nothing running.
pub struct NodeProcess {
    pub child: std::process::Child,
    /// Where it serves, from the line it printed: `cluster`, and `http`, `chat`… if any.
    pub places: std::collections::BTreeMap<String, SocketAddr>,
    /// The file its log goes to, when known.
    log: Option<PathBuf>,
}

impl NodeProcess {
    /// Runs `binary start --node devK --cluster-port PORT --http-port 0 --data-dir DATA/devK
    /// --cookie COOKIE EXTRA…` (port 0: any free one; [`COOKIE`], the tests' cookie; `EXTRA`
    /// may name another HTTP port, the last one given wins), its log in `log` (or dropped),
    /// and waits for the line saying where it listens. Every node serves HTTP (the ring page),
    /// so even a test that does not use it must not take devK's usual port.
    pub fn start(
        binary: &str,
        k: u32,
        data: &Path,
        port: u16,
        extra: &[&str],
        log: Option<&Path>,
    ) -> NodeProcess {
        use std::process::{Command, Stdio};
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
            None => Stdio::null(),
        };
        let mut command = Command::new(binary);
        command
            .args([
                "start",
                "--node",
                &format!("dev{k}"),
                "--cluster-port",
                &port.to_string(),
                "--http-port",
                "0",
            ])
            .args([
                "--data-dir",
                data.join(format!("dev{k}")).to_str().expect("UTF-8 path"),
            ])
            .args(["--cookie", COOKIE])
            .args(extra)
            .stderr(stderr);
        let mut process = NodeProcess::spawn(command);
        process.log = log.map(Path::to_path_buf);
        process
    }

    /// Runs `command`, a node's `start` command line, with its standard output read here and
    /// no input, and waits for the line saying where it listens. What it does with its
    /// standard error (its log) is the caller's choice.
    pub fn spawn(mut command: std::process::Command) -> NodeProcess {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the node binary runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the node prints where it listens");
        let places = parse_started_line(&line)
            .unwrap_or_else(|| panic!("the node did not start ({command:?}): {line:?}"));
        NodeProcess {
            child,
            places,
            log: None,
        }
    }

    /// The node's cluster port.
    pub fn port(&self) -> u16 {
        self.places["cluster"].port()
    }

    /// The first hole of the exercise the node has run into, as its log says (the `hole: …`
    /// line of [`crate::holes`]); `None` if none yet, or if its log is in no file known here
    /// (only [`Self::start`] knows it). A test waiting for what the hole prevents can stop at
    /// once.
    pub fn hole(&self) -> Option<String> {
        let log = std::fs::read_to_string(self.log.as_ref()?).ok()?;
        let line = log.lines().find_map(|l| l.strip_prefix("hole: "))?;
        // Without the place and count: `… (README step 3) [at src/vnode.rs:73; 1st time]`.
        let hole = line.rsplit_once(" [at ").map_or(line, |(hole, _)| hole);
        Some(hole.to_string())
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `binary devrel N` in `dir` with every port free (`--cluster-port 0` and the others)
/// and the tests' [`COOKIE`], its input piped and left open (as a terminal nobody types in),
/// its output piped for the test to read: the lines saying where each node listens, then how
/// to stop them.
pub fn spawn_devrel(binary: &str, n: u32, dir: &Path) -> DevrelProcess {
    use std::process::{Command, Stdio};
    let child = Command::new(binary)
        .args(["devrel", &n.to_string()])
        .args([
            "--cluster-port",
            "0",
            "--http-port",
            "0",
            "--chat-port",
            "0",
            "--cookie",
            COOKIE,
        ])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("devrel runs");
    DevrelProcess(child)
}

/// Asks `probe` again and again, a few times a second, until it answers `Ok`, for at most
/// `timeout`: the blocking wait of process tests (a node to exit, a tool to print what is
/// expected). `Err` says what was seen last, for the message if the time runs out.
pub fn poll_within<T>(
    timeout: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let seen = match probe() {
            Ok(found) => return Ok(found),
            Err(seen) => seen,
        };
        if std::time::Instant::now() >= deadline {
            return Err(seen);
        }
        std::thread::sleep(POLL_PAUSE);
    }
}

/// [`poll_within`], failing the test when the time runs out: `waiting until {what}`, and
/// what was seen last.
pub fn poll_until<T>(what: &str, timeout: Duration, probe: impl FnMut() -> Result<T, String>) -> T {
    poll_within(timeout, probe).unwrap_or_else(|seen| {
        panic!("timed out after {timeout:?} waiting until {what}; last seen: {seen}")
    })
}

/// How long [`poll_within`] rests between two looks.
const POLL_PAUSE: Duration = Duration::from_millis(50);

/// A child process's exit status, once it has one (for [`poll_until`]).
pub fn exited(child: &mut std::process::Child) -> Result<std::process::ExitStatus, String> {
    child
        .try_wait()
        .expect("the process's status")
        .ok_or_else(|| "still running".to_string())
}

/// A devrel run by a test, which a failing test does not leave running: dropping it ends its
/// input (devrel then stops its nodes), and kills it if it is still there after a while. It
/// derefs to its [`std::process::Child`].
pub struct DevrelProcess(std::process::Child);

impl DevrelProcess {
    /// Ends its input and waits until it has stopped its nodes and returned.
    pub fn end(mut self) {
        drop(self.0.stdin.take());
        poll_until(
            "devrel returns at the end of its input",
            Duration::from_secs(30),
            || exited(&mut self.0),
        );
    }
}

impl std::ops::Deref for DevrelProcess {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for DevrelProcess {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for DevrelProcess {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        if poll_within(Duration::from_secs(15), || exited(&mut self.0)).is_ok() {
            return;
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a tool of an exercise's binary against a node (`binary ARGS… --node devK
/// --cluster-port PORT --cookie COOKIE`, with the tests' [`COOKIE`]), with `input` on its
/// standard input; returns what it printed and whether it succeeded.
pub fn run_tool(binary: &str, k: u32, port: u16, args: &[&str], input: &str) -> (String, bool) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(binary)
        .args(args)
        .args([
            "--node",
            &format!("dev{k}"),
            "--cluster-port",
            &port.to_string(),
            "--cookie",
            COOKIE,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the tool runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("input");
    let output = child.wait_with_output().expect("the tool ends");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        output.status.success(),
    )
}
