//! Iorio DB's API on a 3-node cluster of the finished database: sessions, users, grants and
//! the stream routes, used the way an Iorio client uses them, each step through another node
//! than the one before (a user made on one node logs in on another; a grant revoked through
//! one node is refused by every node at once).
//!
//! ```text
//! cargo test -p ex6-chat-solution --test iorio
//! ```

mod common;

use common::Client;
use ex6_chat::ChatApp;
use ringcore::access::Anonymous;
use ringcore::testing::TestCluster;
use serde_json::json;

const ADMIN_PASSWORD: &str = "an admin password";

/// Three joined nodes whose anonymous callers may do `anonymous`.
async fn cluster(anonymous: Anonymous) -> TestCluster<ChatApp> {
    TestCluster::start_joined_with(3, |config| {
        config.ring_size = 16;
        config.access.anonymous = anonymous;
        config.access.admin_password = Some(ADMIN_PASSWORD.into());
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iorio_client_works_against_three_nodes() {
    let cluster = cluster(Anonymous::None).await;
    let (one, two, three) = (
        Client::of(&cluster, 1),
        Client::of(&cluster, 2),
        Client::of(&cluster, 3),
    );

    // Sessions: the admin logs in on one node; the token works on every node.
    let admin_token = one.login("admin", ADMIN_PASSWORD).await;
    let admin = three.with_token(&admin_token);
    let me = admin.get("/sessions").await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["username"], "admin");
    let wrong = two
        .post(
            "/sessions",
            json!({"username": "admin", "password": "secret"}),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.error_type().as_str()),
        (401, "unauthorized")
    );

    // Users: made on node 3, logging in on node 2.
    let made = admin
        .post(
            "/users/",
            json!({"username": "bob", "password": "bobs pass"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.header("location"), Some("/users/bob"));
    let again = one
        .with_token(&admin_token)
        .post("/users/", json!({"username": "bob", "password": "x"}))
        .await;
    assert_eq!(
        (again.status, again.error_type().as_str()),
        (400, "user-exists")
    );
    for (body, kind) in [
        (json!({}), "no-user-and-pass"),
        (json!({"password": "p"}), "no-user"),
        (json!({"username": "carol"}), "no-pass"),
        (
            json!({"username": "a:b", "password": "p"}),
            "illegal-username",
        ),
    ] {
        let refused = admin.post("/users/", body.clone()).await;
        assert_eq!(
            (refused.status, refused.error_type()),
            (400, kind.to_string()),
            "{body}"
        );
    }
    let bob_token = two.login("bob", "bobs pass").await;
    let bob = |client: &Client| client.with_token(&bob_token);
    let users = admin.get("/users/").await.json();
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "bob"]);
    assert_eq!(
        bob(&one).get("/users/").await.status,
        401,
        "adminusers only"
    );

    // Streams: random JSON to the admin's own bucket, read back with limit on another node.
    let posted: Vec<_> = [
        json!({"lat": -34.6, "user": "x", "ok": true}),
        json!([1, 2, 3]),
        json!("text"),
    ]
    .into_iter()
    .collect();
    for (i, data) in posted.iter().enumerate() {
        let reply = admin
            .post("/streams/_user_admin/events", data.clone())
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let id = reply.json()["meta"]["id"].as_u64().unwrap();
        assert_eq!(id, i as u64 + 1);
        assert!(reply.json()["meta"]["t"].as_u64().unwrap() > 0);
        assert_eq!(
            reply.header("location"),
            Some(format!("/streams/_user_admin/events/?limit=1&from={id}").as_str())
        );
    }
    let read = one
        .with_token(&admin_token)
        .get("/streams/_user_admin/events?limit=2")
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    let entries = read.json();
    let data: Vec<_> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"].clone())
        .collect();
    assert_eq!(data, posted[1..], "the newest 2, oldest first, as sent");
    assert_eq!(entries[0]["meta"]["id"], 2);
    let newest = two
        .with_token(&admin_token)
        .get("/streams/_user_admin/events")
        .await
        .json();
    assert_eq!(newest.as_array().unwrap().len(), 1, "limit defaults to 1");
    let from = admin
        .get("/streams/_user_admin/events?from=1&limit=2")
        .await
        .json();
    assert_eq!(from[0]["data"], posted[0]);

    // Listings.
    let buckets = admin.get("/buckets/").await.json();
    assert_eq!(buckets["status"], "ok");
    assert!(
        buckets["data"]
            .as_array()
            .unwrap()
            .contains(&json!("_user_admin"))
    );
    let streams = one
        .with_token(&admin_token)
        .get("/streams/_user_admin")
        .await
        .json();
    assert_eq!(streams, json!({"status": "ok", "data": ["events"]}));

    // Grants: bob is refused the admin's bucket, granted, then revoked, on every node.
    let refused = bob(&three).get("/streams/_user_admin/events").await;
    assert_eq!(
        (refused.status, refused.error_type().as_str()),
        (401, "no-perm")
    );
    assert!(refused.header("www-authenticate").is_some());
    let grant = json!({"action": "grant", "username": "bob", "permission": "get"});
    let granted = one
        .with_token(&admin_token)
        .post("/access/_user_admin/", grant)
        .await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    assert_eq!(granted.json(), json!({"ok": true}));
    for node in [&one, &two, &three] {
        assert_eq!(
            bob(node).get("/streams/_user_admin/events").await.status,
            200
        );
        assert_eq!(
            bob(node)
                .post("/streams/_user_admin/events", json!(1))
                .await
                .status,
            401,
            "get only"
        );
    }
    let grants = admin.get("/access/_user_admin/").await.json();
    assert_eq!(grants["users"], json!([{"name": "bob", "grants": ["get"]}]));
    let revoke = json!({"action": "revoke", "role": "bob", "permission": "get"});
    assert_eq!(
        two.with_token(&admin_token)
            .post("/access/_user_admin", revoke)
            .await
            .status,
        200
    );
    for node in [&one, &two, &three] {
        let refused = bob(node).get("/streams/_user_admin/events").await;
        assert_eq!(
            refused.status, 401,
            "revoked, refused by every node at once"
        );
    }
    // bob owns his own bucket, and may grant on it; not on the admin's.
    assert_eq!(
        bob(&one)
            .post("/streams/_user_bob/notes", json!({"n": 1}))
            .await
            .status,
        201
    );
    let share = json!({"action": "grant", "group": "authenticated", "permission": "get"});
    assert_eq!(
        bob(&two)
            .post("/access/_user_bob/notes", share)
            .await
            .status,
        200
    );
    let steal = json!({"action": "grant", "username": "bob", "permission": "put"});
    assert_eq!(
        bob(&two).post("/access/_user_admin/", steal).await.status,
        401
    );

    // Anonymous access is closed: refused everywhere but logging in and ping.
    for path in [
        "/streams/_user_admin/events",
        "/buckets/",
        "/msgs",
        "/stats",
        "/users/",
    ] {
        let refused = two.get(path).await;
        assert_eq!(
            refused.status, 401,
            "anonymous GET {path}: {}",
            refused.body
        );
    }
    assert_eq!(
        one.post("/msgs/ann/t", json!({"msg": "hi"})).await.status,
        401
    );
    assert_eq!(one.get("/ping").await.status, 200);
    assert!(one.get("/ping").await.json()["pong"].is_string());
    let forged = one.with_token("e30.e30.e30").get("/sessions").await;
    assert_eq!(
        forged.status, 401,
        "a bad token is refused, never taken as anonymous"
    );

    // A password changed by its user; the old one no longer works.
    let changed = bob(&one)
        .put(
            "/users/",
            json!({"username": "bob", "password": "new pass"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let old = three
        .post(
            "/sessions",
            json!({"username": "bob", "password": "bobs pass"}),
        )
        .await;
    assert_eq!(old.status, 401);
    three.login("bob", "new pass").await;

    // A removed user's sessions stop working at once.
    assert_eq!(admin.delete("/users/bob").await.status, 200);
    assert_eq!(bob(&two).get("/sessions").await.status, 401);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_anonymous_access_open_flaviodbs_session_needs_no_login() {
    let cluster = cluster(Anonymous::All).await;
    let (one, two) = (Client::of(&cluster, 1), Client::of(&cluster, 2));
    let posted = one.post("/msgs/ann/general", json!({"msg": "hello"})).await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let read = two.get("/msgs/ann/general").await.json();
    assert_eq!(read[0]["msg"], "hello");
    assert_eq!(one.put("/api/store/k", json!({"v": 1})).await.status, 201);
    // The workshop's key/value bucket is the system's: not listed as a user.
    let users = two.get("/msgs").await.json();
    assert_eq!(users, json!(["ann"]));
    let buckets = two.get("/buckets/").await.json();
    assert_eq!(buckets["data"], json!(["ann"]));
    // Data, yes; users and grants, no.
    assert_eq!(one.get("/users/").await.status, 401);
    let grant = json!({"action": "grant", "username": "x", "permission": "get"});
    assert_eq!(one.post("/access/ann/", grant).await.status, 401);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_stream_is_empty_on_every_node_and_counts_on() {
    let cluster = cluster(Anonymous::All).await;
    let clients: Vec<Client> = (1..=3).map(|k| Client::of(&cluster, k)).collect();
    for i in 1..=5 {
        let reply = clients[i % 3]
            .post("/streams/news/today", json!({"i": i}))
            .await;
        assert_eq!(reply.status, 201);
    }
    assert_eq!(clients[1].delete("/streams/news/today").await.status, 204);
    for client in &clients {
        let read = client.get("/streams/news/today?from=1&limit=100&r=3").await;
        assert_eq!(read.json(), json!([]), "deleted, read with r=3");
    }
    let after = clients[2]
        .post("/streams/news/today", json!({"i": 6}))
        .await
        .json();
    assert_eq!(after["meta"]["id"], 6, "numbers go on after a delete");
    let read = clients[0]
        .get("/streams/news/today?from=1&limit=100")
        .await
        .json();
    assert_eq!(read.as_array().unwrap().len(), 1);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_may_call_from_another_origin() {
    let cluster = cluster(Anonymous::All).await;
    let client = Client::of(&cluster, 1);
    let reply = tokio::task::spawn_blocking({
        let url = format!("{}/streams/b/s", client.base);
        move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let request = ureq::http::Request::builder()
                .method("OPTIONS")
                .uri(&url)
                .header("origin", "http://example.org")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "x-session,content-type")
                .body(Vec::new())
                .unwrap();
            let response = agent.run(request).unwrap();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            (
                response.status().as_u16(),
                header("access-control-allow-origin"),
                header("access-control-allow-headers").to_ascii_lowercase(),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(reply.0, 200);
    assert_eq!(reply.1, "*");
    assert!(reply.2.contains("x-session"), "{}", reply.2);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_manages_users_and_grants_as_riak_admin_security_does() {
    let cluster = cluster(Anonymous::None).await;
    let admin = |line: &'static str| {
        let cluster = &cluster;
        async move { cluster.admin(1, line).await }
    };
    assert_eq!(
        admin("security add-user carol password=pw groups=ops")
            .await
            .unwrap(),
        "User 'carol' added"
    );
    let users = admin("security print-users").await.unwrap();
    assert!(
        users.contains("admin") && users.contains("carol"),
        "{users}"
    );
    assert!(
        users
            .lines()
            .any(|l| l.starts_with("carol") && l.ends_with("ops")),
        "{users}"
    );
    // Made through node 1's console: logs in on node 3.
    let carol = Client::of(&cluster, 3);
    let carol = carol.with_token(&carol.login("carol", "pw").await);
    assert_eq!(carol.get("/streams/logs/a").await.status, 401);
    assert_eq!(
        admin("security grant get,put on logs to group/ops")
            .await
            .unwrap(),
        "Granted get,put on logs to group/ops"
    );
    assert_eq!(carol.post("/streams/logs/a", json!(1)).await.status, 201);
    assert_eq!(carol.get("/streams/logs/a").await.status, 200);
    let grants = admin("security print-grants logs").await.unwrap();
    assert!(
        grants
            .lines()
            .any(|l| l.starts_with("group/ops") && l.ends_with("get,put")),
        "{grants}"
    );
    admin("security revoke put on logs from group/ops")
        .await
        .unwrap();
    assert_eq!(carol.post("/streams/logs/a", json!(2)).await.status, 401);
    assert_eq!(carol.get("/streams/logs/a").await.status, 200);
    let refused = admin("security grant fly on logs to carol")
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("unknown permission 'fly'"),
        "{refused}"
    );
    let refused = admin("security add-user x:y password=p").await.unwrap_err();
    assert!(
        refused.to_string().contains("illegal user name"),
        "{refused}"
    );
    let usage = admin("security").await.unwrap_err().to_string();
    assert!(usage.contains("security print-grants"), "{usage}");
    assert_eq!(
        admin("security del-user carol").await.unwrap(),
        "User 'carol' removed"
    );
    assert_eq!(carol.get("/sessions").await.status, 401);
    cluster.stop().await;
}
