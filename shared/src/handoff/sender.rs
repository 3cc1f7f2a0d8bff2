//! Sending one transfer: snapshot, batches, changes made meanwhile, finish.

use super::Manager;
use super::report;
use super::{BATCH_BYTES, BATCH_ITEMS, Progress};
use crate::error::Error;
use crate::net::wire::{HandoffRequest, Request, Response};
use crate::ring::HandoffKind;
use crate::ring::IndexNode;
use crate::vnode::HandoffTarget;
use crate::vnode::host::HostedVnodes;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Why a transfer did not complete.
pub(super) enum NotSent {
    /// The receiver had no free handoff slot: not a failure, the transfer waits its turn.
    Busy,
    /// A step failed: a callback of the vnode here or there, or a peer that did not answer.
    Failed(Error),
}

/// How far [`send`] got.
enum Ended {
    Completed,
    ReceiverBusy,
}

/// Sends the data of one vnode to `to`; when it does not complete, the vnode is told the
/// handoff was cancelled, and the manager tries again later.
pub(super) async fn transfer(
    manager: &Manager,
    host: &Arc<dyn HostedVnodes>,
    id: u64,
    to: IndexNode,
    progress: &Progress,
) -> Result<(), NotSent> {
    let partition = to.partition.index();
    let spill = manager
        .node
        .state()
        .data_dir()
        .join("handoff")
        .join(format!(
            "{}-{}-{id}.spill",
            host.vnode_type(),
            to.partition.id()
        ));
    let result = send(manager, host, id, &to, progress, &spill).await;
    let _ = std::fs::remove_file(&spill);
    if !matches!(result, Ok(Ended::Completed)) {
        let _ = host.handoff_cancel(partition).await;
    }
    match result {
        Ok(Ended::Completed) => Ok(()),
        Ok(Ended::ReceiverBusy) => Err(NotSent::Busy),
        Err(error) => {
            // Frees the receiver's slot at once rather than when it times out.
            let end = HandoffRequest::End {
                id,
                from: manager.name().clone(),
            };
            let _ = manager
                .request(
                    &to.node,
                    Request::Handoff(end),
                    manager.node.request_timeout(),
                )
                .await;
            Err(NotSent::Failed(error))
        }
    }
}

async fn send(
    manager: &Manager,
    host: &Arc<dyn HostedVnodes>,
    id: u64,
    to: &IndexNode,
    progress: &Progress,
    spill: &PathBuf,
) -> Result<Ended, Error> {
    let started = Instant::now();
    let partition = to.partition.index();
    let target = HandoffTarget {
        kind: progress.kind,
        to: to.clone(),
    };
    let (summary, mut forwarded) = host
        .handoff_fold(partition, target.clone(), spill.clone())
        .await?;
    progress
        .objects_total
        .store(summary.objects, Ordering::Relaxed);
    progress.bytes_total.store(summary.bytes, Ordering::Relaxed);
    let me = manager.name().clone();
    let start = HandoffRequest::Start {
        id,
        from: me.clone(),
        kind: progress.kind,
        vnode_type: host.vnode_type().to_string(),
        partition,
    };
    if let Response::Busy = call(manager, to, Request::Handoff(start)).await? {
        return Ok(Ended::ReceiverBusy);
    }

    // The snapshot, batch by batch, with the changes made meanwhile mixed in.
    let mut snapshot = Snapshot::open(spill)
        .map_err(|e| Error::internal(format!("cannot read the snapshot: {e}")))?;
    loop {
        let mut batch = snapshot
            .next_batch()
            .map_err(|e| Error::internal(format!("cannot read the snapshot: {e}")))?;
        let snapshot_done = batch.is_empty();
        while batch.len() < BATCH_ITEMS {
            let Ok(item) = forwarded.try_recv() else {
                break;
            };
            batch.push(item);
        }
        if batch.is_empty() && snapshot_done {
            break;
        }
        send_batch(manager, to, id, batch, progress).await?;
        throttle(manager, started, progress).await;
    }

    // No more changes are forwarded once the vnode hears the handoff is finished; send what
    // was forwarded until then.
    host.handoff_finish(partition, target).await?;
    let mut rest = Vec::new();
    while let Some(item) = forwarded.recv().await {
        rest.push(item);
        if rest.len() == BATCH_ITEMS {
            send_batch(manager, to, id, std::mem::take(&mut rest), progress).await?;
        }
    }
    if !rest.is_empty() {
        send_batch(manager, to, id, rest, progress).await?;
    }
    call(
        manager,
        to,
        Request::Handoff(HandoffRequest::End { id, from: me }),
    )
    .await?;

    if progress.kind == HandoffKind::Ownership {
        manager
            .handoffs()
            .handed_over
            .lock()
            .expect("handed over")
            .insert((host.vnode_type().to_string(), partition));
    }
    let deleted = host.handoff_delete(partition).await?;
    if !deleted {
        tracing::warn!(%partition, "the vnode did not see the handoff finish: its data is kept");
    }
    let objects = progress.objects_sent.load(Ordering::Relaxed);
    tracing::info!(
        "{}",
        report::completed_line(
            progress.kind,
            host.vnode_type(),
            manager.name().as_str(),
            to.node.as_str(),
            &to.partition.id(),
            progress.bytes_sent.load(Ordering::Relaxed),
            objects,
            objects,
            started.elapsed().as_secs_f64(),
        )
    );
    Ok(Ended::Completed)
}

/// Waits as long as the configured rate asks, given what was sent since `started`.
async fn throttle(manager: &Manager, started: Instant, progress: &Progress) {
    if let Some(rate) = manager.rate.filter(|r| *r > 0) {
        let sent = progress.bytes_sent.load(Ordering::Relaxed) as f64;
        let due = std::time::Duration::from_secs_f64(sent / rate as f64);
        if let Some(early) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(early).await;
        }
    }
}

async fn send_batch(
    manager: &Manager,
    to: &IndexNode,
    id: u64,
    items: Vec<Vec<u8>>,
    progress: &Progress,
) -> Result<(), Error> {
    let (count, bytes) = (
        items.len() as u64,
        items.iter().map(|i| i.len() as u64).sum::<u64>(),
    );
    let batch = HandoffRequest::Batch {
        id,
        from: manager.name().clone(),
        items,
    };
    call(manager, to, Request::Handoff(batch)).await?;
    progress.objects_sent.fetch_add(count, Ordering::Relaxed);
    progress.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
    let metrics = manager.node.metrics();
    metrics.handoff_objects.inc_by(count);
    metrics.handoff_bytes.inc_by(bytes);
    Ok(())
}

/// One step of the protocol; the receiver must answer it within the handoff timeout.
async fn call(manager: &Manager, to: &IndexNode, request: Request) -> Result<Response, Error> {
    match manager.request(&to.node, request, manager.timeout).await? {
        answer @ (Response::Done | Response::Applied(_) | Response::Busy) => Ok(answer),
        other => Err(Error::internal(format!(
            "unexpected handoff answer: {other:?}"
        ))),
    }
}

/// Reads a spill file back in batches.
struct Snapshot {
    file: BufReader<File>,
}

impl Snapshot {
    fn open(path: &PathBuf) -> io::Result<Snapshot> {
        Ok(Snapshot {
            file: BufReader::new(File::open(path)?),
        })
    }

    /// The next batch: at most `BATCH_ITEMS` items and about `BATCH_BYTES` bytes. Empty at
    /// the end.
    fn next_batch(&mut self) -> io::Result<Vec<Vec<u8>>> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        while batch.len() < BATCH_ITEMS && bytes < BATCH_BYTES {
            let mut length = [0u8; 4];
            match self.file.read_exact(&mut length) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
            let mut item = vec![0u8; u32::from_be_bytes(length) as usize];
            self.file.read_exact(&mut item)?;
            bytes += item.len();
            batch.push(item);
        }
        Ok(batch)
    }
}
