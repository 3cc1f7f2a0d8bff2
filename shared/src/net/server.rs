//! The node's listening side: accepts connections from other nodes and from command-line
//! tools, checks their handshake, and answers their requests.
//!
//! Nothing a caller sends is acted on before it has proved that it knows the cluster's cookie
//! (the handshake of [`wire`]): not a request, and not even the address a calling node says it
//! listens on. A caller without the cookie is refused, with a `WARN` line that says so.
//!
//! Bad input closes only the connection it came on, with a logged reason: a frame longer than
//! [`wire::MAX_FRAME_BYTES`], bytes that do not decode, or a handshake that does not match.
//! The node goes on serving everyone else. What one connection may hold (requests in flight,
//! answers not read, time idle) and how many may be open are bounded: see [`super::limits`].

use crate::error::Error;
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::net::cookie::{self, Cookie, Nonce, Nonces, Side};
use crate::net::limits::{Bites, Limits};
use crate::net::transport::{Transport, Warned, Wire};
use crate::net::wire::{self, Frame, Hello, PeerAddr, Proof, Request, Response, Welcome};
use crate::ring::NodeName;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::timeout;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;

/// How long a stopping node waits for a caller to take an answer.
const STOPPING_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a new connection may take to say hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// How a node answers a request that arrived over the wire.
pub(crate) type Answer =
    Arc<dyn Fn(Request) -> BoxFuture<'static, Result<Response, Error>> + Send + Sync>;

/// What the listener needs of its node.
#[derive(Clone)]
pub(crate) struct Listener {
    /// The node's name, which a caller must not have.
    pub me: NodeName,
    /// The node's ring size, which a calling node must share.
    pub ring_size: u32,
    /// The cluster's secret, which every caller must prove it knows.
    pub cookie: Cookie,
    /// Calling nodes refused for their cookie, and logged for it.
    pub wrong_cookie: Arc<Warned>,
    /// Learns the address of each node that calls.
    pub transport: Arc<Transport>,
    /// Where the connections run, and when to stop.
    pub lifecycle: Lifecycle,
    pub answer: Answer,
    pub limits: Limits,
    /// Counts the open connections.
    pub metrics: Arc<Metrics>,
}

/// Accepts connections until the node stops, and answers each request on them with
/// `node.answer`.
pub(crate) async fn serve(listener: TcpListener, node: Listener) {
    let stop = node.lifecycle.token().clone();
    let open = Arc::new(Semaphore::new(node.limits.max_connections));
    let refused = Bites::new(Duration::from_secs(10));
    accept_until(&listener, &stop, "a connection", |stream, from| {
        let Ok(slot) = Arc::clone(&open).try_acquire_owned() else {
            if let Some(times) = refused.bite(crate::clock::now_ms()) {
                tracing::warn!(
                    node = %node.me,
                    %from,
                    "refused {times} connection(s): {} are open, the most this node takes \
                     (--max-connections)",
                    node.limits.max_connections
                );
            }
            return; // dropping the stream closes it
        };
        let open = node.metrics.connection("cluster");
        let connection = serve_connection(stream, from, node.clone());
        node.lifecycle.spawn(async move {
            connection.await;
            drop((slot, open));
        });
    })
    .await;
}

/// Accepts connections on `listener` and hands each to `serve`, until `stop` is cancelled. A
/// failed accept (no file descriptor left, say) is logged, naming `what` is accepted, and
/// tried again after a pause rather than in a spin.
pub(crate) async fn accept_until(
    listener: &TcpListener,
    stop: &CancellationToken,
    what: &str,
    mut serve: impl FnMut(TcpStream, SocketAddr),
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, from)) => serve(stream, from),
            Err(error) => {
                tracing::warn!(%error, "cannot accept {what}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve_connection(stream: TcpStream, from: SocketAddr, node: Listener) {
    let _ = stream.set_nodelay(true);
    let mut wire = Framed::new(stream, wire::codec());
    let Some(caller) = handshake(&mut wire, from, &node).await else {
        return;
    };

    serve_requests(wire, from, caller, node).await;
}

/// Reads requests and writes their answers back, in whatever order they are ready, within
/// the listener's [`Limits`].
async fn serve_requests(
    wire: Framed<TcpStream, LengthDelimitedCodec>,
    from: SocketAddr,
    caller: Caller,
    node: Listener,
) {
    let limits = node.limits;
    let (mut sink, mut stream) = wire.split();
    // A permit per request from when it is read until its answer is written: a caller that
    // does not read holds them all, and the node stops reading it.
    let in_flight = Arc::new(Semaphore::new(limits.max_in_flight));
    let (outbox, mut answers) =
        mpsc::channel::<(Frame, OwnedSemaphorePermit)>(limits.max_in_flight);
    let stop = node.lifecycle.token().clone();
    let writer_gone = CancellationToken::new();
    let writing = {
        let (stop, writer_gone, caller) = (stop.clone(), writer_gone.clone(), caller.to_string());
        async move {
            let _gone = writer_gone.drop_guard();
            // Every answer is written, also once the node is stopping: the answer to a `stop`
            // request is among them. The loop ends when the reader and every request under
            // way are done (they hold the senders).
            while let Some((frame, _permit)) = answers.recv().await {
                let Ok(bytes) = wire::encode(&frame) else {
                    continue;
                };
                // A stopping node does not wait long for a caller that does not read.
                let patience = if stop.is_cancelled() {
                    limits.write_timeout.min(STOPPING_WRITE_TIMEOUT)
                } else {
                    limits.write_timeout
                };
                match timeout(patience, sink.send(Bytes::from(bytes))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break,
                    Err(_) => {
                        tracing::warn!(
                            %from,
                            %caller,
                            "closing connection: it has not read its answers for {patience:?} \
                             (--write-timeout)"
                        );
                        break;
                    }
                }
            }
        }
    };
    node.lifecycle.spawn(writing);
    let mut told_full = false;
    loop {
        if in_flight.available_permits() == 0 && !told_full {
            told_full = true;
            tracing::debug!(%from, %caller, "{} requests in flight: reading paused until answers are taken (--max-in-flight)", limits.max_in_flight);
        }
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            _ = writer_gone.cancelled() => break,
            permit = Arc::clone(&in_flight).acquire_owned() => permit.expect("never closed"),
        };
        let frame = tokio::select! {
            _ = stop.cancelled() => break,
            _ = writer_gone.cancelled() => break,
            frame = timeout(limits.idle_timeout, stream.next()) => frame,
        };
        let bytes = match frame {
            // Idle: closed unless answers are still being worked on (the permit taken above
            // is ours, hence the + 1).
            Err(_) if in_flight.available_permits() + 1 < limits.max_in_flight => continue,
            Err(_) => {
                tracing::debug!(%from, %caller, "closing a connection idle for {:?} (--idle-timeout)", limits.idle_timeout);
                break;
            }
            Ok(None) => break,
            Ok(Some(Ok(bytes))) => bytes,
            Ok(Some(Err(error))) => {
                tracing::warn!(%from, %caller, %error, "closing connection: bad frame");
                break;
            }
        };
        match wire::decode::<Frame>(&bytes) {
            Ok(Frame::Request { id, body }) => {
                let (answer, outbox) = (Arc::clone(&node.answer), outbox.clone());
                node.lifecycle.spawn(async move {
                    let body = answer(body).await;
                    // Room is certain: the channel holds as many as there are permits.
                    let _ = outbox.send((Frame::Response { id, body }, permit)).await;
                });
            }
            Ok(Frame::Response { .. }) => {
                tracing::warn!(%from, %caller, "closing connection: a response where a request belongs");
                break;
            }
            Err(error) => {
                tracing::warn!(%from, %caller, %error, "closing connection: frame does not decode");
                break;
            }
        }
    }
}

/// The node's side of the handshake (its steps are in [`wire`]): checks the caller's hello,
/// proves that this node knows the cookie, checks the caller's proof, and only then learns a
/// calling node's address and welcomes the caller. `None`: the caller was refused (and that
/// logged), or left.
async fn handshake(wire: &mut Wire, from: SocketAddr, node: &Listener) -> Option<Caller> {
    let hello = match timeout(HANDSHAKE_TIMEOUT, wire.next()).await {
        Ok(Some(Ok(bytes))) => wire::decode::<Hello>(&bytes),
        Ok(Some(Err(error))) => Err(Error::bad_request(error.to_string())),
        Ok(None) => return None,
        Err(_) => Err(Error::bad_request("no handshake in time")),
    };
    let (caller, dialer) = match hello.and_then(|hello| check_hello(node, hello)) {
        Ok(checked) => checked,
        Err(error) => {
            tracing::warn!(%from, reason = %error, "refusing connection");
            refuse(wire, error.to_string()).await;
            return None;
        }
    };
    let nonces = Nonces {
        dialer,
        listener: cookie::nonce(),
    };
    let challenge = Welcome::Challenge {
        nonce: nonces.listener,
        proof: node.cookie.proof(Side::Listener, &nonces),
    };
    send(wire, &challenge).await.ok()?;
    let proof = match timeout(HANDSHAKE_TIMEOUT, wire.next()).await {
        Ok(Some(Ok(bytes))) => wire::decode::<Proof>(&bytes).ok(),
        // Gone without a word: nothing to refuse.
        Ok(None) => return None,
        Ok(Some(Err(_))) => None,
        Err(_) => {
            tracing::warn!(%from, %caller, "refusing connection: no proof of the cookie in time");
            refuse(wire, "no proof of the cookie in time".to_string()).await;
            return None;
        }
    };
    match proof {
        Some(Proof::Mac(mac)) if node.cookie.verify(Side::Dialer, &nonces, &mac) => {}
        // The caller found this node's proof wrong, and hung up.
        Some(Proof::Mismatch) => {
            node.log_wrong_cookie(from, &caller);
            return None;
        }
        // A wrong proof, or anything else where a proof belongs (a request, say).
        Some(Proof::Mac(_)) | None => {
            node.log_wrong_cookie(from, &caller);
            refuse(wire, format!("wrong cookie: {} has another", node.me)).await;
            return None;
        }
    }
    if let Caller::Node(name, peer) = &caller {
        node.wrong_cookie.forget(name);
        if node.transport.learn(name, *peer) {
            tracing::debug!(node = %node.me, peer = %name, addr = %peer.addr, "learned address");
        }
    }
    let welcome = Welcome::Accepted {
        name: node.me.clone(),
    };
    send(wire, &welcome).await.ok()?;
    Some(caller)
}

impl Listener {
    /// Logs a caller refused for its cookie: every command-line tool, but a calling node only
    /// once until it gets in (it calls again on every gossip round and ping).
    fn log_wrong_cookie(&self, from: SocketAddr, caller: &Caller) {
        let first = match caller {
            Caller::Node(name, _) => self.wrong_cookie.first(name),
            Caller::Tool => true,
        };
        if first {
            tracing::warn!("refusing connection from {from} ({caller}): wrong cookie");
        } else {
            tracing::debug!("refusing connection from {from} ({caller}): wrong cookie");
        }
    }
}

/// Sends one handshake message.
async fn send(wire: &mut Wire, welcome: &Welcome) -> Result<(), ()> {
    let bytes = wire::encode(welcome).map_err(|_| ())?;
    wire.send(Bytes::from(bytes)).await.map_err(|_| ())
}

/// Tells the caller why it is refused (it may have gone already).
async fn refuse(wire: &mut Wire, reason: String) {
    let _ = send(wire, &Welcome::Refused { reason }).await;
}

/// Who is on the other end, for logs; and where a calling node listens.
enum Caller {
    Node(NodeName, PeerAddr),
    Tool,
}

impl std::fmt::Display for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Caller::Node(name, _) => write!(f, "{name}"),
            Caller::Tool => write!(f, "a command-line tool"),
        }
    }
}

/// Checks what a caller says in its hello (before it has proved anything: nothing is learned
/// from it yet). Returns who it is and its nonce.
fn check_hello(node: &Listener, hello: Hello) -> Result<(Caller, Nonce), Error> {
    match hello {
        Hello::Node {
            protocol,
            name,
            ring_size,
            addr,
            incarnation,
            nonce,
        } => {
            check_protocol(protocol)?;
            if ring_size != node.ring_size {
                return Err(Error::bad_request(format!(
                    "{name} has a ring of {ring_size} partitions, this node has {}",
                    node.ring_size
                )));
            }
            if name == node.me {
                return Err(Error::bad_request(format!(
                    "{name} is this node's own name"
                )));
            }
            Ok((Caller::Node(name, PeerAddr { addr, incarnation }), nonce))
        }
        Hello::Client { protocol, nonce } => {
            check_protocol(protocol)?;
            Ok((Caller::Tool, nonce))
        }
    }
}

fn check_protocol(protocol: u32) -> Result<(), Error> {
    if protocol == wire::PROTOCOL_VERSION {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "protocol version {protocol} does not match this node's version {}",
            wire::PROTOCOL_VERSION
        )))
    }
}
