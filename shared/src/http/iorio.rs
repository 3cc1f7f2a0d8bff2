//! Iorio DB's stream routes, beside flaviodb's (see the module docs of [`crate::http`]):
//!
//! | route | what | needs |
//! |---|---|---|
//! | `POST /streams/{bucket}/{stream}` any JSON | stored as sent; 201 `{"meta":{"id":…,"t":…}}`, `Location` | `put` |
//! | `GET /streams/{bucket}/{stream}?limit=&from=` | `[{"meta":{"id":…,"t":…},"data":…}]`, the newest `limit` (default 1) or from `from` | `get` |
//! | `DELETE /streams/{bucket}/{stream}` | 204; the stream is emptied on every replica | `delete` |
//! | `GET /streams/{bucket}` | `{"status":"ok"\|"partial","data":[streams]}` | `list` on the bucket |
//! | `GET /buckets/` | `{"status":…,"data":[buckets]}`: those the caller may list, system buckets left out | — |
//! | `GET /ping` | `{"pong":"<partition>"}`: a vnode answered | — |

use super::auth::{allowed, caller};
use super::hooks::{PostHooks, Posted, text_of_body};
use super::{ApiError, Params, json_body};
use crate::access::{Permission, Resource};
use crate::store::Entry;
use crate::streams::service::is_system_bucket;
use crate::streams::{Listing, Streams, StreamsVnode};
use crate::vnode::coordinator::QuorumWaiter;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::json;
use std::collections::HashMap;

type QueryMap = Query<HashMap<String, String>>;

/// The routes, over a stream database.
pub fn routes<Q: QuorumWaiter, V: StreamsVnode>(db: Streams<Q, V>) -> Router {
    Router::new()
        .route("/buckets", get(list_buckets::<Q, V>))
        .route("/buckets/", get(list_buckets::<Q, V>))
        .route("/streams/{bucket}", get(list_streams::<Q, V>))
        .route("/streams/{bucket}/", get(list_streams::<Q, V>))
        .route(
            "/streams/{bucket}/{stream}",
            get(read::<Q, V>).post(post::<Q, V>).delete(delete::<Q, V>),
        )
        .route("/ping", get(ping::<Q, V>))
        .with_state(db)
}

async fn post<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Path((bucket, stream)): Path<(String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
    Extension(hooks): Extension<PostHooks>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let resource = Resource::of(&bucket, Some(&stream));
    let caller = allowed(db.access(), &headers, &query, &resource, Permission::Put)?;
    let params = Params::parse(&query)?;
    // Checked, then stored byte for byte as sent.
    json_body(&headers, &body)?;
    let written = db.post(&bucket, &stream, body.to_vec(), params.nwr).await?;
    let entry = &written.entry;
    let location = format!("/streams/{bucket}/{stream}/?limit=1&from={}", entry.seq);
    hooks
        .posted(Posted {
            text: text_of_body(&body),
            bucket,
            stream,
            seq: entry.seq,
            by: caller.name,
        })
        .await;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(json!({"meta": {"id": entry.seq, "t": entry.ts_ms}})),
    )
        .into_response())
}

async fn read<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Path((bucket, stream)): Path<(String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let resource = Resource::of(&bucket, Some(&stream));
    allowed(db.access(), &headers, &query, &resource, Permission::Get)?;
    let params = Params::parse(&query)?;
    let limit = params.limit.unwrap_or(1);
    let read = match params.from {
        Some(from) => db.read(&bucket, &stream, from, limit, params.nwr).await?,
        None => db.last(&bucket, &stream, limit, params.nwr).await?,
    };
    let body = entries_json(&read.entries);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `[{"meta":{"id":…,"t":…,"dot":…},"data":…}, …]`, the data as it was sent. An entry stored
/// through another route, whose bytes are not JSON (a chat line, say), shows as a string.
pub fn entries_json(entries: &[Entry]) -> String {
    let items: Vec<String> = entries.iter().map(|e| entry_json(e, None)).collect();
    format!("[{}]", items.join(","))
}

/// One entry as Iorio shows it, `{"meta":{…},"data":…}`; with its place in `meta`
/// (`bucket`, `stream`) when a listener follows several streams.
pub fn entry_json(entry: &Entry, place: Option<(&str, &str)>) -> String {
    let mut meta = json!({"id": entry.seq, "t": entry.ts_ms, "dot": entry.dot.to_string()});
    if let Some((bucket, stream)) = place {
        meta["bucket"] = bucket.into();
        meta["stream"] = stream.into();
    }
    let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(&entry.payload).is_ok();
    let data = match std::str::from_utf8(&entry.payload) {
        Ok(text) if is_json => text.to_string(),
        _ => json!(String::from_utf8_lossy(&entry.payload)).to_string(),
    };
    format!("{{\"meta\":{meta},\"data\":{data}}}")
}

async fn delete<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Path((bucket, stream)): Path<(String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let resource = Resource::of(&bucket, Some(&stream));
    allowed(db.access(), &headers, &query, &resource, Permission::Delete)?;
    let params = Params::parse(&query)?;
    db.delete(&bucket, &stream, params.nwr).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_streams<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Path(bucket): Path<String>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let resource = Resource::of(&bucket, None);
    allowed(db.access(), &headers, &query, &resource, Permission::List)?;
    let params = Params::parse(&query)?;
    Ok(status_and_data(db.list_streams(&bucket, params.nwr).await?))
}

async fn list_buckets<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = caller(db.access(), &headers, &query)?;
    if caller.anonymous {
        // An anonymous caller who may list nothing is told so, not given an empty list.
        db.access()
            .check(&caller, &Resource::Any, Permission::List)?;
    }
    let params = Params::parse(&query)?;
    let mut listing = db.list_buckets(params.nwr).await?;
    listing.names.retain(|bucket| {
        !is_system_bucket(bucket)
            && db
                .access()
                .allows(&caller, &Resource::of(bucket, None), Permission::List)
    });
    Ok(status_and_data(listing))
}

/// Iorio's listing: `{"status":"ok"|"partial","data":[…]}`.
fn status_and_data(listing: Listing) -> Json<serde_json::Value> {
    let status = if listing.partial.is_some() {
        "partial"
    } else {
        "ok"
    };
    Json(json!({"status": status, "data": listing.names}))
}

async fn ping<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let partition = db.ping().await?;
    Ok(Json(json!({"pong": partition.to_string()})))
}
