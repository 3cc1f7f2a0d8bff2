//! Graded tests of exercise 5. `cargo test -p ex5-http` runs them against your routes;
//! `cargo test -p ex5-http-solution` runs the very same file against the reference.
//!
//! Each test starts a 3-node cluster in this process, each node with a real HTTP server on
//! a free port, and talks to it with a real HTTP client.

use ex5_http::HttpApp;
use ringcore::testing::{TestCluster, assert_no_hole};
use std::io::{BufRead, BufReader};
use std::time::Duration;

/// One HTTP exchange, as a transcript shows it.
#[derive(Debug, Clone)]
struct Exchange {
    status: u16,
    content_type: String,
    body: String,
}

/// Sends a request with a real HTTP client (blocking, so on a thread of its own).
async fn request(method: &str, url: String, content_type: Option<&str>, body: Vec<u8>) -> Exchange {
    let (method, content_type) = (method.to_string(), content_type.map(str::to_string));
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let mut builder = ureq::http::Request::builder()
            .method(method.as_str())
            .uri(&url);
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        let response = agent
            .run(builder.body(body).unwrap())
            .expect("the server answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = response.into_body().read_to_string().unwrap_or_default();
        Exchange {
            status,
            content_type,
            body,
        }
    })
    .await
    .unwrap()
}

fn url(cluster: &TestCluster<HttpApp>, k: u32, path: &str) -> String {
    format!("http://{}{path}", cluster.app(k).http)
}

async fn post_json(cluster: &TestCluster<HttpApp>, k: u32, path: &str, body: &str) -> Exchange {
    request(
        "POST",
        url(cluster, k, path),
        Some("application/json"),
        body.as_bytes().to_vec(),
    )
    .await
}

async fn get(cluster: &TestCluster<HttpApp>, k: u32, path: &str) -> Exchange {
    request("GET", url(cluster, k, path), None, Vec::new()).await
}

/// A transcript line per exchange: `dev1 POST /path body` then `status body`.
fn log(transcript: &mut String, k: u32, what: &str, exchange: &Exchange) {
    transcript.push_str(&format!(
        "dev{k} {what}\n{} {}\n\n",
        exchange.status, exchange.body
    ));
}

/// Dates change from run to run, and so do dots (each store draws a random actor).
fn redacted(transcript: &str) -> String {
    let dates = redact(
        transcript,
        "\"date\":",
        |c| c.is_ascii_digit(),
        "\"[date]\"",
    );
    redact(&dates, "\"dot\":\"", |c| c != '"', "[dot]")
}

/// Replaces what follows each `key` (the characters `varies` accepts) with `with`.
fn redact(text: &str, key: &str, varies: impl Fn(char) -> bool, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        out.push_str(&rest[..at + key.len()]);
        rest = rest[at + key.len()..].trim_start_matches(&varies);
        out.push_str(with);
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_1_the_flaviodb_session() {
    let cluster = TestCluster::<HttpApp>::start_joined(3).await;
    let mut transcript = String::new();
    for (k, path, body) in [
        (1, "/msgs/mariano/english", r#"{"msg": "hello world"}"#),
        (1, "/msgs/mariano/english", r#"{"msg": "how are you?"}"#),
        (3, "/msgs/mariano/english", r#"{"msg": "fine, thanks"}"#),
        (2, "/msgs/mariano/spanish", r#"{"msg": "hola mundo"}"#),
    ] {
        let answer = post_json(&cluster, k, path, body).await;
        assert_eq!(
            answer.status, 201,
            "README step 1: POST {path} answers 201 Created with the entry: {answer:?}"
        );
        assert_eq!(
            answer.content_type, "application/json",
            "README step 1: POST {path} answers the entry as JSON"
        );
        log(&mut transcript, k, &format!("POST {path} {body}"), &answer);
    }
    for (k, path) in [
        (3, "/msgs/mariano/english?from=1&limit=2"),
        (2, "/msgs/mariano/english"),
        (1, "/msgs/mariano/english?limit=5"),
        (1, "/msgs/mariano/english?from=3"),
        (1, "/msgs/mariano/english?from=99"),
        (2, "/msgs/mariano/german"),
        (3, "/msgs/mariano"),
        (3, "/msgs"),
    ] {
        let answer = get(&cluster, k, path).await;
        assert_eq!(
            answer.status, 200,
            "README step 1: GET {path} answers 200 OK: {answer:?}"
        );
        log(&mut transcript, k, &format!("GET {path}"), &answer);
    }
    assert_no_hole("README step 1: the flaviodb session", &transcript);
    insta::with_settings!({description => "README step 1: four POSTs on three nodes, then \
        reads of ranges, the newest entries, nothing, and the listings of users and topics"}, {
        insta::assert_snapshot!(redacted(&transcript));
    });
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_2_the_workshop_key_value_routes() {
    let cluster = TestCluster::<HttpApp>::start_joined(3).await;
    let stored = request(
        "PUT",
        url(&cluster, 1, "/api/store/color"),
        Some("application/json"),
        br#"{"name": "teal", "rgb": [0, 128, 128]}"#.to_vec(),
    )
    .await;
    assert_eq!(
        stored.status, 201,
        "README step 2: PUT stores the value: {stored:?}"
    );
    let fetched = get(&cluster, 3, "/api/store/color").await;
    assert_eq!(
        fetched.status, 200,
        "README step 2: GET finds it: {fetched:?}"
    );
    let value: serde_json::Value =
        serde_json::from_str(&fetched.body).expect("README step 2: the value comes back as JSON");
    assert_eq!(
        value,
        serde_json::json!({"name": "teal", "rgb": [0, 128, 128]}),
        "README step 2: GET answers the JSON value PUT, as it was"
    );
    let newer = request(
        "PUT",
        url(&cluster, 2, "/api/store/color"),
        Some("application/json"),
        br#""red""#.to_vec(),
    )
    .await;
    assert_eq!(
        newer.status, 201,
        "README step 2: a second PUT of the key stores a newer value: {newer:?}"
    );
    assert_eq!(
        get(&cluster, 1, "/api/store/color").await.body,
        r#""red""#,
        "README step 2: GET gives the newest value"
    );
    let missing = get(&cluster, 2, "/api/store/nothing").await;
    assert_eq!(
        missing.status, 404,
        "README step 2: an unknown key is 404: {missing:?}"
    );
    assert_eq!(
        missing.body, r#"{"type":"not-found","reason":"no value for key 'nothing'"}"#,
        "README step 2: answer ApiError::not_found for a key never stored"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_1_listings_name_each_user_and_topic_once() {
    let cluster = TestCluster::<HttpApp>::start_joined(3).await;
    for (i, user) in ["ann", "ben", "cid"].iter().enumerate() {
        for topic in ["a", "b", "c"] {
            let k = 1 + ((i + topic.len()) % 3) as u32;
            let answer = post_json(
                &cluster,
                k,
                &format!("/msgs/{user}/{topic}"),
                r#"{"msg": "x"}"#,
            )
            .await;
            assert_eq!(
                answer.status, 201,
                "README step 1: POST /msgs/{user}/{topic} answers 201 Created: {answer:?}"
            );
        }
    }
    for k in 1..=3 {
        assert_eq!(
            get(&cluster, k, "/msgs").await.body,
            r#"["ann","ben","cid"]"#,
            "GET /msgs on dev{k} (given) lists each user once"
        );
        assert_eq!(
            get(&cluster, k, "/msgs/ben").await.body,
            r#"["a","b","c"]"#,
            "GET /msgs/ben on dev{k} (given) lists each topic once"
        );
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_1_bad_requests_get_clear_errors() {
    let mut cluster = TestCluster::<HttpApp>::start_joined(3).await;
    let mut transcript = String::new();
    let big = format!(r#"{{"msg": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let cases: Vec<(&str, &str, Option<&str>, Vec<u8>)> = vec![
        (
            "POST",
            "/msgs/ann/a",
            Some("application/json"),
            b"hello?".to_vec(),
        ),
        (
            "POST",
            "/msgs/ann/a",
            Some("application/json"),
            br#"{"text": "no msg here"}"#.to_vec(),
        ),
        (
            "POST",
            "/msgs/ann/a",
            Some("application/json"),
            br#"{"msg": 42}"#.to_vec(),
        ),
        (
            "POST",
            "/msgs/ann/a",
            Some("text/plain"),
            br#"{"msg": "hi"}"#.to_vec(),
        ),
        (
            "POST",
            "/msgs/ann/a",
            Some("application/json"),
            big.into_bytes(),
        ),
        ("DELETE", "/msgs/ann/a", None, Vec::new()),
        ("GET", "/msgs/ann/a?from=first", None, Vec::new()),
        ("GET", "/msgs/ann/a?limit=-1", None, Vec::new()),
        ("GET", "/msgs/ann/a?n=2&r=3", None, Vec::new()),
        ("GET", "/nowhere", None, Vec::new()),
    ];
    for (method, path, content_type, body) in cases {
        let shown = if body.len() > 100 {
            format!("<{} bytes>", body.len())
        } else {
            String::from_utf8_lossy(&body).into_owned()
        };
        let answer = request(method, url(&cluster, 1, path), content_type, body).await;
        assert_no_hole(&format!("README step 1: {method} {path}"), &answer.body);
        assert!(
            answer.status >= 400,
            "README step 1 (status codes): {method} {path} is refused: {answer:?}"
        );
        let error: serde_json::Value = serde_json::from_str(&answer.body)
            .unwrap_or_else(|e| panic!("{method} {path}: errors are JSON: {e}: {answer:?}"));
        assert!(
            error["type"].is_string() && error["reason"].is_string(),
            "{method} {path}: an error has a type and a reason: {answer:?}"
        );
        log(
            &mut transcript,
            1,
            &format!("{method} {path} [{}] {shown}", content_type.unwrap_or("")),
            &answer,
        );
    }
    // With two nodes down, a write cannot reach W=2 replicas: 503, saying how many answered.
    cluster.stop_node(2).await;
    cluster.stop_node(3).await;
    let (dev2, dev3) = (cluster.name(2), cluster.name(3));
    cluster
        .wait_until("dev1 sees dev2 and dev3 down", || async {
            !cluster.node(1).is_up(&dev2) && !cluster.node(1).is_up(&dev3)
        })
        .await;
    let answer = post_json(&cluster, 1, "/msgs/ann/a", r#"{"msg": "anyone?"}"#).await;
    log(
        &mut transcript,
        1,
        "POST /msgs/ann/a (two nodes down)",
        &answer,
    );
    // The node is still up and answering.
    assert_eq!(
        get(&cluster, 1, "/health").await.status,
        200,
        "GET /health (given) answers 200 while the node is up"
    );
    assert_no_hole("README step 1: the bad requests", &transcript);
    insta::with_settings!({description => "README step 1 and \"Status codes\": every bad \
        request answered with its status and a JSON error, then a write with two nodes down (503)"}, {
        insta::assert_snapshot!(transcript);
    });
    cluster.stop().await;
}

/// Reads server-sent events on a thread: each `data:` line of an `entry` event, with its id.
/// The receiver hears once the feed has answered (its starting point is then fixed).
fn listen(
    url: String,
    count: usize,
) -> (
    std::thread::JoinHandle<Vec<(u64, String)>>,
    std::sync::mpsc::Receiver<()>,
) {
    let (subscribed, on_subscribed) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let response = agent.get(&url).call().expect("the server answers");
        assert_eq!(
            response.status().as_u16(),
            200,
            "README step 3: the feed {url} answers 200"
        );
        let _ = subscribed.send(());
        let reader = BufReader::new(response.into_body().into_reader());
        let mut events = Vec::new();
        let mut id = None;
        for line in reader.lines() {
            let line = line.expect("README step 3: the feed stays open");
            if let Some(value) = line.strip_prefix("id:") {
                id = value.trim().parse().ok();
            } else if let Some(data) = line.strip_prefix("data:") {
                let entry: serde_json::Value = serde_json::from_str(data.trim())
                    .unwrap_or_else(|e| panic!("README step 3: an event's data is JSON: {e}"));
                let msg = entry["msg"].as_str().unwrap_or_else(|| {
                    panic!("README step 3: an event's data is an entry, with its msg: {data}")
                });
                events.push((id.take().unwrap_or(0), msg.to_string()));
                if events.len() == count {
                    break;
                }
            }
        }
        events
    });
    (reader, on_subscribed)
}

/// Waits (off the async threads) until a listener is subscribed; stops at once if its
/// thread ended without subscribing (the feed answered an error).
async fn subscribed(on_subscribed: std::sync::mpsc::Receiver<()>) {
    use std::sync::mpsc::RecvTimeoutError;
    let patience = Duration::from_secs(30);
    let heard = tokio::task::spawn_blocking(move || on_subscribed.recv_timeout(patience))
        .await
        .unwrap();
    match heard {
        Ok(()) => {}
        Err(RecvTimeoutError::Disconnected) => {
            panic!("README step 3: the feed did not answer 200 (what it answered is above)")
        }
        Err(RecvTimeoutError::Timeout) => {
            panic!("README step 3: the feed should answer at once, not after {patience:?}")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_3_a_listener_gets_new_entries_in_order_exactly_once() {
    let cluster = TestCluster::<HttpApp>::start_joined(3).await;
    for i in 1..=3 {
        let answer = post_json(
            &cluster,
            1,
            "/msgs/live/feed",
            &format!(r#"{{"msg": "before {i}"}}"#),
        )
        .await;
        assert_eq!(
            answer.status, 201,
            "README step 1 (post_msg) must work for step 3: {answer:?}"
        );
    }
    // A listener on dev2 for what comes next, and one catching up from entry 1.
    let (fresh, fresh_subscribed) = listen(url(&cluster, 2, "/msgs/live/feed/listen"), 6);
    let (catch_up, catch_up_subscribed) =
        listen(url(&cluster, 2, "/msgs/live/feed/listen?from=1"), 8);
    subscribed(fresh_subscribed).await;
    subscribed(catch_up_subscribed).await;
    for i in 1..=6 {
        let k = if i % 2 == 0 { 3 } else { 1 };
        let answer = post_json(
            &cluster,
            k,
            "/msgs/live/feed",
            &format!(r#"{{"msg": "live {i} via dev{k}"}}"#),
        )
        .await;
        assert_eq!(
            answer.status, 201,
            "README step 1 (post_msg) must work for step 3: {answer:?}"
        );
    }
    let fresh = tokio::task::spawn_blocking(move || fresh.join())
        .await
        .unwrap()
        .expect("README step 3: the listener failed (why is printed above)");
    let expected: Vec<(u64, String)> = (1..=6)
        .map(|i| {
            (
                3 + i,
                format!("live {i} via dev{}", if i % 2 == 0 { 3 } else { 1 }),
            )
        })
        .collect();
    assert_eq!(
        fresh, expected,
        "README step 3: a listener without from gets every new entry, in order, once"
    );
    let catch_up = tokio::task::spawn_blocking(move || catch_up.join())
        .await
        .unwrap()
        .expect("README step 3: the catching-up listener failed (why is printed above)");
    let mut expected_catch_up = vec![(2, "before 2".to_string()), (3, "before 3".to_string())];
    expected_catch_up.extend(expected);
    assert_eq!(
        catch_up, expected_catch_up,
        "README step 3: from=1 first sends what came after entry 1, then every new entry"
    );
    cluster.stop().await;
}
