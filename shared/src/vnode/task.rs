//! The life of one vnode: a tokio task that owns the vnode's state and handles its requests
//! one at a time, in the order they were sent (riak_core's vnode process).
//!
//! The vnode starts (`init`) on its first request. A callback that panics answers that
//! request with an error and the vnode goes on: a `todo` macro left in an exercise never takes
//! a node down. The error of a handoff callback names it (`KvVnode::fold panicked: …`), for the
//! handoff manager's log line.
//!
//! During a handoff the task also keeps the handoff's bookkeeping, because only the task sees
//! every change in order:
//!
//! - from the snapshot (`fold`) until the handoff is finished, every command goes through
//!   `handle_handoff_command`, and the items it changed — and items received by handoff from
//!   elsewhere — are *forwarded*: sent on to the receiving vnode after the snapshot;
//! - once it is finished the receiving vnode holds everything, and this one *passes on* every
//!   command and coverage request that still reaches it (from nodes whose ring has not caught
//!   up yet) to the receiving vnode, as riak's vnodes do in forwarding mode. Answering them
//!   here would answer from data that is being deleted, or store a write where nobody reads
//!   it. Only when the receiving node is seen down does this vnode answer itself, as the
//!   fallback it then is.

use crate::error::Error;
use crate::net::wire::VnodeCall;
use crate::ring::IndexNode;
use crate::vnode::context::NodeContext;
use crate::vnode::host::ReplySink;
use crate::vnode::remote;
use crate::vnode::{HandoffTarget, Vnode, VnodeContext};
use std::any::Any;
use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use tokio::sync::{mpsc, oneshot};

/// What a vnode task can be asked to do.
pub(crate) enum VnodeRequest<V: Vnode> {
    Command {
        command: V::Command,
        reply: ReplySink<V::Reply>,
    },
    Coverage {
        request: V::CoverageRequest,
        reply: ReplySink<V::CoverageReply>,
    },
    IsEmpty {
        reply: oneshot::Sender<Result<bool, Error>>,
    },
    Handoff(HandoffCall),
    Stop,
}

/// The steps of a handoff, as the vnode task sees them.
pub(crate) enum HandoffCall {
    /// Start: write a snapshot of every item to `spill`, and from now on forward changes.
    Fold {
        target: HandoffTarget,
        spill: PathBuf,
        forward: mpsc::UnboundedSender<Vec<u8>>,
        reply: oneshot::Sender<Result<SpillSummary, Error>>,
    },
    /// Items received from another vnode's handoff.
    Data {
        items: Vec<Vec<u8>>,
        reply: oneshot::Sender<Result<usize, Error>>,
    },
    /// Every item reached the target: stop forwarding (`handoff_finished`).
    Finish {
        target: HandoffTarget,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    /// The data is no longer ours: delete it, unless it changed since `Finish`.
    Delete {
        reply: oneshot::Sender<Result<bool, Error>>,
    },
    /// The handoff was abandoned (`handoff_cancelled`); it will be tried again.
    Cancel {
        reply: oneshot::Sender<Result<(), Error>>,
    },
}

/// What the snapshot of a handoff holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpillSummary {
    pub objects: u64,
    pub bytes: u64,
}

/// Where a vnode is in a handoff.
enum Phase {
    Idle,
    Forwarding(mpsc::UnboundedSender<Vec<u8>>),
    /// The handoff to this vnode is finished: requests are passed on to it.
    HandedOff(IndexNode),
}

struct VnodeTask<V: Vnode> {
    ctx: VnodeContext,
    node: NodeContext,
    me: IndexNode,
    vnode: Option<V>,
    phase: Phase,
}

/// Runs a vnode until it is stopped or every sender is gone.
pub(crate) async fn run_vnode<V: Vnode>(
    ctx: VnodeContext,
    node: NodeContext,
    mut queue: mpsc::UnboundedReceiver<VnodeRequest<V>>,
) {
    let me = IndexNode {
        partition: ctx.partition,
        node: ctx.node.clone(),
    };
    let mut task = VnodeTask::<V> {
        ctx,
        node,
        me,
        vnode: None,
        phase: Phase::Idle,
    };
    while let Some(request) = queue.recv().await {
        if matches!(request, VnodeRequest::Stop) {
            break;
        }
        task.handle(request);
    }
    if let Some(mut vnode) = task.vnode {
        let _ = guarded(|| vnode.terminate());
    }
}

impl<V: Vnode> VnodeTask<V> {
    fn handle(&mut self, request: VnodeRequest<V>) {
        if let Err(reason) = self.ensure_started() {
            fail(request, self.failed(format!("could not start: {reason}")));
            return;
        }
        let request = match self.pass_on(request) {
            Ok(()) => return,
            Err(request) => request,
        };
        let vnode = self.vnode.as_mut().expect("started above");
        match request {
            VnodeRequest::Command { command, reply } => {
                let result = match &mut self.phase {
                    Phase::Idle | Phase::HandedOff(_) => guarded(|| vnode.handle_command(command)),
                    Phase::Forwarding(forward) => guarded(|| vnode.handle_handoff_command(command))
                        .map(|(reply, changed)| {
                            for item in &changed {
                                let _ = forward.send(V::encode_handoff_item(item));
                            }
                            reply
                        }),
                };
                reply.send(result.map_err(|reason| self.failed(reason)));
            }
            VnodeRequest::Coverage { request, reply } => {
                let result = guarded(|| vnode.handle_coverage(request));
                reply.send(result.map_err(|reason| self.failed(reason)));
            }
            VnodeRequest::IsEmpty { reply } => {
                let result = callback::<V, _>("is_empty", || vnode.is_empty());
                let _ = reply.send(result.map_err(|reason| self.failed(reason)));
            }
            VnodeRequest::Handoff(call) => self.handoff(call),
            VnodeRequest::Stop => unreachable!("handled by the loop"),
        }
    }

    fn ensure_started(&mut self) -> Result<(), String> {
        if self.vnode.is_none() {
            let started = guarded(|| V::init(self.ctx.clone())).and_then(|r| r).inspect_err(|reason| {
                tracing::error!(vnode_type = self.ctx.vnode_type, partition = %self.ctx.partition, %reason, "vnode failed to start");
            })?;
            self.vnode = Some(started);
        }
        Ok(())
    }

    fn handoff(&mut self, call: HandoffCall) {
        let vnode = self.vnode.as_mut().expect("started");
        match call {
            HandoffCall::Fold {
                target,
                spill,
                forward,
                reply,
            } => {
                let result =
                    callback::<V, _>("handoff_starting", || vnode.handoff_starting(&target))
                        .and_then(|starting| {
                            if !starting {
                                return Err(format!(
                                    "{} refused to start a handoff now",
                                    vnode_name::<V>()
                                ));
                            }
                            // A large partition takes a while to read: let the runtime move other
                            // tasks off this thread meanwhile.
                            blocking(|| write_snapshot(vnode, &spill))
                        });
                if result.is_ok() {
                    self.phase = Phase::Forwarding(forward);
                }
                let _ = reply.send(result.map_err(|reason| self.failed(reason)));
            }
            HandoffCall::Data { items, reply } => {
                let result = callback::<V, _>("handle_handoff_data", || {
                    items
                        .iter()
                        .try_for_each(|item| vnode.handle_handoff_data(item))
                })
                .and_then(|applied| {
                    // An error the vnode returned, named like a panic is.
                    let name = vnode_name::<V>();
                    applied
                        .map(|()| items.len())
                        .map_err(|reason| format!("{name}::handle_handoff_data failed: {reason}"))
                });
                if result.is_ok() {
                    match &mut self.phase {
                        Phase::Forwarding(forward) => {
                            for item in items {
                                let _ = forward.send(item);
                            }
                        }
                        // Data handed back here: this vnode holds the partition again.
                        Phase::HandedOff(_) => self.phase = Phase::Idle,
                        Phase::Idle => {}
                    }
                }
                let _ = reply.send(result.map_err(|reason| self.failed(reason)));
            }
            HandoffCall::Finish { target, reply } => {
                // Dropping the forwarding sender lets the sender drain what is left and see the end.
                self.phase = Phase::HandedOff(target.to.clone());
                let result =
                    callback::<V, _>("handoff_finished", || vnode.handoff_finished(&target));
                let _ = reply.send(result.map_err(|reason| self.failed(reason)));
            }
            HandoffCall::Delete { reply } => {
                // Requests go on being passed on: rings that have not caught up still send
                // them here.
                let handed_off = matches!(self.phase, Phase::HandedOff(_));
                let result = if handed_off {
                    callback::<V, _>("delete", || vnode.delete()).map(|()| true)
                } else {
                    Ok(false)
                };
                let _ = reply.send(result.map_err(|reason| self.failed(reason)));
            }
            HandoffCall::Cancel { reply } => {
                self.phase = Phase::Idle;
                let result = callback::<V, _>("handoff_cancelled", || vnode.handoff_cancelled());
                let _ = reply.send(result.map_err(|reason| self.failed(reason)));
            }
        }
    }

    /// After a finished handoff, sends a command or coverage request on to the vnode that
    /// has the data now; its answer goes straight back to the asker. Gives the request back
    /// when it is to be handled here: no handoff, or the receiving node is seen down.
    fn pass_on(&self, request: VnodeRequest<V>) -> Result<(), VnodeRequest<V>> {
        let Phase::HandedOff(to) = &self.phase else {
            return Err(request);
        };
        if to.node == self.me.node || !self.node.is_up(&to.node) {
            return Err(request);
        }
        let (node, vnode_type) = (&self.node, self.ctx.vnode_type);
        match request {
            VnodeRequest::Command { command, reply } => {
                let answer = |result| reply.send(result);
                remote::spawn_call(node, vnode_type, to, VnodeCall::Command, &command, answer);
            }
            VnodeRequest::Coverage { request, reply } => {
                let answer = |result| reply.send(result);
                remote::spawn_call(node, vnode_type, to, VnodeCall::Coverage, &request, answer);
            }
            other => return Err(other),
        }
        Ok(())
    }

    fn failed(&self, reason: String) -> Error {
        // A hole fails the same way every time: the node remembers it, for whoever waits.
        if let Some(hole) = crate::holes::hole_in(&reason) {
            self.node.met_hole(hole);
        }
        Error::VnodeFailed {
            vnode: self.me.clone(),
            reason,
        }
    }
}

/// Writes every item of the vnode to the spill file: a 4-byte big-endian length, then the
/// item's bytes, for each item. The error names what failed: `fold`, `encode_handoff_item`
/// (caught here, so that it is not blamed on `fold`), or the file.
fn write_snapshot<V: Vnode>(vnode: &mut V, spill: &PathBuf) -> Result<SpillSummary, String> {
    let cannot_write = |e: io::Error| format!("cannot write the snapshot {}: {e}", spill.display());
    if let Some(dir) = spill.parent() {
        std::fs::create_dir_all(dir).map_err(cannot_write)?;
    }
    let mut out = BufWriter::new(std::fs::File::create(spill).map_err(cannot_write)?);
    let mut summary = SpillSummary {
        objects: 0,
        bytes: 0,
    };
    let mut failure = None;
    callback::<V, _>("fold", || {
        vnode.fold(&mut |item| {
            let written = callback::<V, _>("encode_handoff_item", || V::encode_handoff_item(&item))
                .and_then(|bytes| {
                    out.write_all(&(bytes.len() as u32).to_be_bytes())
                        .and_then(|()| out.write_all(&bytes))
                        .map(|()| bytes.len())
                        .map_err(cannot_write)
                });
            match written {
                Ok(length) => {
                    summary.objects += 1;
                    summary.bytes += length as u64;
                    ControlFlow::Continue(())
                }
                Err(reason) => {
                    failure = Some(reason);
                    ControlFlow::Break(())
                }
            }
        })
    })?;
    if let Some(reason) = failure {
        return Err(reason);
    }
    out.flush().map_err(cannot_write)?;
    Ok(summary)
}

/// Runs blocking work on a vnode task; on a multi-threaded runtime other tasks move to
/// another thread meanwhile.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

fn fail<V: Vnode>(request: VnodeRequest<V>, error: Error) {
    match request {
        VnodeRequest::Command { reply, .. } => reply.send(Err(error)),
        VnodeRequest::Coverage { reply, .. } => reply.send(Err(error)),
        VnodeRequest::IsEmpty { reply } => {
            let _ = reply.send(Err(error));
        }
        VnodeRequest::Handoff(call) => match call {
            HandoffCall::Fold { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            HandoffCall::Data { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            HandoffCall::Finish { reply, .. } | HandoffCall::Cancel { reply } => {
                let _ = reply.send(Err(error));
            }
            HandoffCall::Delete { reply } => {
                let _ = reply.send(Err(error));
            }
        },
        VnodeRequest::Stop => {}
    }
}

/// Runs a callback, turning a panic into an error so that one bad request (or a `todo` macro
/// left in an exercise) answers with a message instead of taking the vnode and the node down.
fn guarded<T>(callback: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(callback)).map_err(|payload| panic_message(&*payload))
}

/// Runs one of the vnode's callbacks like [`guarded`], naming it in the error, so that a log
/// line says which one failed: `KvVnode::is_empty panicked: …`.
fn callback<V: Vnode, T>(name: &str, run: impl FnOnce() -> T) -> Result<T, String> {
    guarded(run).map_err(|reason| format!("{}::{name} {reason}", vnode_name::<V>()))
}

/// The vnode type's own name, without its module path or generic parameters: `KvVnode`.
fn vnode_name<V>() -> &'static str {
    let full = std::any::type_name::<V>();
    let path = full.split('<').next().unwrap_or(full);
    path.rsplit("::").next().unwrap_or(path)
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    format!("panicked: {text}")
}
