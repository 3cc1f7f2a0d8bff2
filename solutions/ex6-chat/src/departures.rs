//! Going further: rooms forget the members of a node that went down.
//!
//! A member is a connection on some node. When that node crashes, nobody tells the rooms:
//! the connection did not close, its node is gone. So each node watches its own view of who
//! is down (the runtime's liveness checks), and when a node goes down, asks every room to
//! forget the members that were on it ([`Chat::forget_node`]). Every node that sees it asks;
//! forgetting twice is harmless, and only the first to reach a room tells its members.

use crate::service::Chat;
use ringcore::Node;
use ringcore::tracing::{info, warn};
use std::time::Duration;

/// How often this node looks at who is down.
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// Runs, as long as `node` runs, the watch that makes rooms forget the members of nodes
/// that go down.
pub fn watch(node: &Node, chat: Chat) {
    let me = node.clone();
    node.spawn(async move {
        let mut known = me.down_nodes();
        let mut tick = tokio::time::interval(CHECK_EVERY);
        loop {
            tokio::select! {
                _ = me.stopping() => return,
                _ = tick.tick() => {}
            }
            let down = me.down_nodes();
            for gone in down.difference(&known) {
                let forgotten = tokio::select! {
                    _ = me.stopping() => return,
                    forgotten = chat.forget_node(gone) => forgotten,
                };
                match forgotten {
                    Ok(0) => {}
                    Ok(members) => info!(node = %me.name(), down = %gone, members, "rooms forgot the members of a node that is down"),
                    Err(error) => warn!(node = %me.name(), down = %gone, %error, "rooms could not forget the members of a node that is down"),
                }
            }
            known = down;
        }
    });
}
