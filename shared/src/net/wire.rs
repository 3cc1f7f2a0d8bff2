//! What nodes say to each other over TCP: the frames, the handshake and the messages.
//!
//! A connection carries length-delimited frames (a 4-byte big-endian length, then the body),
//! each body a postcard-encoded value. The first frames are the handshake, in which each end
//! proves that it knows the cluster's cookie without sending it (see [`crate::net::cookie`]):
//!
//! 1. the caller sends [`Hello`], with a random nonce;
//! 2. the node answers [`Welcome::Challenge`]: a nonce of its own and its proof — or
//!    [`Welcome::Refused`], with the reason, for a mismatched protocol version or ring size,
//!    so two incompatible nodes never exchange data;
//! 3. the caller checks the node's proof, and sends its own ([`Proof::Mac`]), or
//!    [`Proof::Mismatch`] and hangs up if the node's was wrong;
//! 4. the node checks the caller's proof and answers [`Welcome::Accepted`], or
//!    [`Welcome::Refused`] if the caller does not know the cookie.
//!
//! Only then does the caller send [`Frame::Request`]s, and the node answers each with a
//! [`Frame::Response`] carrying the same id; responses may come back in any order.

use crate::error::Error;
use crate::net::cookie::Nonce;
use crate::ring::HandoffKind;
use crate::ring::membership::Plan;
use crate::ring::{NodeName, Ring};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use tokio_util::codec::LengthDelimitedCodec;

/// Bumped whenever a message changes shape; nodes of different versions refuse each other.
/// (3: the cluster metadata's messages.)
pub const PROTOCOL_VERSION: u32 = 3;

/// The largest frame a node accepts. A longer one closes the connection.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// The codec of every connection.
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME_BYTES)
        .new_codec()
}

/// Encodes a message for a frame.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, Error> {
    postcard::to_allocvec(message)
        .map_err(|e| Error::internal(format!("cannot encode message: {e}")))
}

/// Decodes a frame's body.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|e| Error::internal(format!("malformed message: {e}")))
}

/// The first frame on a connection: who is calling, and the caller's nonce for this
/// connection's proofs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Hello {
    /// Another node of the cluster.
    Node {
        protocol: u32,
        name: NodeName,
        ring_size: u32,
        /// Where the caller itself listens, so the callee can call back (learned only once the
        /// caller has proved it knows the cookie).
        addr: SocketAddr,
        incarnation: u64,
        nonce: Nonce,
    },
    /// A command-line tool (`ping`, `admin`, `attach`, `stop`).
    Client { protocol: u32, nonce: Nonce },
}

impl Hello {
    /// The caller's nonce.
    pub fn nonce(&self) -> &Nonce {
        match self {
            Hello::Node { nonce, .. } | Hello::Client { nonce, .. } => nonce,
        }
    }
}

/// The node's answers in the handshake: a challenge to [`Hello`], then a welcome or not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Welcome {
    /// The node's nonce, and its proof that it knows the cookie (its side, both nonces).
    Challenge {
        nonce: Nonce,
        #[serde(with = "serde_bytes")]
        proof: Vec<u8>,
    },
    Accepted {
        name: NodeName,
    },
    Refused {
        reason: String,
    },
}

/// The caller's answer to [`Welcome::Challenge`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Proof {
    /// The caller's proof that it knows the cookie (its side, both nonces).
    Mac(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The node's proof does not hold for the caller's cookie: the caller says so, so that
    /// both ends log why, and hangs up without proving anything itself.
    Mismatch,
}

/// Every frame after the handshake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Frame {
    Request {
        id: u64,
        body: Request,
    },
    Response {
        id: u64,
        body: Result<Response, Error>,
    },
}

/// Where a node listens, and which run of it that is (a restarted node has a higher
/// incarnation, so its new address replaces the old one everywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerAddr {
    pub addr: SocketAddr,
    pub incarnation: u64,
}

/// Every node's address, as far as this node knows.
pub type AddressBook = BTreeMap<NodeName, PeerAddr>;

/// What gossip carries: the ring, and the addresses to reach its members.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GossipState {
    pub ring: Ring,
    pub addresses: AddressBook,
}

/// Which vnode callback a remote vnode request is for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum VnodeCall {
    Command,
    Coverage,
}

/// What a node can be asked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Are you there? Answered with [`Response::Pong`].
    Ping,
    /// A command or coverage request for one of the node's vnodes; the payload is the
    /// postcard encoding of the vnode type's command or coverage request.
    Vnode {
        vnode_type: String,
        partition: u32,
        call: VnodeCall,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// Here is my ring; answered with yours if yours is newer.
    Gossip(GossipState),
    /// Your ring and address book, whatever their version (a node about to join asks this).
    State,
    /// A membership change or question for the claimant.
    Claimant(ClaimantRequest),
    /// An admin command line (`member-status`, `cluster plan`, …).
    Admin(Vec<String>),
    /// A console line, as typed at the node's own console (`attach`).
    Console(String),
    /// A step of a handoff from another node (see [`crate::handoff`]).
    Handoff(HandoffRequest),
    /// The transfers this node is sending now.
    Transfers,
    /// A message for one of the application's mailboxes on this node (see
    /// [`crate::node::Node::register_mailbox`]).
    Deliver {
        mailbox: String,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// Stop the node (used by `devrel` to shut its nodes down cleanly).
    Stop,
    /// The cluster metadata: a change to take in, or a step of an exchange (see
    /// [`crate::cluster::metadata`]).
    Metadata(MetadataRequest),
}

/// The steps of one handoff, from the sending node. `id` numbers the sender's transfers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum HandoffRequest {
    Start {
        id: u64,
        from: NodeName,
        kind: HandoffKind,
        vnode_type: String,
        partition: u32,
    },
    /// Items encoded by the sending vnode's `encode_handoff_item`.
    Batch {
        id: u64,
        from: NodeName,
        #[serde(with = "byte_strings")]
        items: Vec<Vec<u8>>,
    },
    End {
        id: u64,
        from: NodeName,
    },
}

/// One transfer under way, for `transfers`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferStatus {
    pub kind: HandoffKind,
    pub vnode_type: String,
    pub partition: u32,
    pub source: NodeName,
    pub target: NodeName,
    pub objects_sent: u64,
    pub objects_total: u64,
    pub bytes_sent: u64,
    pub bytes_total: u64,
}

/// What the claimant can be asked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ClaimantRequest {
    Join(NodeName),
    Leave(NodeName),
    ForceRemove(NodeName),
    Plan,
    Commit,
    Clear,
    /// The owner of `partition` handed it to its next owner.
    TransferComplete {
        partition: u32,
        from: NodeName,
        to: NodeName,
    },
}

/// One entry of the cluster metadata, as it travels between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataEntry {
    pub prefix: String,
    pub key: String,
    pub version: MetadataVersion,
    /// The value as JSON text (postcard cannot carry a `serde_json::Value` itself); `None`
    /// for a deleted key (a tombstone).
    pub value: Option<String>,
}

/// The version of a metadata entry: of two entries for one key, the higher version wins on
/// every node. Compared field by field, in this order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MetadataVersion {
    /// When it was written (wall clock, milliseconds since the epoch).
    pub time_ms: u64,
    /// The node that wrote it.
    pub node: NodeName,
    /// That node's count of the metadata puts it has made.
    pub counter: u64,
}

/// What one node asks another about the cluster metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MetadataRequest {
    /// Entries just written on the sender: take them in, and answer [`Response::Done`] once
    /// they are saved and every read here sees them.
    Push(Vec<MetadataEntry>),
    /// The digest of the sender's whole map; answered [`MetadataAnswer::Same`] or
    /// [`MetadataAnswer::Differs`].
    Digest(u64),
    /// Every entry of the sender: take them in, and answer [`MetadataAnswer::Entries`] with
    /// yours that the sender lacks or holds an older version of.
    Exchange(Vec<MetadataEntry>),
}

/// The answers to [`MetadataRequest::Digest`] and [`MetadataRequest::Exchange`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MetadataAnswer {
    Same,
    Differs,
    Entries(Vec<MetadataEntry>),
}

/// The answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    Pong {
        name: NodeName,
        ring_version: u64,
    },
    Payload(#[serde(with = "serde_bytes")] Vec<u8>),
    Gossip(Option<GossipState>),
    Plan(Box<Plan>),
    /// A node's ring and address book (after a claimant change: the new ones).
    State(GossipState),
    Text(String),
    /// Handoff items applied.
    Applied(usize),
    Transfers(Vec<TransferStatus>),
    Done,
    /// A handoff was not started: every handoff slot of the receiving node is taken; the
    /// sender asks again later (riak's handoff concurrency limit).
    Busy,
    Metadata(MetadataAnswer),
}

/// Lists of byte strings, encoded as byte strings rather than as lists of numbers (which
/// serde would do by default, one number at a time).
mod byte_strings {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_bytes::{ByteBuf, Bytes};

    pub fn serialize<S: Serializer>(items: &[Vec<u8>], serializer: S) -> Result<S::Ok, S::Error> {
        let borrowed: Vec<&Bytes> = items.iter().map(|i| Bytes::new(i)).collect();
        borrowed.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Vec<u8>>, D::Error> {
        let owned: Vec<ByteBuf> = Vec::deserialize(deserializer)?;
        Ok(owned.into_iter().map(ByteBuf::into_vec).collect())
    }
}
