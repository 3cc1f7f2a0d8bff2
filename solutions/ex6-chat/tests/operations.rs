//! What an operator sees of a node process: stopped by a signal, it stops cleanly (SIGTERM, as
//! a service manager sends it, lets a live feed end with its last chunk rather than cutting
//! the connection, and the process exits 0, however soon after it said it had started); with `RUST_LOG=…,tower_http=debug`, its log has a
//! line per HTTP request answered.

use ringcore::testing::{NodeProcess, poll_until};
use std::io::{Read, Write};
use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_ex6-chat-solution");

/// Starts node dev1 in `dir`, every port free, its log in `dir/dev1.log`.
fn start_logged(dir: &std::path::Path) -> (NodeProcess, std::path::PathBuf) {
    let log = dir.join("dev1.log");
    let args = ["--http-port", "0", "--chat-port", "0"];
    (
        NodeProcess::start(BINARY, 1, dir, 0, &args, Some(&log)),
        log,
    )
}

/// Sends the node SIGTERM, as a service manager stops it.
fn sigterm(node: &NodeProcess) {
    let pid = node.child.id().to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());
}

#[test]
fn sigterm_ends_a_live_feed_with_its_last_chunk_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, log) = start_logged(dir.path());
    let http = node.places["http"];
    let url = format!("http://{http}/msgs/alice/news?n=1&w=1&r=1");
    ureq::post(&url)
        .header("content-type", "application/json")
        .send(r#"{"msg": "first"}"#)
        .expect("a post is stored");

    // A live feed, read as raw HTTP/1.1 so that its chunked framing shows.
    let mut feed = std::net::TcpStream::connect(http).unwrap();
    let request = "GET /msgs/alice/news/listen?from=0&n=1&w=1&r=1 HTTP/1.1\r\nHost: ring\r\n\r\n";
    feed.write_all(request.as_bytes()).unwrap();
    feed.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut seen = Vec::new();
    poll_until(
        "the feed sends the first entry",
        Duration::from_secs(20),
        || {
            let mut buffer = [0u8; 4096];
            let n = feed.read(&mut buffer).map_err(|e| e.to_string())?;
            seen.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&seen).into_owned();
            if text.contains("first") {
                Ok(())
            } else {
                Err(text)
            }
        },
    );

    sigterm(&node);
    let mut rest = Vec::new();
    let ended = feed.read_to_end(&mut rest);
    seen.extend_from_slice(&rest);
    let text = String::from_utf8_lossy(&seen);
    let status = node.child.wait().unwrap();
    let log = std::fs::read_to_string(&log).unwrap();
    let outcome = format!("the node exited with {status}; its log:\n{log}\nthe feed:\n{text}");
    assert!(
        ended.is_ok(),
        "the feed's connection was cut: {ended:?}\n{outcome}"
    );
    assert!(
        text.ends_with("0\r\n\r\n"),
        "the feed did not end with its last chunk: {outcome}"
    );
    assert!(status.success(), "{outcome}");
    assert!(log.contains("node stopped"), "{outcome}");
}

/// A service manager may stop a node the moment it says it has started: the signal must not
/// find it without its handler (which would kill it, exit status "signal 15").
#[test]
fn sigterm_right_after_the_started_line_stops_the_node_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, log) = start_logged(dir.path());
    sigterm(&node);
    let status = node.child.wait().unwrap();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "the node exited with {status}\n{log}");
    assert!(log.contains("node stopped"), "{log}");
}

#[test]
fn every_http_request_is_in_the_access_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("dev1.log");
    let mut command = std::process::Command::new(BINARY);
    command
        .args(["start", "--node", "dev1", "--cluster-port", "0"])
        .args([
            "--http-port",
            "0",
            "--chat-port",
            "0",
            "--cookie",
            ringcore::testing::COOKIE,
        ])
        .args(["--data-dir", dir.path().join("dev1").to_str().unwrap()])
        .env("RUST_LOG", "info,tower_http=debug")
        .stderr(std::fs::File::create(&log).unwrap());
    let node = NodeProcess::spawn(command);
    let health = format!("http://{}/health", node.places["http"]);
    ureq::get(&health).call().expect("GET /health");
    poll_until(
        "the access log has the request",
        Duration::from_secs(20),
        || {
            let text = std::fs::read_to_string(&log).map_err(|e| e.to_string())?;
            let answered = text.lines().any(|line| {
                line.contains("finished processing request")
                    && line.contains("uri=/health")
                    && line.contains("status=200")
            });
            if answered { Ok(()) } else { Err(text) }
        },
    );
}

/// The `admin` user's password as its first start logged it, if it did.
fn logged_admin_password(log: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().find(|l| l.contains("made the admin user"))?;
    let rest = line.split("with the password ").nth(1)?;
    Some(rest.split_whitespace().next()?.to_string())
}

#[test]
fn a_first_start_logs_the_admin_password_once_and_closed_access_refuses_anonymous() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--http-port",
        "0",
        "--chat-port",
        "0",
        "--anonymous",
        "none",
    ];
    let first_log = dir.path().join("first.log");
    let mut node = NodeProcess::start(BINARY, 1, dir.path(), 0, &args, Some(&first_log));
    let http = node.places["http"];
    let password = poll_until(
        "the first start logs the admin's password",
        Duration::from_secs(20),
        || logged_admin_password(&first_log).ok_or_else(|| "not yet".to_string()),
    );
    assert_eq!(password.len(), 24, "{password}");
    let refused = ureq::get(&format!("http://{http}/msgs"))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    assert_eq!(refused.status(), 401, "anonymous access is closed");
    let login = ureq::post(&format!("http://{http}/sessions"))
        .header("content-type", "application/json")
        .send(format!(r#"{{"username":"admin","password":"{password}"}}"#))
        .expect("the logged password opens a session");
    assert_eq!(login.status(), 201);
    node.child.kill().unwrap();
    node.child.wait().unwrap();

    // The next start finds the admin user in its files: nothing made, nothing logged.
    let second_log = dir.path().join("second.log");
    let mut again = NodeProcess::start(BINARY, 1, dir.path(), 0, &args, Some(&second_log));
    let http = again.places["http"];
    ureq::post(&format!("http://{http}/sessions"))
        .header("content-type", "application/json")
        .send(format!(r#"{{"username":"admin","password":"{password}"}}"#))
        .expect("the same password after a restart");
    assert_eq!(logged_admin_password(&second_log), None);
    again.child.kill().unwrap();
    again.child.wait().unwrap();
}
