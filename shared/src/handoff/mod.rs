//! Handoff (riak_core's handoff manager, sender and receiver): moving a vnode's data to the
//! node that should hold it.
//!
//! Two kinds, found by a periodic tick (every `handoff_tick`, and at once when the ring
//! changes) — never by waiting for a vnode to be idle:
//!
//! - **ownership**: after a commit, a partition this node owns has a next owner. Its data is
//!   sent there; when every vnode type of the partition is empty here, the claimant is told
//!   the transfer is complete and the next owner becomes the owner.
//! - **hinted**: a vnode here holds data for a partition this node does not own (it was a
//!   fallback while the owner was down, or writes reached it after its data moved). Once the
//!   owner is up, the data is sent there and deleted here.
//!
//! A transfer ([`sender`]) snapshots the vnode into a spill file, streams it in batches
//! bounded by count and bytes, each acknowledged by the receiver ([`receiver`]) once applied,
//! then the changes made meanwhile (see [`crate::vnode_task`]). At most
//! `handoff_concurrency` transfers (in and out together) run on a node at once; both ends
//! time out, so a dead peer never keeps a slot. A transfer that fails is abandoned and tried
//! again from the start on a later tick; items sent twice are harmless, because applying an
//! item is idempotent (stream entries carry their sequence numbers).
//!
//! **Requests during a handoff.** A write that reaches the old owner while its partition is
//! being handed over is applied there *and* sent on to the receiver (`handle_handoff_command`
//! says what it changed). A write that reaches it after the handoff finished (other nodes may
//! not have heard of the new owner yet) is applied there too; the partition is then not
//! deleted, and the next tick hands the new data over as a hinted handoff. Nothing
//! acknowledged is lost either way.

mod receiver;
mod sender;

use crate::node::Node;
use crate::ring::{IndexNode, NodeName, Partition};
use crate::vnode::HandoffKind;
use crate::vnode_host::HostedVnodes;
use crate::wire::{ClaimantRequest, TransferStatus};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

pub(crate) use receiver::handle as handle_request;

/// Items per batch, at most.
const BATCH_ITEMS: usize = 1000;
/// Bytes per batch, at most (well under the frame limit).
const BATCH_BYTES: usize = 1024 * 1024;

/// The handoff state of a node: its transfer slots, and the transfers under way.
pub(crate) struct Handoffs {
    slots: Arc<Semaphore>,
    outbound: Mutex<BTreeMap<(String, u32), Arc<Progress>>>,
    inbound: Mutex<HashMap<(NodeName, u64), Inbound>>,
    /// Vnodes whose ownership transfer was sent completely, waiting for the other vnode
    /// types of their partition before the claimant is told.
    handed_over: Mutex<BTreeSet<(String, u32)>>,
    next_id: AtomicU64,
    /// Wakes the manager when a transfer ends, so the next one starts at once.
    slot_freed: Notify,
    /// Transfers that failed: when, and how many times in a row. One is tried again only
    /// after a rest that doubles with each failure (up to 32 ticks), so that a vnode failing
    /// every time (an exercise's hole, a broken disk) is not asked again at every wake-up.
    failed: Mutex<HashMap<(String, u32), (Instant, u32)>>,
}

/// One transfer being sent, as `transfers` shows it.
pub(crate) struct Progress {
    kind: HandoffKind,
    vnode_type: String,
    partition: Partition,
    source: NodeName,
    target: NodeName,
    objects_sent: AtomicU64,
    bytes_sent: AtomicU64,
    objects_total: AtomicU64,
    bytes_total: AtomicU64,
}

/// One transfer being received.
struct Inbound {
    vnode_type: String,
    partition: u32,
    last_seen: Instant,
    _slot: OwnedSemaphorePermit,
}

impl Handoffs {
    pub(crate) fn new(concurrency: usize) -> Self {
        Handoffs {
            slots: Arc::new(Semaphore::new(concurrency)),
            outbound: Mutex::new(BTreeMap::new()),
            inbound: Mutex::new(HashMap::new()),
            handed_over: Mutex::new(BTreeSet::new()),
            next_id: AtomicU64::new(1),
            slot_freed: Notify::new(),
            failed: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a transfer that failed is still resting; `tick` is the manager's pace.
    fn resting(&self, vnode_type: &str, partition: u32, tick: std::time::Duration) -> bool {
        let failed = self.failed.lock().expect("failed");
        failed
            .get(&(vnode_type.to_string(), partition))
            .is_some_and(|(at, times)| at.elapsed() < tick * (1 << (times - 1).min(5)))
    }

    /// Notes how a transfer ended, for [`Handoffs::resting`].
    fn ended(&self, key: (String, u32), succeeded: bool) {
        let mut failed = self.failed.lock().expect("failed");
        if succeeded {
            failed.remove(&key);
        } else {
            let times = failed.get(&key).map_or(0, |(_, times)| *times);
            failed.insert(key, (Instant::now(), times.saturating_add(1)));
        }
    }

    /// The transfers this node is sending.
    pub(crate) fn status(&self) -> Vec<TransferStatus> {
        self.outbound
            .lock()
            .expect("outbound")
            .values()
            .map(|p| TransferStatus {
                kind: p.kind,
                vnode_type: p.vnode_type.clone(),
                partition: p.partition.index(),
                source: p.source.clone(),
                target: p.target.clone(),
                objects_sent: p.objects_sent.load(Ordering::Relaxed),
                objects_total: p.objects_total.load(Ordering::Relaxed),
                bytes_sent: p.bytes_sent.load(Ordering::Relaxed),
                bytes_total: p.bytes_total.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Whether a partition of a vnode type is being received here now.
    fn receiving(&self, vnode_type: &str, partition: u32) -> bool {
        self.inbound
            .lock()
            .expect("inbound")
            .values()
            .any(|i| i.vnode_type == vnode_type && i.partition == partition)
    }

    fn handed_over(&self, vnode_type: &str, partition: u32) -> bool {
        self.handed_over
            .lock()
            .expect("handed over")
            .contains(&(vnode_type.to_string(), partition))
    }

    fn sending(&self, vnode_type: &str, partition: u32) -> bool {
        self.outbound
            .lock()
            .expect("outbound")
            .contains_key(&(vnode_type.to_string(), partition))
    }

    /// Frees the slots of receptions whose sender went quiet.
    fn reap(&self, idle: std::time::Duration) {
        self.inbound.lock().expect("inbound").retain(|(from, id), inbound| {
            let alive = inbound.last_seen.elapsed() < idle;
            if !alive {
                tracing::warn!(%from, id, partition = inbound.partition, "handoff from a quiet sender abandoned");
            }
            alive
        });
    }
}

/// What the manager found to do on one tick.
struct Candidate {
    host: Arc<dyn HostedVnodes>,
    partition: Partition,
    kind: HandoffKind,
    target: NodeName,
}

/// The handoff manager: looks for work on every tick, until the node stops.
pub(crate) async fn run(node: Node) {
    let shutdown = node.shutdown_token();
    let mut waiting_logged: BTreeSet<Partition> = BTreeSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = node.ring_changed(node.config().handoff_tick) => {}
            _ = node.handoffs().slot_freed.notified() => {}
        }
        node.handoffs().reap(node.config().handoff_timeout);
        complete_empty_ownership_transfers(&node, &mut waiting_logged).await;
        for candidate in candidates(&node).await {
            if node
                .handoffs()
                .sending(candidate.host.vnode_type(), candidate.partition.index())
            {
                continue;
            }
            let Ok(slot) = Arc::clone(&node.handoffs().slots).try_acquire_owned() else {
                break;
            };
            start(&node, candidate, slot);
        }
    }
}

/// The transfers this node should send now, ownership first.
async fn candidates(node: &Node) -> Vec<Candidate> {
    let ring = node.ring();
    let me = node.name();
    let tick = node.config().handoff_tick;
    let mut found = Vec::new();
    for host in node.hosts() {
        for (partition, _, next) in ring
            .pending_transfers()
            .filter(|(_, owner, _)| *owner == me)
        {
            let handoffs = node.handoffs();
            let done = handoffs.handed_over(host.vnode_type(), partition.index());
            let resting = handoffs.resting(host.vnode_type(), partition.index(), tick);
            if node.is_up(next) && !done && !resting && !is_empty(node, &host, partition).await {
                found.push(Candidate {
                    host: Arc::clone(&host),
                    partition,
                    kind: HandoffKind::Ownership,
                    target: next.clone(),
                });
            }
        }
    }
    for host in node.hosts() {
        for index in host.partitions_with_data() {
            let partition = Partition::new(index, ring.size());
            let owner = ring.owner(partition);
            let mine = owner == me || ring.next_owner(partition) == Some(me);
            if mine
                || !node.is_up(owner)
                || node.handoffs().receiving(host.vnode_type(), index)
                || node.handoffs().resting(host.vnode_type(), index, tick)
            {
                continue;
            }
            if !is_empty(node, &host, partition).await {
                found.push(Candidate {
                    host: Arc::clone(&host),
                    partition,
                    kind: HandoffKind::Hinted,
                    target: owner.clone(),
                });
            }
        }
    }
    found
}

async fn is_empty(node: &Node, host: &Arc<dyn HostedVnodes>, partition: Partition) -> bool {
    // A vnode that cannot say is treated as holding data: it is retried, never skipped. Until
    // its rest is over it is not even asked.
    let (vnode_type, index) = (host.vnode_type(), partition.index());
    if node
        .handoffs()
        .resting(vnode_type, index, node.config().handoff_tick)
    {
        return false;
    }
    match host.is_empty(index).await {
        Ok(empty) => empty,
        Err(_) => {
            node.handoffs()
                .ended((vnode_type.to_string(), index), false);
            false
        }
    }
}

/// Tells the claimant about partitions this node must hand over whose vnodes are all empty
/// (nothing to send, or everything sent).
async fn complete_empty_ownership_transfers(node: &Node, waiting_logged: &mut BTreeSet<Partition>) {
    let ring = node.ring();
    let me = node.name();
    let pending: Vec<(Partition, NodeName)> = ring
        .pending_transfers()
        .filter(|(_, owner, _)| *owner == me)
        .map(|(p, _, next)| (p, next.clone()))
        .collect();
    for (partition, next) in pending {
        if !node.is_up(&next) {
            continue;
        }
        let mut empty = true;
        for host in node.hosts() {
            empty &= node
                .handoffs()
                .handed_over(host.vnode_type(), partition.index())
                || is_empty(node, &host, partition).await;
        }
        if !empty {
            if waiting_logged.insert(partition) {
                tracing::debug!(node = %me, %partition, to = %next, "partition holds data: handing it off");
            }
            continue;
        }
        let request = ClaimantRequest::TransferComplete {
            partition: partition.index(),
            from: me.clone(),
            to: next.clone(),
        };
        match node.claimant_call(request).await {
            Ok(_) => {
                waiting_logged.remove(&partition);
                node.handoffs()
                    .handed_over
                    .lock()
                    .expect("handed over")
                    .retain(|(_, p)| *p != partition.index());
            }
            Err(error) => {
                tracing::debug!(node = %me, %partition, %error, "cannot record the transfer yet")
            }
        }
    }
}

/// Starts sending one transfer in the background; the slot is held until it ends.
fn start(node: &Node, candidate: Candidate, slot: OwnedSemaphorePermit) {
    let Candidate {
        host,
        partition,
        kind,
        target,
    } = candidate;
    let progress = Arc::new(Progress {
        kind,
        vnode_type: host.vnode_type().to_string(),
        partition,
        source: node.name().clone(),
        target: target.clone(),
        objects_sent: AtomicU64::new(0),
        bytes_sent: AtomicU64::new(0),
        objects_total: AtomicU64::new(0),
        bytes_total: AtomicU64::new(0),
    });
    let key = (host.vnode_type().to_string(), partition.index());
    node.handoffs()
        .outbound
        .lock()
        .expect("outbound")
        .insert(key.clone(), Arc::clone(&progress));
    let id = node.handoffs().next_id.fetch_add(1, Ordering::Relaxed);
    let node = node.clone();
    node.clone().spawn(async move {
        let to = IndexNode {
            partition,
            node: target,
        };
        let result = sender::transfer(&node, &host, id, to, &progress).await;
        if let Err(error) = &result {
            tracing::warn!(node = %node.name(), %partition, kind = %kind, %error, "handoff failed; it will be tried again");
        }
        node.handoffs().outbound.lock().expect("outbound").remove(&key);
        node.handoffs().ended(key, result.is_ok());
        drop(slot);
        node.handoffs().slot_freed.notify_one();
    });
}
