//! The HTTP routes of the stream database: flaviodb's `/msgs`, the workshop's `/api/store`.
//!
//! Each handler reads what the request says (path, query, body), calls the database, and turns
//! the answer into JSON — or into an `ApiError`, which becomes `{"type": …, "reason": …}`
//! with the right status code.

use crate::resume::LastEventId;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use ringcore::Error;
use ringcore::http::{ApiError, EntryJson, Params};
use ringcore::streams::Streams;
use serde_json::json;
use std::collections::HashMap;

// What the handlers you write will use (see the README's hints):
#[allow(unused_imports)]
use {
    axum::http::header,
    axum::response::IntoResponse,
    axum::response::sse::{Event, KeepAlive, Sse},
    futures_util::StreamExt,
    ringcore::http::{feed, json_body, msg_of},
    ringcore::streams::commands::KV_BUCKET,
    std::convert::Infallible,
};

/// The query string as name → value.
type QueryMap = Query<HashMap<String, String>>;

/// Every route of the API.
pub fn router(db: Streams) -> Router {
    Router::new()
        .route("/msgs", get(list_users))
        .route("/msgs/{user}", get(list_topics))
        .route("/msgs/{user}/{topic}", get(read_msgs).post(post_msg))
        .route("/msgs/{user}/{topic}/listen", get(listen))
        .route("/api/store/{key}", get(fetch).put(store))
        .route("/stats", get(stats))
        .route("/health", get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(db)
}

/// Step 1: `POST /msgs/{user}/{topic}` with `{"msg": "…"}` → 201 and the stored entry.
async fn post_msg(
    State(db): State<Streams>,
    Path((user, topic)): Path<(String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let _ = (db, user, topic, query, headers, body);
    Err(Error::not_implemented("write post_msg in src/routes.rs (README step 1)").into())
}

/// Step 1: `GET /msgs/{user}/{topic}?from=&limit=` → the entries from `from` (at most
/// `limit`, default 100), or without `from` the newest `limit` (default 1).
async fn read_msgs(
    State(db): State<Streams>,
    Path((user, topic)): Path<(String, String)>,
    Query(query): QueryMap,
) -> Result<Json<Vec<EntryJson>>, ApiError> {
    let _ = (db, user, topic, query);
    Err(Error::not_implemented("write read_msgs in src/routes.rs (README step 1)").into())
}

/// Step 2: `PUT /api/store/{key}` with any JSON → 201 `{"key", "id", "date"}`.
async fn store(
    State(db): State<Streams>,
    Path(key): Path<String>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let _ = (db, key, query, headers, body);
    Err(Error::not_implemented("write store in src/routes.rs (README step 2)").into())
}

/// Step 2: `GET /api/store/{key}` → the newest value, or 404.
async fn fetch(
    State(db): State<Streams>,
    Path(key): Path<String>,
    Query(query): QueryMap,
) -> Result<Response, ApiError> {
    let _ = (db, key, query);
    Err(Error::not_implemented("write fetch in src/routes.rs (README step 2)").into())
}

/// Step 3: `GET /msgs/{user}/{topic}/listen?from=SEQ` → server-sent events: the entries after
/// SEQ, then each new one (without `from`: only new ones).
///
/// `resumed` is for Going further (README): the id a reconnecting client last received.
async fn listen(
    State(db): State<Streams>,
    Path((user, topic)): Path<(String, String)>,
    Query(query): QueryMap,
    resumed: LastEventId,
) -> Result<Response, ApiError> {
    let _ = (db, user, topic, query, resumed);
    Err(Error::not_implemented("write listen in src/routes.rs (README step 3)").into())
}

/// `GET /msgs/{user}` → the user's topics (a coverage query, each once).
async fn list_topics(
    State(db): State<Streams>,
    Path(user): Path<String>,
    Query(query): QueryMap,
) -> Result<Json<Vec<String>>, ApiError> {
    let params = Params::parse(&query)?;
    Ok(Json(db.list_streams(&user, params.nwr).await?.names))
}

/// `GET /msgs` → the users.
async fn list_users(
    State(db): State<Streams>,
    Query(query): QueryMap,
) -> Result<Json<Vec<String>>, ApiError> {
    let params = Params::parse(&query)?;
    Ok(Json(db.list_buckets(params.nwr).await?.names))
}

/// `GET /stats` → what every vnode did.
async fn stats(State(db): State<Streams>) -> Result<Json<serde_json::Value>, ApiError> {
    let stats = db.stats().await?;
    let total =
        |f: fn(&ringcore::streams::VnodeStats) -> u64| stats.iter().map(|(_, s)| f(s)).sum::<u64>();
    Ok(Json(json!({
        "vnodes": stats.len(),
        "total": {"writes": total(|s| s.writes), "reads": total(|s| s.reads), "entries": total(|s| s.entries)},
    })))
}

/// `GET /health` → this node and what it knows of the others.
async fn health(State(db): State<Streams>) -> Json<serde_json::Value> {
    let node = db.vnodes().node();
    let down: Vec<String> = node.down_nodes().iter().map(|n| n.to_string()).collect();
    Json(json!({"status": "ok", "node": node.name().as_str(), "down": down}))
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    let reason = format!("{method} is not allowed on {}", uri.path());
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", reason)
}
