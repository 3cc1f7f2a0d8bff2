//! Three real node processes of this exercise's binary: started, joined through `admin`,
//! one killed with SIGKILL, and the others report it down. And `devrel`: stopped by Ctrl-C
//! while its input stays open, as in a terminal; saying how to stop each node; leaving its
//! ring in this exercise's folder only, where a node started alone later finds it stale.
//! And the ring page, which a node of this exercise serves too, on its HTTP port.

use ringcore::testing::{COOKIE, NodeProcess, run_tool};
use std::time::{Duration, Instant};

const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

fn admin(k: u32, port: u16, words: &str) -> String {
    let mut args = vec!["admin"];
    args.extend(words.split_whitespace());
    run_tool(BINARY, k, port, &args, "").0
}

/// Polls an admin command until its output satisfies `done`, for at most 60 s.
fn wait_for(k: u32, port: u16, words: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
    ringcore::testing::poll_until(what, Duration::from_secs(60), || {
        let output = admin(k, port, words);
        if done(&output) {
            Ok(output)
        } else {
            Err(format!("\n{output}"))
        }
    })
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
    // (A devrel still running at the deadline is killed when `devrel` is dropped.)
    let status = ringcore::testing::poll_until(
        "devrel returns after Ctrl-C (its input still open)",
        Duration::from_secs(30),
        || ringcore::testing::exited(&mut devrel),
    );
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
        .args(["--cookie", COOKIE])
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

/// Runs `binary start --cluster-port 0 --http-port 0` in `dir`, its data where the binary puts it by default
/// (whatever RING_ variables the shell running the tests has set), its log on a pipe; with the
/// tests' cookie, which the tools here give.
fn start_in(binary: &std::path::Path, dir: &std::path::Path) -> NodeProcess {
    let mut command = std::process::Command::new(binary);
    command
        .args([
            "start",
            "--cluster-port",
            "0",
            "--http-port",
            "0",
            "--cookie",
            COOKIE,
        ])
        .current_dir(dir)
        .stderr(std::process::Stdio::piped());
    for (variable, _) in std::env::vars_os() {
        if variable.to_string_lossy().starts_with("RING_") {
            command.env_remove(variable);
        }
    }
    NodeProcess::spawn(command)
}

/// ex0's devrel leaves a 2-node ring in its folder; another exercise started in the same place
/// is alone in its own ring; ex0's dev1, started again without dev2, says in one line that its
/// saved ring is stale and how to start afresh.
#[test]
fn each_exercise_keeps_its_own_nodes_and_a_stale_ring_says_so() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut devrel = ringcore::testing::spawn_devrel(BINARY, 2, dir.path());
    let mut lines = BufReader::new(devrel.stdout.take().unwrap()).lines();
    let ports: Vec<u16> = lines
        .by_ref()
        .map_while(Result::ok)
        .filter_map(|line| ringcore::testing::parse_started_line(&line))
        .map(|places| places["cluster"].port())
        .take(2)
        .collect();
    assert_eq!(ports.len(), 2, "devrel started two nodes");
    std::thread::spawn(move || lines.for_each(drop));
    let joined = admin(
        2,
        ports[1],
        &format!("cluster join dev1@127.0.0.1:{}", ports[0]),
    );
    assert!(joined.starts_with("Success"), "{joined}");
    admin(1, ports[0], "cluster plan");
    assert_eq!(
        admin(1, ports[0], "cluster commit"),
        "Cluster changes committed\n"
    );
    wait_for(2, ports[1], "member-status", "dev2 holds the ring", |out| {
        out.contains("Valid:2 / Leaving:0 / Exiting:0 / Joining:0 / Down:0")
    });
    // End its input: the devrel stops both nodes and returns.
    devrel.end();
    // Starter and solution keep their nodes in the exercise's folder.
    for k in 1..=2 {
        let ring = dir.path().join(format!("data/ex0-cluster/dev{k}/ring"));
        assert!(ring.is_file(), "{} is saved", ring.display());
    }

    // Another exercise's binary in the same place: this one, linked under ex1's name (the
    // folder follows the name a binary runs by). Its dev1 is alone in its ring.
    let other = dir.path().join("ex1-ping");
    std::os::unix::fs::symlink(BINARY, &other).unwrap();
    let ex1 = start_in(&other, dir.path());
    let status = admin(1, ex1.port(), "member-status");
    assert!(
        status.contains("Valid:1 / Leaving:0 / Exiting:0 / Joining:0 / Down:0")
            && !status.contains("dev2@127.0.0.1"),
        "ex1's node has none of ex0's members:\n{status}"
    );
    assert!(dir.path().join("data/ex1-ping/dev1/ring").is_file());
    drop(ex1);

    // ex0's dev1 again, alone: the ring it saved lists dev2, which is gone.
    let mut dev1 = start_in(std::path::Path::new(BINARY), dir.path());
    let log = BufReader::new(dev1.child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in log.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let warning = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("the saved ring") => break line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no warning about the saved ring within 30 s; the log:\n{seen:#?}"),
        }
    };
    assert!(
        warning.contains(
            "WARN the saved ring lists dev2@127.0.0.1 and it does not answer; to start \
             afresh, stop this node and remove data/ex0-cluster/dev1 (or start it)"
        ),
        "{warning}"
    );
    assert!(
        !seen.iter().any(|line| line.contains("node is down")),
        "one line, not one per member: {seen:#?}"
    );
}

/// The devrel says, for each node, its pid and the command that stops that node alone; the
/// command does what it says.
#[test]
fn devrel_says_how_to_stop_each_node() {
    use std::io::{BufRead, BufReader};
    let data = tempfile::tempdir().unwrap();
    let mut devrel = ringcore::testing::spawn_devrel(BINARY, 2, data.path());
    let mut lines = BufReader::new(devrel.stdout.take().unwrap()).lines();
    let said: Vec<String> = lines
        .by_ref()
        .map_while(Result::ok)
        .take_while(|line| !line.starts_with("Press Ctrl-C"))
        .collect();
    std::thread::spawn(move || lines.for_each(drop));
    // Given a cookie, the devrel says to give it to the commands it shows too.
    assert!(
        said.iter().any(|line| line
            == "They share the cookie given to devrel: give the commands above the same --cookie."),
        "{}",
        said.join("\n")
    );
    // And where to watch the ring: dev1's HTTP address, from its started line.
    let dev1_http = said
        .iter()
        .filter_map(|line| ringcore::testing::parse_started_line(line.trim()))
        .find_map(|places| places.get("http").copied())
        .expect("dev1's started line names its HTTP port");
    let watch = format!(
        "The ring, live, in a browser: http://{dev1_http}/ (each node serves it on its http port)."
    );
    assert!(said.contains(&watch), "{watch:?} in\n{}", said.join("\n"));
    let name = env!("CARGO_PKG_NAME");
    let stop_line = said
        .iter()
        .find(|line| line.trim_start().starts_with("dev2@127.0.0.1 (pid "))
        .unwrap_or_else(|| panic!("a line to stop dev2:\n{}", said.join("\n")));
    // `  dev2@127.0.0.1 (pid 4242): cargo run -q -p ex0-cluster -- stop --node dev2 --cluster-port P`
    let (pid, command) = stop_line
        .trim_start()
        .strip_prefix("dev2@127.0.0.1 (pid ")
        .and_then(|rest| rest.split_once("): "))
        .unwrap_or_else(|| panic!("{stop_line}"));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("the pid is running");
    assert!(
        String::from_utf8_lossy(&cmdline).contains("dev2"),
        "pid {pid} is dev2's node"
    );
    let args = command
        .strip_prefix(&format!("cargo run -q -p {name} -- "))
        .unwrap_or_else(|| panic!("{command}"));
    let args: Vec<&str> = args.split_whitespace().collect();
    assert_eq!(
        args[..4],
        ["stop", "--node", "dev2", "--cluster-port"],
        "{command}"
    );
    let port = args[4].to_string();
    let stopped = std::process::Command::new(BINARY)
        .args(&args)
        .args(["--cookie", COOKIE])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&stopped.stdout), "ok\n");
    ringcore::testing::poll_until("dev2 stops", Duration::from_secs(30), || {
        let (answer, _) = run_tool(BINARY, 2, port.parse().unwrap(), &["ping"], "");
        (answer == "Node 'dev2@127.0.0.1' not responding to pings.\n")
            .then_some(())
            .ok_or(answer)
    });
    devrel.end();
}

/// `GET path` over HTTP/1.0 (the node closes the connection after its answer): the answer's
/// head and body.
fn http_get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("the node's HTTP port answers");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: ring\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("a whole answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    (head.to_string(), body.to_string())
}

/// A node of this exercise, which has no HTTP API, serves the ring page all the same: its
/// started line says where, the page has its ring, and the state it draws has the 64
/// partitions of a node alone, all its own.
#[test]
fn a_node_serves_the_ring_page_where_its_started_line_says() {
    let data = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(BINARY, 1, data.path(), 0, &[], None);
    let http = *node
        .places
        .get("http")
        .unwrap_or_else(|| panic!("the started line names the HTTP port: {:?}", node.places));
    let (head, page) = http_get(http, "/");
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(page.contains(r#"<svg id="ring""#), "{page}");
    let (head, state) = http_get(http, "/ring/state");
    assert!(head.starts_with("HTTP/1.0 200"), "{head}\n{state}");
    assert!(state.contains(r#""ring_size":64"#), "{state}");
    assert_eq!(
        state.matches(r#""owner":"dev1@127.0.0.1""#).count(),
        64,
        "{state}"
    );
}
