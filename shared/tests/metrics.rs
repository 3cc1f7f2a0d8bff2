//! `GET /metrics` counts what the node did, with values that move with traffic, and
//! `GET /ready` says whether the node should take traffic.

use ringcore::node::admin;
use ringcore::streams::Streams;
use ringcore::testing::ScratchDir;
use ringcore::{Node, NodeConfig};
use std::net::SocketAddr;

async fn start(scratch: &ScratchDir, k: u32) -> (Node, SocketAddr) {
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

/// `GET url` from a blocking thread: (status, body).
async fn get(url: String) -> (u16, String) {
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

async fn post(url: String, msg: &str) -> u16 {
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
    let (node, http) = start(&scratch, 1).await;
    let (status, before) = get(format!("http://{http}/metrics")).await;
    assert_eq!(status, 200);
    assert_eq!(
        value(&before, r#"ring_requests_total{op="post",outcome="ok"}"#),
        None
    );
    assert_eq!(
        value(&before, "ring_ring_version"),
        Some(node.ring().version() as f64)
    );
    assert!(before.ends_with("# EOF\n"), "{before}");

    for i in 0..3 {
        let url = format!("http://{http}/msgs/alice/news");
        assert_eq!(post(url, &format!("hello {i}")).await, 201);
    }
    let read = format!("http://{http}/msgs/alice/news?from=1&limit=10");
    assert_eq!(get(read).await.0, 200);
    let last = format!("http://{http}/msgs/alice/news?limit=2");
    assert_eq!(get(last).await.0, 200);

    let (_, after) = get(format!("http://{http}/metrics")).await;
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
    let (dev1, http1) = start(&scratch, 1).await;
    let (dev2, http2) = start(&scratch, 2).await;
    let (status, body) = get(format!("http://{http1}/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""ready":true"#), "{body}");

    // Staged to join: a member, but joining until the plan is committed.
    let target = format!("{}:{}", dev1.name(), dev1.addr().port());
    admin::run(&dev2, &["cluster", "join", &target])
        .await
        .expect("join staged");
    let (status, body) = get(format!("http://{http2}/ready")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""status":"joining""#), "{body}");
    assert!(body.contains(r#""member":false"#), "{body}");
    dev2.stop().await;
    dev1.stop().await;
}

#[test]
fn every_request_is_in_the_access_log() {
    let logs = ringcore::testing::CapturedLogs::new("tower_http=debug");
    logs.run(async {
        let scratch = ScratchDir::new("access-log");
        let (node, http) = start(&scratch, 1).await;
        assert_eq!(get(format!("http://{http}/health")).await.0, 200);
        node.stop().await;
    });
    let answered = logs.matching("finished processing request");
    assert!(
        answered
            .iter()
            .any(|line| line.contains("status=200") && line.contains("uri=/health")),
        "no access log line for GET /health: {:#?}",
        logs.lines()
    );
}
