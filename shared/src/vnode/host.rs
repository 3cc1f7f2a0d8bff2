//! Hosting vnodes (the registry and router of riak_core's `riak_core_vnode_master`).
//!
//! Every started vnode is a tokio task with its own queue; requests to one vnode are handled
//! one at a time, in the order they were sent. The host keeps one slot per partition, filled
//! on first use, so routing a request is an index into a table: there is no router task and
//! no lock on the way from a caller to a vnode.

use crate::error::Error;
use crate::lifecycle::Lifecycle;
use crate::net::wire::{self, VnodeCall};
use crate::ring::{IndexNode, Partition};
use crate::vnode::context::NodeContext;
use crate::vnode::mailer::Mailer;
use crate::vnode::reply::{Reply, ReplyTo, RequestId};
use crate::vnode::task::{HandoffCall, SpillSummary, VnodeRequest, run_vnode};
use crate::vnode::{HandoffTarget, Vnode, VnodeContext};
use futures_util::future::BoxFuture;
use std::any::Any;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{mpsc, oneshot};

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

/// The vnodes of one vnode type on one node.
pub(crate) struct VnodeHost<V: Vnode> {
    vnode_type: &'static str,
    node: NodeContext,
    data_dir: PathBuf,
    slots: Box<[OnceLock<mpsc::UnboundedSender<VnodeRequest<V>>>]>,
    tasks: Lifecycle,
    /// Set by `stop_all`. No vnode may start after it: nobody would tell it to stop, and the
    /// node's stop would wait for it forever. Starting vnodes and stopping them take this lock
    /// in turn, so a vnode is either started before `stop_all` (and told to stop) or refused.
    stopping: Mutex<bool>,
}

impl<V: Vnode> VnodeHost<V> {
    pub(crate) fn new(vnode_type: &'static str, node: NodeContext, tasks: Lifecycle) -> Self {
        let ring_size = node.ring().size();
        VnodeHost {
            vnode_type,
            data_dir: node.state().data_dir().join(vnode_type),
            node,
            slots: (0..ring_size).map(|_| OnceLock::new()).collect(),
            tasks,
            stopping: Mutex::new(false),
        }
    }

    pub(crate) fn vnode_type(&self) -> &'static str {
        self.vnode_type
    }

    /// The node the vnodes run on.
    pub(crate) fn node(&self) -> &NodeContext {
        &self.node
    }

    /// Queues a request for the vnode of `partition`, starting the vnode if needed (unless
    /// the host is stopping).
    pub(crate) fn send(&self, partition: Partition, request: VnodeRequest<V>) -> Result<(), Error> {
        let slot = &self.slots[partition.index() as usize];
        // A started vnode is reached without a lock: that is every request but the first.
        let queue = match slot.get() {
            Some(queue) => queue,
            None => self.start_unless_stopping(partition)?,
        };
        queue.send(request).map_err(|_| Error::Stopping)
    }

    fn start_unless_stopping(
        &self,
        partition: Partition,
    ) -> Result<&mpsc::UnboundedSender<VnodeRequest<V>>, Error> {
        let stopping = self.stopping.lock().unwrap_or_else(|e| e.into_inner());
        if *stopping {
            return Err(Error::Stopping);
        }
        Ok(self.slots[partition.index() as usize].get_or_init(|| self.start(partition)))
    }

    /// Asks every started vnode to terminate; no vnode starts from now on.
    pub(crate) fn stop_all(&self) {
        let mut stopping = self.stopping.lock().unwrap_or_else(|e| e.into_inner());
        *stopping = true;
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
            node: self.node.name().clone(),
            vnode_type: self.vnode_type,
            data_dir: self.data_dir.join(partition.id()),
            mailer: Mailer::new(self.node.clone()),
            metadata: self.node.metadata().clone(),
        };
        self.tasks.spawn(run_vnode::<V>(ctx, self.node.clone(), rx));
        tx
    }
}

/// The vnode types hosted on one node. Cheap to clone: every clone is the same list.
#[derive(Clone, Default)]
pub(crate) struct Hosts(Arc<Mutex<Vec<Arc<dyn HostedVnodes>>>>);

impl Hosts {
    /// Every vnode type hosted here.
    pub(crate) fn all(&self) -> Vec<Arc<dyn HostedVnodes>> {
        self.0.lock().expect("hosts lock").clone()
    }

    /// The host of `vnode_type`, if it is hosted here.
    pub(crate) fn find(&self, vnode_type: &str) -> Option<Arc<dyn HostedVnodes>> {
        let hosts = self.0.lock().expect("hosts lock");
        hosts.iter().find(|h| h.vnode_type() == vnode_type).cloned()
    }

    /// The host of vnodes of type `V` under the name `vnode_type`, made the first time it is
    /// asked for.
    pub(crate) fn host<V: Vnode>(
        &self,
        vnode_type: &'static str,
        node: &NodeContext,
        tasks: &Lifecycle,
    ) -> Arc<VnodeHost<V>> {
        let mut hosts = self.0.lock().expect("hosts lock");
        if let Some(existing) = hosts.iter().find(|h| h.vnode_type() == vnode_type) {
            return Arc::clone(existing)
                .as_any()
                .downcast::<VnodeHost<V>>()
                .unwrap_or_else(|_| {
                    panic!("vnode type {vnode_type} is registered with another Vnode type")
                });
        }
        let host = Arc::new(VnodeHost::<V>::new(vnode_type, node.clone(), tasks.clone()));
        hosts.push(host.clone());
        host
    }
}

/// A handoff's snapshot: what it holds, and the changes forwarded from then on.
pub(crate) type Snapshot = (SpillSummary, mpsc::UnboundedReceiver<Vec<u8>>);

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
    /// How many of its vnodes are started.
    fn started_count(&self) -> usize;
    /// Partitions that may hold data here: started vnodes, and directories left on disk by
    /// earlier runs.
    fn partitions_with_data(&self) -> Vec<u32>;
    /// Starts a handoff of `partition`: a snapshot into `spill`; the receiver gets the
    /// changes made from now on.
    fn handoff_fold(
        &self,
        partition: u32,
        target: HandoffTarget,
        spill: PathBuf,
    ) -> BoxFuture<'static, Result<Snapshot, Error>>;
    /// Applies items received by handoff.
    fn handoff_data(
        &self,
        partition: u32,
        items: Vec<Vec<u8>>,
    ) -> BoxFuture<'static, Result<usize, Error>>;
    /// Marks a handoff finished.
    fn handoff_finish(
        &self,
        partition: u32,
        target: HandoffTarget,
    ) -> BoxFuture<'static, Result<(), Error>>;
    /// Deletes a handed-off vnode's data unless it changed since the handoff finished.
    fn handoff_delete(&self, partition: u32) -> BoxFuture<'static, Result<bool, Error>>;
    /// Abandons a handoff.
    fn handoff_cancel(&self, partition: u32) -> BoxFuture<'static, Result<(), Error>>;
}

impl<V: Vnode> HostedVnodes for VnodeHost<V> {
    fn vnode_type(&self) -> &'static str {
        self.vnode_type
    }

    fn stop_all(&self) {
        VnodeHost::stop_all(self)
    }

    fn started_count(&self) -> usize {
        self.started().count()
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

    fn partitions_with_data(&self) -> Vec<u32> {
        let size = self.slots.len() as u32;
        let mut partitions: Vec<u32> = self.started().collect();
        if let Ok(entries) = std::fs::read_dir(&self.data_dir) {
            let on_disk = entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|id| Partition::from_id(id, size))
                })
                .map(|p| p.index());
            partitions.extend(on_disk);
        }
        partitions.sort_unstable();
        partitions.dedup();
        partitions
    }

    fn handoff_fold(
        &self,
        partition: u32,
        target: HandoffTarget,
        spill: PathBuf,
    ) -> BoxFuture<'static, Result<Snapshot, Error>> {
        let (forward, forwarded) = mpsc::unbounded_channel();
        let answer = self.call(partition, |reply| HandoffCall::Fold {
            target,
            spill,
            forward,
            reply,
        });
        Box::pin(async move { Ok((answer.await?, forwarded)) })
    }

    fn handoff_data(
        &self,
        partition: u32,
        items: Vec<Vec<u8>>,
    ) -> BoxFuture<'static, Result<usize, Error>> {
        self.call(partition, |reply| HandoffCall::Data { items, reply })
    }

    fn handoff_finish(
        &self,
        partition: u32,
        target: HandoffTarget,
    ) -> BoxFuture<'static, Result<(), Error>> {
        self.call(partition, |reply| HandoffCall::Finish { target, reply })
    }

    fn handoff_delete(&self, partition: u32) -> BoxFuture<'static, Result<bool, Error>> {
        self.call(partition, |reply| HandoffCall::Delete { reply })
    }

    fn handoff_cancel(&self, partition: u32) -> BoxFuture<'static, Result<(), Error>> {
        self.call(partition, |reply| HandoffCall::Cancel { reply })
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

impl<V: Vnode> VnodeHost<V> {
    /// Sends a handoff step to a vnode and returns a future of its answer.
    fn call<T: Send + 'static>(
        &self,
        partition: u32,
        make: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> HandoffCall,
    ) -> BoxFuture<'static, Result<T, Error>> {
        let (reply, answer) = oneshot::channel();
        let partition = Partition::new(partition, self.slots.len() as u32);
        let sent = self.send(partition, VnodeRequest::Handoff(make(reply)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Echo;

    impl Vnode for Echo {
        type Command = u32;
        type Reply = u32;
        type CoverageRequest = ();
        type CoverageReply = ();
        type HandoffItem = ();

        fn init(_: VnodeContext) -> Result<Self, String> {
            Ok(Echo)
        }

        fn handle_command(&mut self, command: u32) -> u32 {
            command
        }

        fn handle_coverage(&mut self, _: ()) {}
    }

    fn ask(
        host: &VnodeHost<Echo>,
        partition: u32,
    ) -> Result<oneshot::Receiver<Result<u32, Error>>, Error> {
        let (reply, answer) = oneshot::channel();
        let request = VnodeRequest::Command {
            command: partition,
            reply: ReplySink::Once(reply),
        };
        host.send(Partition::new(partition, 8), request)
            .map(|()| answer)
    }

    #[tokio::test]
    async fn no_vnode_starts_once_the_host_is_stopping() {
        let dir = tempfile::tempdir().unwrap();
        let tasks = Lifecycle::new();
        let node = NodeContext::alone(dir.path(), 8, &tasks);
        let host = VnodeHost::<Echo>::new("echo", node, tasks.clone());
        assert_eq!(ask(&host, 1).unwrap().await.unwrap().unwrap(), 1);
        host.stop_all();
        // A request that arrives late (from another node, say) for a vnode never started: it
        // is refused rather than starting a vnode nobody would stop.
        assert!(matches!(ask(&host, 2), Err(Error::Stopping)));
        tokio::time::timeout(Duration::from_secs(5), tasks.wait())
            .await
            .expect("every vnode task ends");
    }
}
