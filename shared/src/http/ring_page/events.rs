//! `GET /ring/events`: the ring page's one stream of updates, as server-sent events. The
//! first event is the snapshot now; then the node looks again every [`CHECK_EVERY`] and sends
//! a `state` event only when the snapshot changed (an idle cluster sends nothing but
//! keep-alive comments). The stream ends when the node stops, with its last chunk, as a live
//! feed does (`feed.rs`); the browser's `EventSource` then tries again every [`RETRY`], and
//! picks up the node when it is back.
//!
//! Each page's stream makes its own snapshots: a handful of pages on a workshop's cluster cost
//! a few small requests a second between nodes (the transfers of each member), and a node
//! with no page open does nothing at all. The request's deadline (`--http-request-timeout`)
//! does not cut the stream: it bounds the time to the answer's head, which comes at once.

use super::state::snapshot;
use crate::node::Node;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::convert::Infallible;
use std::time::Duration;

/// How often the node looks for a change: often enough that a handoff's progress moves
/// smoothly, seldom enough to cost nothing.
pub(super) const CHECK_EVERY: Duration = Duration::from_millis(300);
/// How long a browser waits before it reconnects.
const RETRY: Duration = Duration::from_secs(1);

/// `GET /ring/events`.
pub(super) async fn get(State(node): State<Node>) -> Response {
    let stop = node.lifecycle().token().clone();
    let hello = Event::default().retry(RETRY).comment("the ring");
    // (the node, the JSON sent last): a snapshot equal to it is not sent again.
    let states = futures_util::stream::unfold((node, None::<String>), move |(node, sent)| {
        let stop = stop.clone();
        async move {
            loop {
                // The first snapshot at once; every later one a pause after the one before.
                if sent.is_some() {
                    tokio::select! {
                        _ = stop.cancelled() => return None,
                        _ = tokio::time::sleep(CHECK_EVERY) => {}
                    }
                }
                let now = tokio::select! {
                    _ = stop.cancelled() => return None,
                    now = snapshot(&node) => now,
                };
                let json = serde_json::to_string(&now).expect("a snapshot always encodes");
                if sent.as_deref() != Some(json.as_str()) {
                    let event = Event::default().event("state").data(&json);
                    return Some((event, (node, Some(json))));
                }
            }
        }
    });
    let events = futures_util::stream::once(async { hello })
        .chain(states)
        .map(Ok::<_, Infallible>);
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
