//! Hosting vnodes (riak_core's `riak_core_vnode_master` and the vnode process itself).
//!
//! Every started vnode is a tokio task with its own queue; requests to one vnode are handled
//! one at a time, in the order they were sent. The host keeps one slot per partition, filled
//! on first use, so routing a request is an index into a table: there is no router task and
//! no lock on the way from a caller to a vnode.

use crate::error::Error;
use crate::ring::{IndexNode, NodeName, Partition};
use crate::vnode::{Vnode, VnodeContext};
use crate::wire::{self, VnodeCall};
use futures_util::future::BoxFuture;
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;

/// Identifies one request among the replies sent to a [`ReplyTo`].
pub type RequestId = u64;

/// One vnode's answer to a request sent with [`crate::Service::command`].
#[derive(Debug)]
pub struct Reply<R> {
    pub request: RequestId,
    pub from: IndexNode,
    pub result: Result<R, Error>,
}

/// Where vnodes send the replies of asynchronous requests (riak's `Sender`).
pub struct ReplyTo<R>(mpsc::UnboundedSender<Reply<R>>);

impl<R> Clone for ReplyTo<R> {
    fn clone(&self) -> Self {
        ReplyTo(self.0.clone())
    }
}

impl<R> ReplyTo<R> {
    /// A new reply address and the receiver its replies arrive on.
    pub fn channel() -> (ReplyTo<R>, mpsc::UnboundedReceiver<Reply<R>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ReplyTo(tx), rx)
    }

    pub(crate) fn send(&self, reply: Reply<R>) {
        // The caller may have stopped waiting (a quorum was reached, or it timed out): a reply
        // nobody reads is simply dropped.
        let _ = self.0.send(reply);
    }
}

/// How a vnode's answer gets back to whoever asked.
pub(crate) enum ReplySink<R> {
    /// A caller waiting for exactly this answer (`sync_command`).
    Once(oneshot::Sender<Result<R, Error>>),
    /// One of several replies gathered by a coordinator.
    Tagged {
        request: RequestId,
        from: IndexNode,
        to: ReplyTo<R>,
    },
}

impl<R> ReplySink<R> {
    pub(crate) fn send(self, result: Result<R, Error>) {
        match self {
            ReplySink::Once(tx) => {
                let _ = tx.send(result);
            }
            ReplySink::Tagged { request, from, to } => to.send(Reply {
                request,
                from,
                result,
            }),
        }
    }
}

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
    Stop,
}

/// The vnodes of one vnode type on one node.
pub(crate) struct VnodeHost<V: Vnode> {
    vnode_type: &'static str,
    node: NodeName,
    data_dir: PathBuf,
    slots: Box<[OnceLock<mpsc::UnboundedSender<VnodeRequest<V>>>]>,
    tasks: TaskTracker,
}

impl<V: Vnode> VnodeHost<V> {
    pub(crate) fn new(
        vnode_type: &'static str,
        node: NodeName,
        node_data_dir: PathBuf,
        ring_size: u32,
        tasks: TaskTracker,
    ) -> Self {
        VnodeHost {
            vnode_type,
            node,
            data_dir: node_data_dir.join(vnode_type),
            slots: (0..ring_size).map(|_| OnceLock::new()).collect(),
            tasks,
        }
    }

    pub(crate) fn vnode_type(&self) -> &'static str {
        self.vnode_type
    }

    /// Queues a request for the vnode of `partition`, starting the vnode if needed.
    pub(crate) fn send(&self, partition: Partition, request: VnodeRequest<V>) -> Result<(), Error> {
        let slot = &self.slots[partition.index() as usize];
        let queue = slot.get_or_init(|| self.start(partition));
        queue.send(request).map_err(|_| Error::Stopping)
    }

    /// Asks every started vnode to terminate.
    pub(crate) fn stop_all(&self) {
        for queue in self.slots.iter().filter_map(OnceLock::get) {
            let _ = queue.send(VnodeRequest::Stop);
        }
    }

    /// Partitions whose vnode has been started on this node.
    pub(crate) fn started(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.get().is_some())
            .map(|(index, _)| index as u32)
    }

    fn start(&self, partition: Partition) -> mpsc::UnboundedSender<VnodeRequest<V>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let ctx = VnodeContext {
            partition,
            node: self.node.clone(),
            vnode_type: self.vnode_type,
            data_dir: self.data_dir.join(partition.id()),
        };
        self.tasks.spawn(run_vnode::<V>(ctx, rx));
        tx
    }
}

/// A vnode host seen without its vnode type, so that a node can hold hosts of any type and
/// serve requests that arrive as bytes from other nodes.
pub(crate) trait HostedVnodes: Send + Sync {
    fn vnode_type(&self) -> &'static str;
    fn stop_all(&self);
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    /// Runs an encoded command or coverage request on a local vnode; returns the encoded reply.
    fn dispatch(
        &self,
        partition: u32,
        call: VnodeCall,
        payload: Vec<u8>,
    ) -> BoxFuture<'static, Result<Vec<u8>, Error>>;
    /// Whether the local vnode of `partition` has nothing to hand off.
    fn is_empty(&self, partition: u32) -> BoxFuture<'static, Result<bool, Error>>;
}

impl<V: Vnode> HostedVnodes for VnodeHost<V> {
    fn vnode_type(&self) -> &'static str {
        self.vnode_type
    }

    fn stop_all(&self) {
        VnodeHost::stop_all(self)
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn dispatch(
        &self,
        partition: u32,
        call: VnodeCall,
        payload: Vec<u8>,
    ) -> BoxFuture<'static, Result<Vec<u8>, Error>> {
        let partition = Partition::new(partition, self.slots.len() as u32);
        match call {
            VnodeCall::Command => {
                let answer = wire::decode::<V::Command>(&payload).and_then(|command| {
                    let (reply, answer) = oneshot::channel();
                    let request = VnodeRequest::Command {
                        command,
                        reply: ReplySink::Once(reply),
                    };
                    self.send(partition, request).map(|()| answer)
                });
                Box::pin(async move { encode_reply(answer?.await) })
            }
            VnodeCall::Coverage => {
                let answer = wire::decode::<V::CoverageRequest>(&payload).and_then(|request| {
                    let (reply, answer) = oneshot::channel();
                    let request = VnodeRequest::Coverage {
                        request,
                        reply: ReplySink::Once(reply),
                    };
                    self.send(partition, request).map(|()| answer)
                });
                Box::pin(async move { encode_reply(answer?.await) })
            }
        }
    }

    fn is_empty(&self, partition: u32) -> BoxFuture<'static, Result<bool, Error>> {
        let (reply, answer) = oneshot::channel();
        let sent = self.send(
            Partition::new(partition, self.slots.len() as u32),
            VnodeRequest::IsEmpty { reply },
        );
        Box::pin(async move {
            sent?;
            answer.await.unwrap_or(Err(Error::Stopping))
        })
    }
}

/// Encodes a vnode's answer for the node that asked.
fn encode_reply<R: serde::Serialize>(
    answer: Result<Result<R, Error>, oneshot::error::RecvError>,
) -> Result<Vec<u8>, Error> {
    match answer {
        Ok(Ok(reply)) => wire::encode(&reply),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(Error::Stopping),
    }
}

/// The life of one vnode: initialise on the first request, then handle requests in order.
async fn run_vnode<V: Vnode>(
    ctx: VnodeContext,
    mut queue: mpsc::UnboundedReceiver<VnodeRequest<V>>,
) {
    let me = IndexNode {
        partition: ctx.partition,
        node: ctx.node.clone(),
    };
    let mut vnode: Option<V> = None;
    while let Some(request) = queue.recv().await {
        if matches!(request, VnodeRequest::Stop) {
            break;
        }
        if vnode.is_none() {
            match guarded(|| V::init(ctx.clone())).and_then(|r| r) {
                Ok(started) => vnode = Some(started),
                Err(reason) => {
                    tracing::error!(vnode_type = ctx.vnode_type, partition = %ctx.partition, %reason, "vnode failed to start");
                    fail(request, &me, format!("could not start: {reason}"));
                    continue;
                }
            }
        }
        let state = vnode.as_mut().expect("started above");
        match request {
            VnodeRequest::Command { command, reply } => {
                let result = guarded(AssertUnwindSafe(|| state.handle_command(command)));
                reply.send(result.map_err(|reason| vnode_failed(&me, reason)));
            }
            VnodeRequest::Coverage { request, reply } => {
                let result = guarded(AssertUnwindSafe(|| state.handle_coverage(request)));
                reply.send(result.map_err(|reason| vnode_failed(&me, reason)));
            }
            VnodeRequest::IsEmpty { reply } => {
                let result = guarded(AssertUnwindSafe(|| state.is_empty()));
                let _ = reply.send(result.map_err(|reason| vnode_failed(&me, reason)));
            }
            VnodeRequest::Stop => unreachable!("handled above"),
        }
    }
    if let Some(mut state) = vnode {
        let _ = guarded(AssertUnwindSafe(|| state.terminate()));
    }
}

fn fail<V: Vnode>(request: VnodeRequest<V>, me: &IndexNode, reason: String) {
    match request {
        VnodeRequest::Command { reply, .. } => reply.send(Err(vnode_failed(me, reason))),
        VnodeRequest::Coverage { reply, .. } => reply.send(Err(vnode_failed(me, reason))),
        VnodeRequest::IsEmpty { reply } => {
            let _ = reply.send(Err(vnode_failed(me, reason)));
        }
        VnodeRequest::Stop => {}
    }
}

fn vnode_failed(me: &IndexNode, reason: String) -> Error {
    Error::VnodeFailed {
        vnode: me.clone(),
        reason,
    }
}

/// Runs a callback, turning a panic into an error so that one bad request (or an exercise's
/// `todo!()`) answers with a message instead of taking the vnode and the node down.
fn guarded<T>(callback: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(callback)).map_err(|payload| panic_message(&*payload))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    format!("panicked: {text}")
}
