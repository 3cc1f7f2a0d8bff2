//! Listening to many streams on one connection (Iorio's `/listen`):
//!
//! | route | what |
//! |---|---|
//! | `GET /listen?s=bucket:stream[:from]&s=…` | server-sent events: each new entry of those streams, pushed as it lands |
//! | `GET /listen?s=…&mode=poll[&timeout=S]` | long-poll: waits up to S seconds (default 30) for new entries; 200 with them, or 204 |
//! | `GET /listen?s=…` asking to upgrade | a WebSocket: an entry per text message, and commands to subscribe and unsubscribe while connected (`listen_ws.rs`); `s=` may be left out |
//!
//! `s=bucket:*` follows every stream of a bucket, `s=*:stream` a stream name in every bucket,
//! present and future (in every mode): each stream from the first entry posted after the
//! request, as the replicas tell of it; those the caller may not read are left out. What one
//! connection follows, and how a stream found is taken in, is `subscriptions.rs`.
//!
//! Each stream is followed from `from` (its entries numbered above it), or without one from
//! now on. An event is `{"meta":{"id","t","dot","bucket","stream"},"data":…}`; its SSE `id`
//! says how far every stream of the request has been delivered (`bucket:stream:seq,…`), so a
//! browser's `EventSource`, reconnecting with `Last-Event-ID`, resumes each stream exactly
//! where it was: nothing missed, nothing twice. `retry:` tells it to reconnect after 2 s.
//!
//! Every stream needs `get` (the token may come as `?jwt=`, since `EventSource` cannot send
//! headers). Entries come from the live feed of each stream (`feed.rs`): pushed by the
//! replicas that store them, read in the stream's order.

use super::auth::{allowed, caller};
use super::iorio::entry_json;
use super::subscriptions::Subscriptions;
use super::{ApiError, Params};
use crate::access::{Permission, Resource};
use crate::store::Entry;
use crate::streams::follow::Pattern;
use crate::streams::{Nwr, Streams, StreamsVnode};
use crate::vnode::coordinator::QuorumWaiter;
use axum::Router;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{FutureExt, Stream, StreamExt};
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::time::Duration;

/// At most this many streams on one connection.
pub const MAX_STREAMS: usize = 256;
/// The longest a long-poll waits.
pub const MAX_POLL: Duration = Duration::from_secs(60);
/// What a long-poll waits without `timeout`.
const DEFAULT_POLL: Duration = Duration::from_secs(30);
/// The most entries one long-poll answer carries.
const POLL_BATCH: usize = 1000;
/// How long a browser waits before it reconnects.
const RETRY: Duration = Duration::from_secs(2);

/// The route, over a stream database.
pub fn routes<Q: QuorumWaiter, V: StreamsVnode>(db: Streams<Q, V>) -> Router {
    Router::new()
        .route("/listen", get(listen::<Q, V>))
        .with_state(db)
}

/// A stream of a listen request, and the last number delivered (0: none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Place {
    pub(super) bucket: String,
    pub(super) stream: String,
}

async fn listen<Q: QuorumWaiter, V: StreamsVnode>(
    State(db): State<Streams<Q, V>>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = websocket(upgrade, &headers)?;
    let query: HashMap<String, String> = pairs.iter().cloned().collect();
    let params = Params::parse(&query)?;
    let mut wanted: BTreeMap<Place, Option<u64>> = BTreeMap::new();
    let mut patterns: Vec<Pattern> = Vec::new();
    for (name, value) in &pairs {
        if name != "s" {
            continue;
        }
        match pattern_in(value) {
            Some(pattern) => patterns.push(pattern),
            None => {
                let (place, from) = subscription(value)?;
                wanted.insert(place, from);
            }
        }
    }
    // A WebSocket may start with no stream and subscribe later.
    if wanted.is_empty() && patterns.is_empty() && upgrade.is_none() {
        return Err(ApiError::bad_request(
            "no-streams",
            "name the streams to follow: /listen?s=bucket:stream[:from]&s=…",
        ));
    }
    if wanted.len() + patterns.len() > MAX_STREAMS {
        return Err(ApiError::bad_request(
            "too-many-streams",
            format!("at most {MAX_STREAMS} streams on one connection"),
        ));
    }
    for place in wanted.keys() {
        let resource = Resource::of(&place.bucket, Some(&place.stream));
        allowed(db.access(), &headers, &query, &resource, Permission::Get)?;
    }
    // A reconnecting browser says how far it got; that wins over the `from`s of its URL.
    if let Some(resumed) = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(parse_positions)
    {
        for (place, seq) in resumed {
            if let Some(from) = wanted.get_mut(&place) {
                *from = Some(seq);
            }
        }
    }
    let mut after = BTreeMap::new();
    for (place, from) in wanted {
        let seq = match from {
            Some(from) => from,
            None => newest(&db, &place, params.nwr).await?,
        };
        after.insert(place, seq);
    }
    // Decided once: the streams the patterns find, and a WebSocket's commands, are checked
    // for this caller.
    let caller = caller(db.access(), &headers, &query)?;
    let mut subscriptions = Subscriptions::new(&db, caller, params.nwr);
    for (place, seq) in &after {
        subscriptions.add_stream(place.clone(), *seq);
    }
    // In place on every vnode before the answer starts: an entry posted once the client has
    // it is never missed.
    for pattern in patterns {
        subscriptions.add_pattern(pattern).await;
    }
    if let Some(upgrade) = upgrade {
        return Ok(super::listen_ws::answer(upgrade, db, subscriptions));
    }
    let events = subscriptions.into_stream();
    match query.get("mode").map(String::as_str) {
        None | Some("sse") => Ok(sse(events, after)),
        Some("poll") => {
            let wait = match query.get("timeout") {
                Some(text) => Duration::from_secs(text.parse().map_err(|_| {
                    ApiError::bad_request(
                        "invalid-param",
                        format!("timeout is a number of seconds, not '{text}'"),
                    )
                })?),
                None => DEFAULT_POLL,
            };
            poll(&db, &after, events, params.nwr, wait.min(MAX_POLL)).await
        }
        Some(other) => Err(ApiError::bad_request(
            "invalid-param",
            format!("mode is sse or poll, not '{other}'"),
        )),
    }
}

/// The WebSocket upgrade, if the request asks for one; a request that asks but cannot be
/// upgraded (a bad handshake) is refused rather than answered as SSE.
fn websocket(
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    headers: &HeaderMap,
) -> Result<Option<WebSocketUpgrade>, ApiError> {
    let asked = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    match upgrade {
        Ok(upgrade) => Ok(Some(upgrade)),
        Err(refused) if asked => Err(ApiError::bad_request("bad-websocket", refused.body_text())),
        Err(_) => Ok(None),
    }
}

/// `bucket:stream` or `bucket:stream:from`.
fn subscription(text: &str) -> Result<(Place, Option<u64>), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid-param",
            format!("s={text}: a stream is bucket:stream or bucket:stream:from"),
        )
    };
    let parts: Vec<&str> = text.split(':').collect();
    let (bucket, stream, from) = match parts.as_slice() {
        [bucket, stream] => (*bucket, *stream, None),
        [bucket, stream, from] => (*bucket, *stream, Some(from.parse().map_err(|_| bad())?)),
        _ => return Err(bad()),
    };
    if bucket.is_empty() || stream.is_empty() {
        return Err(bad());
    }
    let place = Place {
        bucket: bucket.to_string(),
        stream: stream.to_string(),
    };
    Ok((place, from))
}

/// The number of a stream's newest entry (0 when it has none): following it from now on.
pub(super) async fn newest<Q: QuorumWaiter, V: StreamsVnode>(
    db: &Streams<Q, V>,
    place: &Place,
    nwr: Nwr,
) -> Result<u64, ApiError> {
    let read = db.last(&place.bucket, &place.stream, 1, nwr).await?;
    Ok(read.entries.last().map_or(0, |e| e.seq))
}

/// `bucket:*` or `*:stream` in an `s=`; `None` for a stream of its own.
fn pattern_in(text: &str) -> Option<Pattern> {
    let (bucket, stream) = text.split_once(':')?;
    if stream.contains(':') {
        return None;
    }
    pattern_of(bucket, stream)
}

/// The pattern a bucket and a stream name, `*` standing for any (not both); `None` for a
/// stream of its own.
pub(super) fn pattern_of(bucket: &str, stream: &str) -> Option<Pattern> {
    match (bucket, stream) {
        ("*", "*") => None,
        (bucket, "*") if !bucket.is_empty() => Some(Pattern {
            bucket: Some(bucket.to_string()),
            stream: None,
        }),
        ("*", stream) if !stream.is_empty() => Some(Pattern {
            bucket: None,
            stream: Some(stream.to_string()),
        }),
        _ => None,
    }
}

/// Server-sent events, each carrying in its id how far every stream has been delivered.
fn sse(
    events: impl Stream<Item = (Place, Entry)> + Send + 'static,
    mut positions: BTreeMap<Place, u64>,
) -> Response {
    let first = Event::default().retry(RETRY).comment("listening");
    let events = events.map(move |(place, entry)| {
        let json = entry_json(&entry, Some((&place.bucket, &place.stream)));
        let seq = positions.entry(place).or_default();
        *seq = (*seq).max(entry.seq);
        Ok::<_, Infallible>(
            Event::default()
                .event("entry")
                .id(show_positions(&positions))
                .data(json),
        )
    });
    let stream = futures_util::stream::once(async { Ok(first) }).chain(events);
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Answers at once what the streams hold past the positions asked; when that is nothing,
/// waits up to `wait` for entries, and answers those that came (200), or 204.
async fn poll<Q: QuorumWaiter, V: StreamsVnode>(
    db: &Streams<Q, V>,
    after: &BTreeMap<Place, u64>,
    events: impl Stream<Item = (Place, Entry)> + Send + 'static,
    nwr: Nwr,
    wait: Duration,
) -> Result<Response, ApiError> {
    let reads = after.iter().map(|(place, seq)| async move {
        let read = db
            .read(&place.bucket, &place.stream, seq + 1, POLL_BATCH, nwr)
            .await?;
        Ok::<_, crate::error::Error>(read.entries.into_iter().map(|e| (place.clone(), e)))
    });
    let mut batch: Vec<(Place, Entry)> = Vec::new();
    for read in futures_util::future::join_all(reads).await {
        batch.extend(read?);
    }
    if batch.is_empty() {
        let mut events = Box::pin(events);
        let Ok(Some(first)) = tokio::time::timeout(wait, events.next()).await else {
            return Ok(StatusCode::NO_CONTENT.into_response());
        };
        batch.push(first);
        // Whatever else is ready now goes in the same answer.
        while batch.len() < POLL_BATCH {
            match events.next().now_or_never() {
                Some(Some(event)) => batch.push(event),
                _ => break,
            }
        }
    }
    batch.truncate(POLL_BATCH);
    let items: Vec<String> = batch
        .iter()
        .map(|(place, entry)| entry_json(entry, Some((&place.bucket, &place.stream))))
        .collect();
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        format!("[{}]", items.join(",")),
    )
        .into_response())
}

/// `bucket:stream:seq,…`, the names escaped so that `:` and `,` in them read back.
fn show_positions(positions: &BTreeMap<Place, u64>) -> String {
    let items: Vec<String> = positions
        .iter()
        .map(|(place, seq)| format!("{}:{}:{seq}", escape(&place.bucket), escape(&place.stream)))
        .collect();
    items.join(",")
}

/// Reads [`show_positions`] back; what does not read is left out.
fn parse_positions(text: &str) -> Vec<(Place, u64)> {
    text.split(',')
        .filter_map(|item| {
            let mut parts = item.trim().split(':');
            let (bucket, stream, seq) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() {
                return None;
            }
            let place = Place {
                bucket: unescape(bucket)?,
                stream: unescape(stream)?,
            };
            Some((place, seq.parse().ok()?))
        })
        .collect()
}

fn escape(name: &str) -> String {
    name.replace('%', "%25")
        .replace(':', "%3A")
        .replace(',', "%2C")
        .replace('\n', "%0A")
        .replace('\r', "%0D")
}

fn unescape(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let code: String = chars.by_ref().take(2).collect();
        out.push(u8::from_str_radix(&code, 16).ok()? as char);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(bucket: &str, stream: &str) -> Place {
        Place {
            bucket: bucket.into(),
            stream: stream.into(),
        }
    }

    #[test]
    fn positions_read_back_whatever_the_names() {
        let mut positions = BTreeMap::new();
        positions.insert(place("news", "today"), 7);
        positions.insert(place("a:b", "c,d%"), 12);
        let text = show_positions(&positions);
        assert!(!text.contains('\n'));
        let back: BTreeMap<Place, u64> = parse_positions(&text).into_iter().collect();
        assert_eq!(back, positions);
        assert!(parse_positions("garbage").is_empty());
        assert_eq!(parse_positions("x:y:3,bad").len(), 1);
    }

    #[test]
    fn patterns_name_a_bucket_or_a_stream_but_not_both() {
        let bucket = |b: &str| {
            Some(Pattern {
                bucket: Some(b.into()),
                stream: None,
            })
        };
        let stream = |s: &str| {
            Some(Pattern {
                bucket: None,
                stream: Some(s.into()),
            })
        };
        assert_eq!(pattern_in("news:*"), bucket("news"));
        assert_eq!(pattern_in("*:inbox"), stream("inbox"));
        assert_eq!(pattern_of("*", "inbox"), stream("inbox"));
        for own in ["news:today", "*:*", ":*", "*:", "*:s:3", "news:*:3"] {
            assert_eq!(pattern_in(own), None, "{own}");
        }
    }

    #[test]
    fn subscriptions_name_a_stream_and_maybe_a_start() {
        assert_eq!(subscription("b:s").unwrap(), (place("b", "s"), None));
        assert_eq!(subscription("b:s:4").unwrap(), (place("b", "s"), Some(4)));
        for bad in ["b", "b:s:x", ":s", "b::1", "a:b:c:d"] {
            assert!(subscription(bad).is_err(), "{bad}");
        }
    }
}
