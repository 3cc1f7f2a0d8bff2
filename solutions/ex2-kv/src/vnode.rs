//! The KV vnode: the streams of one partition, kept in the partition's stream store.
//!
//! This is the lesson of exercise 2: a vnode has state, and the state lives in `self` between
//! requests. Ours is a [`PartitionStore`] — given code, as ETS was in the Erlang workshop —
//! where every key `(bucket, stream)` is an append-only stream of entries numbered 1, 2, 3, …
//! Its files sit in the vnode's own directory, so they are still there when the node restarts.

use ringcore::store::{Entry, PartitionStore, StoreConfig};
use ringcore::{Error, IndexNode, Vnode, VnodeContext};
use serde::{Deserialize, Serialize};
use std::io;

/// What the service can ask one KV vnode. Every command names the stream it is about.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Command {
    /// Appends a message to the stream.
    Append {
        bucket: String,
        stream: String,
        payload: Vec<u8>,
    },
    /// Step 1: the newest entry of the stream.
    Fetch { bucket: String, stream: String },
    /// Step 2: at most `limit` entries, from sequence number `from`; without `from`, the
    /// newest `limit` entries.
    Read {
        bucket: String,
        stream: String,
        from: Option<u64>,
        limit: usize,
    },
    /// Going further: marks the stream deleted by appending a tombstone, unless its newest
    /// entry already is one (or it has none): answers the tombstone written, or nothing.
    Delete { bucket: String, stream: String },
}

/// Going further: the payload of a tombstone, the entry that marks a key deleted. A lone
/// 0xFF byte never occurs in UTF-8 text, so no value stored with `store` or `post` (text)
/// can be taken for one.
pub const TOMBSTONE: &[u8] = &[0xff];

/// Whether an entry is a tombstone (see [`TOMBSTONE`]).
pub fn is_tombstone(entry: &Entry) -> bool {
    entry.payload == TOMBSTONE
}

/// One vnode of the ring. Its state is the store of its partition.
pub struct KvVnode {
    /// Who this vnode is, to name it in errors.
    me: IndexNode,
    /// The streams of this partition, on disk under the vnode's data directory.
    store: PartitionStore,
}

impl KvVnode {
    /// A store error (a full disk, say) as an answer for the caller.
    fn failed(&self, error: io::Error) -> Error {
        Error::VnodeFailed {
            vnode: self.me.clone(),
            reason: error.to_string(),
        }
    }
}

impl Vnode for KvVnode {
    type Command = Command;
    /// The entries the vnode wrote or found, oldest first: `Append` answers the entry it
    /// stored, `Fetch` none or one, `Read` any number.
    type Reply = Result<Vec<Entry>, Error>;
    // Asking every vnode at once (coverage) comes in exercise 3.
    type CoverageRequest = ();
    type CoverageReply = ();
    // Moving data to another node (handoff) comes in exercise 4. Until then the default
    // callbacks say "nothing to hand off", so a join completes at once — and whatever a
    // vnode held stays behind on its old node.
    type HandoffItem = ();

    /// Opens the partition's store, or creates it: a restarted node finds its data again.
    fn init(ctx: VnodeContext) -> Result<Self, String> {
        let store = PartitionStore::open(&ctx.data_dir, StoreConfig::default())
            .map_err(|e| format!("cannot open the store in {}: {e}", ctx.data_dir.display()))?;
        Ok(KvVnode {
            me: IndexNode {
                partition: ctx.partition,
                node: ctx.node,
            },
            store,
        })
    }

    fn handle_command(&mut self, command: Command) -> Self::Reply {
        match command {
            Command::Append {
                bucket,
                stream,
                payload,
            } => {
                let entry = self
                    .store
                    .append(&bucket, &stream, &payload)
                    .map_err(|e| self.failed(e))?;
                Ok(vec![entry])
            }
            Command::Fetch { bucket, stream } => {
                // Step 1: the newest entry, served from the store's in-memory cache.
                self.store
                    .last(&bucket, &stream, 1)
                    .map_err(|e| self.failed(e))
            }
            Command::Read {
                bucket,
                stream,
                from,
                limit,
            } => {
                // Step 2: entries from `from`, or the newest `limit`.
                let entries = match from {
                    Some(from) => self.store.read_from(&bucket, &stream, from, limit),
                    None => self.store.last(&bucket, &stream, limit),
                };
                entries.map_err(|e| self.failed(e))
            }
            Command::Delete { bucket, stream } => {
                // Going further: one request at a time, so nothing can be appended between
                // the look and the write: of deletes sent at once, exactly one writes.
                let newest = self
                    .store
                    .last(&bucket, &stream, 1)
                    .map_err(|e| self.failed(e))?;
                match newest.last() {
                    None => Ok(Vec::new()),
                    Some(entry) if is_tombstone(entry) => Ok(Vec::new()),
                    Some(_) => {
                        let tombstone = self
                            .store
                            .append(&bucket, &stream, TOMBSTONE)
                            .map_err(|e| self.failed(e))?;
                        Ok(vec![tombstone])
                    }
                }
            }
        }
    }

    fn handle_coverage(&mut self, _request: ()) {}
}
