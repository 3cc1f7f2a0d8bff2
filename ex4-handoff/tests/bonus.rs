//! The bonus tests of exercise 4 (README, Going further): `cargo test -p ex4-handoff bonus`.
//!
//! They show what goes wrong when a handoff stores entries with `append` instead of
//! `put_entry`, and check that your `find_copies` sees it: first on two stores, with a
//! transfer applied twice (a retry); then on 4-node clusters in this process, over real TCP,
//! where hinted handoff hands a write back to its owner, once through a vnode made wrong on
//! purpose (`AppendingVnode`, below), once through yours.

use ex4_handoff::HandoffApp;
use ex4_handoff::copies::{Repeat, find_copies};
use ringcore::coordinator::Quorum;
use ringcore::store::{Entry, PartitionStore, StoreConfig};
use ringcore::streams::{
    HandoffEntry, Nwr, ReadResult, StreamCommand, StreamCoverage, StreamCoverageReply, StreamReply,
    StreamState, Streams, commands,
};
use ringcore::testing::{TestCluster, partition_dirs, wait_until};
use ringcore::{App, CommandHelp, Error, Node, Vnode, VnodeContext};
use std::ops::ControlFlow;

/// `find_copies`, or the test fails saying why.
fn copies(entries: &[Entry]) -> Vec<Repeat> {
    find_copies(entries).unwrap_or_else(|e| panic!("Going further: find_copies should answer: {e}"))
}

/// (first, again) sequence numbers of each copy.
fn numbers(copies: &[Repeat]) -> Vec<(u64, u64)> {
    copies.iter().map(|c| (c.first.seq, c.again.seq)).collect()
}

fn read_all(store: &mut PartitionStore) -> Vec<Entry> {
    store.read_from("alice", "rust", 1, usize::MAX).unwrap()
}

#[test]
fn bonus_a_retried_transfer_applied_with_append_stores_every_message_twice() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let open = |i: usize| PartitionStore::open(dirs[i].path(), StoreConfig::default()).unwrap();
    let (mut sender, mut with_put, mut with_append) = (open(0), open(1), open(2));
    for i in 1..=5 {
        let text = format!("message {i}");
        sender.append("alice", "rust", text.as_bytes()).unwrap();
    }
    let sent = read_all(&mut sender);
    assert_eq!(
        numbers(&copies(&sent)),
        [],
        "Going further: five different messages are no copies"
    );
    // The transfer breaks after the last entry and is retried from the start: every entry
    // arrives twice.
    for _attempt in 0..2 {
        for entry in &sent {
            with_put.put_entry("alice", "rust", entry).unwrap();
            with_append.append("alice", "rust", &entry.payload).unwrap();
        }
    }
    assert_eq!(
        read_all(&mut with_put),
        sent,
        "put_entry merges by identity: the retry changes nothing"
    );
    let appended = read_all(&mut with_append);
    assert_eq!(
        numbers(&copies(&appended)),
        [(1, 6), (2, 7), (3, 8), (4, 9), (5, 10)],
        "Going further: with append, the retry stored #6 … #10 again: each repeats an earlier entry"
    );
    let first = &copies(&appended)[0];
    assert_eq!(
        (
            first.first.payload.as_slice(),
            first.again.payload.as_slice()
        ),
        (&b"message 1"[..], &b"message 1"[..]),
        "Going further: a copy pairs the first entry of a text with a later one"
    );
}

/// The stream vnode of this exercise, with one mistake made on purpose: a handed-off entry is
/// stored with `append`, which gives it a new number and identity, instead of `put_entry`.
struct AppendingVnode {
    state: StreamState,
}

impl Vnode for AppendingVnode {
    type Command = StreamCommand;
    type Reply = StreamReply;
    type CoverageRequest = StreamCoverage;
    type CoverageReply = StreamCoverageReply;
    type HandoffItem = HandoffEntry;

    fn init(ctx: VnodeContext) -> Result<Self, String> {
        Ok(AppendingVnode {
            state: StreamState::open(&ctx)?,
        })
    }

    fn handle_command(&mut self, command: StreamCommand) -> StreamReply {
        self.state.handle_command(command)
    }

    fn handle_handoff_command(
        &mut self,
        command: StreamCommand,
    ) -> (StreamReply, Vec<HandoffEntry>) {
        self.state.handle_handoff_command(command)
    }

    fn handle_coverage(&mut self, request: StreamCoverage) -> StreamCoverageReply {
        self.state.handle_coverage(request)
    }

    fn fold(&mut self, visit: &mut dyn FnMut(HandoffEntry) -> ControlFlow<()>) {
        self.state.fold(visit)
    }

    fn encode_handoff_item(item: &HandoffEntry) -> Vec<u8> {
        postcard::to_allocvec(item).expect("an entry encodes")
    }

    fn handle_handoff_data(&mut self, data: &[u8]) -> Result<(), String> {
        let item: HandoffEntry = postcard::from_bytes(data).map_err(|e| e.to_string())?;
        // The mistake: a new entry with the same text, not the entry itself.
        self.state
            .store()
            .append(&item.bucket, &item.stream, &item.entry.payload)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn is_empty(&mut self) -> bool {
        self.state.store().is_empty()
    }

    fn delete(&mut self) {
        self.state.store().delete().expect("delete");
    }
}

/// The database served by [`AppendingVnode`].
#[derive(Clone)]
struct AppendingApp {
    db: Streams<Quorum, AppendingVnode>,
}

impl App for AppendingApp {
    const COMMANDS: &'static [CommandHelp] = commands::COMMANDS;

    async fn start(node: &Node) -> Result<Self, Error> {
        Ok(AppendingApp {
            db: Streams::start_with(node, "kv_vnode"),
        })
    }

    async fn run(&self, command: &str, args: &[&str]) -> Result<String, Error> {
        commands::run(&self.db, command, args)
            .await
            .unwrap_or_else(|| Err(Error::bad_request(format!("unknown command '{command}'"))))
    }
}

/// How a test reaches the database of either application.
trait Db: App {
    fn db_post(&self, text: &str, nwr: Nwr) -> impl Future<Output = Result<Entry, Error>> + Send;
    fn db_read(&self, nwr: Nwr) -> impl Future<Output = Result<ReadResult, Error>> + Send;
}

impl Db for AppendingApp {
    async fn db_post(&self, text: &str, nwr: Nwr) -> Result<Entry, Error> {
        let written = self.db.post("alice", "rust", text.into(), nwr).await?;
        Ok(written.entry)
    }
    async fn db_read(&self, nwr: Nwr) -> Result<ReadResult, Error> {
        self.db.read("alice", "rust", 1, 100, nwr).await
    }
}

impl Db for HandoffApp {
    async fn db_post(&self, text: &str, nwr: Nwr) -> Result<Entry, Error> {
        let written = self.db.post("alice", "rust", text.into(), nwr).await?;
        Ok(written.entry)
    }
    async fn db_read(&self, nwr: Nwr) -> Result<ReadResult, Error> {
        self.db.read("alice", "rust", 1, 100, nwr).await
    }
}

/// On four nodes: two messages written everywhere, then dev4 (which keeps a replica of the
/// stream) is stopped, a third message is written (a fallback keeps dev4's copy), and dev4
/// comes back; once hinted handoff has emptied the fallback, the stream as three replicas
/// hold it.
async fn hinted_handoff_of_a_write<A: Db>() -> ReadResult {
    let all = Nwr { n: 3, w: 3, r: 3 };
    let mut cluster = TestCluster::<A>::start_joined(4).await;
    let ring = cluster.node(1).ring();
    let dev4 = cluster.name(4);
    let hash = ringcore::chash_key(b"alice", b"rust");
    let partition = ring
        .preflist(&hash, 3)
        .into_iter()
        .find(|v| v.node == dev4)
        .expect("alice/rust has a replica on dev4 (its partitions are 16 of 64)")
        .partition;
    for text in ["message 1", "message 2"] {
        cluster.app(1).db_post(text, all).await.expect("a write");
    }
    cluster.stop_node(4).await;
    wait_until("the others see dev4 down", || async {
        (1..=3).all(|k| !cluster.node(k).is_up(&dev4))
    })
    .await;
    // w=3: the two primaries up and the fallback standing in for dev4 all hold it.
    cluster
        .app(1)
        .db_post("written while dev4 was down", all)
        .await
        .expect("a write with a fallback");
    let on_a_fallback = |cluster: &TestCluster<A>| {
        (1..=3).any(|k| partition_dirs(&cluster.data_dir(k), "kv_vnode", 64).contains(&partition))
    };
    assert!(on_a_fallback(&cluster), "a fallback keeps dev4's copy");
    cluster.start_node(4).await;
    wait_until("hinted handoff empties the fallback", || async {
        !on_a_fallback(&cluster)
    })
    .await;
    let read = cluster
        .app(4)
        .db_read(all)
        .await
        .expect("a read of every replica");
    cluster.stop().await;
    read
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonus_a_hinted_handoff_that_appends_shows_a_message_twice_yours_does_not() {
    let wrong = hinted_handoff_of_a_write::<AppendingApp>().await;
    // dev4 appended the handed-off write as its own #3: another identity than the #3 the
    // other two replicas hold. A read of all three sees both.
    let found = copies(&wrong.entries);
    assert_eq!(
        found
            .iter()
            .map(|c| String::from_utf8_lossy(&c.again.payload).into_owned())
            .collect::<Vec<_>>(),
        ["written while dev4 was down"],
        "Going further: the message handed back with append is there twice (#3 and #3: {:?})",
        numbers(&found)
    );
    assert_eq!(
        wrong.concurrent, 1,
        "the read counts number 3 as held by two entries"
    );

    let right = hinted_handoff_of_a_write::<HandoffApp>().await;
    let texts: Vec<String> = right
        .entries
        .iter()
        .map(|e| String::from_utf8_lossy(&e.payload).into_owned())
        .collect();
    assert_eq!(
        texts,
        ["message 1", "message 2", "written while dev4 was down"],
        "steps 1–4: hinted handoff gives dev4 the write it missed, as it is"
    );
    assert_eq!(
        numbers(&copies(&right.entries)),
        [],
        "Going further: with put_entry, no copies"
    );
    assert!(
        !right.disagreed,
        "the three replicas agree: dev4 holds the very entry the others hold"
    );
}
