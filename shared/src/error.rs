//! The errors a caller of the runtime can meet, with messages meant for people.

use crate::ring::{IndexNode, NodeName, RingSizeError};
use serde::{Deserialize, Serialize};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// What went wrong with a request. Every variant prints a sentence a user can act on.
///
/// The variants say whose move it is: [`Error::BadRequest`] is for what the caller sent (they
/// can fix it), [`Error::Internal`] for a fault on the server's side (a bug, or a peer of a
/// different build), the others for the state of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Error {
    /// A hole of the exercise that is not filled in yet; the text says what to do.
    #[error("not implemented yet: {0}")]
    NotImplemented(String),
    /// Not enough answers arrived in time.
    #[error("{what} timed out after {after_ms} ms: {answered} of {asked} replicas answered")]
    Timeout {
        what: String,
        answered: usize,
        asked: usize,
        after_ms: u64,
    },
    /// Fewer replicas than the quorum needed succeeded (and it was not a timeout).
    #[error(
        "{what} needs {needed} of {asked} replicas, {succeeded} succeeded{}",
        because(.reasons)
    )]
    Quorum {
        what: String,
        needed: usize,
        succeeded: usize,
        asked: usize,
        reasons: Vec<String>,
    },
    /// The vnode could not handle the request: it failed to start, panicked, or reported a
    /// failure of its own (a disk error, say).
    #[error("vnode {} on {} failed: {reason}", .vnode.partition, .vnode.node)]
    VnodeFailed { vnode: IndexNode, reason: String },
    /// The node that hosts a vnode cannot be reached: the request never left this node.
    #[error("node {0} is unreachable")]
    Unreachable(NodeName),
    /// The connection to a node broke after the request was sent and before it answered: the
    /// request may or may not have been carried out there.
    #[error(
        "the connection to node {0} broke before it answered (the request may or may not have been carried out)"
    )]
    ConnectionLost(NodeName),
    /// The request was refused because of what the caller sent (bad arguments, unknown vnode
    /// type): the caller can fix it. Not for faults of the server: those are `Internal`.
    #[error("{0}")]
    BadRequest(String),
    /// The request is sound but cannot be answered in full now (part of the cluster does not
    /// answer); the text says what is missing.
    #[error("{0}")]
    Unavailable(String),
    /// The local node is stopping.
    #[error("the node is stopping")]
    Stopping,
    /// A membership request reached a node that is not the claimant.
    #[error("this node is not the claimant; the claimant is {claimant}")]
    NotClaimant { claimant: NodeName },
    /// The cluster refused a change; the text is riak's message (e.g. `Failed: …`).
    #[error("{0}")]
    Refused(String),
    /// A fault on the server's side that the caller cannot fix: a message that does not
    /// encode, a peer's answer of the wrong shape, a file the node cannot read, a port the
    /// application cannot listen on.
    #[error("{0}")]
    Internal(String),
    /// The node at `addr` could not prove that it knows this node's cookie: it belongs to
    /// another cluster, or was started with another cookie. Nothing was sent to it.
    /// (New variants go last, so the wire numbers of the others stay put.)
    #[error("the node at {addr} does not share this node's cookie")]
    WrongCookie { node: NodeName, addr: SocketAddr },
}

impl Error {
    /// A hole in an exercise: `what` says what to write and which README step explains it.
    pub fn not_implemented(what: impl Into<String>) -> Self {
        Error::NotImplemented(what.into())
    }

    /// The caller sent something this node cannot act on; `why` says what to change.
    pub fn bad_request(why: impl Into<String>) -> Self {
        Error::BadRequest(why.into())
    }

    /// A short name of the kind of error, for metrics and logs: `timeout`, `quorum`, …
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotImplemented(_) => "not_implemented",
            Error::Timeout { .. } => "timeout",
            Error::Quorum { .. } => "quorum",
            Error::VnodeFailed { .. } => "vnode_failed",
            Error::Unreachable(_) => "unreachable",
            Error::ConnectionLost(_) => "connection_lost",
            Error::BadRequest(_) => "bad_request",
            Error::Unavailable(_) => "unavailable",
            Error::Stopping => "stopping",
            Error::NotClaimant { .. } => "not_claimant",
            Error::Refused(_) => "refused",
            Error::Internal(_) => "internal",
            Error::WrongCookie { .. } => "wrong_cookie",
        }
    }

    /// Something went wrong on the server's side; `what` says what, for whoever reads the logs.
    pub fn internal(what: impl Into<String>) -> Self {
        Error::Internal(what.into())
    }

    pub fn timeout(
        what: impl Into<String>,
        answered: usize,
        asked: usize,
        after: Duration,
    ) -> Self {
        Error::Timeout {
            what: what.into(),
            answered,
            asked,
            after_ms: after.as_millis() as u64,
        }
    }
}

/// Why a node could not start ([`crate::Node::start`]). Each says what to change before trying
/// again; none of them ever crosses the wire, so unlike [`Error`] it keeps the I/O error itself.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configured ring size is not one the runtime supports.
    #[error(transparent)]
    RingSize(#[from] RingSizeError),
    /// The data directory has a ring file the node cannot read.
    #[error("cannot read the saved ring: {0}")]
    SavedRing(#[source] io::Error),
    /// The data directory has a cluster metadata file the node cannot read.
    #[error("cannot read the cluster metadata: {0}")]
    Metadata(#[source] io::Error),
    /// The data directory holds a ring of another size than the one asked for.
    #[error(
        "{} holds a ring of {saved} partitions, not {asked}: start with --ring-size {saved} or another data directory",
        .data_dir.display()
    )]
    RingSizeMismatch {
        data_dir: PathBuf,
        saved: u32,
        asked: u32,
    },
    /// The cluster port cannot be bound: taken, most often by the same node already running.
    #[error(
        "cannot listen on {addr}: {source} (is {node} already running? choose another node or port)"
    )]
    Listen {
        addr: SocketAddr,
        node: NodeName,
        source: io::Error,
    },
    /// The socket was bound but cannot say its own address (seen only if the OS is in trouble).
    #[error("{0}")]
    LocalAddr(#[source] io::Error),
}

/// The end of a quorum error's sentence: the replicas' reasons, if any.
fn because(reasons: &[String]) -> String {
    if reasons.is_empty() {
        String::new()
    } else {
        format!(": {}", reasons.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::Partition;

    fn node(name: &str) -> NodeName {
        NodeName::new(name)
    }

    /// The sentences are part of the interface (tests and READMEs show them): deriving
    /// `Display` must not change a byte of them.
    #[test]
    fn every_variant_prints_its_sentence() {
        let cases = [
            (
                Error::not_implemented("write `ping` (README step 2)"),
                "not implemented yet: write `ping` (README step 2)",
            ),
            (
                Error::timeout("put", 1, 3, Duration::from_millis(2500)),
                "put timed out after 2500 ms: 1 of 3 replicas answered",
            ),
            (
                Error::Quorum {
                    what: "put".into(),
                    needed: 2,
                    succeeded: 1,
                    asked: 3,
                    reasons: vec![],
                },
                "put needs 2 of 3 replicas, 1 succeeded",
            ),
            (
                Error::Quorum {
                    what: "get".into(),
                    needed: 2,
                    succeeded: 0,
                    asked: 3,
                    reasons: vec![
                        "disk full".into(),
                        "node dev2@127.0.0.1 is unreachable".into(),
                    ],
                },
                "get needs 2 of 3 replicas, 0 succeeded: disk full; node dev2@127.0.0.1 is unreachable",
            ),
            (
                Error::VnodeFailed {
                    vnode: IndexNode {
                        partition: Partition::new(3, 8),
                        node: node("dev1@127.0.0.1"),
                    },
                    reason: "disk full".into(),
                },
                "vnode 548063113999088594326381812268606132370974703616 on dev1@127.0.0.1 failed: disk full",
            ),
            (
                Error::Unreachable(node("dev2@127.0.0.1")),
                "node dev2@127.0.0.1 is unreachable",
            ),
            (
                Error::WrongCookie {
                    node: node("dev2@127.0.0.1"),
                    addr: "127.0.0.1:10027".parse().unwrap(),
                },
                "the node at 127.0.0.1:10027 does not share this node's cookie",
            ),
            (
                Error::ConnectionLost(node("dev2@127.0.0.1")),
                "the connection to node dev2@127.0.0.1 broke before it answered (the request may or may not have been carried out)",
            ),
            (
                Error::bad_request("n, w and r must be at least 1"),
                "n, w and r must be at least 1",
            ),
            (
                Error::Unavailable("2 of 8 vnodes did not answer".into()),
                "2 of 8 vnodes did not answer",
            ),
            (Error::Stopping, "the node is stopping"),
            (
                Error::NotClaimant {
                    claimant: node("dev1@127.0.0.1"),
                },
                "this node is not the claimant; the claimant is dev1@127.0.0.1",
            ),
            (
                Error::Refused("Failed: 'x' is the only member.".into()),
                "Failed: 'x' is the only member.",
            ),
            (
                Error::internal("cannot read the snapshot: gone"),
                "cannot read the snapshot: gone",
            ),
        ];
        for (error, sentence) in cases {
            assert_eq!(error.to_string(), sentence, "{error:?}");
        }
    }

    /// The sentences `start` and `console` print when a node cannot start.
    #[test]
    fn start_errors_say_what_to_change() {
        assert_eq!(
            StartError::from(RingSizeError(48)).to_string(),
            "ring size 48 is not a power of two between 8 and 1024"
        );
        assert_eq!(
            StartError::SavedRing(io::Error::other("truncated")).to_string(),
            "cannot read the saved ring: truncated"
        );
        assert_eq!(
            StartError::Metadata(io::Error::other("data/dev1/metadata.json: EOF")).to_string(),
            "cannot read the cluster metadata: data/dev1/metadata.json: EOF"
        );
        assert_eq!(
            StartError::RingSizeMismatch {
                data_dir: PathBuf::from("data/dev1"),
                saved: 64,
                asked: 8,
            }
            .to_string(),
            "data/dev1 holds a ring of 64 partitions, not 8: start with --ring-size 64 or another data directory"
        );
        assert_eq!(
            StartError::Listen {
                addr: "127.0.0.1:8101".parse().unwrap(),
                node: node("dev1@127.0.0.1"),
                source: io::Error::from(io::ErrorKind::AddrInUse),
            }
            .to_string(),
            "cannot listen on 127.0.0.1:8101: address in use (is dev1@127.0.0.1 already running? choose another node or port)"
        );
    }
}
