//! What one client may take of a node, tried on a real node process of the finished
//! database (`ex6-chat-solution start`): a client that sends requests and never reads the
//! answers, hundreds of idle connections, more connections than the node takes (WebSockets
//! included). Each must
//! leave the node's memory where it was (its RSS, from `/proc`, is printed before, during and
//! after) and a well-behaved client served meanwhile (how quickly is printed: a figure for the
//! record, not a pass mark).
//!
//! ```text
//! cargo test -p ex6-chat-solution --test limits -- --nocapture
//! ```

use ringcore::net::cookie::Cookie;
use ringcore::net::transport::client_request;
use ringcore::net::wire::{Request, Response};
use ringcore::testing::raw::RawClient;
use ringcore::testing::{COOKIE, NodeProcess, poll_until, wait_until};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const BINARY: &str = env!("CARGO_BIN_EXE_ex6-chat-solution");

/// The node's resident memory, in kB.
fn rss_kb(node: &NodeProcess) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// How long a ping from a well-behaved command-line tool takes, in µs (the best of 5).
async fn ping_us(addr: SocketAddr) -> u128 {
    let mut best = u128::MAX;
    let cookie = cookie();
    for _ in 0..5 {
        let started = Instant::now();
        let answer = client_request(addr, &cookie, Request::Ping, Duration::from_secs(5)).await;
        assert!(matches!(answer, Ok(Response::Pong { .. })), "{answer:?}");
        best = best.min(started.elapsed().as_micros());
    }
    best
}

/// The cookie of the node (the tests' cookie, which `NodeProcess::start` gives it): every
/// client here, the misbehaving ones too, knows it; what it may take of the node is the point.
fn cookie() -> Cookie {
    Cookie::new(COOKIE).unwrap()
}

/// Starts node dev1 in `dir`, every port free, with `limits` (flags), its log in
/// `dir/dev1.log`.
fn node_with(dir: &std::path::Path, limits: &[&str]) -> NodeProcess {
    let mut args = vec!["--http-port", "0", "--chat-port", "0"];
    args.extend_from_slice(limits);
    NodeProcess::start(BINARY, 1, dir, 0, &args, Some(&dir.join("dev1.log")))
}

/// Starts a node with tight limits on its cluster port, so that each bites within seconds.
fn node(dir: &std::path::Path) -> NodeProcess {
    let limits = [
        "--max-connections",
        "300",
        "--idle-timeout",
        "2",
        "--write-timeout",
        "2",
        "--max-in-flight",
        "16",
    ];
    node_with(dir, &limits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_held_back_then_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path());
    let addr = node.places["cluster"];
    let quick = ping_us(addr).await;
    let before = rss_kb(&node);

    // Requests whose answers are a few kB each (the ring and the address book), sent as fast
    // as the node takes them, none read.
    let mut abuser = RawClient::greet(addr, &cookie()).await.unwrap();
    let mut sent = 0u64;
    let stalled = loop {
        match abuser
            .send(sent, Request::State, Duration::from_secs(1))
            .await
        {
            Ok(()) => sent += 1,
            Err(why) => break why,
        }
        assert!(
            sent < 5_000_000,
            "the node kept reading a client that reads nothing"
        );
    };
    let during = rss_kb(&node);
    let meanwhile = ping_us(addr).await;
    println!(
        "a client that never reads: {sent} requests sent before its sends {stalled}; node RSS \
         {} before, {} during; a ping {quick} µs before, {meanwhile} µs meanwhile",
        mb(before),
        mb(during)
    );
    // Its sends stall once the node has stopped reading it. On a loaded machine, filling the
    // socket buffers up to that point can take longer than the node's --write-timeout (2 s),
    // and then the node closes the connection under the sends: held back either way.
    assert!(
        stalled.starts_with("stalled") || stalled.starts_with("closed"),
        "{stalled}"
    );
    assert!(
        during < before + 16 * 1024,
        "the node's memory grew from {} to {} under a client that never reads",
        mb(before),
        mb(during)
    );
    // The ping above was answered while the abuser held its connection; how quickly is the
    // printed figure, not a pass mark (speed is for benchmarks, on a quiet machine).

    // Its answers unread for --write-timeout (2 s): the node says so and closes the
    // connection (still unread until then: reading would make it a good client again).
    let log = dir.path().join("dev1.log");
    poll_until(
        "the node cuts off the client that does not read",
        Duration::from_secs(20),
        || {
            let log = std::fs::read_to_string(&log).map_err(|e| e.to_string())?;
            let said = "closing connection: it has not read its answers for 2s (--write-timeout)";
            if log.contains(said) { Ok(()) } else { Err(log) }
        },
    );
    assert!(
        abuser.closed_within(Duration::from_secs(20)).await,
        "the node kept the connection of a client that does not read"
    );
    let after = rss_kb(&node);
    println!("after it was cut off: node RSS {}", mb(after));
    assert!(after < before + 16 * 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_the_node_takes_no_more_than_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path());
    let addr = node.places["cluster"];
    let quick = ping_us(addr).await;
    let before = rss_kb(&node);

    // 500 connections that say hello and then nothing; the node takes 300 (--max-connections).
    let mut idle = Vec::new();
    let mut refused = 0;
    for _ in 0..500 {
        match RawClient::greet(addr, &cookie()).await {
            Ok(client) => idle.push(client),
            Err(_) => refused += 1,
        }
    }
    let during = rss_kb(&node);
    println!(
        "500 idle connections: {} taken, {refused} refused; node RSS {} before, {} with them",
        idle.len(),
        mb(before),
        mb(during)
    );
    assert_eq!(
        idle.len(),
        300,
        "the node takes --max-connections 300 at once"
    );
    assert!(during < before + 16 * 1024);

    // Idle for --idle-timeout (2 s): every one is closed, and the node takes new ones again.
    let started = Instant::now();
    for client in &mut idle {
        let left = Duration::from_secs(20).saturating_sub(started.elapsed());
        assert!(
            client.closed_within(left).await,
            "an idle connection stayed open"
        );
    }
    println!(
        "all closed {:.1} s after they went idle",
        started.elapsed().as_secs_f64()
    );
    poll_until(
        "the node takes connections again",
        Duration::from_secs(10),
        || {
            std::net::TcpStream::connect(addr)
                .map(drop)
                .map_err(|e| e.to_string())
        },
    );
    let after_ping = ping_us(addr).await;
    let after = rss_kb(&node);
    println!(
        "after: node RSS {}; a ping {quick} µs before, {after_ping} µs after",
        mb(after)
    );
    assert!(after < before + 16 * 1024);
    let log = std::fs::read_to_string(dir.path().join("dev1.log")).unwrap();
    assert!(
        log.contains("are open, the most this node takes (--max-connections)"),
        "the node does not say it refused connections:\n{log}"
    );
}

/// Sends `at_once`, then `slowly` a byte a second (a slow client), until the server answers
/// or closes the connection, or `budget` passes. Returns what it answered and when.
async fn trickle(
    addr: SocketAddr,
    at_once: &str,
    slowly: &str,
    budget: Duration,
) -> (String, Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(at_once.as_bytes()).await.unwrap();
    let mut pace = tokio::time::interval(Duration::from_secs(1));
    for byte in slowly.bytes() {
        pace.tick().await;
        if stream.write_all(&[byte]).await.is_err() || started.elapsed() > budget {
            break;
        }
        // Closed by the server already? A read that ends at once says so.
        let mut probe = [0u8; 1024];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await
        {
            let mut answer = String::from_utf8_lossy(&probe[..n]).into_owned();
            let mut rest = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
            answer.push_str(&String::from_utf8_lossy(&rest));
            return (answer, started.elapsed());
        }
    }
    (String::new(), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_http_clients_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let limits = ["--http-header-timeout", "2", "--http-request-timeout", "3"];
    let node = node_with(dir.path(), &limits);
    let http = node.places["http"];
    let health = format!("http://{http}/health");
    let get_ms = move || {
        let started = Instant::now();
        ureq::get(&health).call().expect("GET /health");
        started.elapsed().as_secs_f64() * 1000.0
    };
    let quick = get_ms();
    let before = rss_kb(&node);

    // 200 clients that send their headers a byte a second: each is cut off after 2 s.
    let headers = "GET /health HTTP/1.1\r\nHost: ring\r\nX-Slow: yes\r\n\r\n";
    let slow: Vec<_> = (0..200)
        .map(|_| tokio::spawn(trickle(http, "", headers, Duration::from_secs(30))))
        .collect();
    // Meanwhile a normal client is served as before.
    let meanwhile = tokio::task::spawn_blocking(get_ms).await.unwrap();
    let during = rss_kb(&node);
    let mut longest = Duration::ZERO;
    for client in slow {
        let (_, took) = client.await.unwrap();
        longest = longest.max(took);
    }
    println!(
        "200 clients sending headers a byte a second: all cut off within {:.1} s; node RSS {} \
         before, {} during; GET /health {quick:.1} ms before, {meanwhile:.1} ms meanwhile",
        longest.as_secs_f64(),
        mb(before),
        mb(during)
    );
    assert!(
        longest < Duration::from_secs(10),
        "a slow client was kept {longest:?}"
    );
    assert!(during < before + 16 * 1024);
    // A normal client was served meanwhile (get_ms fails otherwise); its latency is printed.

    // A body sent a byte a second: answered 408 once the request's 3 s are up.
    let post = "POST /msgs/alice/slow HTTP/1.1\r\nHost: ring\r\nContent-Type: application/json\r\n\
                Content-Length: 40\r\n\r\n{\"msg\": \"this body takes forty seconds\"}";
    // The headers at once (a slow body, not slow headers), then the body a byte a second.
    let (headers, body) = post.split_at(post.find("\r\n\r\n").unwrap() + 4);
    let (answer, took) = trickle(http, headers, body, Duration::from_secs(30)).await;
    println!(
        "a body sent a byte a second: answered after {:.1} s: {}",
        took.as_secs_f64(),
        answer.lines().next().unwrap_or("")
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""type":"timeout""#), "{answer}");
    let log = std::fs::read_to_string(dir.path().join("dev1.log")).unwrap();
    assert!(
        log.contains("did not arrive within 2s (--http-header-timeout)"),
        "the node does not say why it closed the slow connections:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_chat_server_says_so() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("dev1.log");
    let node = node_with(dir.path(), &["--chat-max-connections", "3"]);
    let chat = node.places["chat"];
    // The first line a connection reads: the welcome, or the notice that the server is full.
    async fn first_line(addr: SocketAddr) -> (String, BufReader<tokio::net::TcpStream>) {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line));
        read.await.expect("a first line").unwrap();
        (line, reader)
    }
    let mut taken = Vec::new();
    for _ in 0..3 {
        let (line, connection) = first_line(chat).await;
        assert!(line.starts_with("connected!"), "{line:?}");
        taken.push(connection);
    }
    let (line, mut turned_away) = first_line(chat).await;
    assert_eq!(line, "sorry, this chat server is full; try again later\n");
    let mut rest = String::new();
    let closed = turned_away.read_line(&mut rest);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), closed)
            .await
            .unwrap()
            .unwrap(),
        0
    );
    // One leaves: a new one is taken.
    drop(taken.pop());
    poll_until(
        "the chat takes a connection again",
        Duration::from_secs(10),
        || {
            let stream = std::net::TcpStream::connect(chat).map_err(|e| e.to_string())?;
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stream), &mut line)
                .map_err(|e| e.to_string())?;
            if line.starts_with("connected!") {
                Ok(())
            } else {
                Err(line)
            }
        },
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("3 are open, the most this node takes (--chat-max-connections)"),
        "{log}"
    );
}

/// `GET /ping` on a connection of its own: the answer's status line, or `None` when the node
/// closes the connection unanswered (it is full).
async fn ping_http(addr: SocketAddr) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = "GET /ping HTTP/1.1\r\nHost: ring\r\nConnection: close\r\n\r\n";
    // A refused connection may be closed before the request is written, or reset after.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer));
    let _ = read.await.expect("answered or closed within 20 s");
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_counts_against_the_http_connections_until_it_closes() {
    use futures_util::{SinkExt, StreamExt};
    let dir = tempfile::tempdir().unwrap();
    let node = node_with(dir.path(), &["--http-max-connections", "2"]);
    let http = node.places["http"];
    assert_eq!(ping_http(http).await.as_deref(), Some("HTTP/1.1 200 OK"));
    let mut sockets = Vec::new();
    for _ in 0..2 {
        let tcp = tokio::net::TcpStream::connect(http).await.unwrap();
        let url = format!("ws://{http}/listen?s=limits:x");
        let (socket, _) = tokio_tungstenite::client_async(url.as_str(), tcp)
            .await
            .expect("a WebSocket within the limit");
        sockets.push(socket);
    }
    // Upgraded, the two still hold their places: a third connection is closed unanswered.
    assert_eq!(ping_http(http).await, None, "a third connection was served");
    // One closes: its place is free again.
    let mut leaving = sockets.pop().unwrap();
    leaving.send(Message::Close(None)).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(_)) = leaving.next().await {}
    });
    ended
        .await
        .expect("the node closes the WebSocket within 20 s");
    wait_until("the node takes a connection again", || async {
        ping_http(http).await.is_some()
    })
    .await;
    poll_until(
        "the node says why it closed the third connection",
        Duration::from_secs(20),
        || {
            let log =
                std::fs::read_to_string(dir.path().join("dev1.log")).map_err(|e| e.to_string())?;
            let said = "2 are open, the most this node takes (--http-max-connections)";
            if log.contains(said) { Ok(()) } else { Err(log) }
        },
    );
    drop(sockets);
}
