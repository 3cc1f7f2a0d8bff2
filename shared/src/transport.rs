//! Node-to-node TCP (riak's distributed Erlang, in small): connections to peers, reused and
//! re-established, with requests and responses matched by id.
//!
//! A node keeps one outgoing connection per peer and sends all its requests to that peer on
//! it; the peer's answers come back on the same connection, in any order. A connection that
//! breaks fails every request waiting on it at once (`ConnectionLost`), and the next request
//! dials again, so a restarted peer is reached without anyone noticing. The address of each
//! node comes from the address book, which gossip keeps up to date.

use crate::error::Error;
use crate::ring::NodeName;
use crate::wire::{self, AddressBook, Frame, Hello, PeerAddr, Request, Response, Welcome};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;

/// How long dialling a peer and the handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A framed TCP connection.
pub(crate) type Wire = Framed<TcpStream, LengthDelimitedCodec>;

/// The connection to one peer, if any; locked while dialling so one dial happens at a time.
type PeerSlot = tokio::sync::Mutex<Option<Arc<Connection>>>;

/// Outgoing connections of one node.
pub(crate) struct Transport {
    hello: Hello,
    addresses: RwLock<AddressBook>,
    peers: Mutex<HashMap<NodeName, Arc<PeerSlot>>>,
    shutdown: CancellationToken,
}

impl Transport {
    pub(crate) fn new(hello: Hello, addresses: AddressBook, shutdown: CancellationToken) -> Self {
        Transport {
            hello,
            addresses: RwLock::new(addresses),
            peers: Mutex::new(HashMap::new()),
            shutdown,
        }
    }

    /// Sends a request to a node and waits for its response, for at most `wait`.
    pub(crate) async fn request(
        &self,
        to: &NodeName,
        body: Request,
        wait: Duration,
    ) -> Result<Response, Error> {
        let connection = timeout(wait, self.connection(to))
            .await
            .map_err(|_| Error::Unreachable(to.clone()))??;
        match timeout(wait, connection.request(body)).await {
            Ok(result) => result,
            Err(_) => Err(Error::timeout(format!("request to {to}"), 0, 1, wait)),
        }
    }

    /// Where a node listens, if known.
    pub(crate) fn address_of(&self, node: &NodeName) -> Option<SocketAddr> {
        self.addresses
            .read()
            .expect("address book")
            .get(node)
            .map(|p| p.addr)
    }

    /// Records a node's address unless a newer one is known. Returns whether it changed.
    pub(crate) fn learn(&self, node: &NodeName, peer: PeerAddr) -> bool {
        let mut book = self.addresses.write().expect("address book");
        let newer = book.get(node).is_none_or(|known| {
            peer.incarnation > known.incarnation
                || (peer.incarnation == known.incarnation && peer.addr != known.addr)
        });
        if newer {
            book.insert(node.clone(), peer);
            drop(book);
            // The old connection, if any, goes to an address that is no longer the node's.
            self.peers.lock().expect("peers").remove(node);
        }
        newer
    }

    /// Merges another node's address book into ours.
    pub(crate) fn learn_all(&self, book: &AddressBook) -> bool {
        let mut changed = false;
        for (node, peer) in book {
            changed |= self.learn(node, *peer);
        }
        changed
    }

    pub(crate) fn addresses(&self) -> AddressBook {
        self.addresses.read().expect("address book").clone()
    }

    /// The live connection to a node, dialling it if needed. One dial at a time per peer.
    async fn connection(&self, to: &NodeName) -> Result<Arc<Connection>, Error> {
        let slot = Arc::clone(
            self.peers
                .lock()
                .expect("peers")
                .entry(to.clone())
                .or_default(),
        );
        let mut slot = slot.lock().await;
        if let Some(connection) = slot.as_ref().filter(|c| c.is_alive()) {
            return Ok(Arc::clone(connection));
        }
        let addr = self
            .address_of(to)
            .ok_or_else(|| Error::Unreachable(to.clone()))?;
        let (wire, name) = dial(addr, &self.hello).await.map_err(|reason| {
            tracing::debug!(peer = %to, %addr, %reason, "cannot reach node");
            Error::Unreachable(to.clone())
        })?;
        if name != *to {
            tracing::warn!(expected = %to, found = %name, %addr, "a different node answers at this address");
            return Err(Error::Unreachable(to.clone()));
        }
        let connection = Connection::start(wire, to.clone(), self.shutdown.clone());
        *slot = Some(Arc::clone(&connection));
        Ok(connection)
    }
}

/// Dials a node and performs the handshake. Returns the framed connection and the name of the
/// node that answered.
pub(crate) async fn dial(addr: SocketAddr, hello: &Hello) -> Result<(Wire, NodeName), String> {
    let handshake = async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut wire = Framed::new(stream, wire::codec());
        let hello = wire::encode(hello).map_err(|e| e.to_string())?;
        wire.send(Bytes::from(hello))
            .await
            .map_err(|e| format!("cannot greet {addr}: {e}"))?;
        let answer = wire
            .next()
            .await
            .ok_or_else(|| format!("{addr} closed the connection during the handshake"))?
            .map_err(|e| format!("handshake with {addr} failed: {e}"))?;
        match wire::decode::<Welcome>(&answer).map_err(|e| e.to_string())? {
            Welcome::Accepted { name } => Ok((wire, name)),
            Welcome::Refused { reason } => Err(format!("{addr} refused the connection: {reason}")),
        }
    };
    timeout(CONNECT_TIMEOUT, handshake)
        .await
        .map_err(|_| format!("no answer from {addr} within {CONNECT_TIMEOUT:?}"))?
}

/// One request from a command-line tool to a node, on a connection of its own.
pub async fn client_request(
    addr: SocketAddr,
    body: Request,
    wait: Duration,
) -> Result<Response, String> {
    let hello = Hello::Client {
        protocol: wire::PROTOCOL_VERSION,
    };
    let (wire, name) = dial(addr, &hello).await?;
    let connection = Connection::start(wire, name.clone(), CancellationToken::new());
    match timeout(wait, connection.request(body)).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("{name} did not answer within {wait:?}")),
    }
}

/// An outgoing connection: a writer task, a reader task, and the requests waiting for answers.
pub(crate) struct Connection {
    peer: NodeName,
    outbox: mpsc::UnboundedSender<Frame>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Result<Response, Error>>>>,
    next_id: AtomicU64,
    alive: AtomicBool,
}

impl Connection {
    fn start(wire: Wire, peer: NodeName, shutdown: CancellationToken) -> Arc<Connection> {
        let (outbox, mut queue) = mpsc::unbounded_channel::<Frame>();
        let connection = Arc::new(Connection {
            peer,
            outbox,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            alive: AtomicBool::new(true),
        });
        let (mut sink, mut stream) = wire.split();
        let writer = Arc::downgrade(&connection);
        tokio::spawn(async move {
            while let Some(frame) = queue.recv().await {
                let Ok(bytes) = wire::encode(&frame) else {
                    continue;
                };
                if sink.send(Bytes::from(bytes)).await.is_err() {
                    break;
                }
            }
            if let Some(connection) = writer.upgrade() {
                connection.close();
            }
        });
        let reader = Arc::downgrade(&connection);
        tokio::spawn(async move {
            loop {
                let frame = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    frame = stream.next() => frame,
                };
                let Some(Ok(bytes)) = frame else { break };
                let Some(connection) = reader.upgrade() else {
                    break;
                };
                match wire::decode::<Frame>(&bytes) {
                    Ok(Frame::Response { id, body }) => connection.resolve(id, body),
                    Ok(Frame::Request { .. }) | Err(_) => {
                        tracing::warn!(peer = %connection.peer, "closing connection: unexpected or malformed frame");
                        break;
                    }
                }
            }
            if let Some(connection) = reader.upgrade() {
                connection.close();
            }
        });
        connection
    }

    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    async fn request(&self, body: Request) -> Result<Response, Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending").insert(id, tx);
        if !self.is_alive() || self.outbox.send(Frame::Request { id, body }).is_err() {
            self.pending.lock().expect("pending").remove(&id);
            return Err(Error::Unreachable(self.peer.clone()));
        }
        // From here on the request may have reached the peer: losing the connection is not
        // the same as never having sent it (a write must not be retried elsewhere blindly).
        rx.await
            .unwrap_or_else(|_| Err(Error::ConnectionLost(self.peer.clone())))
    }

    fn resolve(&self, id: u64, body: Result<Response, Error>) {
        if let Some(waiting) = self.pending.lock().expect("pending").remove(&id) {
            let _ = waiting.send(body);
        }
    }

    /// Fails everything still waiting: the peer is gone, perhaps after carrying them out.
    fn close(&self) {
        self.alive.store(false, Ordering::Release);
        let waiting: Vec<_> = self.pending.lock().expect("pending").drain().collect();
        for (_, tx) in waiting {
            let _ = tx.send(Err(Error::ConnectionLost(self.peer.clone())));
        }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
