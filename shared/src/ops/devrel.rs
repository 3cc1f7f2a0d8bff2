//! `devrel N`: a local cluster of N nodes, each a separate OS process with its own name,
//! ports and data directory (riak's `make devrel`, then `devN/bin/riak start` for each).
//!
//! The nodes are started, not joined: joining them is the lesson (`admin … cluster join`).
//! `devrel` prints how to reach each node and how to stop one (by name, with its pid), and
//! stops them all on Ctrl-C or end of input. They share one cookie, the devrel's: the
//! exercise's cookie file (made if need be), where the tools run beside them find it too.

use crate::net::cookie::Cookie;
use crate::net::transport::client_request;
use crate::net::wire::Request;
use crate::node::dev_cluster_port;
use crate::ops::cookie::CookieSource;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// How long the nodes get to stop cleanly before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A devrel to run, as the command line made it.
#[derive(Debug)]
pub(crate) struct Devrel {
    /// The binary's name, for the commands the devrel suggests (`cargo run -q -p NAME -- …`).
    pub program: String,
    /// Where the nodes keep their data, `data/<exercise>/devK`, for whoever reads the output.
    pub data: PathBuf,
    /// Each node's command line, `start --node devK …`, dev1 first.
    pub nodes: Vec<Vec<String>>,
    /// Where the nodes' cookie comes from.
    pub cookie: CookieSource,
}

/// A node the devrel started.
struct Started {
    k: u32,
    child: Child,
    /// Its `… started: cluster ADDR, …` line.
    line: String,
}

impl Devrel {
    pub(crate) async fn run(self) -> ExitCode {
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(error) => {
                eprintln!("error: cannot find this program: {error}");
                return ExitCode::FAILURE;
            }
        };
        let cookie = match self.cookie.for_node() {
            Ok(cookie) => cookie,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        let count = self.nodes.len();
        let mut nodes: Vec<Started> = Vec::new();
        for (k, args) in (1..).zip(&self.nodes) {
            let mut command = Command::new(&exe);
            command
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            // Each node's options are the ones on its command line: a RING_DATA_DIR or
            // RING_CLUSTER_PORT meant for one node would give every node the same one.
            for variable in crate::ops::cli::option_variables() {
                command.env_remove(variable);
            }
            // The one cookie, in the environment rather than on the command line, where
            // anyone on the machine could read it (`ps`).
            command.env("RING_COOKIE", cookie.secret());
            let started = command
                .spawn()
                .map_err(|e| e.to_string())
                .and_then(|mut child| {
                    let line = first_line(&mut child)?;
                    Ok(Started { k, child, line })
                });
            match started {
                Ok(node) => nodes.push(node),
                Err(error) => {
                    eprintln!("error: dev{k} did not start: {error}");
                    stop_all(nodes, &cookie).await;
                    return ExitCode::FAILURE;
                }
            }
        }
        self.introduce(&nodes);
        // Listen for Ctrl-C before saying to press it: a SIGINT that came before the handler
        // would kill the devrel outright and leave its nodes running.
        let mut signals = super::signals::StopSignals::listen();
        let interrupted = signals.interrupt();
        say("Press Ctrl-C (or end the input) to stop all nodes.");
        // Standard input is read on a thread of its own, not the runtime's blocking pool: a
        // read that never returns (a terminal nobody types in) would hold the runtime's
        // shutdown, and the devrel would hang after Ctrl-C until someone pressed Ctrl-D.
        let (input_ended, end_of_input) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut sink = String::new();
            while std::io::stdin()
                .read_line(&mut sink)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                sink.clear();
            }
            let _ = input_ended.send(());
        });
        tokio::select! {
            _ = interrupted => {}
            _ = end_of_input => {}
        }
        say(&format!("stopping {count} nodes"));
        stop_all(nodes, &cookie).await;
        ExitCode::SUCCESS
    }

    /// Says where the nodes are, how to join them, and how to stop one of them.
    fn introduce(&self, nodes: &[Started]) {
        let program = &self.program;
        say(&format!("{} nodes running:", nodes.len()));
        for node in nodes {
            say(&format!("  {}", node.line));
        }
        say("");
        say("Each one is alone in its own cluster; join them with, for example:");
        let dev1 = format!("dev1@127.0.0.1{}", port_suffix(nodes, 1, ":"));
        let dev2 = port_suffix(nodes, 2, " --cluster-port ");
        let on_dev1 = port_suffix(nodes, 1, " --cluster-port ");
        for line in [
            format!("admin --node dev2{dev2} cluster join {dev1}"),
            format!("admin --node dev1{on_dev1} cluster plan"),
            format!("admin --node dev1{on_dev1} cluster commit"),
            format!("admin --node dev1{on_dev1} member-status"),
        ] {
            say(&format!("  cargo run -q -p {program} -- {line}"));
        }
        say(&format!(
            "A console on a node: cargo run -q -p {program} -- attach --node dev2{dev2}"
        ));
        if let Some(http) = nodes.first().and_then(|node| node.place("http")) {
            say(&format!(
                "The ring, live, in a browser: http://{http}/ (each node serves it on its http port)."
            ));
        }
        say(&format!("Each keeps its data in {}.", self.data.display()));
        match &self.cookie {
            CookieSource::File(path) if *path == self.data.with_file_name("cookie") => {
                say(&format!("They share the cookie in {}.", path.display()));
            }
            CookieSource::File(path) => say(&format!(
                "They share the cookie in {0}: give the commands above --cookie-file {0}.",
                path.display()
            )),
            CookieSource::Given(_) => say(
                "They share the cookie given to devrel: give the commands above the same --cookie.",
            ),
        }
        say("");
        // One node at a time is stopped by name: a `pkill -f` of the command line would stop
        // the nodes of everyone else on the machine too.
        say("To stop one node:");
        for node in nodes {
            say(&format!(
                "  {} (pid {}): cargo run -q -p {program} -- stop --node dev{}{}",
                node.name(),
                node.child.id(),
                node.k,
                port_suffix(nodes, node.k, " --cluster-port ")
            ));
        }
    }
}

impl Started {
    fn name(&self) -> &str {
        self.line.split(' ').next().unwrap_or_default()
    }

    fn cluster_addr(&self) -> Option<std::net::SocketAddr> {
        self.place("cluster")
    }

    /// Where it serves `name` (`cluster`, `http`, …), as its started line says.
    fn place(&self, name: &str) -> Option<std::net::SocketAddr> {
        crate::ops::cli::parse_started_line(&self.line).and_then(|p| p.get(name).copied())
    }
}

/// `PREFIX PORT` when devK does not listen on devK's usual cluster port (a devrel on free
/// ports): what a command needs to find it. Empty otherwise.
fn port_suffix(nodes: &[Started], k: u32, prefix: &str) -> String {
    match nodes
        .iter()
        .find(|n| n.k == k)
        .and_then(Started::cluster_addr)
    {
        Some(addr) if addr.port() != dev_cluster_port(k) => format!("{prefix}{}", addr.port()),
        _ => String::new(),
    }
}

/// Prints a line for whoever runs the devrel. An output nobody reads any more is no reason to
/// abandon the nodes (`println!` would panic on it and leave them running).
fn say(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Reads the node's `… started: cluster ADDR, …` line (or the reason it did not start).
fn first_line(child: &mut Child) -> Result<String, String> {
    let stdout = child.stdout.take().ok_or("no output")?;
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    if line.is_empty() {
        let status = child.wait().map_err(|e| e.to_string())?;
        return Err(format!("it exited ({status}); see its log above"));
    }
    // Keep reading (and discarding) its stdout so the node never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    Ok(line.trim_end().to_string())
}

/// Asks every node to stop, and kills those that have not stopped after the grace period.
async fn stop_all(nodes: Vec<Started>, cookie: &Cookie) {
    for node in &nodes {
        if let Some(addr) = node.cluster_addr() {
            let _ = client_request(addr, cookie, Request::Stop, Duration::from_secs(2)).await;
        }
    }
    let deadline = Instant::now() + STOP_GRACE;
    for Started { k, mut child, .. } in nodes {
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                _ => {
                    eprintln!("dev{k} did not stop in time: killing it");
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
    }
}
