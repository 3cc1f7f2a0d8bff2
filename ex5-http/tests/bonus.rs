//! The bonus tests of exercise 5 (README, Going further): `cargo test -p ex5-http bonus`.
//! A 3-node cluster in this process, each node with a real HTTP server on a free port; the
//! feed is read with a real HTTP client, which disconnects and connects again as a browser's
//! `EventSource` does.

use ex5_http::HttpApp;
use ringcore::testing::TestCluster;
use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Events as (id, msg), or the status and body of an answer that was not a feed.
type Feed = Result<Vec<(u64, String)>, (u16, String)>;

fn url(cluster: &TestCluster<HttpApp>, k: u32, path: &str) -> String {
    format!("http://{}{path}", cluster.app(k).http)
}

/// Connects to a feed (with `Last-Event-ID: last` if given) on a thread and reads `count`
/// events, then disconnects. The receiver hears once the feed has answered.
fn listen(url: String, last: Option<&str>, count: usize) -> (JoinHandle<Feed>, mpsc::Receiver<()>) {
    let last = last.map(str::to_string);
    let (answered, on_answer) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut request = agent.get(&url);
        if let Some(last) = &last {
            request = request.header("Last-Event-ID", last);
        }
        let response = request.call().expect("the server answers");
        let _ = answered.send(());
        let status = response.status().as_u16();
        if status != 200 {
            let body = response.into_body().read_to_string().unwrap_or_default();
            return Err((status, body));
        }
        let mut events = Vec::new();
        let mut id = None;
        for line in BufReader::new(response.into_body().into_reader()).lines() {
            let line = line.expect("the feed stays open");
            if let Some(value) = line.strip_prefix("id:") {
                id = value.trim().parse().ok();
            } else if let Some(data) = line.strip_prefix("data:") {
                let entry: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
                let msg = entry["msg"].as_str().unwrap_or_default().to_string();
                events.push((id.take().unwrap_or(0), msg));
                if events.len() == count {
                    break;
                }
            }
        }
        Ok(events)
    });
    (reader, on_answer)
}

/// Waits for a listener's events; a feed that was refused fails the test, saying why.
async fn events(reader: JoinHandle<Feed>, what: &str) -> Vec<(u64, String)> {
    let feed = tokio::task::spawn_blocking(move || reader.join().expect("the listener"))
        .await
        .unwrap();
    feed.unwrap_or_else(|(status, body)| panic!("Going further: {what}: got {status} {body}"))
}

/// Waits (off the async threads) until a feed has answered.
async fn answered(on_answer: mpsc::Receiver<()>) {
    tokio::task::spawn_blocking(move || on_answer.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("the feed answers at once");
}

/// Posts `msg` to `/msgs/live/feed` on devK (step 1 must work).
async fn post(cluster: &TestCluster<HttpApp>, k: u32, msg: &str) {
    let (url, body) = (
        url(cluster, k, "/msgs/live/feed"),
        format!(r#"{{"msg": "{msg}"}}"#),
    );
    let status = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let response = agent
            .post(&url)
            .header("content-type", "application/json")
            .send(body.as_bytes())
            .expect("the server answers");
        (
            response.status().as_u16(),
            response.into_body().read_to_string().unwrap_or_default(),
        )
    })
    .await
    .unwrap();
    assert_eq!(
        status.0, 201,
        "step 1 must work for Going further: {status:?}"
    );
}

fn expected(ids: std::ops::RangeInclusive<u64>) -> Vec<(u64, String)> {
    ids.map(|i| (i, format!("message {i}"))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonus_a_listener_that_reconnects_resumes_after_its_last_event() {
    let cluster = TestCluster::<HttpApp>::start_joined(3).await;
    for i in 1..=3 {
        post(&cluster, 1, &format!("message {i}")).await;
    }
    // The first connection reads the first two entries from the start, then is cut off.
    let feed = url(&cluster, 2, "/msgs/live/feed/listen?from=0");
    let (first, _) = listen(feed.clone(), None, 2);
    assert_eq!(
        events(first, "a first connection").await,
        expected(1..=2),
        "step 3: from=0 sends every entry"
    );
    post(&cluster, 3, "message 4").await;

    // It connects again to the very same URL, saying the last id it received: 2. It gets
    // 3 and 4, then what comes next; nothing twice.
    let (again, again_answered) = listen(feed.clone(), Some("2"), 3);
    answered(again_answered).await;
    post(&cluster, 1, "message 5").await;
    assert_eq!(
        events(again, "a reconnection with Last-Event-ID: 2").await,
        expected(3..=5),
        "Going further: Last-Event-ID: 2 resumes after entry 2, and wins over from=0"
    );

    // Without `from`, the header still says where to resume (not at the newest entry).
    let (no_from, _) = listen(url(&cluster, 3, "/msgs/live/feed/listen"), Some("4"), 1);
    assert_eq!(
        events(no_from, "Last-Event-ID: 4 without from").await,
        expected(5..=5),
        "Going further: Last-Event-ID: 4 resumes after entry 4"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonus_a_last_event_id_that_is_not_a_number_is_refused() {
    let cluster = TestCluster::<HttpApp>::start_joined(1).await;
    let (refused, _) = listen(url(&cluster, 1, "/msgs/live/feed/listen"), Some("abc"), 1);
    let feed = tokio::task::spawn_blocking(move || refused.join().expect("the listener"))
        .await
        .unwrap();
    let (status, body) = feed.expect_err("Going further: a bad Last-Event-ID is refused");
    assert_eq!(
        (status, body.as_str()),
        (
            400,
            r#"{"type":"invalid-header","reason":"Last-Event-ID must be an entry's sequence number, not 'abc'"}"#
        ),
        "Going further: a Last-Event-ID that is not a sequence number is a 400 invalid-header"
    );
    cluster.stop().await;
}
