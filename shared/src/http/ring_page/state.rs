//! The snapshot the ring page draws: the members with their status and share, every
//! partition with its owner and next owner, the transfers under way, what anti-entropy did,
//! and the node's counters for the charts.
//!
//! It is made from the views the admin tables are printed from ([`admin::member_view`],
//! [`admin::transfers_view`]), so that the page and `member-status` or `transfers` never
//! disagree: a share, a count of objects or of bytes reads the same in both.
//!
//! ```json
//! {"node": "dev1@127.0.0.1", "ring_version": 7, "ring_size": 64,
//!  "claimant": "dev1@127.0.0.1", "settled": false,
//!  "members": [{"name": "dev1@127.0.0.1", "status": "valid", "partitions": 22,
//!               "ring_pct": 34.375, "pending_pct": 25.0}, …],
//!  "partitions": [{"index": 0, "id": "0", "owner": "dev1@127.0.0.1",
//!                  "next_owner": "dev4@127.0.0.1", "handoff": "ownership", "progress": 35}, …],
//!  "waiting": [{"node": "dev1@127.0.0.1", "partitions": 5}],
//!  "transfers": [{"kind": "ownership", "vnode_type": "kv_vnode", "partition": 0,
//!                 "partition_id": "0", "source": "dev1@127.0.0.1", "target": "dev4@127.0.0.1",
//!                 "objects_sent": 120, "objects_total": 400, "bytes_sent": 3840,
//!                 "bytes_total": 12800, "objects": "120 of 400",
//!                 "bytes": "3.75 KB of 12.50 KB", "percent": 30}],
//!  "anti_entropy": [{"node": "dev1@127.0.0.1", "pause_ms": 1000, "ranges": 21,
//!                    "exchanges": 40, "repaired": 1,
//!                    "last": {"range": 12, "outcome": "in sync"}}],
//!  "counters": {"writes": 480, "write_seconds": 1.2, "reads": 10, "read_seconds": 0.01,
//!               "read_repairs": 0, "anti_entropy_repairs": 1,
//!               "handoff_objects": 160, "handoff_bytes": 93000}}
//! ```
//!
//! `next_owner`, `handoff` and `progress` are there only for a partition that has them;
//! `handoff` and `progress` (in whole percent, as the `transfers` bar says it) come from a
//! transfer of the partition under way. The counters count from the node's start, whatever
//! the outcome of each request; the page draws rates from two snapshots.

use crate::node::Node;
use crate::node::admin::{self, tables::ActiveTransfer};
use crate::ring::{Partition, Ring};
use crate::streams::aae;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use std::time::Duration;

/// `GET /ring/state`.
pub(super) async fn get(State(node): State<Node>) -> Json<Snapshot> {
    Json(snapshot(&node).await)
}

/// What the page draws, as this node sees the cluster now.
#[derive(Debug, Serialize)]
pub(super) struct Snapshot {
    node: String,
    ring_version: u64,
    ring_size: u32,
    claimant: String,
    /// No partition has a next owner.
    settled: bool,
    /// In name order, so that each keeps its colour.
    members: Vec<Member>,
    partitions: Vec<PartitionView>,
    /// The nodes with partitions waiting to be handed off, and how many.
    waiting: Vec<Waiting>,
    transfers: Vec<Transfer>,
    anti_entropy: Vec<AntiEntropy>,
    counters: Counters,
}

#[derive(Debug, Serialize)]
struct Member {
    name: String,
    /// valid, joining, leaving, exiting or down, as `member-status` says it.
    status: &'static str,
    /// Partitions owned now.
    partitions: usize,
    ring_pct: f64,
    /// The share once the pending transfers are done, when some are pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_pct: Option<f64>,
}

#[derive(Debug, Serialize)]
struct PartitionView {
    index: u32,
    /// riak's partition id, as the tables print it.
    id: String,
    owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_owner: Option<String>,
    /// `ownership` or `hinted`, while a transfer of the partition is under way.
    #[serde(skip_serializing_if = "Option::is_none")]
    handoff: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Waiting {
    node: String,
    partitions: usize,
}

/// One transfer under way, with the numbers `transfers` prints.
#[derive(Debug, Serialize)]
struct Transfer {
    kind: String,
    vnode_type: String,
    /// The partition's index (its arc on the page).
    partition: Option<u32>,
    partition_id: String,
    source: String,
    target: String,
    objects_sent: u64,
    objects_total: Option<u64>,
    bytes_sent: u64,
    bytes_total: Option<u64>,
    /// As `transfers` prints them: `120 of 400`, `3.75 KB of 12.50 KB`.
    objects: String,
    bytes: String,
    percent: Option<u64>,
}

/// What anti-entropy did on this node (one per vnode type that runs it).
#[derive(Debug, Serialize)]
struct AntiEntropy {
    node: String,
    /// The pause between two exchanges; `None`: anti-entropy is off.
    pause_ms: Option<u128>,
    /// The key ranges this node is in charge of.
    ranges: usize,
    exchanges: u64,
    repaired: u64,
    /// The range exchanged last, and how that went.
    last: Option<Exchange>,
}

#[derive(Debug, Serialize)]
struct Exchange {
    range: u32,
    outcome: String,
}

/// The node's counters the charts draw rates from.
#[derive(Debug, Serialize)]
struct Counters {
    writes: u64,
    write_seconds: f64,
    reads: u64,
    read_seconds: f64,
    read_repairs: u64,
    anti_entropy_repairs: u64,
    handoff_objects: u64,
    handoff_bytes: u64,
}

/// The snapshot of `node` now. Asks every member that is up for the transfers it is sending,
/// as `transfers` does.
pub(super) async fn snapshot(node: &Node) -> Snapshot {
    let ring = node.ring();
    let view = admin::transfers_view(node, &ring).await;
    let transfers: Vec<Transfer> = view.active.iter().map(|t| transfer(t, &ring)).collect();
    Snapshot {
        node: node.name().to_string(),
        ring_version: ring.version(),
        ring_size: ring.size(),
        claimant: ring.claimant().to_string(),
        settled: ring.is_settled(),
        members: members(node, &ring),
        partitions: partitions(&ring, &transfers),
        waiting: view
            .waiting
            .into_iter()
            .map(|(node, partitions)| Waiting { node, partitions })
            .collect(),
        transfers,
        anti_entropy: anti_entropy(node),
        counters: counters(node),
    }
}

fn members(node: &Node, ring: &Ring) -> Vec<Member> {
    admin::member_view(node, ring)
        .into_iter()
        .map(|row| Member {
            partitions: ring
                .members()
                .keys()
                .find(|m| m.as_str() == row.node)
                .map_or(0, |m| ring.owned_by(m).count()),
            name: row.node,
            status: row.status.as_str(),
            ring_pct: row.ring_pct,
            pending_pct: row.pending_pct,
        })
        .collect()
}

fn partitions(ring: &Ring, transfers: &[Transfer]) -> Vec<PartitionView> {
    ring.partitions()
        .map(|partition| {
            let index = partition.index();
            // A partition may have several transfers under way (hinted handoffs from two
            // fallbacks, or several vnode types): its arc shows the one least along.
            let moving = transfers
                .iter()
                .filter(|t| t.partition == Some(index))
                .min_by_key(|t| t.percent.unwrap_or(0));
            PartitionView {
                index,
                id: partition.id(),
                owner: ring.owner(partition).to_string(),
                next_owner: ring.next_owner(partition).map(|n| n.to_string()),
                handoff: moving.map(|t| t.kind.clone()),
                progress: moving.map(|t| t.percent.unwrap_or(0)),
            }
        })
        .collect()
}

fn transfer(t: &ActiveTransfer, ring: &Ring) -> Transfer {
    Transfer {
        kind: t.kind.to_string(),
        vnode_type: t.vnode_type.clone(),
        partition: Partition::from_id(&t.partition_id, ring.size()).map(|p| p.index()),
        partition_id: t.partition_id.clone(),
        source: t.source.clone(),
        target: t.target.clone(),
        objects_sent: t.objects_sent,
        objects_total: t.objects_total,
        bytes_sent: t.bytes_sent,
        bytes_total: t.bytes_total,
        objects: t.objects_shown(),
        bytes: t.bytes_shown(),
        percent: t.percent(),
    }
}

fn anti_entropy(node: &Node) -> Vec<AntiEntropy> {
    aae::reports(node)
        .into_iter()
        .map(|report| {
            // The range whose exchange ended last: the one with the shortest time since.
            let last = report
                .ranges
                .iter()
                .filter_map(|range| Some((range.range, range.last.as_ref()?)))
                .min_by_key(|(_, (since, _))| *since)
                .map(|(range, (_, outcome))| Exchange {
                    range: range.index(),
                    outcome: outcome.to_string(),
                });
            AntiEntropy {
                node: report.node.to_string(),
                pause_ms: report.pause.map(|pause| pause.as_millis()),
                ranges: report.ranges.len(),
                exchanges: report.exchanges,
                repaired: report.repaired,
                last,
            }
        })
        .collect()
}

fn counters(node: &Node) -> Counters {
    let metrics = node.metrics();
    let (writes, write_time) = metrics.requests_of("post");
    let (reads, read_time) = metrics.requests_of("read");
    let (lasts, last_time) = metrics.requests_of("last");
    Counters {
        writes,
        write_seconds: seconds(write_time),
        reads: reads + lasts,
        read_seconds: seconds(read_time + last_time),
        read_repairs: metrics.read_repairs.get(),
        anti_entropy_repairs: metrics.anti_entropy_repairs.get(),
        handoff_objects: metrics.handoff_objects.get(),
        handoff_bytes: metrics.handoff_bytes.get(),
    }
}

fn seconds(time: Duration) -> f64 {
    time.as_secs_f64()
}
