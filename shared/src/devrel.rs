//! `devrel N`: a local cluster of N nodes, each a separate OS process with its own name,
//! ports and data directory (riak's `make devrel`, then `devN/bin/riak start` for each).
//!
//! The nodes are started, not joined: joining them is the lesson (`admin … cluster join`).
//! `devrel` prints how to reach each node, and stops them all on Ctrl-C or end of input.

use crate::cli::Options;
use crate::transport::client_request;
use crate::wire::Request;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// How long the nodes get to stop cleanly before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

pub(crate) async fn run(options: Options) -> ExitCode {
    let count = match options.args.as_slice() {
        [n] => n.parse::<u32>().ok().filter(|n| (1..=9).contains(n)),
        _ => None,
    };
    let Some(count) = count else {
        eprintln!("usage: devrel N   (N from 1 to 9)");
        return ExitCode::from(2);
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => {
            eprintln!("error: cannot find this program: {error}");
            return ExitCode::FAILURE;
        }
    };
    let program = exe
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "node".into());
    let mut nodes: Vec<(u32, Child, String)> = Vec::new();
    for k in 1..=count {
        let mut command = Command::new(&exe);
        command
            .args(["start", "--node", &format!("dev{k}")])
            .args(["--ring-size", &options.config.ring_size.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // Ports given as 0 stay 0 for every node: each takes a free one and says which.
        for (flag, port) in [
            ("--cluster-port", options.config.listen.port()),
            ("--http-port", options.config.http.port()),
            ("--chat-port", options.config.chat.port()),
        ] {
            if port == 0 {
                command.args([flag, "0"]);
            }
        }
        let started = command
            .spawn()
            .map_err(|e| e.to_string())
            .and_then(|mut child| {
                let line = first_line(&mut child)?;
                Ok((child, line))
            });
        match started {
            Ok((child, line)) => nodes.push((k, child, line)),
            Err(error) => {
                eprintln!("error: dev{k} did not start: {error}");
                stop_all(nodes).await;
                return ExitCode::FAILURE;
            }
        }
    }
    say(&format!("{count} nodes running:"));
    for (_, _, line) in &nodes {
        say(&format!("  {line}"));
    }
    say("");
    say("Each one is alone in its own cluster; join them with, for example:");
    say(&format!(
        "  cargo run -q -p {program} -- admin --node dev2 cluster join dev1@127.0.0.1"
    ));
    say(&format!(
        "  cargo run -q -p {program} -- admin --node dev1 cluster plan"
    ));
    say(&format!(
        "  cargo run -q -p {program} -- admin --node dev1 cluster commit"
    ));
    say(&format!(
        "  cargo run -q -p {program} -- admin --node dev1 member-status"
    ));
    say(&format!(
        "A console on a node: cargo run -q -p {program} -- attach --node dev2"
    ));
    say("");
    // Listen for Ctrl-C before saying to press it: a SIGINT that came before the handler
    // would kill the devrel outright and leave its nodes running.
    let interrupted = interrupted();
    say("Press Ctrl-C (or end the input) to stop all nodes.");
    // Standard input is read on a thread of its own, not the runtime's blocking pool: a read
    // that never returns (a terminal nobody types in) would hold the runtime's shutdown, and
    // the devrel would hang after Ctrl-C until someone pressed Ctrl-D.
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
    stop_all(nodes).await;
    ExitCode::SUCCESS
}

/// Completes on Ctrl-C (SIGINT). On Unix the handler is in place from the call on, not from
/// the first poll as with `tokio::signal::ctrl_c`.
fn interrupted() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let mut signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        match signal.as_mut() {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
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
async fn stop_all(nodes: Vec<(u32, Child, String)>) {
    for (_, _, line) in &nodes {
        if let Some(addr) =
            crate::testing::parse_started_line(line).and_then(|p| p.get("cluster").copied())
        {
            let _ = client_request(addr, Request::Stop, Duration::from_secs(2)).await;
        }
    }
    let deadline = Instant::now() + STOP_GRACE;
    for (k, mut child, _) in nodes {
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
