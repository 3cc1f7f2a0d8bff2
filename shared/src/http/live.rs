//! One reader per stream and node: however many clients of a node follow a stream (live
//! feeds, listen requests), the node reads each new entry once and hands it to all of them.
//!
//! The reader starts with the first client and stops with the last. It follows the stream
//! from its newest entry at the start (its *position* says how far it has delivered), woken by
//! the replicas (`feed.rs`), and broadcasts every entry it reads. A client subscribes before
//! it reads what it missed, up to the reader's position at that moment, so that nothing falls
//! between the two; one that falls more than [`CAPACITY`] entries behind is told so and reads
//! again from where it was. A slow client never holds the reader back.

use super::feed::reader;
use crate::store::Entry;
use crate::streams::{Nwr, Streams, StreamsVnode};
use crate::vnode::coordinator::QuorumWaiter;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};
use tokio::task::AbortHandle;

/// Entries a client may fall behind the reader before it must read them itself.
pub const CAPACITY: usize = 1024;

type Key = (String, String, Nwr);

/// The readers of a node, by stream (and the N/W/R their reads use).
#[derive(Default)]
struct Readers {
    readers: Mutex<HashMap<Key, Reader>>,
}

struct Reader {
    clients: usize,
    entries: broadcast::Sender<Entry>,
    /// The number of the last entry broadcast (its start, before any): `None` until known.
    position: watch::Receiver<Option<u64>>,
    task: AbortHandle,
}

/// A client's hold on a stream's reader; dropping it lets the reader stop with its last client.
pub struct Live {
    key: Key,
    entries: broadcast::Receiver<Entry>,
    position: watch::Receiver<Option<u64>>,
    readers: Arc<Readers>,
}

impl Live {
    /// How far the reader has delivered (waiting for it to know where it starts); `None`
    /// when the reader is gone (the node stops).
    pub async fn position(&mut self) -> Option<u64> {
        let known = self.position.wait_for(Option::is_some).await.ok()?;
        *known
    }

    /// The reader's next entry: `Some(None)` when this client fell too far behind (it must
    /// read what it missed, then carry on); `None` when the reader is gone.
    pub async fn next(&mut self) -> Option<Option<Entry>> {
        match self.entries.recv().await {
            Ok(entry) => Some(Some(entry)),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // Start again from the newest: what was skipped is read by the client.
                self.entries = self.entries.resubscribe();
                Some(None)
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let mut readers = self.readers.readers.lock().expect("never poisoned");
        if let Some(reader) = readers.get_mut(&self.key) {
            reader.clients -= 1;
            if reader.clients == 0 {
                reader.task.abort();
                readers.remove(&self.key);
            }
        }
    }
}

/// Joins the node's reader of a stream, starting it if this is its first client.
pub fn join<Q: QuorumWaiter, V: StreamsVnode>(
    db: &Streams<Q, V>,
    bucket: &str,
    stream: &str,
    nwr: Nwr,
) -> Live {
    let node = db.vnodes().node();
    let readers = node.singleton::<Readers>("the live feeds' readers", Default::default);
    let key = (bucket.to_string(), stream.to_string(), nwr);
    let mut all = readers.readers.lock().expect("never poisoned");
    let reader = all
        .entry(key.clone())
        .or_insert_with(|| start(db, bucket, stream, nwr));
    reader.clients += 1;
    let live = Live {
        key,
        entries: reader.entries.subscribe(),
        position: reader.position.clone(),
        readers: Arc::clone(&readers),
    };
    drop(all);
    live
}

/// Starts a reader: from the stream's newest entry, every new one, broadcast.
fn start<Q: QuorumWaiter, V: StreamsVnode>(
    db: &Streams<Q, V>,
    bucket: &str,
    stream: &str,
    nwr: Nwr,
) -> Reader {
    let (entries, _) = broadcast::channel(CAPACITY);
    let (set_position, position) = watch::channel(None);
    let (db, bucket, stream, sender) = (
        db.clone(),
        bucket.to_string(),
        stream.to_string(),
        entries.clone(),
    );
    let task = tokio::spawn(async move {
        let start = newest(&db, &bucket, &stream, nwr).await;
        set_position.send_replace(Some(start));
        let mut feed = Box::pin(reader(db, bucket, stream, start, nwr));
        while let Some(entry) = feed.next().await {
            // A late entry (below the last, see `feed.rs`) leaves the position where it was.
            set_position.send_if_modified(|position| {
                let further = position.is_none_or(|at| entry.seq > at);
                if further {
                    *position = Some(entry.seq);
                }
                further
            });
            // No client at this moment is fine: the next one reads what it needs.
            let _ = sender.send(entry);
        }
    });
    Reader {
        clients: 0,
        entries,
        position,
        task: task.abort_handle(),
    }
}

/// The stream's newest number, read until a read succeeds (the node may be starting).
async fn newest<Q: QuorumWaiter, V: StreamsVnode>(
    db: &Streams<Q, V>,
    bucket: &str,
    stream: &str,
    nwr: Nwr,
) -> u64 {
    loop {
        match db.last(bucket, stream, 1, nwr).await {
            Ok(read) => return read.entries.last().map_or(0, |e| e.seq),
            Err(error) => {
                tracing::debug!(%error, %bucket, %stream, "live reader cannot read the stream yet");
                tokio::time::sleep(super::feed::POLL).await;
            }
        }
    }
}
