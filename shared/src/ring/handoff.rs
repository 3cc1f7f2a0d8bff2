//! Why a partition's data moves from one vnode to another, as the ring decides it: riak's
//! handoff types. Handoff itself (moving the data) is [`crate::handoff`].

use std::fmt;

/// Why a handoff happens (riak's handoff types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum HandoffKind {
    /// The partition has a new owner after a ring change: the data moves there for good.
    Ownership,
    /// A fallback vnode gives back the writes it took while the primary was away.
    Hinted,
}

impl fmt::Display for HandoffKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            HandoffKind::Ownership => "ownership",
            HandoffKind::Hinted => "hinted",
        })
    }
}
