//! Exercise 1: ping, the road of a request from the console to a vnode and back.
//!
//! - [`vnode`]: the ping vnode, one per partition (flavio_vnode.erl).
//! - [`service`]: the public API that hashes a key and sends a command to the right vnode
//!   (flavio.erl).
//! - [`app`]: the application (`App`): its console commands that call the service.
//! - [`preflist`]: Going further: a key's preference list, from the ring by hand.

pub mod app;
pub mod preflist;
pub mod service;
pub mod vnode;

pub use app::PingApp;
