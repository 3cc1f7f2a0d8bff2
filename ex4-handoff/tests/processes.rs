//! Two real node processes: the receiving node is killed (SIGKILL) in the middle of a large
//! transfer and started again; the transfer is retried and completes, with nothing lost and
//! nothing duplicated.

use ringcore::testing::{NodeProcess, run_tool};
use std::path::Path;
use std::time::{Duration, Instant};

const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

/// Starts devK; `port` 0 means any free port. Its log goes to `log`. Without anti-entropy:
/// it would copy the n=1 messages to two more replicas each, and what is checked here is what
/// handoff alone moved.
fn start(k: u32, data: &Path, port: u16, extra: &[&str], log: &Path) -> NodeProcess {
    let mut args = vec!["--anti-entropy", "0"];
    args.extend(extra);
    NodeProcess::start(BINARY, k, data, port, &args, Some(log))
}

fn run(k: u32, port: u16, args: &[&str], input: &str) -> String {
    run_tool(BINARY, k, port, args, input).0
}

fn admin(k: u32, port: u16, words: &str) -> String {
    let mut args = vec!["admin"];
    args.extend(words.split_whitespace());
    run(k, port, &args, "")
}

/// Waits until `done`, for at most two minutes; gives up at once when one of `nodes` has run
/// into a hole of the exercise (its log says so): no transfer gets through a hole.
fn wait_for(what: &str, nodes: &[&NodeProcess], mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        if let Some(hole) = nodes.iter().find_map(|node| node.hole()) {
            panic!("stopped waiting until {what}: a node ran into a hole: {hole}");
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `objects transferred: 12 of 500` lines of a `transfers` table.
fn objects_transferred(table: &str) -> Vec<(u64, u64)> {
    table
        .lines()
        .filter_map(|l| l.trim().strip_prefix("objects transferred: "))
        .filter_map(|l| l.split_once(" of "))
        .filter_map(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .collect()
}

#[test]
fn a_receiver_killed_mid_transfer_gets_everything_exactly_once() {
    let data = tempfile::tempdir().unwrap();
    let log = |k: u32| data.path().join(format!("dev{k}.log"));
    // dev1 sends at most 8 MB/s per transfer, so that a transfer lasts long enough to be cut.
    let dev1 = start(1, data.path(), 0, &["--handoff-rate", "8"], &log(1));
    let (streams, messages, bytes) = (8, 200, 16384);
    let written = run(
        1,
        dev1.port(),
        &["attach"],
        &format!("populate 1 {streams} {messages} {bytes} n=1\n"),
    );
    assert!(
        written.contains(&format!("wrote {} messages", streams * messages)),
        "{written}"
    );

    let mut dev2 = start(2, data.path(), 0, &[], &log(2));
    let dev2_port = dev2.port();
    admin(
        2,
        dev2_port,
        &format!("cluster join dev1@127.0.0.1:{}", dev1.port()),
    );
    admin(1, dev1.port(), "cluster plan");
    assert_eq!(
        admin(1, dev1.port(), "cluster commit"),
        "Cluster changes committed\n"
    );

    // Kill dev2 once a transfer to it is under way but not done.
    wait_for("a transfer is half-way", &[&dev1, &dev2], || {
        objects_transferred(&admin(1, dev1.port(), "transfers"))
            .iter()
            .any(|(sent, total)| *sent > 0 && sent < total)
    });
    dev2.child.kill().unwrap();
    dev2.child.wait().unwrap();
    drop(dev2);
    wait_for("dev1 sees dev2 down", &[&dev1], || {
        admin(1, dev1.port(), "member-status").contains("down")
    });

    // Back on the same port, with the data it had: the transfer starts again and completes.
    let dev2 = start(
        2,
        data.path(),
        dev2_port,
        &[],
        &log(2).with_extension("restarted.log"),
    );
    wait_for("the ring settles", &[&dev1, &dev2], || {
        let status = admin(1, dev1.port(), "member-status");
        status.matches("valid      50.0%      --").count() == 2
    });

    // Every stream has every message exactly once, read from either node.
    for (k, port) in [(1, dev1.port()), (2, dev2.port())] {
        for stream in 1..=streams {
            let listing = run(
                k,
                port,
                &["attach"],
                &format!("get user1 stream{stream} 1 1000 n=1 r=1\n"),
            );
            let seqs: Vec<u64> = listing
                .lines()
                .filter_map(|l| l.split('#').nth(1))
                .filter_map(|l| l.split(' ').next()?.parse().ok())
                .collect();
            assert_eq!(
                seqs,
                (1..=messages).collect::<Vec<u64>>(),
                "dev{k}: user1/stream{stream}"
            );
        }
    }
    let stats = run(1, dev1.port(), &["attach"], "stats\n");
    assert!(
        stats.contains(&format!("entries={}\n", streams * messages)),
        "the cluster holds each message once: {stats}"
    );
    let dev1_log = std::fs::read_to_string(log(1)).unwrap();
    assert!(
        dev1_log.contains("to dev2@127.0.0.1 failed; it will be tried again in"),
        "the cut transfer was noticed and retried"
    );
    let sent: Vec<String> = dev1_log
        .lines()
        .filter(|l| l.contains("completed: sent"))
        .map(|l| l[l.find("ownership").unwrap_or(0)..].to_string())
        .collect();
    assert!(!sent.is_empty(), "dev1 logged its completed transfers");
    eprintln!("{}", sent.join("\n"));
}
