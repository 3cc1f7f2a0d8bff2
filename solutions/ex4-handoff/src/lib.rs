//! Exercise 4: handoff. When a node joins or leaves, partitions change owner, and their data
//! must follow; when a node comes back, the writes its stand-ins took must go back to it.
//!
//! - [`vnode`]: the stream vnode with its handoff callbacks — what you write.
//! - [`app`]: the application (`App`): its console commands (the database's, from ringcore).
//! - [`copies`]: Going further: the messages a handoff that appends would store twice.
//!
//! Deciding *when* to hand off, streaming the data and updating the ring are the runtime's
//! (`ringcore::handoff`); your vnode says what its data is and how to take it in.

pub mod app;
pub mod copies;
pub mod vnode;

pub use app::HandoffApp;
