//! `GET /ring/events`: the ring page's one stream of updates, as server-sent events. The
//! first event is the snapshot now; then a `state` event each time the snapshot changes (an
//! idle cluster sends nothing but keep-alive comments). The stream ends when the node stops,
//! with its last chunk, as a live feed does (`feed.rs`); the browser's `EventSource` then
//! tries again every [`RETRY`], and picks up the node when it is back.
//!
//! The node makes the snapshots once for all its open pages ([`Watcher`]): while at least one
//! page is open, it looks every [`CHECK_EVERY`] (asking each member for its transfers), and
//! each page is sent what changed. So a room full of attendees with the page open costs what
//! one page does, and a node with no page open does nothing at all. The request's deadline
//! (`--http-request-timeout`) does not cut the stream: it bounds the time to the answer's
//! head, which comes at once.

use super::state::snapshot;
use crate::node::Node;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How often the node looks for a change: often enough that a handoff's progress moves
/// smoothly, seldom enough to cost nothing.
pub(super) const CHECK_EVERY: Duration = Duration::from_millis(300);
/// How long a browser waits before it reconnects.
const RETRY: Duration = Duration::from_secs(1);

/// The latest snapshot, as JSON; `None` until the first is made.
type Latest = Option<Arc<str>>;

/// The snapshots of one node, made by one task for every open page: started by the first
/// page, ended when the last one leaves (or the node stops).
#[derive(Clone)]
pub(super) struct Watcher {
    node: Node,
    /// The latest snapshot (as JSON) while the task runs; `None` before its first.
    latest: Arc<Mutex<Option<watch::Sender<Latest>>>>,
}

impl Watcher {
    pub(super) fn new(node: Node) -> Self {
        Watcher {
            node,
            latest: Arc::default(),
        }
    }

    /// The snapshots from now on, starting the task if no page had it running.
    fn watch(&self) -> watch::Receiver<Latest> {
        let mut latest = self.latest.lock().expect("never poisoned");
        if let Some(sender) = latest.as_ref().filter(|s| !s.is_closed()) {
            return sender.subscribe();
        }
        let (sender, receiver) = watch::channel(None);
        *latest = Some(sender.clone());
        let node = self.node.clone();
        self.node.spawn(async move {
            loop {
                let json = tokio::select! {
                    _ = node.stopping() => return,
                    // Every page has gone: the next one starts a task anew.
                    _ = sender.closed() => return,
                    now = snapshot(&node) => serde_json::to_string(&now).expect("a snapshot always encodes"),
                };
                sender.send_if_modified(|sent| {
                    let changed = sent.as_deref() != Some(json.as_str());
                    if changed {
                        *sent = Some(json.into());
                    }
                    changed
                });
                tokio::select! {
                    _ = node.stopping() => return,
                    _ = sender.closed() => return,
                    _ = tokio::time::sleep(CHECK_EVERY) => {}
                }
            }
        });
        receiver
    }
}

/// `GET /ring/events`.
pub(super) async fn get(State(watcher): State<Watcher>) -> Response {
    let stop = watcher.node.lifecycle().token().clone();
    let hello = Event::default().retry(RETRY).comment("the ring");
    // The current snapshot at once (once there is one), then each change.
    let first = true;
    let states = futures_util::stream::unfold(
        (watcher.watch(), first),
        move |(mut snapshots, mut first)| {
            let stop = stop.clone();
            async move {
                loop {
                    if !first {
                        tokio::select! {
                            _ = stop.cancelled() => return None,
                            changed = snapshots.changed() => changed.ok()?,
                        }
                    }
                    first = false;
                    let current = snapshots.borrow_and_update().clone();
                    if let Some(json) = current {
                        let event = Event::default().event("state").data(&*json);
                        return Some((event, (snapshots, first)));
                    }
                }
            }
        },
    );
    let events = futures_util::stream::once(async { hello })
        .chain(states)
        .map(Ok::<_, Infallible>);
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
