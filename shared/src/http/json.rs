//! The API's JSON: entries as flaviodb shows them, request bodies, query parameters.

use super::ApiError;
use crate::store::Entry;
use crate::streams::Nwr;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use std::collections::HashMap;

/// flaviodb's "no location" value for `lat` and `lng`.
const NO_LOCATION: i64 = 9001;

/// The largest `limit` a read accepts; a larger one is capped to it.
pub const MAX_LIMIT: usize = 1000;

/// An entry as flaviodb's API shows it, with its identity added at the end:
/// `{"id":1,"lat":9001,"lng":9001,"date":1417081176410,"ref":0,"type":0,"msg":"hello world","dot":"3f2a9c1b5e7d0a11.17"}`.
///
/// `id` is the entry's sequence number; two entries written at once during a failure may share
/// one, and `dot` (who appended it: the replica's actor, then its counter) tells them apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryJson {
    pub id: u64,
    pub lat: i64,
    pub lng: i64,
    /// Milliseconds since the epoch.
    pub date: u64,
    #[serde(rename = "ref")]
    pub reference: u64,
    #[serde(rename = "type")]
    pub kind: u64,
    pub msg: String,
    pub dot: String,
}

impl From<&Entry> for EntryJson {
    fn from(entry: &Entry) -> Self {
        EntryJson {
            id: entry.seq,
            lat: NO_LOCATION,
            lng: NO_LOCATION,
            date: entry.ts_ms,
            reference: 0,
            kind: 0,
            msg: String::from_utf8_lossy(&entry.payload).into_owned(),
            dot: entry.dot.to_string(),
        }
    }
}

/// Checks the content type and parses a JSON body: 415 if it is not declared JSON, 400
/// `invalid-body` if it does not parse.
pub fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("the body must be JSON (Content-Type: application/json), not '{content_type}'"),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request("invalid-body", format!("the body is not valid JSON: {e}"))
    })
}

/// The string `msg` of a flaviodb post body, or 400 `no-msg`.
pub fn msg_of(body: &serde_json::Value) -> Result<String, ApiError> {
    body.get("msg")
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad_request("no-msg", "the body needs a string field \"msg\""))
}

/// The query parameters every route understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub nwr: Nwr,
    pub from: Option<u64>,
    pub limit: Option<usize>,
}

impl Params {
    /// Reads `n`, `w`, `r`, `from` and `limit`; a malformed value is a 400 that names it.
    pub fn parse(query: &HashMap<String, String>) -> Result<Params, ApiError> {
        let number = |name: &str| -> Result<Option<u64>, ApiError> {
            query
                .get(name)
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        ApiError::bad_request(
                            "invalid-param",
                            format!("{name} must be a whole number, not '{v}'"),
                        )
                    })
                })
                .transpose()
        };
        let setting = |name| -> Result<Option<usize>, ApiError> {
            Ok(number(name)?.map(|v| usize::try_from(v).unwrap_or(usize::MAX)))
        };
        // The same rules as on the console.
        let nwr = Nwr::given(setting("n")?, setting("w")?, setting("r")?)
            .map_err(|e| ApiError::bad_request("invalid-param", e.to_string()))?;
        Ok(Params {
            nwr,
            from: number("from")?,
            limit: number("limit")?.map(|l| (l as usize).min(MAX_LIMIT)),
        })
    }
}
