//! A real HTTP client for the tests of the finished database's API (ureq, blocking, so on a
//! thread of its own), and the cluster they talk to; and a browser for the ring page's test
//! ([`webdriver`]).

#![allow(dead_code)] // each test file uses its own part

pub mod webdriver;

use ex6_chat::ChatApp;
use ringcore::testing::TestCluster;
use serde_json::Value;
use std::time::Duration;

/// One answer: status, headers, body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The body as JSON (panics, saying what came, if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `type` of an error body.
    pub fn error_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_string()
    }
}

/// A client of one node, with or without a session token.
#[derive(Debug, Clone)]
pub struct Client {
    pub base: String,
    pub token: Option<String>,
}

impl Client {
    /// Node devK's HTTP API, as the anonymous caller.
    pub fn of(cluster: &TestCluster<ChatApp>, k: u32) -> Client {
        Client {
            base: format!("http://{}", cluster.app(k).http),
            token: None,
        }
    }

    /// The same node, sending `token` as Iorio's clients do (`X-Session`).
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            base: self.base.clone(),
            token: Some(token.to_string()),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call("DELETE", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call("POST", path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call("PUT", path, Some(body)).await
    }

    /// Logs in as `user`; the token.
    pub async fn login(&self, user: &str, password: &str) -> String {
        let reply = self
            .post(
                "/sessions",
                serde_json::json!({"username": user, "password": password}),
            )
            .await;
        assert_eq!(reply.status, 201, "login of {user}: {}", reply.body);
        let body = reply.json();
        assert_eq!(body["ok"], true);
        assert_eq!(body["username"], user);
        body["token"].as_str().expect("a token").to_string()
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.base);
        let (method, token) = (method.to_string(), self.token.clone());
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .into();
            let mut builder = ureq::http::Request::builder()
                .method(method.as_str())
                .uri(&url);
            if let Some(token) = &token {
                builder = builder.header("x-session", token);
            }
            let bytes = match &body {
                Some(body) => {
                    builder = builder.header("content-type", "application/json");
                    serde_json::to_vec(body).unwrap()
                }
                None => Vec::new(),
            };
            let response = agent
                .run(builder.body(bytes).unwrap())
                .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            let body = response.into_body().read_to_string().unwrap_or_default();
            Reply {
                status,
                headers,
                body,
            }
        })
        .await
        .unwrap()
    }
}
