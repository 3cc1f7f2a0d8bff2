//! Handoff moves real data: ownership transfers after a join or a leave, hinted handoff after
//! a node returns, and writes under load during a join. And it says what it does: one line
//! per completed transfer, one warning per failure of a vnode's callback (not one per try),
//! and no warning when a receiver is only busy.

mod common;

use common::DbApp;
use ringcore::streams::Nwr;
use ringcore::testing::{
    self, CapturedLogs, SteadyWriter, TestCluster, assert_acknowledged_stored, wait_until,
};
use ringcore::{
    App, CommandHelp, Error, IndexNode, Node, Partition, Vnode, VnodeContext, VnodeMaster,
};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Condvar, Mutex};

const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const TOPICS: [&str; 4] = ["rust", "erlang", "riak", "chat"];

/// The tutorial's data: 4 users × 4 topics × 10 messages, written on dev1.
async fn write_demo_data(cluster: &TestCluster<DbApp>, nwr: Nwr) {
    for user in USERS {
        for topic in TOPICS {
            for i in 1..=10 {
                let message = format!("{user} on {topic}: message {i}");
                let written = cluster
                    .app(1)
                    .db
                    .post(user, topic, message.into_bytes(), nwr)
                    .await
                    .unwrap();
                assert_eq!(written.entry.seq, i);
            }
        }
    }
}

/// Checks that every node reads every message with its sequence number.
async fn assert_demo_data_everywhere(cluster: &TestCluster<DbApp>, nodes: &[u32], nwr: Nwr) {
    for &k in nodes {
        for user in USERS {
            for topic in TOPICS {
                let read = cluster
                    .app(k)
                    .db
                    .read(user, topic, 1, 100, nwr)
                    .await
                    .unwrap();
                let got: Vec<(u64, String)> = read
                    .entries
                    .iter()
                    .map(|e| (e.seq, String::from_utf8_lossy(&e.payload).into_owned()))
                    .collect();
                let want: Vec<(u64, String)> = (1..=10)
                    .map(|i| (i, format!("{user} on {topic}: message {i}")))
                    .collect();
                assert_eq!(got, want, "dev{k} reading {user}/{topic}");
            }
        }
    }
}

/// The partitions with stream vnode data on a node's disk.
fn partition_dirs(data_dir: &Path) -> Vec<Partition> {
    testing::partition_dirs(data_dir, "stream_vnode", 64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_demo_data_moves_to_the_new_node() {
    let cluster = TestCluster::<DbApp>::start(2).await;
    write_demo_data(&cluster, Nwr::ONE).await;
    let before = partition_dirs(&cluster.data_dir(1));
    assert!(before.len() >= 10, "{before:?}");
    cluster.join_all().await;
    let ring = cluster.node(1).ring();
    assert_eq!(ring.owned_by(&cluster.name(1)).count(), 32);
    assert_eq!(ring.owned_by(&cluster.name(2)).count(), 32);
    assert_demo_data_everywhere(&cluster, &[1, 2], Nwr::ONE).await;
    // dev1 no longer keeps the partitions it handed over; dev2 has them.
    wait_until(
        "dev1's handed-off partition directories are deleted",
        || async {
            partition_dirs(&cluster.data_dir(1))
                .iter()
                .all(|p| ring.owner(*p) == &cluster.name(1))
        },
    )
    .await;
    let on_dev2 = partition_dirs(&cluster.data_dir(2));
    assert!(!on_dev2.is_empty());
    assert_eq!(
        before.len(),
        partition_dirs(&cluster.data_dir(1)).len() + on_dev2.len()
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaving_node_hands_its_data_over_before_it_goes() {
    let cluster = TestCluster::<DbApp>::start_joined(3).await;
    write_demo_data(&cluster, Nwr::default()).await;
    cluster.admin(3, "cluster leave").await.unwrap();
    cluster.admin(1, "cluster plan").await.unwrap();
    cluster.admin(1, "cluster commit").await.unwrap();
    let dev3 = cluster.name(3);
    wait_until("dev3 has left", || async {
        let ring = cluster.node(1).ring();
        !ring.is_member(&dev3)
            && ring.is_settled()
            && cluster.node(2).ring().version() == ring.version()
    })
    .await;
    assert_demo_data_everywhere(&cluster, &[1, 2], Nwr::default()).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hinted_handoff_gives_the_returning_node_its_data() {
    let mut cluster = TestCluster::<DbApp>::start_joined(4).await;
    let dev4 = cluster.name(4);
    cluster.stop_node(4).await;
    wait_until("the others see dev4 down", || async {
        (1..=3).all(|k| !cluster.node(k).is_up(&dev4))
    })
    .await;
    // With dev4 down, its replicas are written to fallbacks on the others.
    write_demo_data(&cluster, Nwr::default()).await;
    let fallback_data = |cluster: &TestCluster<DbApp>| {
        let ring = cluster.node(1).ring();
        [1, 2, 3].iter().any(|k| {
            partition_dirs(&cluster.data_dir(*k))
                .iter()
                .any(|p| ring.owner(*p) == &dev4)
        })
    };
    assert!(fallback_data(&cluster), "the fallbacks hold dev4's writes");
    cluster.start_node(4).await;
    wait_until("hinted handoff empties the fallbacks", || async {
        !fallback_data(&cluster)
    })
    .await;
    // dev4's own vnodes now hold every entry of the streams it is a replica of: ask them
    // directly (n=3, r=3 would also repair, so it would not tell).
    let ring = cluster.node(4).ring();
    for user in USERS {
        for topic in TOPICS {
            let replicas =
                ring.preflist(&ringcore::chash_key(user.as_bytes(), topic.as_bytes()), 3);
            for vnode in replicas.iter().filter(|v| v.node == dev4) {
                let command = ringcore::streams::StreamCommand::Read {
                    bucket: user.into(),
                    stream: topic.into(),
                    from: 1,
                    limit: 100,
                };
                let reply = cluster
                    .app(4)
                    .db
                    .vnodes()
                    .sync_command(vnode, command)
                    .await
                    .unwrap();
                let ringcore::streams::StreamReply::Entries(entries) = reply else {
                    panic!("{reply:?}")
                };
                assert_eq!(
                    entries.len(),
                    10,
                    "dev4's vnode {} for {user}/{topic}",
                    vnode.partition
                );
            }
        }
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_during_a_join_are_neither_lost_nor_duplicated() {
    let cluster = TestCluster::<DbApp>::start(3).await;
    // A client writing steadily to 20 streams through dev1, remembering what was acknowledged.
    let writer = SteadyWriter::start(cluster.app(1).db.clone(), "load", 20);
    writer.wait_for_more(100).await;
    cluster.join_all().await;
    // Writes go on once the ring has moved, through the new owners.
    writer.wait_for_more(50).await;
    let acked = writer.stop().await;
    for k in 1..=3 {
        let on = format!("dev{k}");
        assert_acknowledged_stored(&cluster.app(k).db, "load", &acked, &on).await;
    }
    cluster.stop().await;
}

/// Which callback of a [`Flaky`] vnode is broken: it panics with `<callback> is broken` (or,
/// for `handle_handoff_data`, returns that error).
const NOTHING: u8 = 0;
const IS_EMPTY: u8 = 1;
const FOLD: u8 = 2;
const ENCODE: u8 = 3;
const HANDLE_DATA: u8 = 4;
const DELETE: u8 = 5;
/// Not broken: `handle_handoff_data` waits until the test opens [`GATE`].
const HELD: u8 = 6;

/// Holds every `handle_handoff_data` of a `Flaky<HELD>` vnode until it is opened.
static GATE: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

fn open_gate() {
    *GATE
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
    GATE.1.notify_all();
}

/// Opens [`GATE`] when dropped: also when the test fails before it opened it, which would
/// otherwise leave the runtime waiting for the held vnode forever.
struct OpenGateOnDrop;

impl Drop for OpenGateOnDrop {
    fn drop(&mut self) {
        open_gate();
    }
}

/// A vnode holding a set of numbers in memory, with one of its handoff callbacks broken.
struct Flaky<const BROKEN: u8> {
    items: BTreeSet<u64>,
}

fn breaks<const BROKEN: u8>(callback: u8, name: &str) {
    if BROKEN == callback {
        panic!("{name} is broken");
    }
}

impl<const BROKEN: u8> Vnode for Flaky<BROKEN> {
    type Command = u64;
    type Reply = usize;
    type CoverageRequest = ();
    type CoverageReply = usize;
    type HandoffItem = u64;

    fn init(_: VnodeContext) -> Result<Self, String> {
        Ok(Flaky {
            items: BTreeSet::new(),
        })
    }

    fn handle_command(&mut self, item: u64) -> usize {
        self.items.insert(item);
        self.items.len()
    }

    fn handle_coverage(&mut self, _: ()) -> usize {
        self.items.len()
    }

    fn is_empty(&mut self) -> bool {
        breaks::<BROKEN>(IS_EMPTY, "is_empty");
        self.items.is_empty()
    }

    fn fold(&mut self, visit: &mut dyn FnMut(u64) -> ControlFlow<()>) {
        breaks::<BROKEN>(FOLD, "fold");
        for item in &self.items {
            if visit(*item).is_break() {
                break;
            }
        }
    }

    fn encode_handoff_item(item: &u64) -> Vec<u8> {
        breaks::<BROKEN>(ENCODE, "encode_handoff_item");
        item.to_be_bytes().to_vec()
    }

    fn handle_handoff_data(&mut self, data: &[u8]) -> Result<(), String> {
        if BROKEN == HANDLE_DATA {
            return Err("handle_handoff_data is broken".into());
        }
        if BROKEN == HELD {
            // Off the runtime's worker, so that the node goes on serving meanwhile.
            tokio::task::block_in_place(|| {
                let open = GATE.0.lock().unwrap();
                drop(GATE.1.wait_while(open, |open| !*open).unwrap());
            });
        }
        let bytes = <[u8; 8]>::try_from(data).map_err(|_| "not an item".to_string())?;
        self.items.insert(u64::from_be_bytes(bytes));
        Ok(())
    }

    fn delete(&mut self) {
        breaks::<BROKEN>(DELETE, "delete");
        self.items.clear();
    }
}

#[derive(Clone)]
struct FlakyApp<const BROKEN: u8> {
    vnodes: VnodeMaster<Flaky<BROKEN>>,
}

impl<const BROKEN: u8> App for FlakyApp<BROKEN> {
    const COMMANDS: &'static [CommandHelp] = &[];

    async fn start(node: &Node) -> Result<Self, Error> {
        Ok(FlakyApp {
            vnodes: node.register::<Flaky<BROKEN>>("flaky_vnode"),
        })
    }

    async fn run(&self, command: &str, _: &[&str]) -> Result<String, Error> {
        Err(Self::usage(command))
    }
}

/// Puts one item in every partition of dev1, which is alone: it holds the whole ring.
async fn fill<const BROKEN: u8>(cluster: &TestCluster<FlakyApp<BROKEN>>) {
    for index in 0..64 {
        let vnode = IndexNode {
            partition: Partition::new(index, 64),
            node: cluster.name(1),
        };
        let held = cluster
            .app(1)
            .vnodes
            .sync_command(&vnode, index as u64)
            .await;
        assert_eq!(held, Ok(1), "partition {index} of dev1");
    }
}

/// The handoff warnings logged so far.
fn handoff_warnings(logs: &CapturedLogs) -> Vec<String> {
    logs.matching("handoff of flaky_vnode")
        .into_iter()
        .filter(|line| line.contains("WARN"))
        .collect()
}

/// dev2 joins dev1, which holds data for half the ring that it cannot hand over: one of the
/// callbacks fails every time. The failure is logged as a warning once, with its reason;
/// the tries after it (of that partition and of the others) only at debug level.
fn a_broken_callback_is_warned_about_once<const BROKEN: u8>(reason: &str) {
    let logs = CapturedLogs::new("ringcore=debug");
    logs.run(async {
        let cluster = TestCluster::<FlakyApp<BROKEN>>::start(2).await;
        fill(&cluster).await;
        cluster.join(2).await;
        wait_until("the handoff has failed three times", || async {
            logs.matching(reason).len() >= 3
        })
        .await;
        let (failures, warnings) = (logs.matching(reason), handoff_warnings(&logs));
        cluster.stop().await;
        assert_eq!(warnings.len(), 1, "one warning: {failures:#?}");
        let warning = &warnings[0];
        let expected = format!(
            " from dev1@127.0.0.1 to dev2@127.0.0.1 failed; \
             it will be tried again in 0.2 s: {reason}"
        );
        assert!(
            warning.contains("WARN ownership handoff of flaky_vnode ")
                && warning.ends_with(&expected),
            "{warning}\nshould end with\n{expected}"
        );
        assert_eq!(&failures[0], warning, "the first failure is the warning");
        assert!(
            failures[1..]
                .iter()
                .all(|line| line.contains("DEBUG") && line.contains(" failed again; ")),
            "the later failures are debug lines: {failures:#?}"
        );
    });
}

#[test]
fn a_failing_is_empty_is_logged_once_with_its_reason() {
    a_broken_callback_is_warned_about_once::<IS_EMPTY>(
        "Flaky::is_empty panicked: is_empty is broken",
    );
}

#[test]
fn a_failing_fold_is_logged_once_with_its_reason() {
    a_broken_callback_is_warned_about_once::<FOLD>("Flaky::fold panicked: fold is broken");
}

#[test]
fn a_failing_encode_handoff_item_is_logged_once_with_its_reason() {
    a_broken_callback_is_warned_about_once::<ENCODE>(
        "Flaky::encode_handoff_item panicked: encode_handoff_item is broken",
    );
}

#[test]
fn a_failing_handle_handoff_data_is_logged_once_by_the_sender() {
    a_broken_callback_is_warned_about_once::<HANDLE_DATA>(
        "dev2@127.0.0.1 answered: Flaky::handle_handoff_data failed: handle_handoff_data is broken",
    );
}

#[test]
fn a_failing_delete_is_logged_once_with_its_reason() {
    a_broken_callback_is_warned_about_once::<DELETE>("Flaky::delete panicked: delete is broken");
}

/// The completion lines logged, by partition id.
fn completion_lines(logs: &CapturedLogs, vnode_type: &str) -> BTreeMap<String, Vec<String>> {
    let mut lines: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in logs.matching(&format!("transfer of {vnode_type} from ")) {
        let partition = line
            .split("' ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("a partition in {line}"))
            .to_string();
        lines.entry(partition).or_default().push(line);
    }
    lines
}

/// A receiver with no free slot is backpressure: the sender waits for its turn, with a debug
/// line and no warning. Transfers end while the manager looks for more work, and none of
/// them is followed by a second, empty transfer of its partition: one line each.
#[test]
fn a_busy_receiver_is_waited_for_without_a_warning() {
    let logs = CapturedLogs::new("ringcore=debug");
    let _gate = OpenGateOnDrop;
    logs.run(async {
        // dev2 receives one transfer at a time, and holds the first one until the gate opens;
        // dev1 sends two at once.
        let cluster = TestCluster::<FlakyApp<HELD>>::start_with(2, |config| {
            if config.name.as_str().starts_with("dev2@") {
                config.handoff_concurrency = 1;
            }
        })
        .await;
        fill(&cluster).await;
        cluster.join(2).await;
        let busy = "every handoff slot of dev2@127.0.0.1 is taken";
        wait_until("dev1 finds dev2 busy", || async {
            !logs.matching(busy).is_empty()
        })
        .await;
        open_gate();
        cluster.wait_settled().await;
        wait_until("every transfer has logged its completion", || async {
            completion_lines(&logs, "flaky_vnode").len() == 32
        })
        .await;
        cluster.stop().await;
        let waits = logs.matching(busy);
        assert!(
            waits
                .iter()
                .all(|line| line.contains("DEBUG") && line.contains("waits")),
            "{waits:#?}"
        );
        assert_eq!(handoff_warnings(&logs), Vec::<String>::new());
        for (partition, lines) in completion_lines(&logs, "flaky_vnode") {
            assert_eq!(lines.len(), 1, "partition {partition}: {lines:#?}");
            assert!(
                lines[0].contains("sent 8 B in 1 of 1 objects"),
                "{}",
                lines[0]
            );
        }
    });
}

/// The tutorial's demo on the stream database, joining two nodes at once: one completion line
/// per partition moved, none for an empty transfer.
#[test]
fn each_transfer_logs_one_completion_line() {
    let logs = CapturedLogs::new("ringcore=info");
    logs.run(async {
        let cluster = TestCluster::<DbApp>::start(3).await;
        write_demo_data(&cluster, Nwr::ONE).await;
        let before = partition_dirs(&cluster.data_dir(1));
        cluster.join_all().await;
        let ring = cluster.node(1).ring();
        let moved: BTreeSet<String> = before
            .iter()
            .filter(|p| ring.owner(**p) != &cluster.name(1))
            .map(|p| p.id())
            .collect();
        wait_until("dev1's handed-off partitions are deleted", || async {
            partition_dirs(&cluster.data_dir(1))
                .iter()
                .all(|p| ring.owner(*p) == &cluster.name(1))
        })
        .await;
        wait_until("every transfer has logged its completion", || async {
            completion_lines(&logs, "stream_vnode").len() >= moved.len()
        })
        .await;
        cluster.stop().await;
        let lines = completion_lines(&logs, "stream_vnode");
        assert_eq!(lines.keys().cloned().collect::<BTreeSet<_>>(), moved);
        for (partition, lines) in lines {
            assert_eq!(lines.len(), 1, "partition {partition}: {lines:#?}");
            assert!(!lines[0].contains(" 0 of 0 objects"), "{}", lines[0]);
        }
    });
}

/// The same cluster as the failing ones, with no callback broken: no warning at all.
#[test]
fn a_vnode_that_works_logs_no_warning() {
    let logs = CapturedLogs::new("ringcore=info");
    logs.run(async {
        let cluster = TestCluster::<FlakyApp<NOTHING>>::start(2).await;
        fill(&cluster).await;
        cluster.join_all().await;
        wait_until("every transfer has logged its completion", || async {
            completion_lines(&logs, "flaky_vnode").len() == 32
        })
        .await;
        cluster.stop().await;
        assert_eq!(handoff_warnings(&logs), Vec::<String>::new());
    });
}
