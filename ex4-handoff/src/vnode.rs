//! The stream vnode, with the handoff callbacks that move its data (flaviodb's
//! "implementing handoff").
//!
//! The data of a partition is a set of streams, each a list of entries numbered 1, 2, 3… A
//! handoff item is one entry with its place: `HandoffEntry { bucket, stream, entry }`. The
//! runtime calls, on the sending node: `is_empty` (anything to send?), `fold` (every item),
//! `encode_handoff_item` (each item to bytes), and after the receiver has everything,
//! `delete`; on the receiving node: `handle_handoff_data` (bytes back to an item, stored).

use ringcore::streams::{
    HandoffEntry, StreamCommand, StreamCoverage, StreamCoverageReply, StreamReply, StreamState,
};
use ringcore::{Vnode, VnodeContext};
use std::ops::ControlFlow;

pub struct KvVnode {
    /// The partition's streams (`state.store()` is its `PartitionStore`) and counters.
    state: StreamState,
}

impl Vnode for KvVnode {
    type Command = StreamCommand;
    type Reply = StreamReply;
    type CoverageRequest = StreamCoverage;
    type CoverageReply = StreamCoverageReply;
    type HandoffItem = HandoffEntry;

    fn init(ctx: VnodeContext) -> Result<Self, String> {
        Ok(KvVnode {
            state: StreamState::open(&ctx)?,
        })
    }

    fn handle_command(&mut self, command: StreamCommand) -> StreamReply {
        self.state.handle_command(command)
    }

    fn handle_handoff_command(
        &mut self,
        command: StreamCommand,
    ) -> (StreamReply, Vec<HandoffEntry>) {
        // A write during a handoff is stored here and also sent on (the runtime does it).
        self.state.handle_handoff_command(command)
    }

    fn handle_coverage(&mut self, request: StreamCoverage) -> StreamCoverageReply {
        self.state.handle_coverage(request)
    }

    /// Step 1: is there anything to hand off?
    fn is_empty(&mut self) -> bool {
        panic!("not implemented yet: write KvVnode::is_empty in src/vnode.rs (README step 1)");
    }

    /// Step 2: visit every entry of every stream of the partition.
    fn fold(&mut self, visit: &mut dyn FnMut(HandoffEntry) -> ControlFlow<()>) {
        let _ = visit;
        panic!("not implemented yet: write KvVnode::fold in src/vnode.rs (README step 2)");
    }

    /// Step 3: an item to bytes…
    fn encode_handoff_item(item: &HandoffEntry) -> Vec<u8> {
        let _ = item;
        panic!(
            "not implemented yet: write KvVnode::encode_handoff_item in src/vnode.rs (README step 3)"
        );
    }

    /// …and bytes back to an item, stored. Storing an entry that is already there must do
    /// nothing, so that a retried transfer duplicates nothing.
    fn handle_handoff_data(&mut self, data: &[u8]) -> Result<(), String> {
        let _ = data;
        Err("not implemented yet: write KvVnode::handle_handoff_data in src/vnode.rs (README step 3)".into())
    }

    /// Step 4: the data is safe elsewhere: remove it here.
    fn delete(&mut self) {
        panic!("not implemented yet: write KvVnode::delete in src/vnode.rs (README step 4)");
    }
}
