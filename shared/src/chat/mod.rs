//! The chat front end of the EUC 2016 workshop's "zap chat": a TCP line protocol (try it with
//! `nc localhost 4040`), its parsing, and the server that runs the connections.
//!
//! The runtime owns the connections — reading lines with limits, writing through a bounded
//! queue per connection, the prompt — and an application owns what the commands do
//! ([`ChatHandler`]): where rooms live, who is in them, who gets which message.

pub mod protocol;
mod server;

pub use protocol::{ChatCommand, PROMPT, WELCOME};
pub use server::{
    ChatHandler, Connections, Delivery, MAILBOX, MAX_BURST_LINES, MAX_LINE_BYTES,
    MAX_LINES_PER_SECOND, QUEUE, Session, serve,
};
