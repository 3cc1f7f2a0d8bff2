//! Vnode hosting on one node: ordering, timeouts, tagged replies, coverage, failures.

use ringcore::{
    Error, IndexNode, Node, NodeConfig, Partition, ReplyTo, Vnode, VnodeContext, VnodeMaster,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A vnode that records the order of what it is sent, and can be told to stall or panic.
struct Recorder {
    seen: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Cmd {
    Record(u64),
    Seen,
    Stall(u64),
    Panic,
}

impl Vnode for Recorder {
    type Command = Cmd;
    type Reply = Vec<u64>;
    type CoverageRequest = ();
    type CoverageReply = u64;
    type HandoffItem = ();

    fn init(ctx: VnodeContext) -> Result<Self, String> {
        // Partition 13 refuses to start, to test how a failed init is reported.
        if ctx.partition.index() == 13 {
            return Err("partition 13 is cursed".into());
        }
        Ok(Recorder { seen: Vec::new() })
    }

    fn handle_command(&mut self, command: Cmd) -> Vec<u64> {
        match command {
            Cmd::Record(n) => {
                self.seen.push(n);
                vec![n]
            }
            Cmd::Seen => self.seen.clone(),
            Cmd::Stall(ms) => {
                std::thread::sleep(Duration::from_millis(ms));
                vec![]
            }
            Cmd::Panic => panic!("asked to panic"),
        }
    }

    fn handle_coverage(&mut self, _request: ()) -> u64 {
        self.seen.len() as u64
    }
}

async fn start() -> (Node, VnodeMaster<Recorder>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::for_test(1, dir.path());
    config.ring_size = 16;
    let node = Node::start(config).await.unwrap();
    let service = node.register::<Recorder>("recorder");
    (node, service, dir)
}

fn vnode(node: &Node, index: u32) -> IndexNode {
    IndexNode {
        partition: Partition::new(index, 16),
        node: node.name().clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_to_one_vnode_are_handled_in_the_order_sent() {
    let (node, service, _dir) = start().await;
    let (reply_to, mut replies) = ReplyTo::channel();
    let target = vec![vnode(&node, 3)];
    let mut ids = Vec::new();
    for n in 0..2000 {
        ids.push(service.command(&target, Cmd::Record(n), &reply_to));
    }
    // Replies come back tagged with the id of their request, in order.
    for (n, id) in ids.iter().enumerate() {
        let reply = replies.recv().await.unwrap();
        assert_eq!(reply.request, *id);
        assert_eq!(reply.from, target[0]);
        assert_eq!(reply.result.unwrap(), vec![n as u64]);
    }
    let seen = service.sync_command(&target[0], Cmd::Seen).await.unwrap();
    assert_eq!(seen, (0..2000).collect::<Vec<_>>());
    // Another vnode saw nothing: each partition has its own state.
    assert!(
        service
            .sync_command(&vnode(&node, 4), Cmd::Seen)
            .await
            .unwrap()
            .is_empty()
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_callers_keep_per_vnode_order() {
    let (node, service, _dir) = start().await;
    let mut callers = Vec::new();
    for caller in 0..4u64 {
        let service = service.clone();
        let target = vnode(&node, caller as u32);
        callers.push(tokio::spawn(async move {
            for n in 0..500 {
                service
                    .sync_command(&target, Cmd::Record(caller * 10_000 + n))
                    .await
                    .unwrap();
            }
        }));
    }
    for caller in callers {
        caller.await.unwrap();
    }
    for caller in 0..4u64 {
        let seen = service
            .sync_command(&vnode(&node, caller as u32), Cmd::Seen)
            .await
            .unwrap();
        assert_eq!(
            seen,
            (0..500).map(|n| caller * 10_000 + n).collect::<Vec<_>>()
        );
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_vnode_times_out_and_says_so() {
    let (node, service, _dir) = start().await;
    let error = service
        .sync_command_timeout(&vnode(&node, 5), Cmd::Stall(500), Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "command timed out after 50 ms: 0 of 1 replicas answered"
    );
    // The vnode is still there afterwards, with its requests in order.
    assert!(
        service
            .sync_command(&vnode(&node, 5), Cmd::Seen)
            .await
            .unwrap()
            .is_empty()
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_command_answers_an_error_and_the_vnode_lives_on() {
    let (node, service, _dir) = start().await;
    let target = vnode(&node, 2);
    service.sync_command(&target, Cmd::Record(1)).await.unwrap();
    let error = service.sync_command(&target, Cmd::Panic).await.unwrap_err();
    assert!(matches!(error, Error::VnodeFailed { .. }));
    assert!(
        error.to_string().contains("panicked: asked to panic"),
        "{error}"
    );
    assert_eq!(
        service.sync_command(&target, Cmd::Seen).await.unwrap(),
        vec![1]
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vnode_that_fails_to_start_reports_why() {
    let (node, service, _dir) = start().await;
    let error = service
        .sync_command(&vnode(&node, 13), Cmd::Seen)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("could not start: partition 13 is cursed"),
        "{error}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_asks_every_partition_once_and_names_the_missing() {
    let (node, service, _dir) = start().await;
    for index in [0, 0, 7] {
        service
            .sync_command(&vnode(&node, index), Cmd::Record(1))
            .await
            .unwrap();
    }
    let result = service.coverage((), 1, Duration::from_secs(5)).await;
    let answered: Vec<(u32, u64)> = result
        .replies
        .iter()
        .map(|(v, n)| (v.partition.index(), *n))
        .collect();
    let expected: Vec<(u32, u64)> = (0..16)
        .filter(|i| *i != 13)
        .map(|i| {
            (
                i,
                [(0, 2), (7, 1)]
                    .iter()
                    .find(|(p, _)| *p == i)
                    .map_or(0, |(_, n)| *n),
            )
        })
        .collect();
    assert_eq!(answered, expected);
    // Partition 13 cannot start: the result is partial and says so.
    assert!(result.is_partial());
    assert_eq!(result.missing.len(), 1);
    assert_eq!(result.missing[0].0.partition.index(), 13);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_vnode_makes_coverage_partial_and_says_which() {
    let (node, service, _dir) = start().await;
    // Queue a long command on vnode 9 before the coverage request, so it answers too late.
    let (reply_to, mut stalled) = ReplyTo::channel();
    service.command(&[vnode(&node, 9)], Cmd::Stall(1500), &reply_to);
    let result = service.coverage((), 1, Duration::from_millis(300)).await;
    assert!(result.is_partial());
    let mut missing: Vec<u32> = result
        .missing
        .iter()
        .map(|(v, _)| v.partition.index())
        .collect();
    missing.sort();
    assert_eq!(missing, vec![9, 13]);
    let note = result.partial_note().unwrap();
    assert!(
        note.starts_with("partial result: 2 of 16 vnodes did not answer"),
        "{note}"
    );
    assert_eq!(result.replies.len(), 14);
    stalled.recv().await.unwrap().result.unwrap();
    node.stop().await;
}
