//! Exercise 6: a stateful application on the ring — the EUC 2016 workshop's "zap chat".
//!
//! Rooms live on the ring: a room's members are kept by the vnodes of the key
//! `("chat", room)`, replicated on N of them, and its history is a stream of the database.
//! People connect to any node; the room's vnode sends each message to the node holding each
//! member's connection.
//!
//! - [`vnode`]: the room vnode — who is in which room, and sending them lines.
//! - [`service`]: what each chat command does.
//! - [`app`]: the node: database, HTTP API, chat server, console.
//! - [`departures`]: Going further: rooms forget the members of a node that went down.
//!
//! The connections and the line protocol are given (`ringcore::chat`).

pub mod app;
pub mod departures;
pub mod service;
pub mod vnode;

pub use app::ChatApp;
