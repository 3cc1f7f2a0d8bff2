//! Listening on a 3-node cluster of the finished database (`GET /listen`): many streams on one
//! connection, each new entry pushed in its stream's order whichever node took the write;
//! a browser-like reconnect with `Last-Event-ID` that misses nothing and repeats nothing;
//! listeners across a node's restart;
//! long-poll; permissions; the WebSocket mode (subscribe and unsubscribe while connected, its
//! error answers, a client that does not read dropped while another keeps up); patterns
//! (`bucket:*`, `*:stream`) over server-sent events and over a WebSocket.
//!
//! ```text
//! cargo test -p ex6-chat-solution --test listen
//! ```

mod common;

use common::Client;
use ex6_chat::ChatApp;
use futures_util::{SinkExt, StreamExt};
use ringcore::access::Anonymous;
use ringcore::testing::TestCluster;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

async fn cluster(anonymous: Anonymous) -> TestCluster<ChatApp> {
    TestCluster::start_joined_with(3, |config| {
        config.ring_size = 16;
        config.access.anonymous = anonymous;
        config.access.admin_password = Some("listen admin".into());
    })
    .await
}

/// A server-sent events connection, read as a browser's `EventSource` reads it.
struct Events {
    lines: BufReader<TcpStream>,
    status: u16,
}

/// One event: its id and its data as JSON.
#[derive(Debug)]
struct Event {
    id: String,
    data: Value,
}

impl Events {
    async fn open(
        cluster: &TestCluster<ChatApp>,
        k: u32,
        path: &str,
        last_id: Option<&str>,
    ) -> Events {
        let mut stream = TcpStream::connect(cluster.app(k).http).await.unwrap();
        let resume = last_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
        // HTTP/1.0: the answer streams until the server closes it, without chunked framing.
        let request = format!("GET {path} HTTP/1.0\r\nAccept: text/event-stream\r\n{resume}\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut lines = BufReader::new(stream);
        let mut status_line = String::new();
        lines.read_line(&mut status_line).await.unwrap();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        loop {
            let mut header = String::new();
            lines.read_line(&mut header).await.unwrap();
            if header.trim().is_empty() {
                break;
            }
        }
        Events { lines, status }
    }

    /// The next event (comments and keep-alives skipped), within 20 s.
    async fn next(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(20), async {
            let (mut id, mut data) = (String::new(), String::new());
            loop {
                let mut line = String::new();
                let read = self.lines.read_line(&mut line).await.unwrap();
                assert!(read > 0, "the server closed the event stream");
                let line = line.trim_end_matches(['\r', '\n']);
                if line.is_empty() {
                    if !data.is_empty() {
                        return Event {
                            id,
                            data: serde_json::from_str(&data).unwrap(),
                        };
                    }
                    continue;
                }
                if let Some(value) = line.strip_prefix("id:") {
                    id = value.trim().to_string();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
        })
        .await
        .expect("an event within 20 s")
    }
}

/// `(stream, id)` of an event.
fn place(event: &Event) -> (String, u64) {
    entry_place(&event.data)
}

/// `(stream, id)` of an entry as an event or a WebSocket message carries it.
fn entry_place(entry: &Value) -> (String, u64) {
    (
        entry["meta"]["stream"].as_str().unwrap().to_string(),
        entry["meta"]["id"].as_u64().unwrap(),
    )
}

/// Makes user eve (who owns `_user_eve`) through the admin; her token.
async fn eve(cluster: &TestCluster<ChatApp>) -> String {
    let one = Client::of(cluster, 1);
    let admin = one.with_token(&one.login("admin", "listen admin").await);
    let made = admin
        .post("/users/", json!({"username": "eve", "password": "pw"}))
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    one.login("eve", "pw").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_streams_are_pushed_in_order_and_a_reconnect_resumes_exactly() {
    let cluster = cluster(Anonymous::All).await;
    let mut events = Events::open(&cluster, 2, "/listen?s=news:a&s=news:b", None).await;
    assert_eq!(events.status, 200);
    let (one, three) = (Client::of(&cluster, 1), Client::of(&cluster, 3));
    assert_eq!(
        one.post("/streams/news/a", json!({"n": "a1"})).await.status,
        201
    );
    assert_eq!(
        three
            .post("/streams/news/b", json!({"n": "b1"}))
            .await
            .status,
        201
    );
    assert_eq!(
        one.post("/streams/news/a", json!({"n": "a2"})).await.status,
        201
    );
    let mut seen = Vec::new();
    let mut last_id = String::new();
    for _ in 0..3 {
        let event = events.next().await;
        assert_eq!(event.data["meta"]["bucket"], "news");
        seen.push(place(&event));
        last_id = event.id;
    }
    let of = |stream: &str| -> Vec<u64> {
        seen.iter()
            .filter(|(s, _)| s == stream)
            .map(|(_, id)| *id)
            .collect()
    };
    assert_eq!(of("a"), [1, 2], "in the stream's order");
    assert_eq!(of("b"), [1]);
    let data: Vec<&Value> = Vec::new();
    drop(data);
    drop(events);

    // Away for a while; entries land meanwhile; back through another node, as EventSource
    // does, with the id of the last event it saw.
    three.post("/streams/news/a", json!({"n": "a3"})).await;
    one.post("/streams/news/b", json!({"n": "b2"})).await;
    let mut events = Events::open(&cluster, 3, "/listen?s=news:a&s=news:b", Some(&last_id)).await;
    let mut resumed = vec![place(&events.next().await), place(&events.next().await)];
    resumed.sort();
    assert_eq!(resumed, [("a".to_string(), 3), ("b".to_string(), 2)]);
    // Nothing twice: the next event is the next entry.
    one.post("/streams/news/a", json!({"n": "a4"})).await;
    assert_eq!(place(&events.next().await), ("a".to_string(), 4));
    cluster.stop().await;
}

/// Posts `{"n": n}` to `news/<stream>` through devK; answered 201.
async fn post_news(cluster: &TestCluster<ChatApp>, k: u32, stream: &str, n: &str) {
    let posted = Client::of(cluster, k)
        .post(&format!("/streams/news/{stream}"), json!({ "n": n }))
        .await;
    assert_eq!(posted.status, 201, "{}", posted.body);
}

/// What the next `count` events of `events` carry, as `(stream, n)`, in the order they came.
async fn next_news(events: &mut Events, count: usize) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for _ in 0..count {
        let event = events.next().await;
        let n = event.data["data"]["n"].as_str().unwrap().to_string();
        seen.push((place(&event).0, n));
    }
    seen
}

/// `(stream, n)` pairs, for comparing with what came.
fn news(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(s, n)| (s.to_string(), n.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_keep_up_while_a_node_restarts_and_resume_on_it() {
    let mut cluster = cluster(Anonymous::All).await;
    let path = "/listen?s=news:a&s=news:b";
    let mut on_one = Events::open(&cluster, 1, path, None).await;
    let mut on_three = Events::open(&cluster, 3, path, None).await;
    post_news(&cluster, 2, "a", "a1").await;
    assert_eq!(next_news(&mut on_one, 1).await, news(&[("a", "a1")]));
    let seen = on_three.next().await;
    assert_eq!(place(&seen), ("a".to_string(), 1));
    let last_id = seen.id;

    // dev3 goes away, and its listener with it (the stream ends with the node). dev1's
    // listener keeps up with what is written meanwhile, through dev1 and dev2.
    cluster.stop_node(3).await;
    post_news(&cluster, 1, "a", "a2").await;
    post_news(&cluster, 2, "b", "b1").await;
    assert_eq!(
        next_news(&mut on_one, 2).await,
        news(&[("a", "a2"), ("b", "b1")])
    );

    // dev3 comes back with its data but none of its subscriptions (they were in memory).
    // What it takes reaches dev1's listener, and its own listener, back with the id of the
    // last event it saw, gets what it missed, once, then what comes next.
    cluster.start_node(3).await;
    post_news(&cluster, 3, "a", "a3").await;
    assert_eq!(next_news(&mut on_one, 1).await, news(&[("a", "a3")]));
    let mut back = Events::open(&cluster, 3, path, Some(&last_id)).await;
    let missed = next_news(&mut back, 3).await;
    let of = |stream: &str| -> Vec<&str> {
        missed
            .iter()
            .filter(|(s, _)| s == stream)
            .map(|(_, n)| n.as_str())
            .collect()
    };
    assert_eq!(
        (of("a"), of("b")),
        (vec!["a2", "a3"], vec!["b1"]),
        "{missed:?}"
    );
    post_news(&cluster, 1, "b", "b2").await;
    assert_eq!(next_news(&mut back, 1).await, news(&[("b", "b2")]));
    assert_eq!(next_news(&mut on_one, 1).await, news(&[("b", "b2")]));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_concurrent_entry_is_delivered_once_after_the_later_ones() {
    let cluster = cluster(Anonymous::All).await;
    let mut events = Events::open(&cluster, 2, "/listen?s=news:late:0", None).await;
    for n in ["one", "two", "three"] {
        post_news(&cluster, 1, "late", n).await;
    }
    assert_eq!(
        next_news(&mut events, 3).await,
        news(&[("late", "one"), ("late", "two"), ("late", "three")])
    );

    // A write that drew number 2 too, by a coordinator that took others for down, reaches
    // the replicas only now (as hinted handoff or anti-entropy would bring it).
    let db = &cluster.app(1).db;
    let late = ringcore::store::Entry {
        seq: 2,
        dot: ringcore::store::Dot {
            actor: 0x1a7e,
            counter: 1,
        },
        ts_ms: 1,
        payload: br#"{"n": "late two"}"#.to_vec(),
    };
    for replica in db.preflist("news", "late", 3) {
        let put = ringcore::streams::StreamCommand::Put {
            bucket: "news".into(),
            stream: "late".into(),
            entry: late.clone(),
        };
        db.vnodes()
            .sync_command(&replica.target, put)
            .await
            .unwrap();
    }
    // Delivered when it comes, after the later ones; the event's id still says how far the
    // stream was delivered (3), so a browser resuming from it misses nothing.
    let event = events.next().await;
    assert_eq!(place(&event), ("late".to_string(), 2));
    assert_eq!(event.data["data"]["n"], "late two");
    assert!(event.id.ends_with(":3"), "{}", event.id);
    // And once: what comes next is the next entry.
    post_news(&cluster, 3, "late", "four").await;
    assert_eq!(next_news(&mut events, 1).await, news(&[("late", "four")]));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_answers_what_came_or_204() {
    let cluster = cluster(Anonymous::All).await;
    let client = Client::of(&cluster, 1);
    let empty = client.get("/listen?s=q:x&mode=poll&timeout=1").await;
    assert_eq!(empty.status, 204, "nothing came within the timeout");
    client.post("/streams/q/x", json!(1)).await;
    client.post("/streams/q/y", json!(2)).await;
    let caught_up = client.get("/listen?s=q:x:0&s=q:y:0&mode=poll").await;
    assert_eq!(caught_up.status, 200, "{}", caught_up.body);
    let mut got: Vec<(String, u64)> = caught_up
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["meta"]["stream"].as_str().unwrap().to_string(),
                e["meta"]["id"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(got, [("x".to_string(), 1), ("y".to_string(), 1)]);
    // A poll that waits is answered when an entry lands.
    let waiting = {
        let client = Client::of(&cluster, 2);
        tokio::spawn(async move { client.get("/listen?s=q:x:1&mode=poll&timeout=20").await })
    };
    Client::of(&cluster, 3)
        .post("/streams/q/x", json!("later"))
        .await;
    let answered = waiting.await.unwrap();
    assert_eq!(answered.status, 200);
    assert_eq!(answered.json()[0]["data"], "later");
    assert_eq!(client.get("/listen").await.status, 400, "no stream named");
    assert_eq!(client.get("/listen?s=nocolon").await.status, 400);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_needs_get_on_every_stream() {
    let cluster = cluster(Anonymous::None).await;
    let one = Client::of(&cluster, 1);
    let token = eve(&cluster).await;
    assert_eq!(
        one.get("/listen?s=_user_eve:x&mode=poll&timeout=1")
            .await
            .status,
        401
    );
    let own = one
        .get(&format!(
            "/listen?s=_user_eve:x&mode=poll&timeout=1&jwt={token}"
        ))
        .await;
    assert_eq!(own.status, 204, "her own bucket, token in ?jwt=");
    let foreign = one
        .get(&format!(
            "/listen?s=_user_eve:x&s=_user_admin:y&mode=poll&timeout=1&jwt={token}"
        ))
        .await;
    assert_eq!(
        foreign.status, 401,
        "one stream she may not read refuses the request"
    );
    cluster.stop().await;
}

/// Reads answered by every vnode of the cluster so far (`/stats`).
async fn reads(client: &Client) -> u64 {
    client.get("/stats").await.json()["total"]["reads"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_entry_costs_a_node_one_read_however_many_follow_it() {
    let cluster = cluster(Anonymous::All).await;
    let client = Client::of(&cluster, 1);
    let mut listeners = Vec::new();
    for _ in 0..20 {
        listeners.push(Events::open(&cluster, 2, "/listen?s=crowd:x", None).await);
    }
    // The first entry: every listener has caught up once it has it.
    client.post("/streams/crowd/x", json!(1)).await;
    for listener in &mut listeners {
        assert_eq!(place(&listener.next().await), ("x".to_string(), 1));
    }
    let before = reads(&client).await;
    client.post("/streams/crowd/x", json!(2)).await;
    for listener in &mut listeners {
        assert_eq!(place(&listener.next().await), ("x".to_string(), 2));
    }
    let cost = reads(&client).await - before;
    println!("20 listeners on one node, one new entry: {cost} vnode reads");
    assert!(
        cost < 20,
        "{cost} vnode reads for one entry: the node reads it once, not once per listener"
    );
    cluster.stop().await;
}

/// A WebSocket client of `/listen`.
struct Socket {
    ws: WebSocketStream<TcpStream>,
}

impl Socket {
    /// Opens `path` on node devK; the status of a refused upgrade.
    async fn open(cluster: &TestCluster<ChatApp>, k: u32, path: &str) -> Result<Socket, u16> {
        let tcp = TcpStream::connect(cluster.app(k).http).await.unwrap();
        Socket::over(tcp, cluster, k, path).await
    }

    /// As [`Socket::open`], with a receive buffer of a few KiB: a client that does not read
    /// fills it, and then the node's queue for it, with little data.
    async fn open_small(cluster: &TestCluster<ChatApp>, k: u32, path: &str) -> Socket {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let tcp = socket.connect(cluster.app(k).http).await.unwrap();
        Socket::over(tcp, cluster, k, path).await.unwrap()
    }

    async fn over(
        tcp: TcpStream,
        cluster: &TestCluster<ChatApp>,
        k: u32,
        path: &str,
    ) -> Result<Socket, u16> {
        let url = format!("ws://{}{path}", cluster.app(k).http);
        match tokio_tungstenite::client_async(url.as_str(), tcp).await {
            Ok((ws, _)) => Ok(Socket { ws }),
            Err(WsError::Http(answer)) => Err(answer.status().as_u16()),
            Err(error) => panic!("{url}: {error}"),
        }
    }

    async fn send(&mut self, command: Value) {
        self.ws
            .send(Message::text(command.to_string()))
            .await
            .unwrap();
    }

    async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// The next text message as JSON, within 20 s.
    async fn next(&mut self) -> Value {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    other => panic!("not a text message: {other:?}"),
                }
            }
        })
        .await
        .expect("a message within 20 s")
    }

    /// Sends a command; its answer.
    async fn command(&mut self, command: Value) -> Value {
        self.send(command).await;
        self.next().await
    }

    /// Sends `{"cmd": cmd, "bucket", "stream", "id"}` and checks it is answered
    /// `{"ok": true, "id": id, "type": cmd}`.
    async fn accepted(&mut self, cmd: &str, bucket: &str, stream: &str, id: u64) {
        let answer = self
            .command(json!({"cmd": cmd, "bucket": bucket, "stream": stream, "id": id}))
            .await;
        assert_eq!(answer, json!({"ok": true, "id": id, "type": cmd}));
    }

    /// The close frame's code, or none when the connection just ended; reading what was
    /// still on its way first, within 20 s. Also how many text messages came before.
    async fn end(&mut self) -> (Option<u16>, usize) {
        tokio::time::timeout(Duration::from_secs(20), async {
            let mut texts = 0;
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Text(_))) => texts += 1,
                    Some(Ok(Message::Close(frame))) => {
                        return (frame.map(|f| u16::from(f.code)), texts);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return (None, texts),
                }
            }
        })
        .await
        .expect("the connection ends within 20 s")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_subscribes_and_unsubscribes_while_connected() {
    let cluster = cluster(Anonymous::All).await;
    let mut socket = Socket::open(&cluster, 2, "/listen?s=news:a").await.unwrap();
    socket.accepted("subscribe", "news", "b", 1).await;
    let (one, three) = (Client::of(&cluster, 1), Client::of(&cluster, 3));
    for (client, path, n) in [
        (&one, "/streams/news/a", "a1"),
        (&three, "/streams/news/b", "b1"),
        (&one, "/streams/news/a", "a2"),
    ] {
        assert_eq!(client.post(path, json!({"n": n})).await.status, 201);
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        let entry = socket.next().await;
        assert_eq!(entry["meta"]["bucket"], "news");
        assert_eq!(
            entry["data"]["n"],
            format!("{}{}", entry_place(&entry).0, entry_place(&entry).1)
        );
        seen.push(entry_place(&entry));
    }
    let of = |stream: &str| -> Vec<u64> {
        seen.iter()
            .filter(|(s, _)| s == stream)
            .map(|(_, id)| *id)
            .collect()
    };
    assert_eq!(of("a"), [1, 2], "in the stream's order");
    assert_eq!(of("b"), [1]);

    // From a number: what the stream holds past it first.
    three.post("/streams/news/c", json!({"n": "c1"})).await;
    let from = socket
        .command(json!({"cmd": "subscribe", "bucket": "news", "stream": "c", "from": 0, "id": 2}))
        .await;
    assert_eq!(from["ok"], true, "{from}");
    assert_eq!(entry_place(&socket.next().await), ("c".to_string(), 1));

    // The refusals, each with its reason and the command's id.
    for (command, reason) in [
        (
            json!({"cmd": "subscribe", "bucket": "news", "stream": "b", "id": 3}),
            "already subscribed",
        ),
        (json!({"cmd": "dance", "id": 3}), "unknown command"),
        (
            json!({"cmd": "subscribe", "id": 3}),
            "missing bucket and stream",
        ),
        (
            json!({"cmd": "subscribe", "stream": "x", "id": 3}),
            "missing bucket",
        ),
        (
            json!({"cmd": "unsubscribe", "bucket": "news", "id": 3}),
            "missing stream",
        ),
        (
            json!({"cmd": "unsubscribe", "bucket": "news", "stream": "x", "id": 3}),
            "not subscribed",
        ),
    ] {
        let answer = socket.command(command).await;
        assert_eq!(answer, json!({"ok": false, "id": 3, "reason": reason}));
    }
    socket.send_text("{not json").await;
    assert_eq!(
        socket.next().await,
        json!({"ok": false, "id": null, "reason": "bad json"})
    );

    // Unsubscribed, a stream's entries stop; the others' go on.
    socket.accepted("unsubscribe", "news", "a", 4).await;
    one.post("/streams/news/a", json!({"n": "a3"})).await;
    three.post("/streams/news/b", json!({"n": "b2"})).await;
    assert_eq!(entry_place(&socket.next().await), ("b".to_string(), 2));
    one.post("/streams/news/b", json!({"n": "b3"})).await;
    assert_eq!(entry_place(&socket.next().await), ("b".to_string(), 3));

    // The node stops: the connection closes, "going away".
    cluster.stop().await;
    assert_eq!(socket.end().await.0, Some(1001));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_subscription_needs_get_on_the_stream() {
    let cluster = cluster(Anonymous::None).await;
    let one = Client::of(&cluster, 1);
    let token = eve(&cluster).await;
    let foreign = Socket::open(&cluster, 1, &format!("/listen?s=_user_admin:y&jwt={token}")).await;
    assert_eq!(
        foreign.err(),
        Some(401),
        "a stream of the URL is checked before upgrading"
    );
    let mut socket = Socket::open(&cluster, 1, &format!("/listen?jwt={token}"))
        .await
        .unwrap();
    let refused = socket
        .command(json!({"cmd": "subscribe", "bucket": "_user_admin", "stream": "y", "id": 1}))
        .await;
    assert_eq!(
        refused,
        json!({"ok": false, "id": 1, "reason": "no permission"})
    );
    socket.accepted("subscribe", "_user_eve", "x", 2).await;
    one.with_token(&token)
        .post("/streams/_user_eve/x", json!("mine"))
        .await;
    assert_eq!(socket.next().await["data"], "mine");
    cluster.stop().await;
}

/// How many WebSocket listeners node devK dropped for not reading.
async fn dropped(client: &Client) -> u64 {
    let metrics = client.get("/metrics").await.body;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("ring_slow_listeners_dropped_total "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_that_does_not_read_is_dropped_and_others_keep_up() {
    let cluster = cluster(Anonymous::All).await;
    // Both on one node, following one stream: one never reads, the other does.
    let mut slow = Socket::open_small(&cluster, 1, "/listen?s=big:x").await;
    let mut fast = Socket::open(&cluster, 1, "/listen?s=big:x").await.unwrap();
    let (ids, mut got) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        loop {
            let id = fast.next().await["meta"]["id"].as_u64().unwrap();
            if ids.send(id).is_err() {
                return;
            }
        }
    });
    // Entries until the node has dropped the slow one: its queue (256 messages) and the
    // sockets' buffers fill, and stay full.
    let (writer, one) = (Client::of(&cluster, 2), Client::of(&cluster, 1));
    let filler = "x".repeat(16 * 1024);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut posted = 0;
    while dropped(&one).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not dropped after {posted} entries"
        );
        for _ in 0..20 {
            posted += 1;
            let reply = writer
                .post("/streams/big/x", json!({"n": posted, "filler": filler}))
                .await;
            assert_eq!(reply.status, 201, "{}", reply.body);
        }
    }
    let mut seen = Vec::new();
    while seen.len() < posted as usize {
        let id = tokio::time::timeout(Duration::from_secs(20), got.recv())
            .await
            .expect("the reading client keeps getting entries");
        seen.push(id.unwrap());
    }
    assert_eq!(
        seen,
        (1..=posted).collect::<Vec<_>>(),
        "every entry, in order"
    );
    // What reached the slow one before it was dropped, then the end.
    let (_, before) = slow.end().await;
    assert!(
        before < posted as usize,
        "dropped after {before} of {posted} entries"
    );
    reader.abort();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_that_does_not_read_large_entries_is_dropped_by_their_bytes() {
    let cluster = cluster(Anonymous::All).await;
    let slow = Socket::open_small(&cluster, 1, "/listen?s=big:y").await;
    // 40 entries of half a megabyte: far fewer than the queue's 256 messages, far more than
    // its 4 MiB. Held for a client that never reads, they would be 20 MB of the node's memory;
    // the queue fills by its bytes, and the client is dropped.
    let (writer, one) = (Client::of(&cluster, 2), Client::of(&cluster, 1));
    let filler = "y".repeat(512 * 1024);
    for n in 0..40 {
        let reply = writer
            .post("/streams/big/y", json!({"n": n, "filler": filler}))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    ringcore::testing::wait_until_within(
        "the node drops a client that reads nothing, 40 entries of 512 KiB after",
        Duration::from_secs(60),
        || async { dropped(&one).await > 0 },
    )
    .await;
    drop(slow);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_follows_every_stream_it_names_present_and_future() {
    let cluster = cluster(Anonymous::All).await;
    let one = Client::of(&cluster, 1);
    one.post("/streams/shop/old", json!("before")).await;
    let mut bucket = Events::open(&cluster, 2, "/listen?s=shop:*", None).await;
    let mut named = Events::open(&cluster, 3, "/listen?s=*:orders", None).await;
    assert_eq!((bucket.status, named.status), (200, 200));
    // A stream that existed, one that did not, one of another bucket (left out).
    for (path, n) in [
        ("/streams/shop/old", 1),
        ("/streams/elsewhere/orders", 2),
        ("/streams/shop/orders", 3),
    ] {
        assert_eq!(
            Client::of(&cluster, 3).post(path, json!(n)).await.status,
            201
        );
    }
    let mut in_shop = vec![place(&bucket.next().await), place(&bucket.next().await)];
    in_shop.sort();
    assert_eq!(in_shop, [("old".to_string(), 2), ("orders".to_string(), 1)]);
    let mut orders: Vec<(String, u64)> = Vec::new();
    for _ in 0..2 {
        let event = named.next().await;
        let bucket = event.data["meta"]["bucket"].as_str().unwrap().to_string();
        orders.push((bucket, event.data["meta"]["id"].as_u64().unwrap()));
    }
    orders.sort();
    assert_eq!(
        orders,
        [("elsewhere".to_string(), 1), ("shop".to_string(), 1)]
    );
    // Nothing of other buckets reached the bucket's listener: its next event is the next
    // entry of the bucket.
    one.post("/streams/other/x", json!("not shop")).await;
    one.post("/streams/shop/new", json!("shop again")).await;
    assert_eq!(place(&bucket.next().await), ("new".to_string(), 1));
    cluster.stop().await;
}

/// Appends `body` to the stream at `path` through `client`, which must take it (201).
async fn append(client: &Client, path: &str, body: Value) {
    let reply = client.post(path, body).await;
    assert_eq!(reply.status, 201, "{path}: {}", reply.body);
}

/// `(bucket, stream, id)` of an entry message.
fn entry_of(entry: &Value) -> (String, String, u64) {
    let meta = &entry["meta"];
    (
        meta["bucket"].as_str().unwrap().to_string(),
        meta["stream"].as_str().unwrap().to_string(),
        meta["id"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_follows_a_bucket_pattern_subscribed_by_command() {
    let cluster = cluster(Anonymous::All).await;
    let (one, three) = (Client::of(&cluster, 1), Client::of(&cluster, 3));
    append(&one, "/streams/shop/old", json!("before")).await;
    let mut socket = Socket::open(&cluster, 2, "/listen").await.unwrap();
    socket.accepted("subscribe", "shop", "*", 1).await;
    // Answered once in place on every vnode: what is posted now comes, through any node, to
    // a stream that existed or one that did not; another bucket's does not.
    append(&one, "/streams/shop/old", json!("after")).await;
    append(&three, "/streams/shop/new", json!("first")).await;
    append(&three, "/streams/elsewhere/x", json!("not shop")).await;
    let mut found = vec![
        entry_place(&socket.next().await),
        entry_place(&socket.next().await),
    ];
    found.sort();
    assert_eq!(found, [("new".to_string(), 1), ("old".to_string(), 2)]);
    // Each entry once, in its stream's order: the next message is the next entry.
    append(&one, "/streams/shop/new", json!("second")).await;
    assert_eq!(entry_place(&socket.next().await), ("new".to_string(), 2));

    for (command, reason) in [
        (
            json!({"cmd": "subscribe", "bucket": "shop", "stream": "*", "id": 2}),
            "already subscribed",
        ),
        (
            json!({"cmd": "subscribe", "bucket": "*", "stream": "x", "from": 0, "id": 2}),
            "a pattern follows from now on: no from",
        ),
        (
            json!({"cmd": "unsubscribe", "bucket": "*", "stream": "x", "id": 2}),
            "not subscribed",
        ),
    ] {
        let answer = socket.command(command).await;
        assert_eq!(answer, json!({"ok": false, "id": 2, "reason": reason}));
    }

    // Another client of the node follows the same pattern: the streams found before it came
    // go on from their next entries, not from the entries they were found by.
    let mut later = Socket::open(&cluster, 2, "/listen?s=shop:*").await.unwrap();
    append(&three, "/streams/shop/new", json!("third")).await;
    assert_eq!(entry_place(&socket.next().await), ("new".to_string(), 3));
    let mut before_it = Vec::new();
    loop {
        let place = entry_place(&later.next().await);
        if place == ("new".to_string(), 3) {
            break;
        }
        before_it.push(place);
    }
    for found_by in [("old".to_string(), 2), ("new".to_string(), 1)] {
        assert!(!before_it.contains(&found_by), "{before_it:?}");
    }

    // Subscribed by name too, a stream the pattern found is still delivered once; it stays
    // when the pattern goes, and the pattern's other streams stop: posted after theirs, its
    // entry is the next to come.
    socket.accepted("subscribe", "shop", "new", 3).await;
    socket.accepted("unsubscribe", "shop", "*", 4).await;
    append(&one, "/streams/shop/old", json!("unfollowed")).await;
    append(&three, "/streams/shop/newer", json!("unfollowed")).await;
    append(&one, "/streams/shop/new", json!("marker")).await;
    assert_eq!(entry_place(&socket.next().await), ("new".to_string(), 4));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_follows_a_stream_name_in_every_bucket_from_its_url() {
    let cluster = cluster(Anonymous::All).await;
    // In place before the upgrade is answered: what is posted once it is open comes.
    let mut socket = Socket::open(&cluster, 3, "/listen?s=*:orders")
        .await
        .unwrap();
    let (one, two) = (Client::of(&cluster, 1), Client::of(&cluster, 2));
    append(&one, "/streams/north/orders", json!(1)).await;
    append(&two, "/streams/south/orders", json!(2)).await;
    append(&one, "/streams/north/invoices", json!(3)).await;
    let mut found = vec![
        entry_of(&socket.next().await),
        entry_of(&socket.next().await),
    ];
    found.sort();
    let order = |bucket: &str, id| (bucket.to_string(), "orders".to_string(), id);
    assert_eq!(found, [order("north", 1), order("south", 1)]);
    // Nothing of another stream name came: the next message is the next order.
    append(&two, "/streams/north/orders", json!(4)).await;
    assert_eq!(entry_of(&socket.next().await), order("north", 2));
    // The URL's pattern is unsubscribed as one subscribed by command.
    socket.accepted("unsubscribe", "*", "orders", 1).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_pattern_leaves_out_streams_the_caller_may_not_read() {
    let cluster = cluster(Anonymous::None).await;
    let one = Client::of(&cluster, 1);
    let token = eve(&cluster).await;
    let (admin, eve) = (
        one.with_token(&one.login("admin", "listen admin").await),
        Client::of(&cluster, 3).with_token(&token),
    );
    let mut socket = Socket::open(&cluster, 2, &format!("/listen?jwt={token}"))
        .await
        .unwrap();
    socket.accepted("subscribe", "*", "notes", 1).await;
    // The admin's stream of that name, which eve may not read, then hers, twice: hers come,
    // and the admin's never before them.
    for n in [1, 2] {
        append(&admin, "/streams/_user_admin/notes", json!("secret")).await;
        append(&eve, "/streams/_user_eve/notes", json!(n)).await;
        let entry = socket.next().await;
        let eves = ("_user_eve".to_string(), "notes".to_string(), n);
        assert_eq!(entry_of(&entry), eves, "{entry}");
    }
    cluster.stop().await;
}
