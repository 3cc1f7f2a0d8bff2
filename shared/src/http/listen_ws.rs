//! `GET /listen` over a WebSocket (Iorio's protocol): the request that asks to upgrade gets
//! the entries of its streams as text messages, and may subscribe and unsubscribe while
//! connected.
//!
//! - Server to client, one text message per entry, the JSON an SSE event carries:
//!   `{"meta":{"id","t","dot","bucket","stream"},"data":…}`.
//! - Client to server, JSON commands: `{"cmd":"subscribe","bucket":…,"stream":…,"from":N,"id":n}`
//!   (`from` left out: from now on) and `{"cmd":"unsubscribe","bucket":…,"stream":…,"id":n}`,
//!   answered `{"ok":true,"id":n,"type":"subscribe"|"unsubscribe"}` or
//!   `{"ok":false,"id":n,"reason":…}`. A subscribe needs `get` on the stream for the caller
//!   the connection was opened by (decided once, at the upgrade); the `s=` streams of the URL
//!   are checked before upgrading, and refused with a 401 as in SSE mode.
//!
//! What it guarantees:
//! - Each stream's entries come in the stream's order, each once (one live feed per
//!   subscription, `feed.rs`); a reply to a command comes before any entry it caused.
//! - A slow client never slows others and never grows the node's memory without bound: what
//!   goes out waits in a queue of [`QUEUE`] messages; a client whose queue stays full for
//!   [`STALL`] (it does not read) is dropped, and its feeds stop. Other listeners of the same
//!   streams have feeds of their own and do not notice. `/metrics` counts the dropped
//!   (`ring_slow_listeners_dropped_total`).
//! - At most [`MAX_STREAMS`] subscriptions per connection; a message over [`MAX_COMMAND`] bytes
//!   ends the connection (the WebSocket library refuses it with a close frame, code 1009).
//! - Pings are answered (by the library, as they are read), a client's close frame closes the
//!   connection, and the node's stop closes it with code 1001 ("going away").

use super::iorio::entry_json;
use super::listen::{MAX_STREAMS, Place, feed, newest};
use crate::access::{Caller, Permission, Resource};
use crate::store::Entry;
use crate::streams::{Nwr, Streams, StreamsVnode};
use crate::vnode::coordinator::QuorumWaiter;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use futures_util::stream::{BoxStream, SelectAll, SplitSink};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;

/// The messages waiting to go out to one client.
pub const QUEUE: usize = 256;
/// How long a client's queue may stay full before the client is dropped.
pub const STALL: Duration = Duration::from_secs(5);
/// The largest message a client may send (a command is a few hundred bytes).
pub const MAX_COMMAND: usize = 64 * 1024;
/// How long the last messages and the close frame may take to go out at the end.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The answer to an upgrade request: 101, then the connection, following `after` at first.
pub(super) fn answer<Q: QuorumWaiter, V: StreamsVnode>(
    upgrade: WebSocketUpgrade,
    db: Streams<Q, V>,
    caller: Caller,
    after: BTreeMap<Place, u64>,
    nwr: Nwr,
) -> Response {
    upgrade
        .max_message_size(MAX_COMMAND)
        .max_frame_size(MAX_COMMAND)
        .on_upgrade(move |socket| run(socket, db, caller, after, nwr))
}

/// One connection, from the upgrade to its end.
struct Connection<Q: QuorumWaiter, V: StreamsVnode> {
    db: Streams<Q, V>,
    caller: Caller,
    nwr: Nwr,
    /// The streams subscribed to, each with the switch that ends its feed.
    subscribed: BTreeMap<Place, CancellationToken>,
    /// Every subscription's feed; one switched off ends at its next poll, and leaves.
    feeds: SelectAll<BoxStream<'static, (Place, Entry)>>,
    /// The queue to the writer task.
    out: mpsc::Sender<Message>,
    stop: CancellationToken,
}

/// Why a connection ended.
#[derive(Debug, PartialEq)]
enum End {
    /// The client closed it, or it broke.
    Gone,
    /// The client did not read: its queue stayed full.
    Slow,
    /// The node is stopping.
    Stopping,
}

async fn run<Q: QuorumWaiter, V: StreamsVnode>(
    socket: WebSocket,
    db: Streams<Q, V>,
    caller: Caller,
    after: BTreeMap<Place, u64>,
    nwr: Nwr,
) {
    let (sink, mut incoming) = socket.split();
    let (out, queue) = mpsc::channel(QUEUE);
    // The writer alone waits on the client's socket, so that commands are read, and feeds
    // polled, however slowly the client reads.
    let mut writer = tokio::spawn(write(sink, queue));
    let node = db.vnodes().node().clone();
    let stop = node.lifecycle().token().clone();
    let mut connection = Connection {
        db,
        caller,
        nwr,
        subscribed: BTreeMap::new(),
        feeds: SelectAll::new(),
        out,
        stop: stop.clone(),
    };
    for (place, seq) in after {
        connection.add(place, seq);
    }
    let end = loop {
        let sent = tokio::select! {
            _ = stop.cancelled() => break End::Stopping,
            message = incoming.next() => match message {
                Some(Ok(Message::Text(text))) => connection.reply(text.as_bytes()).await,
                Some(Ok(Message::Binary(bytes))) => connection.reply(&bytes).await,
                // Pings are answered by the library as they are read; pongs need nothing.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => true,
                Some(Ok(Message::Close(_)) | Err(_)) | None => break End::Gone,
            },
            Some((place, entry)) = connection.feeds.next(), if !connection.feeds.is_empty() => {
                let json = entry_json(&entry, Some((&place.bucket, &place.stream)));
                connection.send(Message::text(json)).await
            }
        };
        if !sent {
            break End::Slow;
        }
    };
    if end == End::Stopping {
        let close = CloseFrame {
            code: close_code::AWAY,
            reason: "the node is stopping".into(),
        };
        let _ = connection.out.try_send(Message::Close(Some(close)));
    }
    // Dropping the connection ends its feeds (and this node's follow of their streams) and
    // the writer's queue: the writer sends what is queued, then closes.
    drop(connection);
    if end == End::Slow {
        tracing::info!("dropped a WebSocket listener that did not read for {STALL:?}");
        node.metrics().slow_listeners_dropped.inc();
        writer.abort();
    } else if tokio::time::timeout(CLOSE_WAIT, &mut writer).await.is_err() {
        writer.abort();
    }
}

/// Sends what is queued, in order, until the queue ends or the client is gone.
async fn write(mut sink: SplitSink<WebSocket, Message>, mut queue: mpsc::Receiver<Message>) {
    while let Some(message) = queue.recv().await {
        if sink.send(message).await.is_err() {
            return;
        }
    }
    let _ = sink.close().await;
}

/// A client's command, as sent; what is missing is checked by [`Connection::command`].
#[derive(Deserialize)]
struct Command {
    cmd: Option<String>,
    bucket: Option<String>,
    stream: Option<String>,
    from: Option<u64>,
}

impl<Q: QuorumWaiter, V: StreamsVnode> Connection<Q, V> {
    /// Queues a message; false when the client is gone, or its queue stayed full for
    /// [`STALL`] (it does not read).
    async fn send(&mut self, message: Message) -> bool {
        let message = match self.out.try_send(message) {
            Ok(()) => return true,
            Err(TrySendError::Closed(_)) => return false,
            Err(TrySendError::Full(message)) => message,
        };
        tokio::select! {
            sent = self.out.send(message) => sent.is_ok(),
            _ = tokio::time::sleep(STALL) => false,
            _ = self.stop.cancelled() => false,
        }
    }

    /// Carries out a command and queues its answer.
    async fn reply(&mut self, text: &[u8]) -> bool {
        let answer = self.command(text).await;
        self.send(Message::text(answer.to_string())).await
    }

    /// Carries out a command; its answer.
    async fn command(&mut self, text: &[u8]) -> Value {
        let Ok(value) = serde_json::from_slice::<Value>(text) else {
            return refused(Value::Null, "bad json");
        };
        let id = value.get("id").cloned().unwrap_or(Value::Null);
        // An array would read as a command too (serde takes fields in order): not one.
        let command = match Command::deserialize(&value) {
            Ok(command) if value.is_object() => command,
            _ => return refused(id, "bad json"),
        };
        let done = match command.cmd.as_deref() {
            Some("subscribe") => self.subscribe(&command).await.map(|()| "subscribe"),
            Some("unsubscribe") => self.unsubscribe(&command).map(|()| "unsubscribe"),
            _ => Err("unknown command".to_string()),
        };
        match done {
            Ok(kind) => json!({"ok": true, "id": id, "type": kind}),
            Err(reason) => refused(id, &reason),
        }
    }

    async fn subscribe(&mut self, command: &Command) -> Result<(), String> {
        let place = place_of(command)?;
        if self.subscribed.contains_key(&place) {
            return Err("already subscribed".into());
        }
        if self.subscribed.len() >= MAX_STREAMS {
            return Err(format!("at most {MAX_STREAMS} streams on one connection"));
        }
        let resource = Resource::of(&place.bucket, Some(&place.stream));
        let access = self.db.access();
        if access
            .check(&self.caller, &resource, Permission::Get)
            .is_err()
        {
            return Err("no permission".into());
        }
        let seq = match command.from {
            Some(from) => from,
            None => newest(&self.db, &place, self.nwr)
                .await
                .map_err(|e| e.reason)?,
        };
        self.add(place, seq);
        Ok(())
    }

    fn unsubscribe(&mut self, command: &Command) -> Result<(), String> {
        let place = place_of(command)?;
        let Some(switch) = self.subscribed.remove(&place) else {
            return Err("not subscribed".into());
        };
        switch.cancel();
        Ok(())
    }

    /// Follows `place` from after `seq`.
    fn add(&mut self, place: Place, seq: u64) {
        let switch = CancellationToken::new();
        let entries = feed(&self.db, place.clone(), seq, self.nwr)
            .take_until(switch.clone().cancelled_owned());
        self.feeds.push(entries.boxed());
        self.subscribed.insert(place, switch);
    }
}

/// The stream a command names; an empty name is a missing one.
fn place_of(command: &Command) -> Result<Place, String> {
    let named = |name: &Option<String>| name.clone().filter(|n| !n.is_empty());
    match (named(&command.bucket), named(&command.stream)) {
        (Some(bucket), Some(stream)) => Ok(Place { bucket, stream }),
        (None, None) => Err("missing bucket and stream".into()),
        (None, Some(_)) => Err("missing bucket".into()),
        (Some(_), None) => Err("missing stream".into()),
    }
}

fn refused(id: Value, reason: &str) -> Value {
    json!({"ok": false, "id": id, "reason": reason})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(text: &str) -> Command {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_command_names_a_bucket_and_a_stream() {
        let place = place_of(&command(r#"{"bucket":"b","stream":"s"}"#)).unwrap();
        assert_eq!((place.bucket.as_str(), place.stream.as_str()), ("b", "s"));
        for (text, reason) in [
            (r#"{}"#, "missing bucket and stream"),
            (r#"{"stream":"s"}"#, "missing bucket"),
            (r#"{"bucket":"","stream":"s"}"#, "missing bucket"),
            (r#"{"bucket":"b"}"#, "missing stream"),
        ] {
            assert_eq!(place_of(&command(text)).unwrap_err(), reason, "{text}");
        }
    }
}
