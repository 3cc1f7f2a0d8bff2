//! The node's listening side: accepts connections from other nodes and from command-line
//! tools, checks their handshake, and answers their requests.
//!
//! Bad input closes only the connection it came on, with a logged reason: a frame longer than
//! [`wire::MAX_FRAME_BYTES`], bytes that do not decode, or a handshake that does not match.
//! The node goes on serving everyone else.

use crate::error::Error;
use crate::lifecycle::Lifecycle;
use crate::net::transport::Transport;
use crate::net::wire::{self, Frame, Hello, PeerAddr, Request, Response, Welcome};
use crate::ring::NodeName;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

/// How long a new connection may take to say hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts connections until the node stops.
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
    /// Learns the address of each node that calls.
    pub transport: Arc<Transport>,
    /// Where the connections run, and when to stop.
    pub lifecycle: Lifecycle,
    pub answer: Answer,
}

/// Accepts connections until the node stops, and answers each request on them with
/// `node.answer`.
pub(crate) async fn serve(listener: TcpListener, node: Listener) {
    let stop = node.lifecycle.token().clone();
    accept_until(&listener, &stop, "a connection", |stream, from| {
        let connection = serve_connection(stream, from, node.clone());
        node.lifecycle.spawn(connection);
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
    let caller = match timeout(HANDSHAKE_TIMEOUT, wire.next()).await {
        Ok(Some(Ok(bytes))) => wire::decode::<Hello>(&bytes),
        Ok(Some(Err(error))) => Err(Error::bad_request(error.to_string())),
        Ok(None) => return,
        Err(_) => Err(Error::bad_request("no handshake in time")),
    };
    let caller = match caller.and_then(|hello| check_hello(&node, hello)) {
        Ok(caller) => caller,
        Err(error) => {
            tracing::warn!(%from, reason = %error, "refusing connection");
            let refusal = Welcome::Refused {
                reason: error.to_string(),
            };
            if let Ok(bytes) = wire::encode(&refusal) {
                let _ = wire.send(Bytes::from(bytes)).await;
            }
            return;
        }
    };
    let welcome = Welcome::Accepted {
        name: node.me.clone(),
    };
    let Ok(bytes) = wire::encode(&welcome) else {
        return;
    };
    if wire.send(Bytes::from(bytes)).await.is_err() {
        return;
    }

    let (mut sink, mut stream) = wire.split();
    let (outbox, mut responses) = mpsc::unbounded_channel::<Frame>();
    node.lifecycle.spawn(async move {
        while let Some(frame) = responses.recv().await {
            let Ok(bytes) = wire::encode(&frame) else {
                continue;
            };
            if sink.send(Bytes::from(bytes)).await.is_err() {
                break;
            }
        }
    });
    let shutdown = node.lifecycle.token().clone();
    loop {
        let frame = tokio::select! {
            _ = shutdown.cancelled() => break,
            frame = stream.next() => frame,
        };
        let bytes = match frame {
            None => break,
            Some(Ok(bytes)) => bytes,
            Some(Err(error)) => {
                tracing::warn!(%from, %caller, %error, "closing connection: bad frame");
                break;
            }
        };
        match wire::decode::<Frame>(&bytes) {
            Ok(Frame::Request { id, body }) => {
                let (answer, outbox) = (Arc::clone(&node.answer), outbox.clone());
                node.lifecycle.spawn(async move {
                    let body = answer(body).await;
                    let _ = outbox.send(Frame::Response { id, body });
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

/// Who is on the other end, for logs.
enum Caller {
    Node(NodeName),
    Tool,
}

impl std::fmt::Display for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Caller::Node(name) => write!(f, "{name}"),
            Caller::Tool => write!(f, "a command-line tool"),
        }
    }
}

fn check_hello(node: &Listener, hello: Hello) -> Result<Caller, Error> {
    match hello {
        Hello::Node {
            protocol,
            name,
            ring_size,
            addr,
            incarnation,
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
            if node.transport.learn(&name, PeerAddr { addr, incarnation }) {
                tracing::debug!(node = %node.me, peer = %name, %addr, "learned address");
            }
            Ok(Caller::Node(name))
        }
        Hello::Client { protocol } => {
            check_protocol(protocol)?;
            Ok(Caller::Tool)
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
