//! Three real node processes of this exercise's binary: started, joined through `admin`,
//! one killed with SIGKILL, and the others report it down. And `devrel`, stopped by Ctrl-C
//! while its input stays open, as in a terminal.

use ringcore::testing::{NodeProcess, run_tool};
use std::time::{Duration, Instant};

const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

fn admin(k: u32, port: u16, words: &str) -> String {
    let mut args = vec!["admin"];
    args.extend(words.split_whitespace());
    run_tool(BINARY, k, port, &args, "").0
}

/// Polls an admin command until its output satisfies `done`, for at most 60 s.
fn wait_for(k: u32, port: u16, words: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let output = admin(k, port, words);
        if done(&output) {
            return output;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what}; last output:\n{output}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn three_processes_join_and_see_a_killed_node_down() {
    let data = tempfile::tempdir().unwrap();
    let mut nodes: Vec<NodeProcess> = (1..=3)
        .map(|k| NodeProcess::start(BINARY, k, data.path(), 0, &[], None))
        .collect();
    let ports: Vec<u16> = nodes.iter().map(NodeProcess::port).collect();
    let port = |k: u32| ports[k as usize - 1];
    for k in 1..=3 {
        assert_eq!(run_tool(BINARY, k, port(k), &["ping"], "").0, "pong\n");
    }
    for k in 2..=3 {
        let joined = admin(
            k,
            port(k),
            &format!("cluster join dev1@127.0.0.1:{}", port(1)),
        );
        assert_eq!(
            joined,
            format!("Success: staged join request for 'dev{k}@127.0.0.1' to 'dev1@127.0.0.1'\n")
        );
    }
    let plan = admin(1, port(1), "cluster plan");
    assert!(
        plan.contains("Transfers resulting from cluster changes: 42"),
        "{plan}"
    );
    assert!(
        plan.contains("WARNING: Not all replicas will be on distinct nodes"),
        "{plan}"
    );
    assert_eq!(
        admin(1, port(1), "cluster commit"),
        "Cluster changes committed\n"
    );
    let settled = wait_for(2, port(2), "member-status", "the ring settles", |out| {
        out.matches("valid").count() == 3 && out.matches("      --      ").count() == 3
    });
    assert!(
        settled.contains("Valid:3 / Leaving:0 / Exiting:0 / Joining:0 / Down:0"),
        "{settled}"
    );

    let mut dev3 = nodes.pop().unwrap();
    dev3.child.kill().unwrap(); // SIGKILL
    dev3.child.wait().unwrap();
    for k in 1..=2 {
        let status = wait_for(
            k,
            port(k),
            "member-status",
            "dev3 is reported down",
            |out| out.contains("down") && out.contains("dev3@127.0.0.1"),
        );
        assert!(
            status.contains("Valid:2 / Leaving:0 / Exiting:0 / Joining:0 / Down:1"),
            "{status}"
        );
        let ring_status = admin(k, port(k), "ring-status");
        assert!(
            ring_status.contains("The following nodes are unreachable: ['dev3@127.0.0.1']"),
            "{ring_status}"
        );
    }
    let (answer, succeeded) = run_tool(BINARY, 3, port(3), &["ping"], "");
    assert_eq!(answer, "Node 'dev3@127.0.0.1' not responding to pings.\n");
    assert!(!succeeded);
}

#[test]
fn devrel_returns_after_one_ctrl_c_while_its_input_stays_open() {
    use std::io::{BufRead, BufReader};
    use std::process::Command;
    let data = tempfile::tempdir().unwrap();
    // Its input stays open and is never written to: a terminal nobody types in.
    let mut devrel = ringcore::testing::spawn_devrel(BINARY, 2, data.path());
    let mut lines = BufReader::new(devrel.stdout.take().unwrap()).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.starts_with("Press Ctrl-C"));
    assert!(ready, "devrel said how to stop it");
    std::thread::spawn(move || lines.for_each(drop));
    // Ctrl-C in a terminal sends SIGINT.
    let sent = Command::new("kill")
        .args(["-INT", &devrel.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = devrel.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = devrel.kill();
            panic!("devrel did not return within 30 s of Ctrl-C (its input still open)");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "devrel stopped its nodes and exited: {status}"
    );
}

/// Runs `admin WORDS…` against devK's cluster port: (exit success, stdout, stderr).
fn admin_output(port: u16, words: &str) -> (bool, String, String) {
    let output = std::process::Command::new(BINARY)
        .arg("admin")
        .args(words.split_whitespace())
        .args(["--node", "dev1", "--cluster-port", &port.to_string()])
        .output()
        .expect("admin runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn admin_tells_a_refusal_from_a_node_it_cannot_reach() {
    let data = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(BINARY, 1, data.path(), 0, &[], None);
    // The node answers no: its own message, on stderr, exit 1.
    let (ok, out, err) = admin_output(node.port(), "cluster commit");
    assert!(!ok, "a refused commit fails");
    assert_eq!(out, "");
    assert_eq!(err, "There are no staged changes\n");
    let (ok, _, err) = admin_output(node.port(), "frobnicate");
    assert!(!ok && err.starts_with("Usage: one of"), "{err}");
    assert!(!err.contains("not responding"), "{err}");
    // Nobody there: riak's "not responding", on stderr, exit 1.
    let port = node.port();
    drop(node);
    let (ok, out, err) = admin_output(port, "member-status");
    assert!(!ok);
    assert_eq!(out, "");
    assert!(
        err.starts_with("Node 'dev1@127.0.0.1' not responding ("),
        "{err}"
    );
}
