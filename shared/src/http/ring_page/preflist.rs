//! `GET /ring/preflist?bucket=B&key=K[&n=3]`: where a key lives, as this node computes it for
//! a request now — the lesson of exercises 1 and 3 in a picture. The key's hash
//! ([`chash_key`] of bucket and key, as the exercises and the stream database hash them), the
//! partition it belongs to, and its preference list ([`apl::apl`], what the coordinators
//! send to): the `n` partitions that follow the hash, each on its owner, or on a fallback
//! standing in for an owner that is down.
//!
//! For example
//!
//! ```json
//! {"bucket": "ring", "key": "alice", "n": 3,
//!  "hash": "1149928294594827095597936144304894420600901156047", "position": 0.7868,
//!  "partition": 51, "partition_id": "1164634117248063262943561351070788031288321245184",
//!  "preflist": [{"partition": 51, "node": "dev4@127.0.0.1", "replica": "primary"},
//!               {"partition": 52, "node": "dev1@127.0.0.1", "replica": "primary"},
//!               {"partition": 53, "node": "dev2@127.0.0.1", "replica": "primary"}],
//!  "primaries": [{"partition": 51, "node": "dev4@127.0.0.1", "up": true}, …]}
//! ```
//!
//! is what the four nodes of exercise 0 answer. `position` is where the hash sits on the
//! ring, from 0 to 1 clockwise from partition 0's start; `primaries` is the ring's own list,
//! before liveness is taken into account. With every owner up, the preference list is the
//! primaries; with an owner down, its partition is on another node, `"replica": "fallback"`.

use crate::http::ApiError;
use crate::node::Node;
use crate::ring::apl;
use crate::ring::hash::chash_key;
use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The `n` of a key's replicas unless the query says otherwise: the stream database's.
const DEFAULT_N: usize = 3;

/// `GET /ring/preflist`.
pub(super) async fn get(
    State(node): State<Node>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let field = |name: &str| {
        query.get(name).ok_or_else(|| {
            ApiError::bad_request(
                "missing-param",
                format!("name the key: /ring/preflist?bucket=B&key=K (no {name} given)"),
            )
        })
    };
    let (bucket, key) = (field("bucket")?, field("key")?);
    let ring = node.ring();
    let n = match query.get("n") {
        None => DEFAULT_N,
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=ring.size() as usize).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid-param",
                    format!("n must be a number from 1 to {}", ring.size()),
                )
            })?,
    };
    let hash = chash_key(bucket.as_bytes(), key.as_bytes());
    let partition = ring.partition_for(&hash);
    let preflist: Vec<Value> = apl::apl(&ring, &hash, n, |name| node.is_up(name))
        .iter()
        .map(|entry| {
            json!({
                "partition": entry.target.partition.index(),
                "node": entry.target.node.as_str(),
                "replica": entry.replica.to_string(),
            })
        })
        .collect();
    let primaries: Vec<Value> = ring
        .preflist(&hash, n)
        .iter()
        .map(|target| {
            json!({
                "partition": target.partition.index(),
                "node": target.node.as_str(),
                "up": node.is_up(&target.node),
            })
        })
        .collect();
    Ok(Json(json!({
        "bucket": bucket,
        "key": key,
        "n": n,
        "hash": hash.to_string(),
        "position": f64::from(hash.top_bits(32)) / 2f64.powi(32),
        "partition": partition.index(),
        "partition_id": partition.id(),
        "preflist": preflist,
        "primaries": primaries,
    })))
}
