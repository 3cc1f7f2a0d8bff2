//! A client that keeps writing while a test changes the cluster under it (a join, a leave,
//! a node stopping), and the check that what it was told is stored really is.

use super::AckCounter;
use crate::store::{Entry, EntryId};
use crate::streams::{Nwr, Streams, StreamsVnode};
use crate::vnode::coordinator::QuorumWaiter;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::task::JoinHandle;

/// Every write the client was told succeeded, by stream, as stored (number, dot, payload).
pub type Acknowledged = BTreeMap<String, Vec<Entry>>;

/// Writes `write 0`, `write 1`, … round-robin to the streams `s0`..`s{streams-1}` of one
/// bucket, with N=3 W=2, one after the other, until stopped. Failed writes are simply not
/// remembered: only acknowledged ones must survive.
pub struct SteadyWriter {
    stop: Arc<AtomicBool>,
    acknowledged: AckCounter,
    task: JoinHandle<Acknowledged>,
}

impl SteadyWriter {
    /// Starts writing through `db` (one node's database).
    pub fn start<Q: QuorumWaiter, V: StreamsVnode>(
        db: Streams<Q, V>,
        bucket: &'static str,
        streams: u64,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = AckCounter::default();
        let (stopping, counting) = (Arc::clone(&stop), acknowledged.clone());
        let task = tokio::spawn(async move {
            let mut acked = Acknowledged::new();
            let mut i = 0u64;
            while !stopping.load(Ordering::Relaxed) {
                let stream = format!("s{}", i % streams);
                let payload = format!("write {i}").into_bytes();
                match db.post(bucket, &stream, payload, Nwr::default()).await {
                    Ok(written) => {
                        acked.entry(stream).or_default().push(written.entry);
                        counting.add_one();
                    }
                    Err(error) => counting.failed(&error),
                }
                i += 1;
            }
            acked
        });
        SteadyWriter {
            stop,
            acknowledged,
            task,
        }
    }

    /// How many writes have been acknowledged so far.
    pub fn acknowledged(&self) -> usize {
        self.acknowledged.count()
    }

    /// Waits until `more` writes past the current count have been acknowledged.
    pub async fn wait_for_more(&self, more: usize) {
        self.acknowledged.wait_for_more(more).await;
    }

    /// Stops writing and returns what was acknowledged.
    pub async fn stop(self) -> Acknowledged {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the writer does not panic")
    }
}

/// Checks, reading every replica (R=3) through `db`, that every acknowledged write of `bucket`
/// is stored as it was acknowledged (its number, its dot, its payload), and that no write is
/// stored twice. `on` names the node in the messages.
pub async fn assert_acknowledged_stored<Q: QuorumWaiter, V: StreamsVnode>(
    db: &Streams<Q, V>,
    bucket: &str,
    acked: &Acknowledged,
    on: &str,
) {
    let every_replica = Nwr { n: 3, w: 2, r: 3 };
    for (stream, written) in acked {
        let read = db
            .read(bucket, stream, 1, usize::MAX, every_replica)
            .await
            .unwrap_or_else(|e| panic!("reading {bucket}/{stream} on {on}: {e}"));
        let stored: BTreeMap<EntryId, &[u8]> = read
            .entries
            .iter()
            .map(|e| (e.id(), e.payload.as_slice()))
            .collect();
        for entry in written {
            assert_eq!(
                stored.get(&entry.id()).map(|p| String::from_utf8_lossy(p)),
                Some(String::from_utf8_lossy(&entry.payload)),
                "acknowledged {bucket}/{stream} #{} ({}) on {on}",
                entry.seq,
                entry.dot
            );
        }
        // Every payload is written once, so a payload found twice is a write stored twice.
        let distinct: BTreeSet<&[u8]> = stored.values().copied().collect();
        assert_eq!(
            distinct.len(),
            stored.len(),
            "{bucket}/{stream} on {on} holds a write twice"
        );
    }
}
