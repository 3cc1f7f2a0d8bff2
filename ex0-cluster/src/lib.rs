//! Exercise 0: a cluster. Start nodes, join them, watch the ring spread over them, then ask
//! the ring questions of your own.
//!
//! - [`vnode`]: a vnode that answers pings, so you can see which node serves a partition.
//! - [`service`]: `ping`, and the ring queries you write (`owner`, `ownership`).
//! - [`app`]: the application (`App`): its console commands.
//! - [`balance`]: Going further: how evenly the ring is shared.

pub mod app;
pub mod balance;
pub mod service;
pub mod vnode;

pub use app::ClusterApp;
