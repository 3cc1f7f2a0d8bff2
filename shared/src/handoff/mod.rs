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
//! A transfer (`sender`) snapshots the vnode into a spill file, streams it in batches
//! bounded by count and bytes, each acknowledged by the receiver (`receiver`) once applied,
//! then the changes made meanwhile (see `crate::vnode::task`). At most
//! `handoff_concurrency` transfers (in and out together) run on a node at once; both ends
//! time out, so a dead peer never keeps a slot. A transfer that fails is abandoned and tried
//! again from the start on a later tick; items sent twice are harmless, because applying an
//! item is idempotent (stream entries carry their sequence numbers).
//!
//! **Failures and what the log says** (`failures`). A transfer fails when a callback of the
//! vnode panics or returns an error (`is_empty`, `fold`, `encode_handoff_item`,
//! `handle_handoff_data` on the receiver, `delete`, …), or a peer does not answer. The
//! partition then rests before it is tried again: one tick after its first failure, twice as
//! long after each failure in a row, at most 32 ticks. Every failure is logged once, by the
//! sending node (a receiver's reason comes back in its answer), with the callback that failed
//! and why: the first failure for a reason is a warning,
//!
//! ```text
//! WARN ownership handoff of kv_vnode 2283…984 from dev1@127.0.0.1 to dev2@127.0.0.1 failed; it will be tried again in 1 s: KvVnode::is_empty panicked: not implemented yet: …
//! ```
//!
//! and the same reason again (another try, another partition of the vnode type) is a debug
//! line, until a reminder is due: a warning that counts the failures since the last one,
//! after 1 minute, then 2, 4, 8 … up to once an hour. A reason no partition fails for any more
//! is forgotten, so it is a warning again if it comes back. A receiver whose every slot is
//! taken is not a failure: the transfer waits a tick for its turn, with a debug line.
//!
//! Each completed transfer logs one line, as riak does (`ownership transfer of kv_vnode from
//! … completed: sent 581 B in 10 of 10 objects …`). A partition that is being sent is never
//! picked again until that transfer has ended, so a transfer that ends while the manager looks
//! for work is not followed by a second one of the (now deleted) partition.
//!
//! **Requests during a handoff.** A write that reaches the old owner while its partition is
//! being handed over is applied there *and* sent on to the receiver (`handle_handoff_command`
//! says what it changed). A write that reaches it after the handoff finished (other nodes may
//! not have heard of the new owner yet) is applied there too; the partition is then not
//! deleted, and the next tick hands the new data over as a hinted handoff. Nothing
//! acknowledged is lost either way.

mod failures;
mod receiver;
pub(crate) mod report;
mod sender;

use crate::cluster::Claimant;
use crate::error::Error;
use crate::lifecycle::Lifecycle;
use crate::net::wire::{ClaimantRequest, HandoffRequest, Request, Response, TransferStatus};
use crate::ring::{HandoffKind, IndexNode, NodeName, Partition, Ring};
use crate::vnode::context::NodeContext;
use crate::vnode::host::{HostedVnodes, Hosts};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Items per batch, at most.
const BATCH_ITEMS: usize = 1000;
/// Bytes per batch, at most (well under the frame limit).
const BATCH_BYTES: usize = 1024 * 1024;

/// The handoff manager of a node (riak_core_handoff_manager), with the handles of its node it
/// works with. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Manager {
    node: NodeContext,
    hosts: Hosts,
    handoffs: Arc<Handoffs>,
    claimant: Claimant,
    /// How often to look for work, besides when the ring changes or a transfer ends.
    tick: Duration,
    /// How long either end of a transfer waits for the other.
    timeout: Duration,
    /// At most this many bytes per second per transfer.
    rate: Option<u64>,
}

impl Manager {
    pub(crate) fn new(
        node: NodeContext,
        hosts: Hosts,
        claimant: Claimant,
        concurrency: usize,
        (tick, timeout, rate): (Duration, Duration, Option<u64>),
    ) -> Self {
        Manager {
            node,
            hosts,
            handoffs: Arc::new(Handoffs::new(concurrency.max(1))),
            claimant,
            tick,
            timeout,
            rate,
        }
    }

    /// The transfers this node is sending now.
    pub(crate) fn status(&self) -> Vec<TransferStatus> {
        self.handoffs.status()
    }

    /// Answers one step of a handoff sent to this node.
    pub(crate) async fn receive(&self, request: HandoffRequest) -> Result<Response, Error> {
        receiver::handle(self, request).await
    }

    fn name(&self) -> &NodeName {
        self.node.name()
    }

    fn ring(&self) -> Arc<Ring> {
        self.node.ring()
    }

    fn is_up(&self, node: &NodeName) -> bool {
        self.node.is_up(node)
    }

    fn hosts(&self) -> Vec<Arc<dyn HostedVnodes>> {
        self.hosts.all()
    }

    fn handoffs(&self) -> &Handoffs {
        &self.handoffs
    }

    fn lifecycle(&self) -> &Lifecycle {
        self.node.state().lifecycle()
    }

    /// Sends a step of a transfer to another node.
    async fn request(
        &self,
        to: &NodeName,
        request: Request,
        wait: Duration,
    ) -> Result<Response, Error> {
        self.node.request(to, request, wait).await
    }
}

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
    /// Transfers that failed, resting before they are tried again, and the failures logged,
    /// so that a vnode failing every time (an exercise's hole, a broken disk) is neither asked
    /// again at every wake-up nor logged at every try.
    failures: Mutex<failures::Failures>,
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
            failures: Mutex::new(failures::Failures::default()),
        }
    }

    /// Whether a vnode whose last transfer failed (or found the receiver busy) must wait.
    fn resting(&self, vnode_type: &str, partition: u32) -> bool {
        self.failures
            .lock()
            .expect("failures")
            .resting(vnode_type, partition, Instant::now())
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

/// One transfer, as the log names it.
struct Transfer<'a> {
    kind: HandoffKind,
    vnode_type: &'a str,
    partition: Partition,
    from: &'a NodeName,
    to: &'a NodeName,
}

impl fmt::Display for Transfer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} handoff of {} {} from {} to {}",
            self.kind,
            self.vnode_type,
            self.partition.id(),
            self.from,
            self.to
        )
    }
}

/// The handoff manager: looks for work on every tick, until the node stops.
pub(crate) async fn run(manager: Manager) {
    let shutdown = manager.lifecycle().token().clone();
    let mut waiting_logged: BTreeSet<Partition> = BTreeSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = manager.node.state().changed(manager.tick) => {}
            _ = manager.handoffs().slot_freed.notified() => {}
        }
        manager.handoffs().reap(manager.timeout);
        complete_empty_ownership_transfers(&manager, &mut waiting_logged).await;
        // Only this loop starts transfers, and `candidates` leaves out the partitions being
        // sent: none is sent twice at once.
        for candidate in candidates(&manager).await {
            let Ok(slot) = Arc::clone(&manager.handoffs().slots).try_acquire_owned() else {
                break;
            };
            start(&manager, candidate, slot);
        }
    }
}

/// The transfers this node should send now, ownership first.
async fn candidates(manager: &Manager) -> Vec<Candidate> {
    let ring = manager.ring();
    let me = manager.name();
    let handoffs = manager.handoffs();
    // Whether a vnode is to be left alone this tick. A partition being sent is left out before
    // its vnode is asked whether it is empty: the answer would be stale by the time the
    // transfer ends (it deletes the data), and the partition would be sent again, empty.
    let left_alone = |vnode_type: &str, partition: u32| {
        handoffs.sending(vnode_type, partition) || handoffs.resting(vnode_type, partition)
    };
    let mut found = Vec::new();
    for host in manager.hosts() {
        for (partition, _, next) in ring
            .pending_transfers()
            .filter(|(_, owner, _)| *owner == me)
        {
            let vnode_type = host.vnode_type();
            if !manager.is_up(next)
                || handoffs.handed_over(vnode_type, partition.index())
                || left_alone(vnode_type, partition.index())
            {
                continue;
            }
            let transfer = Transfer {
                kind: HandoffKind::Ownership,
                vnode_type,
                partition,
                from: me,
                to: next,
            };
            if is_empty(manager, &host, &transfer).await == Some(false) {
                found.push(Candidate {
                    host: Arc::clone(&host),
                    partition,
                    kind: HandoffKind::Ownership,
                    target: next.clone(),
                });
            }
        }
    }
    for host in manager.hosts() {
        for index in host.partitions_with_data() {
            let partition = Partition::new(index, ring.size());
            let owner = ring.owner(partition);
            let mine = owner == me || ring.next_owner(partition) == Some(me);
            let vnode_type = host.vnode_type();
            if mine
                || !manager.is_up(owner)
                || handoffs.receiving(vnode_type, index)
                || left_alone(vnode_type, index)
            {
                continue;
            }
            let transfer = Transfer {
                kind: HandoffKind::Hinted,
                vnode_type,
                partition,
                from: me,
                to: owner,
            };
            if is_empty(manager, &host, &transfer).await == Some(false) {
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

/// Whether the vnode of a transfer has nothing to hand off. `None` when it cannot say (its
/// `is_empty` failed: the failure is logged and the vnode rests) or while it rests after an
/// earlier failure: such a vnode is neither sent nor taken for empty.
async fn is_empty(
    manager: &Manager,
    host: &Arc<dyn HostedVnodes>,
    transfer: &Transfer<'_>,
) -> Option<bool> {
    let index = transfer.partition.index();
    if manager.handoffs().resting(transfer.vnode_type, index) {
        return None;
    }
    match host.is_empty(index).await {
        Ok(empty) => Some(empty),
        Err(error) => {
            failed(manager, transfer, &error);
            None
        }
    }
}

/// Tells the claimant about partitions this node must hand over whose vnodes are all empty
/// (nothing to send, or everything sent).
async fn complete_empty_ownership_transfers(
    manager: &Manager,
    waiting_logged: &mut BTreeSet<Partition>,
) {
    let ring = manager.ring();
    let me = manager.name();
    let pending: Vec<(Partition, NodeName)> = ring
        .pending_transfers()
        .filter(|(_, owner, _)| *owner == me)
        .map(|(p, _, next)| (p, next.clone()))
        .collect();
    for (partition, next) in pending {
        if !manager.is_up(&next) {
            continue;
        }
        let mut empty = true;
        for host in manager.hosts() {
            let transfer = Transfer {
                kind: HandoffKind::Ownership,
                vnode_type: host.vnode_type(),
                partition,
                from: me,
                to: &next,
            };
            empty &= manager
                .handoffs()
                .handed_over(host.vnode_type(), partition.index())
                || is_empty(manager, &host, &transfer).await == Some(true);
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
        match manager.claimant.call(request).await {
            Ok(_) => {
                waiting_logged.remove(&partition);
                manager
                    .handoffs()
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
fn start(manager: &Manager, candidate: Candidate, slot: OwnedSemaphorePermit) {
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
        source: manager.name().clone(),
        target: target.clone(),
        objects_sent: AtomicU64::new(0),
        bytes_sent: AtomicU64::new(0),
        objects_total: AtomicU64::new(0),
        bytes_total: AtomicU64::new(0),
    });
    let key = (host.vnode_type().to_string(), partition.index());
    manager
        .handoffs()
        .outbound
        .lock()
        .expect("outbound")
        .insert(key.clone(), Arc::clone(&progress));
    let id = manager.handoffs().next_id.fetch_add(1, Ordering::Relaxed);
    let manager = manager.clone();
    manager.lifecycle().clone().spawn(async move {
        let to = IndexNode {
            partition,
            node: target.clone(),
        };
        let result = sender::transfer(&manager, &host, id, to, &progress).await;
        let transfer = Transfer {
            kind,
            vnode_type: host.vnode_type(),
            partition,
            from: manager.name(),
            to: &target,
        };
        match result {
            Ok(()) => manager
                .handoffs()
                .failures
                .lock()
                .expect("failures")
                .succeeded(&key.0, key.1),
            Err(sender::NotSent::Busy) => busy(&manager, &transfer),
            Err(sender::NotSent::Failed(error)) => failed(&manager, &transfer, &error),
        }
        manager
            .handoffs()
            .outbound
            .lock()
            .expect("outbound")
            .remove(&key);
        drop(slot);
        manager.handoffs().slot_freed.notify_one();
    });
}

/// Notes a failed transfer (its vnode rests) and logs it as the module doc says.
fn failed(manager: &Manager, transfer: &Transfer<'_>, error: &Error) {
    let reason = reason(error, manager.name());
    let tick = manager.tick;
    // The lock is held until the line is logged, so that lines come in the order they were
    // decided: the warning before the debug lines of the transfers that failed after it.
    let mut failures = manager.handoffs().failures.lock().expect("failures");
    let (rest, say) = failures.failed(
        transfer.vnode_type,
        transfer.partition.index(),
        &reason,
        tick,
        Instant::now(),
    );
    if manager.lifecycle().is_stopping() {
        return; // the node is stopping: transfers cut short are no news
    }
    let rest = seconds(rest);
    match say {
        failures::Say::Warn => {
            tracing::warn!("{transfer} failed; it will be tried again in {rest}: {reason}")
        }
        failures::Say::Remind {
            failures,
            partitions,
            over,
        } => tracing::warn!(
            "{transfer} failed; it will be tried again in {rest} ({failures} failures for this \
             reason on {partitions} partitions in the last {}): {reason}",
            seconds(over)
        ),
        failures::Say::Quiet => {
            tracing::debug!("{transfer} failed again; it will be tried again in {rest}: {reason}")
        }
    }
    drop(failures);
}

/// Notes a transfer the receiver had no slot for: it waits a tick for its turn.
fn busy(manager: &Manager, transfer: &Transfer<'_>) {
    let tick = manager.tick;
    manager.handoffs().failures.lock().expect("failures").busy(
        transfer.vnode_type,
        transfer.partition.index(),
        tick,
        Instant::now(),
    );
    tracing::debug!(
        "{transfer} waits: every handoff slot of {} is taken; it will ask again in {}",
        transfer.to,
        seconds(tick)
    );
}

/// Why a step failed, for the log: a vnode's own reason already names its callback
/// (`KvVnode::fold panicked: …`); the receiver's says which node answered.
fn reason(error: &Error, me: &NodeName) -> String {
    match error {
        Error::VnodeFailed { vnode, reason } if vnode.node == *me => reason.clone(),
        Error::VnodeFailed { vnode, reason } => format!("{} answered: {reason}", vnode.node),
        other => other.to_string(),
    }
}

/// A duration as the log shows it: `4 s`, `0.2 s`, `2 min`.
fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs >= 120.0 && secs % 60.0 == 0.0 {
        format!("{} min", duration.as_secs() / 60)
    } else if secs.fract() == 0.0 {
        format!("{secs} s")
    } else {
        format!("{secs:.1} s")
    }
}
