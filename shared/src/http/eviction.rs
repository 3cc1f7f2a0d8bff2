//! Eviction policies over HTTP:
//!
//! | route | what | needs |
//! |---|---|---|
//! | `PUT /eviction/{bucket}`, `PUT /eviction/{bucket}/{stream}` `{"keep_last":N,"max_bytes":X,"max_age_s":T}` (any subset) | sets the policy; 200 with it | `grant` there |
//! | `GET` the same | `{"bucket","stream","eviction":{…}}` (`{}`: none set) | `grant` there |
//! | `DELETE` the same | removes the policy (what was evicted stays evicted) | `grant` there |

use super::auth::{Place, allowed};
use super::{ApiError, json_body};
use crate::access::Permission;
use crate::store::EvictionPolicy;
use crate::streams::{Streams, StreamsVnode};
use crate::vnode::coordinator::QuorumWaiter;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;

type QueryMap = Query<HashMap<String, String>>;

/// The routes, over a stream database.
pub fn routes<Q: QuorumWaiter, V: StreamsVnode>(db: Streams<Q, V>) -> Router {
    let policy = || get(show::<Q, V>).put(set::<Q, V>).delete(clear::<Q, V>);
    Router::new()
        .route("/eviction/{bucket}", policy())
        .route("/eviction/{bucket}/{stream}", policy())
        .with_state(db)
}

async fn show<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Path(place): Path<Place>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    allowed(
        db.access(),
        &headers,
        &query,
        &place.resource(),
        Permission::Grant,
    )?;
    let (bucket, stream) = (&place.bucket, place.stream.as_deref());
    let policy = db.eviction(bucket, stream).unwrap_or_default();
    Ok(answer(bucket, stream, policy))
}

fn answer(bucket: &str, stream: Option<&str>, policy: EvictionPolicy) -> Json<Value> {
    Json(json!({"bucket": bucket, "stream": stream, "eviction": policy_json(&policy)}))
}

/// A policy as the API shows it: only the rules that are set.
fn policy_json(policy: &EvictionPolicy) -> Value {
    let mut rules = serde_json::Map::new();
    for (name, value) in [
        ("keep_last", policy.keep_last),
        ("max_bytes", policy.max_bytes),
        ("max_age_s", policy.max_age_s),
    ] {
        if let Some(value) = value {
            rules.insert(name.to_string(), value.into());
        }
    }
    Value::Object(rules)
}

async fn set<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Path(place): Path<Place>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    allowed(
        db.access(),
        &headers,
        &query,
        &place.resource(),
        Permission::Grant,
    )?;
    let policy = parse_policy(&json_body(&headers, &body)?)?;
    let (bucket, stream) = (&place.bucket, place.stream.as_deref());
    db.set_eviction(bucket, stream, Some(policy)).await?;
    Ok(answer(bucket, stream, policy))
}

async fn clear<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Path(place): Path<Place>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    allowed(
        db.access(),
        &headers,
        &query,
        &place.resource(),
        Permission::Grant,
    )?;
    let (bucket, stream) = (&place.bucket, place.stream.as_deref());
    db.set_eviction(bucket, stream, None).await?;
    Ok(answer(bucket, stream, EvictionPolicy::default()))
}

/// `{"keep_last":N,"max_bytes":X,"max_age_s":T}`, any subset (`null` leaves a rule unset);
/// anything else is a 400 that names the field.
pub fn parse_policy(body: &Value) -> Result<EvictionPolicy, ApiError> {
    let Value::Object(fields) = body else {
        return Err(ApiError::bad_request(
            "invalid-body",
            "an eviction policy is a JSON object: {\"keep_last\":N,\"max_bytes\":X,\"max_age_s\":T}",
        ));
    };
    let mut policy = EvictionPolicy::default();
    for (name, value) in fields {
        let slot = match name.as_str() {
            "keep_last" => &mut policy.keep_last,
            "max_bytes" => &mut policy.max_bytes,
            "max_age_s" => &mut policy.max_age_s,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid-field",
                    format!("unknown field '{name}' (one of keep_last, max_bytes, max_age_s)"),
                ));
            }
        };
        *slot = match value {
            Value::Null => None,
            value => Some(value.as_u64().ok_or_else(|| {
                ApiError::bad_request(
                    "invalid-field",
                    format!("field '{name}' must be a whole number, not {value}"),
                )
            })?),
        };
    }
    if policy.keep_last == Some(0) {
        return Err(ApiError::bad_request(
            "invalid-field",
            "field 'keep_last' must be at least 1 (DELETE the stream to empty it)",
        ));
    }
    Ok(policy)
}
