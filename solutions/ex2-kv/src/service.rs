//! The KV service: the functions the console calls. Every request goes to the one vnode that
//! owns its key — the key's primary, with N=1 — because that is the only place the key's
//! data lives.

use crate::vnode::{Command, KvVnode, is_tombstone};
use ringcore::store::Entry;
use ringcore::{Error, IndexNode, Node, VnodeMaster, chash_key};

/// The bucket of the workshop's key/value commands: `store KEY VALUE` appends to the stream
/// `("kv", KEY)`, and `fetch KEY` reads its newest entry.
pub const KV_BUCKET: &str = "kv";

/// The key/value application's API.
#[derive(Clone)]
pub struct Kv {
    vnodes: VnodeMaster<KvVnode>,
}

/// An entry appended to a stream, and the vnode that keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub entry: Entry,
    pub vnode: IndexNode,
}

impl Kv {
    /// Hosts the KV vnodes on a node.
    pub fn start(node: &Node) -> Self {
        Kv {
            vnodes: node.register::<KvVnode>("kv_vnode"),
        }
    }

    /// The node this service runs on.
    pub fn node(&self) -> &Node {
        self.vnodes.node()
    }

    /// Appends `value` to the stream of `key`: `store alice 42`.
    pub async fn store(&self, key: &str, value: &str) -> Result<Stored, Error> {
        self.post(KV_BUCKET, key, value).await
    }

    /// Appends a message to a stream, on the stream's vnode.
    pub async fn post(&self, bucket: &str, stream: &str, text: &str) -> Result<Stored, Error> {
        let vnode = self.vnode_of(bucket, stream)?;
        let command = Command::Append {
            bucket: bucket.to_string(),
            stream: stream.to_string(),
            payload: text.as_bytes().to_vec(),
        };
        let entries = self.vnodes.sync_command(&vnode, command).await??;
        let entry = entries
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("the vnode answered an append without its entry"))?;
        Ok(Stored { entry, vnode })
    }

    /// Step 1: the newest entry of `key`'s stream, or `None` if nothing was stored there.
    pub async fn fetch(&self, key: &str) -> Result<Option<Entry>, Error> {
        let vnode = self.vnode_of(KV_BUCKET, key)?;
        let command = Command::Fetch {
            bucket: KV_BUCKET.to_string(),
            stream: key.to_string(),
        };
        let mut entries = self.vnodes.sync_command(&vnode, command).await??;
        // Going further: a key whose newest entry is a tombstone was deleted.
        Ok(entries.pop().filter(|entry| !is_tombstone(entry)))
    }

    /// Step 2: at most `limit` entries of a stream, from sequence number `from`; without
    /// `from`, the newest `limit` entries. Oldest first either way.
    pub async fn get(
        &self,
        bucket: &str,
        stream: &str,
        from: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Entry>, Error> {
        let vnode = self.vnode_of(bucket, stream)?;
        let command = Command::Read {
            bucket: bucket.to_string(),
            stream: stream.to_string(),
            from,
            limit,
        };
        self.vnodes.sync_command(&vnode, command).await?
    }

    /// Going further: deletes `key` by appending a tombstone to its stream; answers the
    /// tombstone, or `None` when there was nothing to delete (no value, or deleted already).
    pub async fn delete(&self, key: &str) -> Result<Option<Stored>, Error> {
        let vnode = self.vnode_of(KV_BUCKET, key)?;
        let command = Command::Delete {
            bucket: KV_BUCKET.to_string(),
            stream: key.to_string(),
        };
        let entries = self.vnodes.sync_command(&vnode, command).await??;
        Ok(entries
            .into_iter()
            .next()
            .map(|entry| Stored { entry, vnode }))
    }

    /// The vnode that keeps a stream: the first primary of its key (riak's
    /// `get_primary_apl(Hash, 1)`).
    ///
    /// With N=1 there is no other copy to turn to. When the owner of the key's partition is
    /// down, say so at once, rather than send the request into the void and wait for it to
    /// time out.
    fn vnode_of(&self, bucket: &str, stream: &str) -> Result<IndexNode, Error> {
        let hash = chash_key(bucket.as_bytes(), stream.as_bytes());
        if let Some(primary) = self.vnodes.primary_apl(&hash, 1).into_iter().next() {
            return Ok(primary.target);
        }
        // `primary_apl` leaves out primaries whose node is down (`self.node().is_up(…)` is
        // false), and with N=1 that leaves nothing. The ring tells whose partition it is.
        // (`Error::Unreachable` would name the node only; this message names the key too.)
        let ring = self.node().ring();
        let owner = ring.owner(ring.partition_for(&hash));
        Err(Error::Unavailable(format!(
            "the vnode of {bucket}/{stream} is on {owner}, which is down"
        )))
    }
}
