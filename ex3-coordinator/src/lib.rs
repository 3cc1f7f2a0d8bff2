//! Exercise 3: replication. Every stream lives on N vnodes; a write waits for W of them, a
//! read for R (flaviodb's op FSM, riak's N/W/R).
//!
//! - [`coordinator`]: waiting for a quorum of replies — the heart of the exercise.
//! - [`service`]: the database's functions, replicated with your coordinator, and the merge
//!   of a coverage query.
//! - [`app`]: the application (`App`): its console commands.
//! - [`repair`]: Going further: a read that repairs the replicas, written by you.
//!
//! The stream vnode and the storage are given (`ringcore::streams`).

pub mod app;
pub mod coordinator;
pub mod repair;
pub mod service;

pub use app::DbApp;
