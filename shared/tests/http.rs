//! The HTTP server seen from a raw TCP client: a request body over the limit is read whole and
//! answered 413, and the node serves on; a fault of the server is answered 500, a request
//! that makes no sense 400. `GET /metrics` counts what the node did, with values that move
//! with traffic; `GET /ready` says whether the node should take traffic. (The access log is
//! tested on a node process, in ex6-chat-solution's `operations.rs`: a process's log is what
//! an operator reads.)

use ringcore::http::MAX_BODY_BYTES;
use ringcore::node::admin;
use ringcore::quorum::Quorum;
use ringcore::streams::{StreamCommand, StreamCoverage, StreamCoverageReply, StreamReply, Streams};
use ringcore::testing::ScratchDir;
use ringcore::{Node, NodeConfig, Vnode, VnodeContext};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(scratch: &ScratchDir) -> (Node, SocketAddr) {
    start_node(scratch, 1).await
}

/// Node devK with the stream database and its HTTP API.
async fn start_node(scratch: &ScratchDir, k: u32) -> (Node, SocketAddr) {
    let mut config = NodeConfig::for_test(k, scratch.path().join(format!("dev{k}")));
    config.ring_size = 8;
    let node = Node::start(config).await.expect("the node starts");
    let db = Streams::start(&node);
    let addr = ringcore::http::serve(
        &node,
        "127.0.0.1:0".parse().unwrap(),
        ringcore::http::router(db),
    )
    .await
    .expect("the HTTP server starts");
    (node, addr)
}

/// Sends `head` then `body` in 64 KiB writes (every write must succeed), then reads the whole
/// answer until the server closes or the answer is complete.
async fn exchange(addr: SocketAddr, head: String, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    for piece in body.chunks(64 * 1024) {
        stream
            .write_all(piece)
            .await
            .expect("the server reads the whole body before it answers");
    }
    stream.flush().await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(error) => panic!("reading the answer: {error}"),
        }
        let text = String::from_utf8_lossy(&answer);
        if text.contains("\r\n\r\n") && text.trim_end().ends_with('}') {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn status_and_body(answer: &str) -> (&str, &str) {
    let status = answer.lines().next().unwrap_or("");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, body)
}

const TOO_LARGE: &str = r#""type":"body-too-large""#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_read_then_answered_413() {
    let scratch = ScratchDir::new("http-oversized");
    let (node, addr) = start(&scratch).await;
    let body = vec![b'x'; 12 * MAX_BODY_BYTES];
    let head = format!(
        "POST /msgs/ann/a HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let answer = exchange(addr, head, &body).await;
    let (status, reply) = status_and_body(&answer);
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
    assert!(reply.contains(TOO_LARGE), "{answer}");

    // A chunked body with no declared length is measured as it arrives.
    let mut chunked = Vec::new();
    for piece in body.chunks(256 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = "POST /msgs/ann/a HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\n\r\n"
        .to_string();
    let answer = exchange(addr, head, &chunked).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(TOO_LARGE), "{answer}");

    // Nothing was stored, and a body within the limit still goes through.
    let msg = br#"{"msg": "small"}"#;
    let head = format!(
        "POST /msgs/ann/a HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        msg.len()
    );
    let answer = exchange(addr, head, msg).await;
    let (status, reply) = status_and_body(&answer);
    assert_eq!(status, "HTTP/1.1 201 Created");
    assert!(
        reply.contains(r#""id":1"#),
        "the first entry of the stream: {answer}"
    );
    node.stop().await;
}

/// A stream vnode with a bug: it answers a stats request with names. To the caller of the
/// API that is a fault of the server, not of the request.
struct ConfusedVnode;

impl Vnode for ConfusedVnode {
    type Command = StreamCommand;
    type Reply = StreamReply;
    type CoverageRequest = StreamCoverage;
    type CoverageReply = StreamCoverageReply;
    type HandoffItem = ();

    fn init(_: VnodeContext) -> Result<Self, String> {
        Ok(ConfusedVnode)
    }

    fn handle_command(&mut self, _: StreamCommand) -> StreamReply {
        StreamReply::Failed("this vnode only answers stats".to_string())
    }

    fn handle_coverage(&mut self, _: StreamCoverage) -> StreamCoverageReply {
        StreamCoverageReply::Names(vec!["ann".to_string()])
    }
}

/// Sends a bodiless GET and returns the status line and body.
async fn get(addr: SocketAddr, path: &str) -> String {
    let head = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    exchange(addr, head, b"").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_of_the_server_is_500_and_a_bad_request_400() {
    let scratch = ScratchDir::new("http-faults");
    let mut config = NodeConfig::for_test(1, scratch.path().join("dev1"));
    config.ring_size = 8;
    let node = Node::start(config).await.expect("the node starts");
    let db = Streams::<Quorum, ConfusedVnode>::start_with(&node, "confused");
    let addr = ringcore::http::serve(
        &node,
        "127.0.0.1:0".parse().unwrap(),
        ringcore::http::router(db),
    )
    .await
    .expect("the HTTP server starts");

    // The vnodes' answers have the wrong shape: nothing the caller can change.
    let answer = get(addr, "/stats").await;
    let (status, body) = status_and_body(&answer);
    assert_eq!(status, "HTTP/1.1 500 Internal Server Error", "{answer}");
    assert_eq!(
        body,
        r#"{"type":"internal","reason":"a vnode answered stats with names"}"#
    );

    // More replicas than the ring has partitions: the caller's to fix.
    let answer = get(addr, "/msgs/ann/a?n=9").await;
    let (status, body) = status_and_body(&answer);
    assert_eq!(status, "HTTP/1.1 400 Bad Request", "{answer}");
    assert_eq!(
        body,
        r#"{"type":"invalid-request","reason":"n (9) cannot be more than the ring's 8 partitions"}"#
    );
    node.stop().await;
}

/// `GET url` from a blocking thread: (status, body).
async fn get_url(url: String) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent.get(&url).call().expect("an answer");
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap(),
        )
    })
    .await
    .unwrap()
}

async fn post_url(url: String, msg: &str) -> u16 {
    let body = format!(r#"{{"msg": "{msg}"}}"#);
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let response = agent
            .post(&url)
            .header("content-type", "application/json")
            .send(&body);
        response.expect("an answer").status().as_u16()
    })
    .await
    .unwrap()
}

/// The value of the sample named `sample` (name and labels, as the text shows them).
fn value(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_traffic() {
    let scratch = ScratchDir::new("metrics");
    let (node, http) = start_node(&scratch, 1).await;
    let (status, before) = get_url(format!("http://{http}/metrics")).await;
    assert_eq!(status, 200);
    // Every operation's series is there from the start, at 0.
    assert_eq!(
        value(&before, r#"ring_requests_total{op="post",outcome="ok"}"#),
        Some(0.0)
    );
    assert_eq!(
        value(&before, "ring_ring_version"),
        Some(node.ring().version() as f64)
    );
    assert!(before.ends_with("# EOF\n"), "{before}");

    for i in 0..3 {
        let url = format!("http://{http}/msgs/alice/news");
        assert_eq!(post_url(url, &format!("hello {i}")).await, 201);
    }
    let read = format!("http://{http}/msgs/alice/news?from=1&limit=10");
    assert_eq!(get_url(read).await.0, 200);
    let last = format!("http://{http}/msgs/alice/news?limit=2");
    assert_eq!(get_url(last).await.0, 200);

    let (_, after) = get_url(format!("http://{http}/metrics")).await;
    let sample = |name: &str| value(&after, name);
    assert_eq!(
        sample(r#"ring_requests_total{op="post",outcome="ok"}"#),
        Some(3.0),
        "{after}"
    );
    assert_eq!(
        sample(r#"ring_requests_total{op="read",outcome="ok"}"#),
        Some(1.0),
        "{after}"
    );
    assert_eq!(
        sample(r#"ring_requests_total{op="last",outcome="ok"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(r#"ring_request_duration_seconds_count{op="post"}"#),
        Some(3.0)
    );
    assert!(sample(r#"ring_request_duration_seconds_sum{op="post"}"#).unwrap() > 0.0);
    assert!(sample("ring_vnodes_running").unwrap() >= 3.0, "{after}");
    assert!(sample(r#"ring_connections{listener="http"}"#).unwrap() >= 1.0);
    assert_eq!(sample("ring_members_down"), Some(0.0));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_is_ready_once_it_is_a_full_member() {
    let scratch = ScratchDir::new("ready");
    let (dev1, http1) = start_node(&scratch, 1).await;
    let (dev2, http2) = start_node(&scratch, 2).await;
    let (status, body) = get_url(format!("http://{http1}/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""ready":true"#), "{body}");

    // Staged to join: a member, but joining until the plan is committed.
    let target = format!("{}:{}", dev1.name(), dev1.addr().port());
    admin::run(&dev2, &["cluster", "join", &target])
        .await
        .expect("join staged");
    let (status, body) = get_url(format!("http://{http2}/ready")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""status":"joining""#), "{body}");
    assert!(body.contains(r#""member":false"#), "{body}");
    dev2.stop().await;
    dev1.stop().await;
}
