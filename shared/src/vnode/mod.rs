//! The `Vnode` behaviour (riak_core's `riak_core_vnode`): what an application implements.
//!
//! A vnode owns the data of one partition. The runtime starts it on first use, gives it one
//! request at a time, in the order they were sent, and never shares it between threads: a
//! vnode is plain single-threaded code, like an Erlang process. The callbacks and their
//! names mirror riak_core's so the Erlang tutorials read across:
//!
//! | riak_core_vnode | here |
//! |---|---|
//! | `init([Partition])` | [`Vnode::init`] |
//! | `handle_command(Msg, Sender, State)` | [`Vnode::handle_command`] |
//! | `handle_coverage(Req, KeySpaces, Sender, State)` | [`Vnode::handle_coverage`] |
//! | `handle_handoff_command(?FOLD_REQ, …)` | [`Vnode::fold`] |
//! | `handle_handoff_command(Msg, …)` | [`Vnode::handle_handoff_command`] |
//! | `encode_handoff_item(K, V)` | [`Vnode::encode_handoff_item`] |
//! | `handle_handoff_data(Bin, State)` | [`Vnode::handle_handoff_data`] |
//! | `is_empty`, `delete` | [`Vnode::is_empty`], [`Vnode::delete`] |
//! | `handoff_starting/cancelled/finished` | the same names |
//! | `terminate(Reason, State)` | [`Vnode::terminate`] |
//!
//! Commands and replies are serde types because a command may cross the network to the node
//! that hosts the vnode; the caller never needs to know where that is.
//!
//! The rest of this room is the machinery under the behaviour, which an application never
//! sees: the vnodes hosted on a node (`host`) and each one's task (`task`), calls to a
//! vnode on another node (`remote`), replies tagged by request ([`reply`]), waiting for a
//! quorum of them ([`coordinator`], [`quorum`]) or for a covering set ([`coverage`]), and
//! messages to mailboxes ([`Mailer`]). It sees the node it runs on through a small handle
//! (`context::NodeContext`), never the whole [`crate::Node`].

pub(crate) mod context;
pub mod coordinator;
pub mod coverage;
pub(crate) mod host;
mod mailer;
pub mod quorum;
pub(crate) mod remote;
pub mod reply;
pub(crate) mod task;

pub use mailer::Mailer;

use crate::cluster::Metadata;
use crate::ring::{HandoffKind, IndexNode, NodeName, Partition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::ops::ControlFlow;
use std::path::PathBuf;

/// What can travel between nodes: commands, replies, coverage requests and their answers.
pub trait Message: Serialize + DeserializeOwned + Send + fmt::Debug + 'static {}
impl<T: Serialize + DeserializeOwned + Send + fmt::Debug + 'static> Message for T {}

/// What a vnode knows about where it lives, handed to [`Vnode::init`].
#[derive(Clone, Debug)]
pub struct VnodeContext {
    /// The partition this vnode is responsible for.
    pub partition: Partition,
    /// The node hosting it.
    pub node: NodeName,
    /// The vnode type it was registered as (e.g. `ping_vnode`).
    pub vnode_type: &'static str,
    /// A directory of its own for files: `<node data dir>/<vnode type>/<partition id>`.
    /// Not created by the runtime: a vnode that keeps no files never touches the disk.
    pub data_dir: PathBuf,
    /// Sends messages to mailboxes on any node (see [`crate::Node::register_mailbox`]).
    pub mailer: Mailer,
    /// The cluster metadata (users, grants, policies), as this node holds it: read it
    /// freely, it is local and never blocks (see [`crate::cluster::metadata`]).
    pub metadata: Metadata,
}

impl VnodeContext {
    /// The context of a vnode run on its own, outside any node (to test a vnode's callbacks
    /// directly): its messages go nowhere, its metadata is a map of its own, empty, and a
    /// callback that is still a hole says so in one line (see [`crate::holes`]).
    pub fn standalone(partition: Partition, vnode_type: &'static str, data_dir: PathBuf) -> Self {
        crate::holes::report_briefly();
        VnodeContext {
            partition,
            node: NodeName::new("standalone@127.0.0.1"),
            vnode_type,
            data_dir,
            mailer: Mailer::detached(),
            metadata: Metadata::detached(),
        }
    }
}

/// Where a vnode's data is being handed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoffTarget {
    pub kind: HandoffKind,
    pub to: IndexNode,
}

/// The behaviour of a virtual node. One value of the implementing type exists per partition
/// (per node hosting it), created by [`Vnode::init`].
///
/// Only `init`, `handle_command` and `handle_coverage` are required; the handoff callbacks
/// have defaults that suit a vnode with no data to move.
pub trait Vnode: Sized + Send + 'static {
    /// A request for one vnode (riak's command message).
    type Command: Message;
    /// The vnode's answer to a command.
    type Reply: Message;
    /// A request sent to a covering set of vnodes (e.g. "list the keys", "your stats").
    type CoverageRequest: Message + Clone;
    /// One vnode's answer to a coverage request.
    type CoverageReply: Message;
    /// One unit of data visited by [`Vnode::fold`] during handoff.
    type HandoffItem;

    /// Starts the vnode of `ctx.partition`. An error is reported to the caller of the request
    /// that woke the vnode, and `init` is tried again on the next request.
    fn init(ctx: VnodeContext) -> Result<Self, String>;

    /// Handles one command and returns the reply.
    fn handle_command(&mut self, command: Self::Command) -> Self::Reply;

    /// Handles one coverage request and returns this vnode's part of the answer.
    fn handle_coverage(&mut self, request: Self::CoverageRequest) -> Self::CoverageReply;

    /// Visits every item of data this vnode holds, for handoff. Stop early when the visitor
    /// returns `ControlFlow::Break`.
    fn fold(&mut self, visit: &mut dyn FnMut(Self::HandoffItem) -> ControlFlow<()>) {
        let _ = visit;
    }

    /// Handles a command that arrives while this vnode is being handed off (riak's
    /// `handle_handoff_command`): returns the reply, and the items the command changed, which
    /// the runtime sends to the receiving vnode too, so a write during a handoff is not left
    /// behind. The default handles the command and reports no change: a vnode whose commands
    /// change data should override it.
    fn handle_handoff_command(
        &mut self,
        command: Self::Command,
    ) -> (Self::Reply, Vec<Self::HandoffItem>) {
        (self.handle_command(command), Vec::new())
    }

    /// Turns one item visited by `fold` into the bytes sent to the receiving vnode.
    fn encode_handoff_item(item: &Self::HandoffItem) -> Vec<u8> {
        let _ = item;
        Vec::new()
    }

    /// Applies one item received by handoff (the bytes `encode_handoff_item` made). Applying
    /// the same item twice must be harmless: a retried transfer sends items again.
    fn handle_handoff_data(&mut self, data: &[u8]) -> Result<(), String> {
        let _ = data;
        Ok(())
    }

    /// Whether there is nothing to hand off: an empty vnode completes its handoff at once.
    fn is_empty(&mut self) -> bool {
        true
    }

    /// Removes all of this vnode's data, after it was handed off.
    fn delete(&mut self) {}

    /// A handoff of this vnode is about to start; return `false` to refuse it for now.
    fn handoff_starting(&mut self, target: &HandoffTarget) -> bool {
        let _ = target;
        true
    }

    /// A handoff that had started was abandoned (it will be tried again later).
    fn handoff_cancelled(&mut self) {}

    /// Every item reached the target.
    fn handoff_finished(&mut self, target: &HandoffTarget) {
        let _ = target;
    }

    /// The vnode is being stopped (node shutdown, or after delete).
    fn terminate(&mut self) {}
}
