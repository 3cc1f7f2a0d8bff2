//! The HTTP routes of the stream database: flaviodb's `/msgs`, the workshop's `/api/store`.
//!
//! Each handler reads what the request says (path, query, body), calls the database, and turns
//! the answer into JSON — or into an `ApiError`, which becomes `{"type": …, "reason": …}`
//! with the right status code.

use crate::resume::LastEventId;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;
use ringcore::http::{ApiError, EntryJson, Params, feed, json_body, msg_of};
use ringcore::streams::Streams;
use ringcore::streams::commands::KV_BUCKET;
use serde_json::json;
use std::collections::HashMap;
use std::convert::Infallible;

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
    let params = Params::parse(&query)?;
    let msg = msg_of(&json_body(&headers, &body)?)?;
    let written = db.post(&user, &topic, msg.into_bytes(), params.nwr).await?;
    Ok((StatusCode::CREATED, Json(EntryJson::from(&written.entry))).into_response())
}

/// Step 1: `GET /msgs/{user}/{topic}?from=&limit=` → the entries from `from` (at most
/// `limit`, default 100), or without `from` the newest `limit` (default 1).
async fn read_msgs(
    State(db): State<Streams>,
    Path((user, topic)): Path<(String, String)>,
    Query(query): QueryMap,
) -> Result<Json<Vec<EntryJson>>, ApiError> {
    let params = Params::parse(&query)?;
    let read = match params.from {
        Some(from) => {
            db.read(&user, &topic, from, params.limit.unwrap_or(100), params.nwr)
                .await?
        }
        None => {
            db.last(&user, &topic, params.limit.unwrap_or(1), params.nwr)
                .await?
        }
    };
    Ok(Json(read.entries.iter().map(EntryJson::from).collect()))
}

/// Step 2: `PUT /api/store/{key}` with any JSON → 201 `{"key", "id", "date"}`.
async fn store(
    State(db): State<Streams>,
    Path(key): Path<String>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(&query)?;
    let value = json_body(&headers, &body)?;
    let payload = serde_json::to_vec(&value).expect("a JSON value always encodes");
    let written = db.post(KV_BUCKET, &key, payload, params.nwr).await?;
    let answer = json!({"key": key, "id": written.entry.seq, "date": written.entry.ts_ms});
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// Step 2: `GET /api/store/{key}` → the newest value, or 404.
async fn fetch(
    State(db): State<Streams>,
    Path(key): Path<String>,
    Query(query): QueryMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(&query)?;
    let read = db.last(KV_BUCKET, &key, 1, params.nwr).await?;
    let entry = read
        .entries
        .last()
        .ok_or_else(|| ApiError::not_found(format!("no value for key '{key}'")))?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        entry.payload.clone(),
    )
        .into_response())
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
    let params = Params::parse(&query)?;
    // A client that reconnects resumes after the last event it received: the header wins
    // over `from`, which is still in the URL it connects to again.
    let after = match resumed.0.or(params.from) {
        Some(after) => after,
        None => db
            .last(&user, &topic, 1, params.nwr)
            .await?
            .entries
            .last()
            .map_or(0, |e| e.seq),
    };
    let entries = feed::entries_after(db, user, topic, after, params.nwr);
    let events = entries.map(|entry| {
        let data = EntryJson::from(&entry);
        let event = Event::default().id(entry.seq.to_string()).event("entry");
        Ok::<_, Infallible>(event.json_data(data).expect("an entry always encodes"))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
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
