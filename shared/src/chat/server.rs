//! The chat server: one task per connection reading lines, one writing them, and the
//! connection table through which messages from any node reach a connection.
//!
//! Bad input never takes the server down: a line over [`MAX_LINE_BYTES`] or one that is not
//! UTF-8 gets a clear answer, and a client sending lines faster than [`MAX_BURST_LINES`] at
//! once, then [`MAX_LINES_PER_SECOND`] a second, is disconnected with a notice. A slow client never delays the others: what is sent
//! to a connection waits in a queue of [`QUEUE`] lines, and a client whose queue is full is
//! disconnected.

use super::protocol::{self, ChatCommand, PROMPT, WELCOME};
use crate::net::limits::Bites;
use crate::net::server::accept_until;
use crate::node::Node;
use crate::ring::NodeName;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// The node mailbox that takes lines for this node's connections.
pub const MAILBOX: &str = "chat";
/// The longest line accepted.
pub const MAX_LINE_BYTES: usize = 1024;
/// Flood control, a token bucket per connection: a burst of at most this many lines...
pub const MAX_BURST_LINES: u32 = 100;
/// ...then at most this many lines a second. A client beyond it is disconnected.
pub const MAX_LINES_PER_SECOND: u32 = 20;
/// Lines that may wait for a slow client before it is disconnected.
pub const QUEUE: usize = 256;
/// The socket's send buffer (the kernel doubles it).
const SEND_BUFFER_BYTES: usize = 32 * 1024;

/// One connection, as the application sees it.
#[derive(Debug, Clone)]
pub struct Session {
    /// Identifies the connection on its node; unique across restarts of the node.
    pub conn: u64,
    /// The node holding the connection.
    pub node: NodeName,
    pub name: Option<String>,
    pub rooms: BTreeSet<String>,
}

/// What the commands do: the application's part.
pub trait ChatHandler: Clone + Send + Sync + 'static {
    /// Runs a command and returns the lines to answer (the prompt follows them), or `None`
    /// for no answer at all (a message said comes back through the room instead).
    fn handle(
        &self,
        session: &mut Session,
        command: ChatCommand,
    ) -> impl Future<Output = Option<Vec<String>>> + Send;

    /// The connection is gone (closed by the client, or disconnected by the server).
    fn disconnected(&self, session: Session) -> impl Future<Output = ()> + Send;
}

/// A line for a connection, sent to its node's [`MAILBOX`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    pub conn: u64,
    pub line: String,
}

impl Delivery {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("a delivery always encodes")
    }
}

struct Connection {
    queue: mpsc::Sender<String>,
    kick: CancellationToken,
    /// Set when the connection is closed because it could not keep up.
    too_slow: Arc<std::sync::atomic::AtomicBool>,
}

/// The connections of this node.
#[derive(Clone, Default)]
pub struct Connections {
    table: Arc<Mutex<HashMap<u64, Connection>>>,
}

impl Connections {
    /// Queues a line (and the prompt) for a connection. A connection whose queue is full is
    /// disconnected: it cannot keep up, and must not make anyone wait.
    pub fn push(&self, conn: u64, line: &str) -> Result<(), String> {
        let table = self.table.lock().expect("connections");
        let connection = table
            .get(&conn)
            .ok_or_else(|| format!("no connection {conn} here"))?;
        match connection.queue.try_send(format!("{line}\n{PROMPT}")) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                connection.too_slow.store(true, Ordering::Relaxed);
                connection.kick.cancel();
                Err(format!("connection {conn} is too slow: disconnected"))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Err(format!("connection {conn} is closing"))
            }
        }
    }
}

/// Serves the chat on `addr` until the node stops; returns where it listens and the table of
/// connections. Lines sent to the node's [`MAILBOX`] reach the connections.
pub async fn serve<H: ChatHandler>(
    node: &Node,
    addr: SocketAddr,
    handler: H,
) -> io::Result<(SocketAddr, Connections)> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot serve the chat on {addr}: {e}")))?;
    let local = listener.local_addr()?;
    let connections = Connections::default();
    let table = connections.clone();
    node.register_mailbox(MAILBOX, move |payload| {
        let delivery: Delivery =
            postcard::from_bytes(&payload).map_err(|e| format!("bad delivery: {e}"))?;
        table.push(delivery.conn, &delivery.line)
    });
    tracing::info!(node = %node.name(), addr = %local, "chat server listening");
    let (node, table) = (node.clone(), connections.clone());
    tokio::spawn(async move {
        // Connection ids start from the time the server started, so that a restarted node
        // never reuses the id of a connection other nodes still remember.
        let ids = AtomicU64::new(crate::clock::now_ms() << 16);
        let stop = node.lifecycle().token().clone();
        let most = node.config().chat_max_connections;
        let open = Arc::new(Semaphore::new(most));
        let refused = Bites::new(Duration::from_secs(10));
        accept_until(&listener, &stop, "a chat connection", |stream, from| {
            let Ok(slot) = Arc::clone(&open).try_acquire_owned() else {
                if let Some(times) = refused.bite(crate::clock::now_ms()) {
                    tracing::warn!(
                        node = %node.name(),
                        %from,
                        "refused {times} chat connection(s): {most} are open, the most this \
                         node takes (--chat-max-connections)"
                    );
                }
                tokio::spawn(turn_away(stream));
                return;
            };
            let conn = ids.fetch_add(1, Ordering::Relaxed);
            let (node, handler, table) = (node.clone(), handler.clone(), table.clone());
            let counted = node.metrics().connection("chat");
            tokio::spawn(async move {
                run_connection(stream, conn, node, handler, table).await;
                drop((slot, counted));
            });
        })
        .await;
    });
    Ok((local, connections))
}

/// Tells a connection over the limit that the server is full, and closes it.
async fn turn_away(mut stream: TcpStream) {
    let notice = b"sorry, this chat server is full; try again later\n";
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(notice)).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
}

async fn run_connection<H: ChatHandler>(
    stream: TcpStream,
    conn: u64,
    node: Node,
    handler: H,
    table: Connections,
) {
    let _ = stream.set_nodelay(true);
    // A small kernel buffer: what waits for a slow client is mostly in its queue, which is
    // bounded, so a client that stops reading is noticed after QUEUE lines, not megabytes.
    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER_BYTES);
    let (reader, mut writer) = stream.into_split();
    let (queue, mut outgoing) = mpsc::channel::<String>(QUEUE);
    let kick = node.lifecycle().token().child_token();
    let too_slow = Arc::new(std::sync::atomic::AtomicBool::new(false));
    table.table.lock().expect("connections").insert(
        conn,
        Connection {
            queue: queue.clone(),
            kick: kick.clone(),
            too_slow: Arc::clone(&too_slow),
        },
    );
    let writing = {
        let kick = kick.clone();
        tokio::spawn(async move {
            loop {
                // Queued lines first: a connection closing normally still gets what was
                // said to it (a flood notice, say)...
                let text = tokio::select! {
                    biased;
                    text = outgoing.recv() => match text { Some(text) => text, None => break },
                    _ = kick.cancelled() => break,
                };
                // ...but a write that cannot proceed never outlives the connection.
                tokio::select! {
                    biased;
                    written = writer.write_all(text.as_bytes()) => if written.is_err() { break },
                    _ = kick.cancelled() => break,
                }
            }
            if too_slow.load(Ordering::Relaxed) {
                // Say why, if the socket still takes it; never wait long for a slow client.
                let notice = b"disconnected: you could not keep up\n";
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), writer.write_all(notice)).await;
            }
            // End our side cleanly, so the client reads everything we sent before the close.
            let _ = tokio::time::timeout(Duration::from_secs(1), writer.shutdown()).await;
        })
    };
    let mut session = Session {
        conn,
        node: node.name().clone(),
        name: None,
        rooms: BTreeSet::new(),
    };
    let _ = queue.send(format!("{WELCOME}\n{PROMPT}")).await;
    let mut reader = BufReader::new(reader);
    read_commands(&mut reader, &queue, &kick, &handler, &mut session).await;
    table.table.lock().expect("connections").remove(&conn);
    handler.disconnected(session).await;
    kick.cancel();
    let _ = writing.await;
}

/// Reads and runs commands until the client leaves, floods, or is disconnected.
async fn read_commands<H: ChatHandler>(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    queue: &mpsc::Sender<String>,
    kick: &CancellationToken,
    handler: &H,
    session: &mut Session,
) {
    let mut bucket = MAX_BURST_LINES as f64;
    let mut refilled = Instant::now();
    loop {
        let line = tokio::select! {
            _ = kick.cancelled() => return,
            line = read_line(reader) => line,
        };
        let reply = match line {
            Line::End => return,
            Line::TooLong => vec![format!(
                "sorry, that line is too long (the limit is {MAX_LINE_BYTES} bytes)"
            )],
            Line::NotUtf8 => vec!["sorry, lines must be UTF-8 text".to_string()],
            Line::Text(text) => {
                let elapsed = refilled.elapsed().as_secs_f64();
                refilled = Instant::now();
                bucket = (bucket + elapsed * f64::from(MAX_LINES_PER_SECOND))
                    .min(f64::from(MAX_BURST_LINES));
                if bucket < 1.0 {
                    let notice = format!(
                        "too many lines at once (more than {MAX_BURST_LINES}, then {MAX_LINES_PER_SECOND} a second): disconnected\n"
                    );
                    let _ = queue.send(notice).await;
                    return;
                }
                bucket -= 1.0;
                // `help` and `quit` are the same in every chat: answered here, not by the
                // application.
                match text.trim() {
                    "help" => {
                        let help = format!("{}\n{PROMPT}", protocol::HELP.join("\n"));
                        if queue.send(help).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    "quit" => {
                        let _ = queue.send(format!("{}\n", protocol::BYE)).await;
                        return;
                    }
                    _ => {}
                }
                let command = protocol::parse(&text);
                if command == ChatCommand::Empty {
                    let _ = queue.send(PROMPT.to_string()).await;
                    continue;
                }
                match handler.handle(session, command).await {
                    Some(lines) => lines,
                    None => continue,
                }
            }
        };
        let mut text = reply.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(PROMPT);
        if queue.send(text).await.is_err() {
            return;
        }
    }
}

enum Line {
    Text(String),
    TooLong,
    NotUtf8,
    End,
}

/// Reads one line of at most [`MAX_LINE_BYTES`]; the rest of a longer line is skipped.
async fn read_line(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Line {
    let mut bytes = Vec::new();
    let limit = MAX_LINE_BYTES as u64 + 1;
    match (&mut *reader)
        .take(limit)
        .read_until(b'\n', &mut bytes)
        .await
    {
        Ok(0) | Err(_) => return Line::End,
        Ok(_) => {}
    }
    if bytes.last() != Some(&b'\n') && bytes.len() as u64 == limit {
        // Skip to the end of the long line.
        let mut skipped = Vec::new();
        loop {
            skipped.clear();
            match (&mut *reader)
                .take(64 * 1024)
                .read_until(b'\n', &mut skipped)
                .await
            {
                Ok(0) | Err(_) => return Line::End,
                Ok(_) if skipped.last() == Some(&b'\n') => return Line::TooLong,
                Ok(_) => continue,
            }
        }
    }
    match String::from_utf8(bytes) {
        Ok(text) => Line::Text(text.trim_end_matches(['\n', '\r']).to_string()),
        Err(_) => Line::NotUtf8,
    }
}
