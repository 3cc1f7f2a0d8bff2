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
        self.state.store().is_empty()
    }

    /// Step 2: visit every entry of every stream of the partition.
    fn fold(&mut self, visit: &mut dyn FnMut(HandoffEntry) -> ControlFlow<()>) {
        let result = self.state.store().fold(&mut |bucket, stream, entry| {
            visit(HandoffEntry {
                bucket: bucket.to_string(),
                stream: stream.to_string(),
                entry: entry.clone(),
            })
        });
        if let Err(error) = result {
            // Panicking makes this handoff fail (and be retried) rather than pretend it is done.
            panic!("cannot read the partition for handoff: {error}");
        }
    }

    /// Step 3: an item to bytes…
    fn encode_handoff_item(item: &HandoffEntry) -> Vec<u8> {
        postcard::to_allocvec(item).expect("a handoff entry always encodes")
    }

    /// …and bytes back to an item, stored. Storing an entry that is already there does
    /// nothing (its sequence number is taken), so a retried transfer duplicates nothing.
    fn handle_handoff_data(&mut self, data: &[u8]) -> Result<(), String> {
        let item: HandoffEntry =
            postcard::from_bytes(data).map_err(|e| format!("bad handoff item: {e}"))?;
        self.state
            .store()
            .put_entry(&item.bucket, &item.stream, &item.entry)
            .map(|_stored| ())
            .map_err(|e| format!("cannot store a handed-off entry: {e}"))
    }

    /// Step 4: the data is safe elsewhere: remove it here.
    fn delete(&mut self) {
        if let Err(error) = self.state.store().delete() {
            panic!("cannot delete the partition after handoff: {error}");
        }
    }
}
