//! The ring page over plain HTTP, on nodes of no application (what exercises 0 to 4 serve):
//! the page with the node's tables in it for browsers without JavaScript, its assets, the
//! snapshot it draws (the ring's owners, `member-status`'s shares), a key's preference list
//! as the node computes it (fallbacks included), and the stream of snapshots, which pushes a
//! new one when a node joins, nothing while nothing changes, outlives the request's deadline
//! and ends when the node stops. (The page in a real browser: ex6-chat-solution's
//! `ring_page.rs`.)

use ringcore::node::admin;
use ringcore::testing::{ScratchDir, wait_until};
use ringcore::{Node, NodeConfig, apl, chash_key};
use serde_json::Value;
use std::io::BufRead;
use std::net::SocketAddr;
use std::time::Duration;

const RING_SIZE: u32 = 16;

/// Node devK, alone in its cluster, serving the node's own pages on a free port.
async fn start_node(
    scratch: &ScratchDir,
    k: u32,
    adjust: impl Fn(&mut NodeConfig),
) -> (Node, SocketAddr) {
    let mut config = NodeConfig::for_test(k, scratch.path().join(format!("dev{k}")));
    config.ring_size = RING_SIZE;
    adjust(&mut config);
    let node = Node::start(config).await.expect("the node starts");
    let http = ringcore::http::serve_node_pages(&node, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the node serves its pages");
    (node, http)
}

/// Joins `node` to `first`'s cluster (join, plan, commit) and waits until both hold the same
/// settled ring.
async fn join(first: &Node, node: &Node) {
    let target = format!("{}:{}", first.name(), first.addr().port());
    admin::run(node, &["cluster", "join", &target])
        .await
        .expect("join staged");
    admin::run(first, &["cluster", "plan"]).await.expect("plan");
    admin::run(first, &["cluster", "commit"])
        .await
        .expect("commit");
    wait_until("both nodes hold the same settled ring", || async {
        let (a, b) = (first.ring(), node.ring());
        a.is_settled() && a.version() == b.version() && a.owned_by(node.name()).count() > 0
    })
    .await;
}

/// GET `url`: status, content type, body.
async fn get(url: String) -> (u16, String, String) {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let response = agent
            .get(&url)
            .call()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response.into_body().read_to_string().unwrap_or_default();
        (status, content_type, body)
    })
    .await
    .unwrap()
}

async fn get_json(url: String) -> Value {
    let (status, _, body) = get(url.clone()).await;
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_carries_the_tables_for_browsers_without_javascript_and_its_assets() {
    let scratch = ScratchDir::new("ring-page");
    let (node, http) = start_node(&scratch, 1, |_| {}).await;
    let (status, content_type, page) = get(format!("http://{http}/")).await;
    assert_eq!(status, 200, "{page}");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(
        page.contains("<title>The ring, seen from dev1@127.0.0.1</title>"),
        "{page}"
    );
    // Without JavaScript, the text of the three tables, as the console prints them.
    let (_, tables) = page.split_once("<noscript>\n").expect("a <noscript> part");
    let tables = tables.split("</noscript>").next().unwrap();
    for command in ["member-status", "ring-status", "transfers"] {
        let text = admin::run(&node, &[command]).await.unwrap();
        let shown = text.replace('\'', "&#39;");
        assert!(
            tables.contains(&format!("<pre>{shown}</pre>")),
            "{command}:\n{tables}"
        );
    }
    assert!(
        tables.contains("valid     100.0%      --      dev1@127.0.0.1"),
        "{tables}"
    );
    // The picture's script and style, from the node itself (no CDN).
    assert!(page.contains(r#"<script src="/ring/ring.js""#), "{page}");
    assert!(
        page.contains(r#"<link rel="stylesheet" href="/ring/ring.css">"#),
        "{page}"
    );
    let (status, content_type, script) = get(format!("http://{http}/ring/ring.js")).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/javascript; charset=utf-8")
    );
    assert!(
        script.contains("new EventSource(\"/ring/events\")"),
        "{script}"
    );
    let (status, content_type, _) = get(format!("http://{http}/ring/ring.css")).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/css; charset=utf-8")
    );
    // What is not there is a JSON 404, as on the API.
    let (status, _, body) = get(format!("http://{http}/ring/nothing")).await;
    assert_eq!(status, 404);
    assert!(body.contains(r#""type":"not-found""#), "{body}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_has_the_owners_of_the_ring_and_the_shares_of_member_status() {
    let scratch = ScratchDir::new("ring-page-state");
    let (dev1, http) = start_node(&scratch, 1, |_| {}).await;
    let (dev2, _) = start_node(&scratch, 2, |_| {}).await;
    join(&dev1, &dev2).await;
    let state = get_json(format!("http://{http}/ring/state")).await;
    let ring = dev1.ring();
    assert_eq!(state["node"], "dev1@127.0.0.1");
    assert_eq!(state["ring_size"], RING_SIZE);
    assert_eq!(state["ring_version"], ring.version());
    assert_eq!(state["settled"], true);
    let partitions = state["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), RING_SIZE as usize);
    for (partition, shown) in ring.partitions().zip(partitions) {
        assert_eq!(shown["index"], partition.index());
        assert_eq!(shown["id"], partition.id());
        assert_eq!(shown["owner"], ring.owner(partition).as_str(), "{shown}");
        assert!(shown.get("next_owner").is_none(), "{shown}");
    }
    // The members, in name order, as member-status shows them.
    let table = admin::run(&dev1, &["member-status"]).await.unwrap();
    let members = state["members"].as_array().unwrap();
    let names: Vec<&str> = members
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dev1@127.0.0.1", "dev2@127.0.0.1"]);
    for member in members {
        let line = format!(
            "{:<8}  {:5.1}%      --      {}",
            member["status"].as_str().unwrap(),
            member["ring_pct"].as_f64().unwrap(),
            member["name"].as_str().unwrap()
        );
        assert!(table.contains(&line), "{line:?} not in\n{table}");
        assert_eq!(member["partitions"], RING_SIZE / 2, "{member}");
    }
    assert_eq!(state["transfers"], serde_json::json!([]));
    assert_eq!(state["waiting"], serde_json::json!([]));
    // No stream database here: no anti-entropy, no requests counted.
    assert_eq!(state["anti_entropy"], serde_json::json!([]));
    assert_eq!(state["counters"]["writes"], 0);
    dev2.stop().await;
    dev1.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_preference_list_is_the_one_the_node_computes_with_fallbacks_for_a_node_down() {
    let scratch = ScratchDir::new("ring-page-preflist");
    let (dev1, http) = start_node(&scratch, 1, |_| {}).await;
    let (dev2, _) = start_node(&scratch, 2, |_| {}).await;
    let (dev3, _) = start_node(&scratch, 3, |_| {}).await;
    join(&dev1, &dev2).await;
    join(&dev1, &dev3).await;
    let expected = |node: &Node, bucket: &str, key: &str, n: usize| {
        let hash = chash_key(bucket.as_bytes(), key.as_bytes());
        let entries = apl::apl(&node.ring(), &hash, n, |up| node.is_up(up));
        let entries: Vec<(u32, String, String)> = entries
            .iter()
            .map(|e| {
                (
                    e.target.partition.index(),
                    e.target.node.to_string(),
                    e.replica.to_string(),
                )
            })
            .collect();
        (
            node.ring().partition_for(&hash).index(),
            hash.to_string(),
            entries,
        )
    };
    let shown = |answer: &Value| -> Vec<(u32, String, String)> {
        answer["preflist"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let text = |name: &str| e[name].as_str().unwrap().to_string();
                (
                    e["partition"].as_u64().unwrap() as u32,
                    text("node"),
                    text("replica"),
                )
            })
            .collect()
    };
    let answer = get_json(format!("http://{http}/ring/preflist?bucket=alice&key=rust")).await;
    let (partition, hash, entries) = expected(&dev1, "alice", "rust", 3);
    assert_eq!(answer["partition"], partition);
    assert_eq!(answer["hash"], hash);
    assert_eq!(answer["n"], 3);
    assert_eq!(shown(&answer), entries);
    assert!(
        entries.iter().all(|(_, _, replica)| replica == "primary"),
        "{answer}"
    );
    let position = answer["position"].as_f64().unwrap();
    let start = f64::from((partition + RING_SIZE - 1) % RING_SIZE) / f64::from(RING_SIZE);
    assert!(
        (start..start + 1.0 / f64::from(RING_SIZE)).contains(&position),
        "the hash falls in its partition's span: {answer}"
    );

    // dev3 stopped: its partitions in a list are taken by fallbacks, as the node computes.
    // (With n = 2: a fallback is never a node already in the list, so with three nodes and
    // n = 3 no node could stand in.)
    let gone = dev3.name().clone();
    dev3.stop().await;
    wait_until("dev1 sees dev3 down", || async { !dev1.is_up(&gone) }).await;
    let key = (0..)
        .map(|i| format!("key{i}"))
        .find(|key| {
            let hash = chash_key(b"alice", key.as_bytes());
            dev1.ring()
                .preflist(&hash, 2)
                .iter()
                .any(|t| t.node == gone)
        })
        .unwrap();
    let answer = get_json(format!(
        "http://{http}/ring/preflist?bucket=alice&key={key}&n=2"
    ))
    .await;
    let (_, _, entries) = expected(&dev1, "alice", &key, 2);
    assert_eq!(shown(&answer), entries);
    assert!(
        entries.iter().any(|(_, _, replica)| replica == "fallback"),
        "{answer}"
    );
    let primaries = answer["primaries"].as_array().unwrap();
    assert!(
        primaries
            .iter()
            .any(|p| p["node"] == gone.as_str() && p["up"] == false),
        "{answer}"
    );

    // What it cannot answer, it says in JSON.
    let (status, _, body) = get(format!("http://{http}/ring/preflist?bucket=alice")).await;
    assert_eq!(status, 400);
    assert!(body.contains(r#""type":"missing-param""#), "{body}");
    let (status, _, body) = get(format!("http://{http}/ring/preflist?bucket=a&key=b&n=0")).await;
    assert_eq!(status, 400);
    assert!(body.contains(r#""type":"invalid-param""#), "{body}");
    dev2.stop().await;
    dev1.stop().await;
}

/// What a reader of `/ring/events` saw: a state, or the end of the stream.
enum Seen {
    State(Value),
    Ended,
}

/// Reads `/ring/events` on a thread of its own: every `state` event's data, then the end.
fn read_events(url: String) -> tokio::sync::mpsc::UnboundedReceiver<Seen> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let response = agent.get(&url).call().expect("the events answer");
        assert_eq!(response.status().as_u16(), 200);
        let reader = std::io::BufReader::new(response.into_body().into_reader());
        let mut event = String::new();
        for line in reader.lines() {
            let Ok(line) = line else { break };
            if let Some(name) = line.strip_prefix("event: ") {
                event = name.to_string();
            } else if let Some(data) = line.strip_prefix("data: ")
                && event == "state"
            {
                let state = serde_json::from_str(data).expect("a state is JSON");
                if tx.send(Seen::State(state)).is_err() {
                    return;
                }
            }
        }
        let _ = tx.send(Seen::Ended);
    });
    rx
}

/// The next state the stream pushes, within the tests' deadline.
async fn next_state(events: &mut tokio::sync::mpsc::UnboundedReceiver<Seen>) -> Value {
    match tokio::time::timeout(ringcore::testing::DEFAULT_DEADLINE, events.recv()).await {
        Ok(Some(Seen::State(state))) => state,
        Ok(Some(Seen::Ended) | None) => panic!("the stream ended"),
        Err(_) => panic!("no state within {:?}", ringcore::testing::DEFAULT_DEADLINE),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_push_a_new_state_when_a_node_joins_and_end_when_the_node_stops() {
    let scratch = ScratchDir::new("ring-page-events");
    // A request's deadline far shorter than the stream's life: it must not cut it.
    let deadline = Duration::from_secs(1);
    let (dev1, http) = start_node(&scratch, 1, |c| c.http_limits.request_timeout = deadline).await;
    let (dev2, _) = start_node(&scratch, 2, |_| {}).await;
    let mut events = read_events(format!("http://{http}/ring/events"));
    let first = next_state(&mut events).await;
    assert_eq!(first["members"].as_array().unwrap().len(), 1, "{first}");

    // Nothing changes: nothing is pushed, for twice the request's deadline.
    let quiet = tokio::time::timeout(2 * deadline, events.recv()).await;
    assert!(quiet.is_err(), "a state was pushed while nothing changed");

    join(&dev1, &dev2).await;
    // The states come as the join goes (joining, then partitions moving); the last one has
    // dev2 a valid member owning half the ring, as the ring says.
    let joined = loop {
        let state = next_state(&mut events).await;
        let members = state["members"].as_array().unwrap().clone();
        if members.len() == 2
            && state["settled"] == true
            && members[1]["partitions"] == RING_SIZE / 2
        {
            break state;
        }
    };
    assert_eq!(joined["members"][1]["name"], "dev2@127.0.0.1");
    assert_eq!(joined["members"][1]["status"], "valid");
    let ring = dev1.ring();
    for (partition, shown) in ring
        .partitions()
        .zip(joined["partitions"].as_array().unwrap())
    {
        assert_eq!(shown["owner"], ring.owner(partition).as_str());
    }

    // The node stops: the stream ends (the browser will try again), nothing is cut.
    dev1.stop().await;
    let end = loop {
        match tokio::time::timeout(ringcore::testing::DEFAULT_DEADLINE, events.recv()).await {
            Ok(Some(Seen::State(_))) => continue,
            Ok(Some(Seen::Ended) | None) => break Ok(()),
            Err(_) => break Err("the stream did not end"),
        }
    };
    end.unwrap();
    dev2.stop().await;
}
