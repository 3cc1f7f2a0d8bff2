//! The node's console in a real terminal (a pseudo-terminal), as a person types at it: the up
//! arrow brings back a line, also after a restart (the history is kept in the node's data
//! directory); Tab completes a command; a log line arriving while a line is half typed is
//! printed above the prompt, and the prompt comes back with the line; Ctrl-C clears a line,
//! and on an empty line stops the node, as Ctrl-D, SIGTERM and a `stop` over the network do,
//! each cleanly and with the terminal given back in its own mode. And `attach`, whose Ctrl-D
//! leaves the node running.

use ringcore::testing::{COOKIE, NodeProcess, Terminal, run_tool};
use std::path::Path;
use std::time::Duration;

const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));
const UP: &str = "\x1b[A";
const CTRL_C: &str = "\x03";
const CTRL_D: &str = "\x04";

/// `cargo run -p ex1-ping` on `data_dir` (any free ports, the tests' cookie), in a
/// terminal, run from the folder that holds `data_dir`: returns once the first prompt is
/// shown, with the cluster port the node got.
fn console(data_dir: &Path) -> (Terminal, u16) {
    let data_dir = data_dir.to_str().expect("UTF-8 path");
    let args = [
        "--cluster-port",
        "0",
        "--http-port",
        "0",
        "--data-dir",
        data_dir,
        "--cookie",
        COOKIE,
    ];
    let work_dir = Path::new(data_dir).parent().expect("a parent directory");
    let mut terminal = Terminal::spawn(BINARY, &args, work_dir);
    terminal.expect("node started node=dev1@127.0.0.1 addr=127.0.0.1:");
    let port = terminal.expect(" ");
    let port = port.trim().parse().expect("the node logs its port");
    terminal.expect("(dev1@127.0.0.1)1> ");
    (terminal, port)
}

/// The node stopped cleanly (its stop logged, exit code 0) and left the terminal as it was.
fn assert_stopped_cleanly(terminal: &mut Terminal) {
    terminal.expect("node stopped node=dev1@127.0.0.1");
    let status = terminal.wait();
    assert!(status.success(), "the node exits with 0: {status}");
    assert!(
        terminal.is_in_line_mode(),
        "the terminal is given back in line mode, echoing what is typed"
    );
}

#[test]
fn up_arrow_runs_the_last_line_again_also_after_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let (mut terminal, _) = console(data.path());
    terminal.type_keys("ping\r");
    terminal.expect("pong from partition");
    terminal.expect("(dev1@127.0.0.1)2> ");
    terminal.type_keys(UP);
    terminal.expect("ping");
    terminal.type_keys("\r");
    terminal.expect("pong from partition");
    terminal.expect("(dev1@127.0.0.1)3> ");
    terminal.type_keys("quit\r");
    assert_stopped_cleanly(&mut terminal);

    let history = std::fs::read_to_string(data.path().join("console_history")).unwrap();
    assert!(
        history.lines().any(|line| line == "ping"),
        "the history is kept in the data directory: {history:?}"
    );
    let (mut terminal, _) = console(data.path());
    terminal.type_keys(UP);
    terminal.expect("quit");
    terminal.type_keys(UP);
    terminal.expect("ping");
    terminal.type_keys("\r");
    terminal.expect("pong from partition");
    terminal.expect("(dev1@127.0.0.1)2> ");
    terminal.type_keys("quit\r");
    assert_stopped_cleanly(&mut terminal);
}

#[test]
fn tab_completes_a_command_and_its_second_word() {
    let data = tempfile::tempdir().unwrap();
    let (mut terminal, _) = console(data.path());
    terminal.type_keys("memb\t");
    terminal.expect("member-status");
    terminal.type_keys("\r");
    terminal.expect("Valid:1 / Leaving:0 / Exiting:0 / Joining:0 / Down:0");
    terminal.expect("(dev1@127.0.0.1)2> ");
    terminal.type_keys("cluster pl\t");
    terminal.expect("cluster plan");
    terminal.type_keys("\r");
    terminal.expect("There are no staged changes");
    terminal.expect("(dev1@127.0.0.1)3> ");
    terminal.type_keys("quit\r");
    assert_stopped_cleanly(&mut terminal);
}

#[test]
fn ctrl_c_clears_a_line_and_on_an_empty_line_stops_the_node() {
    let data = tempfile::tempdir().unwrap();
    let (mut terminal, _) = console(data.path());
    terminal.type_keys("nonsense");
    terminal.expect("nonsense");
    terminal.type_keys(CTRL_C);
    terminal.type_keys("ping\r");
    let reply = terminal.expect("(dev1@127.0.0.1)2> ");
    assert!(
        reply.contains("pong from partition") && !reply.contains("unknown command"),
        "Ctrl-C cleared 'nonsense' before 'ping' was typed: {reply:?}"
    );
    terminal.type_keys(CTRL_C);
    terminal.expect("Ctrl-C: stopping dev1@127.0.0.1");
    assert_stopped_cleanly(&mut terminal);
}

#[test]
fn ctrl_d_stops_the_node_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let (mut terminal, _) = console(data.path());
    terminal.type_keys(CTRL_D);
    terminal.expect("Ctrl-D: stopping dev1@127.0.0.1");
    assert_stopped_cleanly(&mut terminal);
}

#[test]
fn sigterm_while_a_line_is_half_typed_stops_the_node_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let (mut terminal, _) = console(data.path());
    terminal.type_keys("ping-k");
    terminal.expect("ping-k");
    terminal.terminate();
    terminal.expect("SIGTERM: stopping dev1@127.0.0.1");
    assert_stopped_cleanly(&mut terminal);
}

#[test]
fn a_stop_over_the_network_ends_the_console_and_stops_the_node_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let (mut terminal, port) = console(data.path());
    let (answer, succeeded) = run_tool(BINARY, 1, port, &["stop"], "");
    assert_eq!(answer, "ok\n");
    assert!(succeeded);
    terminal.expect("stop requested: stopping dev1@127.0.0.1");
    assert_stopped_cleanly(&mut terminal);
}

#[test]
fn a_log_line_is_printed_above_the_prompt_and_the_half_typed_line_comes_back() {
    let data = tempfile::tempdir().unwrap();
    let (mut terminal, port) = console(&data.path().join("dev1"));
    // dev2 joins dev1's cluster; once dev1 counts it as a member, killing dev2 makes dev1 log
    // `node is down` while its console waits at the prompt.
    let dev2 = NodeProcess::start(BINARY, 2, data.path(), 0, &[], None);
    let admin = |k: u32, port: u16, words: &str| {
        let mut args = vec!["admin"];
        args.extend(words.split_whitespace());
        run_tool(BINARY, k, port, &args, "").0
    };
    let joined = admin(
        2,
        dev2.port(),
        &format!("cluster join dev1@127.0.0.1:{port}"),
    );
    assert!(joined.starts_with("Success"), "{joined}");
    admin(2, dev2.port(), "cluster plan");
    assert_eq!(
        admin(2, dev2.port(), "cluster commit"),
        "Cluster changes committed\n"
    );
    ringcore::testing::poll_until("dev1 counts dev2 in", Duration::from_secs(60), || {
        let status = admin(1, port, "member-status");
        if status.contains("Valid:2") {
            Ok(())
        } else {
            Err(status)
        }
    });

    terminal.type_keys("member-");
    terminal.expect("member-");
    drop(dev2); // SIGKILL
    terminal.expect("WARN");
    terminal.expect("node is down");
    let after = terminal.expect("(dev1@127.0.0.1)1> member-");
    assert!(
        after.ends_with("peer=dev2@127.0.0.1\n(dev1@127.0.0.1)1> member-"),
        "the log line ends its own line, then the prompt is drawn again with the half-typed \
         line: {after:?}"
    );
    // What is typed next goes on the same line: both halves make one command.
    terminal.type_keys("status\r");
    let reply = terminal.expect("Membership");
    assert!(!reply.contains("unknown command"), "{reply:?}");
    terminal.expect("(dev1@127.0.0.1)2> ");
    terminal.type_keys("quit\r");
    assert_stopped_cleanly(&mut terminal);
}

#[test]
fn attach_keeps_the_history_of_its_node_and_ctrl_d_leaves_the_node_running() {
    let data = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(BINARY, 1, data.path(), 0, &[], None);
    // The node's data directory, where attach keeps the history of the node's console.
    let data_dir = data.path().join("dev1");
    let attach = || {
        let port = node.port().to_string();
        let data_dir = data_dir.to_str().expect("UTF-8 path");
        let args = [
            "attach",
            "--cluster-port",
            &port,
            "--data-dir",
            data_dir,
            "--cookie",
            COOKIE,
        ];
        let mut terminal = Terminal::spawn(BINARY, &args, data.path());
        terminal.expect("attached to dev1@127.0.0.1");
        terminal.expect("'quit' detaches, the node keeps running");
        terminal.expect("(dev1@127.0.0.1)1> ");
        terminal
    };
    let mut terminal = attach();
    terminal.type_keys("ping\r");
    terminal.expect("pong from partition");
    terminal.expect("(dev1@127.0.0.1)2> ");
    terminal.type_keys(CTRL_D);
    terminal.expect("Ctrl-D: detached, dev1@127.0.0.1 keeps running");
    assert!(terminal.wait().success());
    assert!(terminal.is_in_line_mode());
    assert_eq!(run_tool(BINARY, 1, node.port(), &["ping"], "").0, "pong\n");

    let mut terminal = attach();
    terminal.type_keys(UP);
    terminal.expect("ping");
    terminal.type_keys("\r");
    terminal.expect("pong from partition");
    terminal.expect("(dev1@127.0.0.1)2> ");
    terminal.type_keys("quit\r");
    assert!(terminal.wait().success());
    assert_eq!(run_tool(BINARY, 1, node.port(), &["ping"], "").0, "pong\n");
}
