//! Listening benchmark: what idle and busy listeners cost a 3-node cluster.
//!
//! Starts a 3-node cluster in this process (ring 64, N=3 W=2 R=2, each node with the HTTP
//! API), then prints:
//! - the POST line (16 keep-alive connections posting to 10 streams) with no listener;
//! - the process's CPU and the vnode reads over 5 s with 1,000 idle SSE listeners (`/listen`)
//!   spread over the 3 nodes and the 10 streams;
//! - the delay from a POST's 201 to the event at each of the 100 listeners of its stream, p50
//!   and p99 over 200 posts (one at a time);
//! - the same POST line with the 1,000 listeners (each post goes out to 100 of them), and the
//!   events delivered per second meanwhile: 100 per post, each a chunk written on a
//!   connection of its own (the listeners, in this process too, only count them then).
//!
//! ```text
//! cargo bench -p ringcore --bench listen
//! RINGCORE_BENCH_LISTENERS=300 cargo bench -p ringcore --bench listen
//! ```
//!
//! It measures, it asserts nothing.

mod common;

use common::{run_on_runtime, setting};

use ringcore::streams::Streams;
use ringcore::testing::TestCluster;
use ringcore::{App, CommandHelp, Error, Node};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const STREAMS: usize = 10;

/// A node with the stream database and its HTTP API.
#[derive(Clone)]
struct Db {
    http: SocketAddr,
}

impl App for Db {
    const COMMANDS: &'static [CommandHelp] = &[];

    async fn start(node: &Node) -> Result<Self, Error> {
        let db = Streams::start(node);
        let http = ringcore::http::serve(node, node.config().http, ringcore::http::router(db))
            .await
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(Db { http })
    }

    async fn run(&self, command: &str, _: &[&str]) -> Result<String, Error> {
        Err(Self::usage(command))
    }
}

fn main() {
    run_on_runtime(run());
}

/// What the listeners got: when each got each entry ((stream, id) → times), while the delays
/// are measured; how many events in all.
#[derive(Default)]
struct Arrivals {
    times: Mutex<HashMap<(usize, u64), Vec<Instant>>>,
    timing: AtomicBool,
    events: AtomicU64,
}

async fn run() {
    let listeners = setting("RINGCORE_BENCH_LISTENERS", 1000);
    let cluster = TestCluster::<Db>::start_joined_with(3, |config| {
        config.ring_size = 64;
    })
    .await;
    cluster.wait_settled().await;
    let nodes: Vec<SocketAddr> = (1..=3).map(|k| cluster.app(k).http).collect();
    println!(
        "listen bench: {} cores, 3 nodes in this process, ring 64, N=3 W=2 R=2, {listeners} listeners over {STREAMS} streams",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let without = post_line(&nodes, 5000).await;
    println!("listen post_16conn_no_listeners req_s={without:.0}");

    let arrivals: Arc<Arrivals> = Arc::default();
    let mut ready = Vec::new();
    for i in 0..listeners {
        let (addr, stream) = (nodes[i % 3], i % STREAMS);
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(listen(addr, stream, Arc::clone(&arrivals), tx));
        ready.push(rx);
    }
    for rx in ready {
        rx.await.expect("a listener connects");
    }

    // Connected listeners first read what they missed; the idle window starts once the node's
    // reads have stopped (for a second, within ten).
    let mut reads_before = reads(nodes[0]).await;
    let settling = Instant::now();
    while settling.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = reads(nodes[0]).await;
        if now == reads_before {
            break;
        }
        reads_before = now;
    }
    let cpu_before = cpu_ticks();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cpu = cpu_ticks() - cpu_before;
    let reads = reads(nodes[0]).await - reads_before;
    println!(
        "listen idle_{listeners}_listeners_5s cpu_ticks={cpu} cpu_pct={:.1} vnode_reads={reads}",
        cpu as f64 / 100.0 / 5.0 * 100.0
    );

    // The delay from a post's 201 to each listener's event, one post at a time.
    let per_stream = listeners / STREAMS;
    arrivals.timing.store(true, Ordering::Relaxed);
    let mut delays: Vec<Duration> = Vec::new();
    for k in 0..200 {
        let stream = k % STREAMS;
        let (answered, id) = post(nodes[k % 3], stream).await;
        let key = (stream, id);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = arrivals.times.lock().unwrap().get(&key).map_or(0, Vec::len);
            if got >= per_stream || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if let Some(times) = arrivals.times.lock().unwrap().remove(&key) {
            delays.extend(times.iter().map(|t| t.saturating_duration_since(answered)));
        }
    }
    delays.sort_unstable();
    let pct = |p: f64| {
        delays
            .get(((delays.len() as f64 * p) as usize).min(delays.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "listen delay_201_to_event events={} p50_ms={:.2} p99_ms={:.2}",
        delays.len(),
        pct(0.5),
        pct(0.99)
    );

    // The listeners only count what they get from here on: the figure is the node's, not the
    // bench's bookkeeping (which runs in the same process).
    arrivals.timing.store(false, Ordering::Relaxed);
    let events_before = arrivals.events.load(Ordering::Relaxed);
    let started = Instant::now();
    let with = post_line(&nodes, 5000).await;
    let events = arrivals.events.load(Ordering::Relaxed) - events_before;
    println!(
        "listen post_16conn_{listeners}_listeners req_s={with:.0} events_delivered_s={:.0}",
        events as f64 / started.elapsed().as_secs_f64()
    );
    cluster.stop().await;
}

/// One SSE listener of `bench:s{stream}` on `addr`: notes when each entry arrives.
async fn listen(
    addr: SocketAddr,
    stream: usize,
    arrivals: Arc<Arrivals>,
    connected: tokio::sync::oneshot::Sender<()>,
) {
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET /listen?s=bench:s{stream} HTTP/1.0\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut lines = BufReader::new(socket);
    let mut line = String::new();
    let mut connected = Some(connected);
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        if line.starts_with(": listening") {
            if let Some(connected) = connected.take() {
                let _ = connected.send(());
            }
        } else if let Some(data) = line.strip_prefix("data: ") {
            arrivals.events.fetch_add(1, Ordering::Relaxed);
            if arrivals.timing.load(Ordering::Relaxed) {
                let now = Instant::now();
                let event: serde_json::Value = serde_json::from_str(data).unwrap();
                let id = event["meta"]["id"].as_u64().unwrap();
                let mut times = arrivals.times.lock().unwrap();
                times.entry((stream, id)).or_default().push(now);
            }
        }
    }
}

/// Posts one entry to `bench:s{stream}`; when its 201 came, and its id.
async fn post(addr: SocketAddr, stream: usize) -> (Instant, u64) {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let body = r#"{"n":1}"#;
    let request = format!(
        "POST /streams/bench/s{stream} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    let answered = Instant::now();
    let json = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    let id = serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v["meta"]["id"].as_u64())
        .unwrap_or_else(|| panic!("a post is answered with its id: {answer}"));
    (answered, id)
}

/// Requests per second of 16 keep-alive connections posting `total` entries to the streams.
async fn post_line(nodes: &[SocketAddr], total: usize) -> f64 {
    let started = Instant::now();
    let connections = 16;
    let mut tasks = Vec::new();
    for c in 0..connections {
        let addr = nodes[c % nodes.len()];
        tasks.push(tokio::spawn(async move {
            let socket = TcpStream::connect(addr).await.unwrap();
            socket.set_nodelay(true).unwrap();
            let (reader, mut writer) = socket.into_split();
            let mut reader = BufReader::new(reader);
            let body = r#"{"n":1}"#;
            for i in 0..total / connections {
                let request = format!(
                    "POST /streams/bench/s{} HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    (c + i) % STREAMS,
                    body.len()
                );
                writer.write_all(request.as_bytes()).await.unwrap();
                let mut length = 0;
                let mut line = String::new();
                loop {
                    line.clear();
                    reader.read_line(&mut line).await.unwrap();
                    if line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    (total / connections * connections) as f64 / started.elapsed().as_secs_f64()
}

/// Reads answered by every vnode of the cluster so far.
async fn reads(addr: SocketAddr) -> u64 {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(b"GET /stats HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    let json = answer.split("\r\n\r\n").nth(1).unwrap_or("{}");
    let stats: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    stats["total"]["reads"].as_u64().unwrap_or(0)
}

/// This process's CPU time so far, in clock ticks (user + system; 100 a second on Linux).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command's closing parenthesis; utime and stime are the 14th and
    // 15th fields of the line.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}
