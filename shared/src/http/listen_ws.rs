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
//! - Patterns, in the URL (`s=bucket:*`, `s=*:stream`) or in a command (`"stream":"*"` or
//!   `"bucket":"*"`, without `from`), follow every stream they find, present and future, as in
//!   SSE mode (`subscriptions.rs`): each from the entry it was found by, those the caller may
//!   not read left out. Unsubscribing a pattern stops the streams it found, but those also
//!   subscribed by name or found by another pattern of the connection. A stream is never
//!   followed twice: subscribing by name one that a pattern delivers already keeps it going
//!   where it is (`from` does not replay it), and keeps it when the pattern goes.
//!
//! What it guarantees:
//! - Each stream's entries come in the stream's order, each once (one live feed per stream,
//!   however many subscriptions name or find it, `feed.rs`); a reply to a command comes
//!   before any entry it caused, and after it no entry of what it unsubscribed.
//! - A subscribe is answered once it is in place: a pattern's once every vnode has said it
//!   will tell this node of new entries (the URL's, before the upgrade is answered), so an
//!   entry posted after the answer is never missed.
//! - A slow client never slows others and never grows the node's memory without bound: what
//!   goes out waits in a queue of [`QUEUE`] messages and [`QUEUE_BYTES`] bytes; a client
//!   whose queue stays full for [`STALL`] (it does not read) is dropped, and its feeds stop.
//!   Other listeners of the same streams have feeds of their own and do not notice. `/metrics` counts the dropped
//!   (`ring_slow_listeners_dropped_total`).
//! - At most [`MAX_STREAMS`] subscriptions per connection, a pattern counting as one (and at
//!   most as many streams found); a message over [`MAX_COMMAND`] bytes ends the connection
//!   (the WebSocket library refuses it with a close frame, code 1009).
//! - Pings are answered (by the library, as they are read), a client's close frame closes the
//!   connection, and the node's stop closes it with code 1001 ("going away"). The connection
//!   counts against `--http-max-connections` until it closes (`serve.rs`).

use super::iorio::entry_json;
use super::listen::{MAX_STREAMS, Place, newest, pattern_of};
use super::subscriptions::Subscriptions;
use crate::streams::follow::Pattern;
use crate::streams::{Streams, StreamsVnode};
use crate::vnode::coordinator::QuorumWaiter;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// The messages waiting to go out to one client.
pub const QUEUE: usize = 256;
/// And their bytes: entries may be large (up to a post's limit, 1 MiB), and what a client
/// that does not read holds of the node's memory is this, and one message more.
pub const QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// How long a client's queue may stay full before the client is dropped.
pub const STALL: Duration = Duration::from_secs(5);
/// The largest message a client may send (a command is a few hundred bytes).
pub const MAX_COMMAND: usize = 64 * 1024;
/// How long the last messages and the close frame may take to go out at the end.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The answer to an upgrade request: 101, then the connection, following the URL's
/// `subscriptions` at first.
pub(super) fn answer<Q: QuorumWaiter, V: StreamsVnode>(
    upgrade: WebSocketUpgrade,
    db: Streams<Q, V>,
    subscriptions: Subscriptions<Q, V>,
) -> Response {
    upgrade
        .max_message_size(MAX_COMMAND)
        .max_frame_size(MAX_COMMAND)
        .on_upgrade(move |socket| run(socket, db, subscriptions))
}

/// One connection, from the upgrade to its end.
struct Connection<Q: QuorumWaiter, V: StreamsVnode> {
    db: Streams<Q, V>,
    subscriptions: Subscriptions<Q, V>,
    /// The queue to the writer task: each message with its share of [`QUEUE_BYTES`], given
    /// back once it is written.
    out: mpsc::Sender<Queued>,
    room: Arc<Semaphore>,
    stop: CancellationToken,
}

/// A message waiting to go out, with the bytes of the queue it takes.
type Queued = (Message, Option<OwnedSemaphorePermit>);

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
    subscriptions: Subscriptions<Q, V>,
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
        subscriptions,
        out,
        room: Arc::new(Semaphore::new(QUEUE_BYTES)),
        stop: stop.clone(),
    };
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
            Some((place, entry)) = connection.subscriptions.next() => {
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
        let _ = connection.out.try_send((Message::Close(Some(close)), None));
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
async fn write(mut sink: SplitSink<WebSocket, Message>, mut queue: mpsc::Receiver<Queued>) {
    while let Some((message, room)) = queue.recv().await {
        if sink.send(message).await.is_err() {
            return;
        }
        drop(room);
    }
    let _ = sink.close().await;
}

/// The bytes a message takes in the queue.
fn message_bytes(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.len(),
        Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes) => bytes.len(),
        Message::Close(_) => 0,
    }
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
    /// Queues a message; false when the client is gone, or its queue stayed full (of
    /// [`QUEUE`] messages or [`QUEUE_BYTES`] bytes) for [`STALL`] (it does not read).
    async fn send(&mut self, message: Message) -> bool {
        // A message larger than the whole queue waits for it to be empty.
        let bytes = message_bytes(&message).clamp(1, QUEUE_BYTES) as u32;
        let mut message = Some(message);
        if let Ok(room) = Arc::clone(&self.room).try_acquire_many_owned(bytes) {
            let queued = (message.take().expect("not sent yet"), Some(room));
            match self.out.try_send(queued) {
                Ok(()) => return true,
                Err(TrySendError::Closed(_)) => return false,
                // Its room is given back: taken again below, in turn.
                Err(TrySendError::Full((back, _))) => message = Some(back),
            }
        }
        let message = message.expect("not sent yet");
        let queued = async {
            let room = Arc::clone(&self.room)
                .acquire_many_owned(bytes)
                .await
                .ok()?;
            self.out.send((message, Some(room))).await.ok()
        };
        tokio::select! {
            sent = queued => sent.is_some(),
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
        let target = target_of(command)?;
        let subscribed = match &target {
            Target::Stream(place) => self.subscriptions.names(place),
            Target::Pattern(pattern) => self.subscriptions.follows_pattern(pattern),
        };
        if subscribed {
            return Err("already subscribed".into());
        }
        if self.subscriptions.len() >= MAX_STREAMS {
            return Err(format!("at most {MAX_STREAMS} streams on one connection"));
        }
        match target {
            Target::Pattern(_) if command.from.is_some() => {
                Err("a pattern follows from now on: no from".into())
            }
            Target::Pattern(pattern) => {
                self.subscriptions.add_pattern(pattern).await;
                Ok(())
            }
            Target::Stream(place) => {
                if !self.subscriptions.may_read(&place) {
                    return Err("no permission".into());
                }
                let seq = match command.from {
                    Some(from) => from,
                    None => newest(&self.db, &place, self.subscriptions.nwr())
                        .await
                        .map_err(|e| e.reason)?,
                };
                self.subscriptions.add_stream(place, seq);
                Ok(())
            }
        }
    }

    fn unsubscribe(&mut self, command: &Command) -> Result<(), String> {
        let removed = match target_of(command)? {
            Target::Stream(place) => self.subscriptions.remove_stream(&place),
            Target::Pattern(pattern) => self.subscriptions.remove_pattern(&pattern),
        };
        if removed {
            Ok(())
        } else {
            Err("not subscribed".into())
        }
    }
}

/// What a command names: a stream, or a pattern (`*` for the bucket or the stream).
enum Target {
    Stream(Place),
    Pattern(Pattern),
}

fn target_of(command: &Command) -> Result<Target, String> {
    let place = place_of(command)?;
    Ok(match pattern_of(&place.bucket, &place.stream) {
        Some(pattern) => Target::Pattern(pattern),
        None => Target::Stream(place),
    })
}

/// The bucket and stream a command names; an empty name is a missing one.
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
