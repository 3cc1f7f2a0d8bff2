//! The routes an operator's tools call, added to every application's router by
//! [`super::serve`]: `GET /metrics` (the node's counters, see [`crate::metrics`]) and
//! `GET /ready` (whether this node should be sent traffic: 200, or 503 with what is missing).
//! `GET /health`, whether the node answers at all, is the application's own route.

use crate::node::Node;
use crate::ring::MemberStatus;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

/// `/metrics` and `/ready` for `node`.
pub(super) fn routes(node: Node) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/ready", get(ready))
        .with_state(node)
}

/// `GET /metrics`: the counters, and the gauges read now.
async fn metrics(State(node): State<Node>) -> Response {
    let metrics = node.metrics();
    let ring = node.ring();
    metrics.ring_version.set(ring.version() as i64);
    metrics.vnodes_running.set(node.vnodes_running() as i64);
    metrics.members_down.set(node.down_nodes().len() as i64);
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], metrics.render()).into_response()
}

/// `GET /ready`: 200 when the node is a full member of its cluster (not joining or leaving),
/// not stopping, and hosts its application's vnodes; 503 otherwise, saying which is not so.
async fn ready(State(node): State<Node>) -> Response {
    let ring = node.ring();
    let status = ring.members().get(node.name()).cloned();
    let checks = [
        ("member", status == Some(MemberStatus::Valid)),
        ("running", !node.is_stopping()),
        ("vnodes", node.hosts_any()),
    ];
    let ready = checks.iter().all(|(_, ok)| *ok);
    let body = json!({
        "ready": ready,
        "node": node.name().as_str(),
        "status": status.map_or("none", |s| s.as_str()),
        "checks": checks.iter().map(|(name, ok)| (name.to_string(), json!(ok))).collect::<serde_json::Map<_, _>>(),
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}
