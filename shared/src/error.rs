//! The errors a caller of the runtime can meet, with messages meant for people.

use crate::ring::{IndexNode, NodeName};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// What went wrong with a request. Every variant prints a sentence a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Error {
    /// A hole of the exercise that is not filled in yet; the text says what to do.
    NotImplemented(String),
    /// Not enough answers arrived in time.
    Timeout {
        what: String,
        answered: usize,
        asked: usize,
        after_ms: u64,
    },
    /// Fewer replicas than the quorum needed succeeded (and it was not a timeout).
    Quorum {
        what: String,
        needed: usize,
        succeeded: usize,
        asked: usize,
        reasons: Vec<String>,
    },
    /// The vnode could not handle the request: it failed to start, panicked, or reported a
    /// failure of its own (a disk error, say).
    VnodeFailed { vnode: IndexNode, reason: String },
    /// The node that hosts a vnode cannot be reached: the request never left this node.
    Unreachable(NodeName),
    /// The connection to a node broke after the request was sent and before it answered: the
    /// request may or may not have been carried out there.
    ConnectionLost(NodeName),
    /// The request was refused because it makes no sense (bad arguments, unknown vnode type).
    BadRequest(String),
    /// The request is sound but cannot be answered in full now (part of the cluster does not
    /// answer); the text says what is missing.
    Unavailable(String),
    /// The local node is stopping.
    Stopping,
    /// A membership request reached a node that is not the claimant.
    NotClaimant { claimant: NodeName },
    /// The cluster refused a change; the text is riak's message (e.g. `Failed: …`).
    Refused(String),
}

impl Error {
    /// A hole in an exercise: `what` says what to write and which README step explains it.
    pub fn not_implemented(what: impl Into<String>) -> Self {
        Error::NotImplemented(what.into())
    }

    pub fn bad_request(why: impl Into<String>) -> Self {
        Error::BadRequest(why.into())
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotImplemented(what) => write!(f, "not implemented yet: {what}"),
            Error::Timeout {
                what,
                answered,
                asked,
                after_ms,
            } => write!(
                f,
                "{what} timed out after {after_ms} ms: {answered} of {asked} replicas answered"
            ),
            Error::Quorum {
                what,
                needed,
                succeeded,
                asked,
                reasons,
            } => {
                write!(
                    f,
                    "{what} needs {needed} of {asked} replicas, {succeeded} succeeded"
                )?;
                if !reasons.is_empty() {
                    write!(f, ": {}", reasons.join("; "))?;
                }
                Ok(())
            }
            Error::VnodeFailed { vnode, reason } => write!(
                f,
                "vnode {} on {} failed: {reason}",
                vnode.partition, vnode.node
            ),
            Error::Unreachable(node) => write!(f, "node {node} is unreachable"),
            Error::ConnectionLost(node) => write!(
                f,
                "the connection to node {node} broke before it answered (the request may or may not have been carried out)"
            ),
            Error::BadRequest(why) => write!(f, "{why}"),
            Error::Unavailable(what) => write!(f, "{what}"),
            Error::Stopping => write!(f, "the node is stopping"),
            Error::NotClaimant { claimant } => {
                write!(
                    f,
                    "this node is not the claimant; the claimant is {claimant}"
                )
            }
            Error::Refused(message) => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for Error {}
