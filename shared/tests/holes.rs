//! A hole of an exercise as the runtime and the test harness meet it: a vnode callback that
//! panics with `not implemented yet: …` fails its request and the vnode lives on, the node
//! remembers the hole, and a test waiting for what the hole prevents stops at once.

use ringcore::testing::TestCluster;
use ringcore::{App, CommandHelp, Error, Node, Vnode, VnodeContext, VnodeMaster};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

const HOLE: &str = "not implemented yet: write Unfinished::is_empty (README step 3)";

/// A vnode half written: it answers commands, but `is_empty`, which every handoff asks
/// first, is still a hole.
struct Unfinished;

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Cmd {
    Hello,
    /// A panic that is not a hole.
    Panic,
    /// The hole, called directly.
    IsEmpty,
}

impl Vnode for Unfinished {
    type Command = Cmd;
    type Reply = bool;
    type CoverageRequest = ();
    type CoverageReply = ();
    type HandoffItem = ();

    fn init(_: VnodeContext) -> Result<Self, String> {
        Ok(Unfinished)
    }

    fn handle_command(&mut self, command: Cmd) -> bool {
        match command {
            Cmd::Hello => true,
            Cmd::Panic => panic!("a bug, not a hole"),
            Cmd::IsEmpty => self.is_empty(),
        }
    }

    fn handle_coverage(&mut self, _: ()) {}

    fn is_empty(&mut self) -> bool {
        panic!("{HOLE}");
    }
}

#[derive(Clone)]
struct UnfinishedApp {
    vnodes: VnodeMaster<Unfinished>,
}

impl App for UnfinishedApp {
    const COMMANDS: &'static [CommandHelp] = &[];

    async fn start(node: &Node) -> Result<Self, Error> {
        Ok(UnfinishedApp {
            vnodes: node.register::<Unfinished>("unfinished"),
        })
    }

    async fn run(&self, command: &str, _: &[&str]) -> Result<String, Error> {
        Err(Self::usage(command))
    }
}

impl UnfinishedApp {
    /// Sends `command` to the vnode that `key` hashes to.
    async fn send(&self, key: &str, command: Cmd) -> Result<bool, Error> {
        let hash = ringcore::chash_key(b"unfinished", key.as_bytes());
        let vnode = self.vnodes.apl(&hash, 1).remove(0).target;
        self.vnodes.sync_command(&vnode, command).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_remembers_each_hole_its_vnodes_ran_into_once() {
    let cluster = TestCluster::<UnfinishedApp>::start(1).await;
    let app = cluster.app(1);
    assert!(app.send("a", Cmd::Hello).await.unwrap());
    let error = app.send("a", Cmd::Panic).await.unwrap_err();
    assert!(error.to_string().contains("a bug, not a hole"), "{error}");
    assert!(
        cluster.node(1).holes_met().is_empty(),
        "a panic that is not a hole is not one"
    );
    for key in ["a", "b", "a"] {
        let error = app.send(key, Cmd::IsEmpty).await.unwrap_err();
        assert!(error.to_string().ends_with(HOLE), "{error}");
    }
    assert_eq!(cluster.node(1).holes_met(), vec![HOLE.to_string()]);
    // The vnode lives on.
    assert!(app.send("a", Cmd::Hello).await.unwrap());
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_ring_that_a_hole_keeps_from_settling_stops_at_once() {
    let cluster = TestCluster::<UnfinishedApp>::start(2).await;
    // Vnodes that hold something on dev1: the join hands half of them to dev2, which asks
    // each `is_empty` first.
    for i in 0..20 {
        cluster
            .app(1)
            .send(&format!("key {i}"), Cmd::Hello)
            .await
            .unwrap();
    }
    let started = Instant::now();
    let waiting = tokio::spawn(async move { cluster.join_all().await });
    let failure = waiting
        .await
        .expect_err("the ring cannot settle while is_empty is a hole");
    let message = failure.into_panic();
    let message = message
        .downcast_ref::<String>()
        .expect("a panic with a message");
    assert_eq!(
        message,
        &format!(
            "stopped waiting until every node holds the same settled ring: dev1 ran into a \
             hole of the exercise, which fails every time: {HOLE}"
        )
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the wait gave up at once, not at its deadline: {:?}",
        started.elapsed()
    );
}
