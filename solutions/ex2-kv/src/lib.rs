//! Exercise 2: state in a vnode. Every key is a stream of messages kept by the one vnode that
//! owns the key, in that vnode's stream store.
//!
//! - [`vnode`]: the KV vnode, one per partition, over the partition's store (the Elixir
//!   workshop's `SillyKV.Vnode` over ETS).
//! - [`service`]: the public API that finds a key's vnode and sends it the command.
//! - [`app`]: the application (`App`): its console commands that call the service.

pub mod app;
pub mod service;
pub mod vnode;

pub use app::KvApp;
