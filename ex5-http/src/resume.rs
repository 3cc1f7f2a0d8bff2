//! Going further: a live feed that a client can resume.
//!
//! Every event of the feed carries an `id:`, the entry's sequence number. A client that loses
//! its connection (a browser's `EventSource` does this by itself) connects again to the same
//! URL and says where it was: a `Last-Event-ID` header with the last id it received. The feed
//! then resumes after it, rather than start over from `from` or from the newest entry.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ringcore::Error;
use ringcore::http::ApiError;

/// The header a reconnecting server-sent-events client sends.
pub const LAST_EVENT_ID: &str = "last-event-id";

/// The request's `Last-Event-ID`, for a handler to take as an argument: `None` on a first
/// connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastEventId(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for LastEventId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        last_event_id(&parts.headers).map(LastEventId)
    }
}

/// Going further: the sequence number in the `Last-Event-ID` header, if the request has one
/// (README, Going further).
pub fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    // A first connection has no header: nothing to resume, and nothing to write yet.
    if !headers.contains_key(LAST_EVENT_ID) {
        return Ok(None);
    }
    Err(Error::not_implemented(
        "write last_event_id in src/resume.rs and resume listen after it (README, Going further)",
    )
    .into())
}
