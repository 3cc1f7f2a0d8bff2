//! The routes of the stream database's HTTP API (see the module docs of [`crate::http`]).

use super::auth::{allowed, open_to};
use super::feed::entries_after;
use super::hooks::{PostHooks, Posted};
use super::{ApiError, EntryJson, Params, json_body, msg_of};
use crate::access::{Permission, Resource};
use crate::streams::commands::KV_BUCKET;
use crate::streams::service::is_system_bucket;
use crate::streams::{Streams, StreamsVnode};
use crate::vnode::coordinator::QuorumWaiter;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use futures_util::StreamExt;
use serde_json::json;
use std::collections::HashMap;
use std::convert::Infallible;

type QueryMap = Query<HashMap<String, String>>;

/// The whole API over a stream database: flaviodb's and the workshop's routes here, Iorio's
/// (`iorio.rs`), users, sessions and grants (`access.rs`), eviction policies (`eviction.rs`).
pub fn router<Q: QuorumWaiter, V: StreamsVnode>(db: Streams<Q, V>) -> Router {
    router_with(db, PostHooks::default())
}

/// The API as [`router`] makes it, with `hooks` run for the posts it stores (`hooks.rs`).
pub fn router_with<Q: QuorumWaiter, V: StreamsVnode>(
    db: Streams<Q, V>,
    hooks: PostHooks,
) -> Router {
    let node = db.vnodes().node().clone();
    Router::new()
        .route("/msgs", get(list_users::<Q, V>))
        .route("/msgs/{user}", get(list_topics::<Q, V>))
        .route(
            "/msgs/{user}/{topic}",
            get(read_msgs::<Q, V>).post(post_msg::<Q, V>),
        )
        .route("/msgs/{user}/{topic}/listen", get(listen::<Q, V>))
        .route("/api/store/{key}", get(fetch::<Q, V>).put(store::<Q, V>))
        .route("/stats", get(stats::<Q, V>))
        .route("/health", get(health::<Q, V>))
        .with_state(db.clone())
        .merge(super::iorio::routes(db.clone()))
        .merge(super::eviction::routes(db.clone()))
        .merge(super::listen::routes(db))
        .merge(super::access::routes(&node))
        .layer(Extension(hooks))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn post_msg<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Path((user, topic)): Path<(String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
    Extension(hooks): Extension<PostHooks>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let resource = Resource::of(&user, Some(&topic));
    let caller = allowed(db.access(), &headers, &query, &resource, Permission::Put)?;
    let params = Params::parse(&query)?;
    let msg = msg_of(&json_body(&headers, &body)?)?;
    let written = db
        .post(&user, &topic, msg.clone().into_bytes(), params.nwr)
        .await?;
    hooks
        .posted(Posted {
            bucket: user,
            stream: topic,
            seq: written.entry.seq,
            text: msg,
            by: caller.name,
        })
        .await;
    Ok((StatusCode::CREATED, Json(EntryJson::from(&written.entry))).into_response())
}

async fn read_msgs<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Path((user, topic)): Path<(String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let resource = Resource::of(&user, Some(&topic));
    allowed(db.access(), &headers, &query, &resource, Permission::Get)?;
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
    let entries: Vec<EntryJson> = read.entries.iter().map(EntryJson::from).collect();
    let mut response = Json(entries).into_response();
    if read.concurrent > 0 {
        // Writes that drew the same number during a failure, both kept: said in a header so
        // that the body stays flaviodb's list.
        response
            .headers_mut()
            .insert("x-concurrent-entries", read.concurrent.into());
    }
    Ok(response)
}

async fn listen<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Path((user, topic)): Path<(String, String)>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let resource = Resource::of(&user, Some(&topic));
    allowed(db.access(), &headers, &query, &resource, Permission::Get)?;
    let params = Params::parse(&query)?;
    // Without `from`, only entries posted from now on.
    let after = match params.from {
        Some(from) => from,
        None => db
            .last(&user, &topic, 1, params.nwr)
            .await?
            .entries
            .last()
            .map_or(0, |e| e.seq),
    };
    // The id is the highest number delivered, so that a browser resuming with it misses
    // nothing: a late entry (`feed.rs`) comes below it.
    let mut highest = after;
    let events = entries_after(db, user, topic, after, params.nwr).map(move |entry| {
        highest = highest.max(entry.seq);
        let event = Event::default()
            .id(highest.to_string())
            .event("entry")
            .json_data(EntryJson::from(&entry))
            .expect("an entry always encodes");
        Ok::<_, Infallible>(event)
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn list_topics<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Path(user): Path<String>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let resource = Resource::of(&user, None);
    allowed(db.access(), &headers, &query, &resource, Permission::List)?;
    let params = Params::parse(&query)?;
    Ok(listing(db.list_streams(&user, params.nwr).await?))
}

/// The users (buckets) the caller may list, the system's left out.
async fn list_users<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = open_to(db.access(), &headers, &query)?;
    let params = Params::parse(&query)?;
    let mut buckets = db.list_buckets(params.nwr).await?;
    buckets.names.retain(|bucket| {
        !is_system_bucket(bucket)
            && db
                .access()
                .allows(&caller, &Resource::of(bucket, None), Permission::List)
    });
    Ok(listing(buckets))
}

/// A listing; a partial one says so in a header rather than pretending to be complete.
fn listing(listing: crate::streams::Listing) -> Response {
    let mut response = Json(listing.names).into_response();
    if let Some(note) = listing.partial.and_then(|n| n.parse().ok()) {
        response.headers_mut().insert("x-partial-result", note);
    }
    response
}

async fn store<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Path(key): Path<String>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let resource = Resource::of(KV_BUCKET, Some(&key));
    allowed(db.access(), &headers, &query, &resource, Permission::Put)?;
    let params = Params::parse(&query)?;
    let value = json_body(&headers, &body)?;
    let payload = serde_json::to_vec(&value).expect("a JSON value always encodes");
    let written = db.post(KV_BUCKET, &key, payload, params.nwr).await?;
    let answer = json!({"key": key, "id": written.entry.seq, "date": written.entry.ts_ms});
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn fetch<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Path(key): Path<String>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let resource = Resource::of(KV_BUCKET, Some(&key));
    allowed(db.access(), &headers, &query, &resource, Permission::Get)?;
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

async fn stats<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    open_to(db.access(), &headers, &query)?;
    let stats = db.stats().await?;
    let vnodes: Vec<serde_json::Value> = stats
        .iter()
        .map(|(vnode, s)| {
            json!({"partition": vnode.partition.id(), "node": vnode.node.as_str(),
                   "writes": s.writes, "reads": s.reads, "streams": s.streams, "entries": s.entries,
                   "evicted_entries": s.evicted_entries, "evicted_bytes": s.evicted_bytes})
        })
        .collect();
    let sum =
        |f: fn(&crate::streams::VnodeStats) -> u64| stats.iter().map(|(_, s)| f(s)).sum::<u64>();
    Ok(Json(json!({
        "vnodes": vnodes,
        "total": {"writes": sum(|s| s.writes), "reads": sum(|s| s.reads), "entries": sum(|s| s.entries),
                  "evicted_entries": sum(|s| s.evicted_entries), "evicted_bytes": sum(|s| s.evicted_bytes)},
    })))
}

async fn health<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    open_to(db.access(), &headers, &query)?;
    let node = db.vnodes().node();
    let ring = node.ring();
    let down: Vec<String> = node.down_nodes().iter().map(|n| n.to_string()).collect();
    Ok(Json(json!({
        "status": "ok",
        "node": node.name().as_str(),
        "ring_version": ring.version(),
        "members": ring.members().keys().map(|m| m.as_str()).collect::<Vec<_>>(),
        "down": down,
    })))
}

pub(super) async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
