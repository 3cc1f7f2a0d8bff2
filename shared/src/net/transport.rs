//! Node-to-node TCP (riak's distributed Erlang, in small): connections to peers, reused and
//! re-established, with requests and responses matched by id.
//!
//! A node keeps one outgoing connection per peer and sends all its requests to that peer on
//! it; the peer's answers come back on the same connection, in any order. A connection that
//! breaks fails every request waiting on it at once (`ConnectionLost`), and the next request
//! dials again, so a restarted peer is reached without anyone noticing. The address of each
//! node comes from the address book, which gossip keeps up to date.
//!
//! Every connection starts with the handshake of [`crate::net::wire`], in which both ends prove
//! they know the cluster's cookie; a peer that cannot is never sent anything, and is logged
//! once (not on every redial) until a dial to it succeeds.
//!
//! Every request between nodes goes through `Transport::request` (gossip, liveness pings,
//! vnode commands, handoff batches, admin calls), which makes it the one place where a test
//! can cut the network: [`Faults`] is the switch (an in-process nemesis, as Jepsen calls the
//! thing that breaks a cluster on purpose).

use crate::error::Error;
use crate::net::cookie::{self, Cookie, Nonces, Side};
use crate::net::wire::{
    self, AddressBook, Frame, Hello, PeerAddr, Proof, Request, Response, Welcome,
};
use crate::ring::NodeName;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;

/// How long dialling a peer and the handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A framed TCP connection.
pub(crate) type Wire = Framed<TcpStream, LengthDelimitedCodec>;

/// The connection to one peer, if any; locked while dialling so one dial happens at a time.
type PeerSlot = tokio::sync::Mutex<Option<Arc<Connection>>>;

/// What a node says of itself to the nodes it calls: its [`Hello::Node`], less the nonce,
/// which is new on every call.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub name: NodeName,
    pub ring_size: u32,
    /// Where the node listens.
    pub addr: SocketAddr,
    pub incarnation: u64,
}

impl Identity {
    fn hello(&self) -> Hello {
        Hello::Node {
            protocol: wire::PROTOCOL_VERSION,
            name: self.name.clone(),
            ring_size: self.ring_size,
            addr: self.addr,
            incarnation: self.incarnation,
            nonce: cookie::nonce(),
        }
    }
}

/// Outgoing connections of one node.
pub(crate) struct Transport {
    /// This node's name: the `from` end of every link it sends on.
    me: NodeName,
    identity: Identity,
    cookie: Cookie,
    faults: Faults,
    addresses: RwLock<AddressBook>,
    peers: Mutex<HashMap<NodeName, Arc<PeerSlot>>>,
    /// Peers that could not prove they know the cookie, and were logged for it.
    wrong_cookie: Warned,
    shutdown: CancellationToken,
}

impl Transport {
    pub(crate) fn new(
        identity: Identity,
        cookie: Cookie,
        addresses: AddressBook,
        shutdown: CancellationToken,
        faults: Faults,
    ) -> Self {
        Transport {
            me: identity.name.clone(),
            identity,
            cookie,
            faults,
            addresses: RwLock::new(addresses),
            peers: Mutex::new(HashMap::new()),
            wrong_cookie: Warned::default(),
            shutdown,
        }
    }

    /// Sends a request to a node and waits for its response, for at most `wait`.
    ///
    /// Over a link that [`Faults`] cut, the request is silently dropped (never sent) and a
    /// response coming back is lost; either way the caller learns nothing until its deadline,
    /// as with a peer that stalled.
    pub(crate) async fn request(
        &self,
        to: &NodeName,
        body: Request,
        wait: Duration,
    ) -> Result<Response, Error> {
        if self.faults.is_blocked(&self.me, to) {
            // Never sent: if our own node stops meanwhile, the request did not leave it.
            let deadline = Instant::now() + wait;
            return self
                .silence(to, deadline, wait, Error::Unreachable(to.clone()))
                .await;
        }
        let connection = timeout(wait, self.connection(to))
            .await
            .map_err(|_| Error::Unreachable(to.clone()))??;
        // The same deadline as `timeout(wait, …)` would set, kept for a lost answer below.
        let deadline = Instant::now() + wait;
        let result = match timeout_at(deadline, connection.request(body)).await {
            Ok(result) => result,
            Err(_) => return Err(Error::timeout(format!("request to {to}"), 0, 1, wait)),
        };
        if self.faults.is_blocked(to, &self.me) {
            // The peer did the work (or failed it), but its answer is lost on the way back.
            return self
                .silence(to, deadline, wait, Error::ConnectionLost(to.clone()))
                .await;
        }
        result
    }

    /// What the caller of a request lost to a fault sees: nothing until its deadline, then a
    /// timeout — or `on_stop` sooner, if this node stops, as the connection would have broken.
    async fn silence(
        &self,
        to: &NodeName,
        deadline: Instant,
        wait: Duration,
        on_stop: Error,
    ) -> Result<Response, Error> {
        tokio::select! {
            _ = self.shutdown.cancelled() => Err(on_stop),
            _ = tokio::time::sleep_until(deadline) => {
                Err(Error::timeout(format!("request to {to}"), 0, 1, wait))
            }
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
        let (wire, name) = match dial(addr, self.identity.hello(), &self.cookie).await {
            Ok(dialled) => dialled,
            Err(DialError::WrongCookie(addr)) => {
                let error = Error::WrongCookie {
                    node: to.clone(),
                    addr,
                };
                // Every request dials again: one line, not one per gossip round and ping.
                if self.wrong_cookie.first(to) {
                    tracing::warn!("cannot connect to {to}: {error}");
                }
                return Err(error);
            }
            Err(DialError::NotReached(reason)) => {
                tracing::debug!(peer = %to, %addr, %reason, "cannot reach node");
                return Err(Error::Unreachable(to.clone()));
            }
        };
        self.wrong_cookie.forget(to);
        if name != *to {
            tracing::warn!(expected = %to, found = %name, %addr, "a different node answers at this address");
            return Err(Error::Unreachable(to.clone()));
        }
        let connection = Connection::start(wire, to.clone(), self.shutdown.clone());
        *slot = Some(Arc::clone(&connection));
        Ok(connection)
    }
}

/// The network faults of a test: links between nodes that are cut, one direction at a time.
///
/// One handle is shared by every node of a test cluster (clones are the same switch), and is
/// carried in [`crate::NodeConfig::faults`]. A cut link `from → to` drops what crosses it:
/// requests from `from` are never sent to `to`, and answers from `to` never reach `from`. The
/// caller just waits until its deadline (`Error::Timeout`), as with packets lost on the wire.
/// (A simplification: a request lost is lost for good; TCP would resend it after a heal.)
///
/// With no link cut, checking costs one atomic load: this is on every request's path.
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<FaultsInner>,
}

#[derive(Default)]
struct FaultsInner {
    /// Whether any link is cut: the fast path reads only this.
    any: AtomicBool,
    cut: RwLock<BTreeSet<(NodeName, NodeName)>>,
}

impl Faults {
    /// A switch with every link up.
    pub fn new() -> Self {
        Faults::default()
    }

    /// Cuts the link `from → to` (one direction).
    pub fn block(&self, from: &NodeName, to: &NodeName) {
        self.change(|cut| {
            cut.insert((from.clone(), to.clone()));
        });
    }

    /// Restores the link `from → to`.
    pub fn unblock(&self, from: &NodeName, to: &NodeName) {
        self.change(|cut| {
            cut.remove(&(from.clone(), to.clone()));
        });
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.change(BTreeSet::clear);
    }

    /// Whether the link `from → to` is cut.
    pub fn is_blocked(&self, from: &NodeName, to: &NodeName) -> bool {
        if !self.inner.any.load(Ordering::Acquire) {
            return false;
        }
        let cut = self.inner.cut.read().expect("faults");
        cut.contains(&(from.clone(), to.clone()))
    }

    /// The links that are cut, as (from, to).
    pub fn blocked(&self) -> Vec<(NodeName, NodeName)> {
        let cut = self.inner.cut.read().expect("faults");
        cut.iter().cloned().collect()
    }

    fn change(&self, edit: impl FnOnce(&mut BTreeSet<(NodeName, NodeName)>)) {
        let mut cut = self.inner.cut.write().expect("faults");
        edit(&mut cut);
        // Written under the lock, so the flag always matches the set.
        self.inner.any.store(!cut.is_empty(), Ordering::Release);
    }
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cut = self.blocked();
        let links: Vec<String> = cut.iter().map(|(a, b)| format!("{a} -> {b}")).collect();
        f.debug_struct("Faults").field("blocked", &links).finish()
    }
}

/// Peers a warning was logged for, so that a condition that lasts (a peer with another cookie,
/// dialled again on every request) is logged once rather than on every try.
#[derive(Default)]
pub(crate) struct Warned(Mutex<HashSet<NodeName>>);

impl Warned {
    /// Whether this is the first warning about `peer` since it was last [forgotten](Self::forget).
    pub(crate) fn first(&self, peer: &NodeName) -> bool {
        self.0.lock().expect("warned").insert(peer.clone())
    }

    /// `peer` is fine again: a new trouble with it is worth a new line.
    pub(crate) fn forget(&self, peer: &NodeName) {
        self.0.lock().expect("warned").remove(peer);
    }
}

/// Why a dial failed.
#[derive(Debug)]
pub(crate) enum DialError {
    /// No connection, no answer in time, or a handshake the node refused or broke off; the
    /// text says which.
    NotReached(String),
    /// The node at this address could not prove that it knows our cookie. It was told so,
    /// and sent nothing else.
    WrongCookie(SocketAddr),
}

/// Dials a node and performs the handshake, greeting it with `hello` (see [`crate::net::wire`]
/// for the steps). Returns the framed connection and the name of the node that answered.
pub(crate) async fn dial(
    addr: SocketAddr,
    hello: Hello,
    cookie: &Cookie,
) -> Result<(Wire, NodeName), DialError> {
    let handshake = async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut wire = Framed::new(stream, wire::codec());
        send(&mut wire, &hello, addr).await?;
        let (nonces, proof) = match receive(&mut wire, addr).await? {
            Welcome::Challenge { nonce, proof } => {
                let nonces = Nonces {
                    dialer: *hello.nonce(),
                    listener: nonce,
                };
                (nonces, proof)
            }
            Welcome::Refused { reason } => {
                return Err(DialError::NotReached(format!(
                    "{addr} refused the connection: {reason}"
                )));
            }
            // Welcomed without a word about the cookie: not a node of this cluster.
            Welcome::Accepted { .. } => return Err(DialError::WrongCookie(addr)),
        };
        // Nothing that proves our own knowledge of the cookie goes to a node that has not
        // proved its own.
        if !cookie.verify(Side::Listener, &nonces, &proof) {
            let _ = send(&mut wire, &Proof::Mismatch, addr).await;
            return Err(DialError::WrongCookie(addr));
        }
        let proof = Proof::Mac(cookie.proof(Side::Dialer, &nonces));
        send(&mut wire, &proof, addr).await?;
        match receive(&mut wire, addr).await? {
            Welcome::Accepted { name } => Ok((wire, name)),
            Welcome::Refused { reason } => Err(DialError::NotReached(format!(
                "{addr} refused the connection: {reason}"
            ))),
            Welcome::Challenge { .. } => Err(DialError::NotReached(format!(
                "{addr} sent a second challenge"
            ))),
        }
    };
    timeout(CONNECT_TIMEOUT, handshake).await.map_err(|_| {
        DialError::NotReached(format!("no answer from {addr} within {CONNECT_TIMEOUT:?}"))
    })?
}

/// Sends one handshake message.
async fn send<T: Serialize>(
    wire: &mut Wire,
    message: &T,
    addr: SocketAddr,
) -> Result<(), DialError> {
    let bytes = wire::encode(message).map_err(|e| DialError::NotReached(e.to_string()))?;
    wire.send(Bytes::from(bytes))
        .await
        .map_err(|e| DialError::NotReached(format!("cannot greet {addr}: {e}")))
}

/// Receives the node's next handshake message.
async fn receive(wire: &mut Wire, addr: SocketAddr) -> Result<Welcome, DialError> {
    let answer = wire
        .next()
        .await
        .ok_or_else(|| format!("{addr} closed the connection during the handshake"))?
        .map_err(|e| format!("handshake with {addr} failed: {e}"))?;
    wire::decode::<Welcome>(&answer).map_err(|e| DialError::NotReached(e.to_string()))
}

impl From<String> for DialError {
    fn from(reason: String) -> Self {
        DialError::NotReached(reason)
    }
}

/// Why a command-line tool's request got no answer it can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The node could not be reached, or did not answer in time; the text says how.
    #[error("{0}")]
    NotReached(String),
    /// The node at this address could not prove that it knows the tool's cookie: it is not a
    /// node of the cluster whose cookie the tool was given. Nothing was sent to it.
    #[error("the node at {0} does not share this cookie")]
    WrongCookie(SocketAddr),
    /// The node answered, and its answer is no (a plan to verify first, an unknown command…).
    #[error("{0}")]
    Refused(Error),
}

/// One request from a command-line tool to a node, on a connection of its own, after proving
/// that the tool knows the cluster's `cookie`.
pub async fn client_request(
    addr: SocketAddr,
    cookie: &Cookie,
    body: Request,
    wait: Duration,
) -> Result<Response, ClientError> {
    let hello = Hello::Client {
        protocol: wire::PROTOCOL_VERSION,
        nonce: cookie::nonce(),
    };
    let (wire, name) = dial(addr, hello, cookie)
        .await
        .map_err(|error| match error {
            DialError::WrongCookie(addr) => ClientError::WrongCookie(addr),
            DialError::NotReached(why) => ClientError::NotReached(why),
        })?;
    // The connection is closed (its reader stopped) once the answer is in: a tool run from
    // a long-lived process must not leave one open per request.
    let done = CancellationToken::new();
    let _close_when_answered = done.clone().drop_guard();
    let connection = Connection::start(wire, name.clone(), done);
    match timeout(wait, connection.request(body)).await {
        Ok(Ok(response)) => Ok(response),
        // The connection broke: the node did not answer.
        Ok(Err(error @ (Error::ConnectionLost(_) | Error::Unreachable(_)))) => {
            Err(ClientError::NotReached(error.to_string()))
        }
        Ok(Err(error)) => Err(ClientError::Refused(error)),
        Err(_) => Err(ClientError::NotReached(format!(
            "{name} did not answer within {wait:?}"
        ))),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_link_is_cut_one_way_until_healed() {
        let faults = Faults::new();
        let (a, b) = (
            NodeName::new("dev1@127.0.0.1"),
            NodeName::new("dev2@127.0.0.1"),
        );
        assert!(!faults.is_blocked(&a, &b));
        let shared = faults.clone();
        shared.block(&a, &b);
        assert!(faults.is_blocked(&a, &b), "clones are the same switch");
        assert!(!faults.is_blocked(&b, &a), "one direction only");
        faults.block(&b, &a);
        faults.unblock(&a, &b);
        assert_eq!(faults.blocked(), vec![(b.clone(), a.clone())]);
        faults.heal();
        assert!(!faults.is_blocked(&b, &a));
        assert!(faults.blocked().is_empty());
    }
}
