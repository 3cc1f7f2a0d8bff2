//! HTTP load benchmark: what the stream database costs on top of HTTP.
//!
//! Drives `POST /msgs/{user}/{topic}` and `GET /msgs/{user}/{topic}` against a node's API
//! with a fixed number of concurrent keep-alive connections, then the same client against a
//! trivial axum handler in the same process, and prints requests per second and latency
//! percentiles for each, and the ratio.
//!
//! ```text
//! cargo bench -p ringcore --bench http                     # a node started here (ring 64, N=3 W=2 R=2)
//! RINGCORE_BENCH_URL=http://127.0.0.1:8080 cargo bench -p ringcore --bench http   # a running node
//! RINGCORE_BENCH_REQUESTS=2000 RINGCORE_BENCH_CONNECTIONS=8 cargo bench -p ringcore --bench http
//! ```
//!
//! It measures, it asserts nothing.

mod common;

use common::{run_on_runtime, setting};

use axum::Router;
use axum::routing::post;
use ringcore::streams::Streams;
use ringcore::testing::ScratchDir;
use ringcore::{Node, NodeConfig};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn main() {
    run_on_runtime(run());
}

async fn run() {
    let requests = setting("RINGCORE_BENCH_REQUESTS", 20_000);
    let connections = setting("RINGCORE_BENCH_CONNECTIONS", 16);
    let dir = ScratchDir::new("http-bench");
    let (db_addr, node) = match std::env::var("RINGCORE_BENCH_URL") {
        Ok(url) => (address_of(&url), None),
        Err(_) => {
            let node = Node::start(NodeConfig::for_test(1, dir.path()))
                .await
                .unwrap();
            let streams = Streams::start(&node);
            let addr =
                ringcore::http::serve(&node, node.config().http, ringcore::http::router(streams))
                    .await
                    .unwrap();
            (addr, Some(node))
        }
    };
    let trivial = trivial_server().await;
    println!(
        "http bench: {} cores, {requests} requests per line, {connections} connections (keep-alive), 64-byte messages",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "database at http://{db_addr} ({}), trivial axum handler at http://{trivial}",
        if node.is_some() {
            "started here: one node, ring 64, N=3 W=2 R=2"
        } else {
            "running node"
        }
    );
    let msg = format!(r#"{{"msg": "{}"}}"#, "x".repeat(64));
    // Warm up both servers and create the streams read below.
    drive(
        db_addr,
        Kind::Post,
        &msg,
        connections.min(requests),
        connections,
    )
    .await;
    drive(
        trivial,
        Kind::Post,
        &msg,
        connections.min(requests),
        connections,
    )
    .await;
    let mut results = Vec::new();
    for (label, addr, kind) in [
        ("post_db", db_addr, Kind::Post),
        ("post_trivial", trivial, Kind::Post),
        ("get_db", db_addr, Kind::Get),
        ("get_trivial", trivial, Kind::Get),
    ] {
        let figures = drive(addr, kind, &msg, requests, connections).await;
        println!("http {label}_{connections}conn {figures}");
        results.push((label, figures));
    }
    let rate = |label: &str| {
        results
            .iter()
            .find(|(l, _)| *l == label)
            .map_or(0.0, |(_, f)| f.per_second)
    };
    println!(
        "database / trivial handler: POST {:.2}, GET {:.2} (of the trivial handler's requests per second)",
        rate("post_db") / rate("post_trivial"),
        rate("get_db") / rate("get_trivial")
    );
    if let Some(node) = node {
        node.stop().await;
    }
}

fn address_of(url: &str) -> SocketAddr {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    std::net::ToSocketAddrs::to_socket_addrs(host)
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("RINGCORE_BENCH_URL must be http://host:port, not {url}"))
}

/// The same routes as the database, answered at once.
async fn trivial_server() -> SocketAddr {
    let router = Router::new().route(
        "/msgs/{user}/{topic}",
        post(|| async { axum::Json(serde_json::json!({"id": 1, "msg": "ok"})) })
            .get(|| async { axum::Json(serde_json::json!([{"id": 1, "msg": "ok"}])) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

#[derive(Clone, Copy)]
enum Kind {
    Post,
    Get,
}

struct Figures {
    per_second: f64,
    p50_us: f64,
    p99_us: f64,
    errors: usize,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "req_s={:.0} p50_us={:.1} p99_us={:.1} errors={}",
            self.per_second, self.p50_us, self.p99_us, self.errors
        )
    }
}

/// Sends `requests` requests over `connections` keep-alive connections; times each one.
async fn drive(
    addr: SocketAddr,
    kind: Kind,
    msg: &str,
    requests: usize,
    connections: usize,
) -> Figures {
    let started = Instant::now();
    let mut clients = Vec::new();
    for c in 0..connections {
        let count = requests / connections + usize::from(c < requests % connections);
        let msg = msg.to_string();
        clients.push(tokio::spawn(async move {
            client(addr, kind, c, count, &msg).await
        }));
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(requests);
    let mut errors = 0;
    for client in clients {
        let (times, failed) = client.await.unwrap();
        latencies.extend(times);
        errors += failed;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    Figures {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_us: percentile(0.50),
        p99_us: percentile(0.99),
        errors,
    }
}

/// One keep-alive connection sending `count` requests, one after the other.
async fn client(
    addr: SocketAddr,
    kind: Kind,
    c: usize,
    count: usize,
    msg: &str,
) -> (Vec<Duration>, usize) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut times = Vec::with_capacity(count);
    let mut errors = 0;
    for i in 0..count {
        // Each connection writes to its own streams: distinct keys, as in the runtime bench.
        let path = format!("/msgs/bench{c}/topic{}", i % 16);
        let request = match kind {
            Kind::Post => format!(
                "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{msg}",
                msg.len()
            ),
            Kind::Get => format!("GET {path}?limit=1 HTTP/1.1\r\nHost: bench\r\n\r\n"),
        };
        let sent = Instant::now();
        writer.write_all(request.as_bytes()).await.expect("write");
        let status = read_response(&mut reader).await;
        times.push(sent.elapsed());
        if !(200..300).contains(&status) {
            errors += 1;
        }
    }
    (times, errors)
}

/// Reads one response (status line, headers, a `Content-Length` body); returns the status.
async fn read_response(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> u16 {
    let mut line = String::new();
    reader.read_line(&mut line).await.expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).await.expect("header");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.expect("body");
    status
}
