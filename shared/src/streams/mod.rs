//! The stream database: every key `(bucket, stream)` is an append-only stream of entries,
//! replicated on the ring and kept on disk ("a pub/sub with history").
//!
//! - [`vnode`]: the stream vnode, over the [`crate::store`] of its partition;
//! - [`service`]: the database's service functions — post, read, last, listings, stats — with N/W/R;
//! - [`aae`]: active anti-entropy, which makes replicas converge in the background;
//! - [`eviction`]: eviction policies per bucket and stream, kept in the cluster metadata;
//! - [`follow`]: how a node learns of new entries of the streams its clients follow;
//! - [`commands`]: its console commands, for applications that offer them as they are.

pub mod aae;
pub mod commands;
pub mod eviction;
pub mod follow;
mod listing;
pub mod service;
pub mod vnode;

pub use service::{Listing, Nwr, ReadResult, ShowEntry, Streams, StreamsVnode, Written};
pub use vnode::{
    HandoffEntry, PageWindow, StreamCommand, StreamCoverage, StreamCoverageReply, StreamHandoff,
    StreamReply, StreamState, StreamVnode, VnodeStats,
};
