//! The console commands: the stream database's, served by this exercise's vnode.

use crate::vnode::KvVnode;
use ringcore::streams::{Streams, console};
use ringcore::{App, CommandHelp, Error, Node};

/// The name the vnodes are registered under (it shows in `transfers` and in the handoff log).
pub const VNODE_TYPE: &str = "kv_vnode";

#[derive(Clone)]
pub struct HandoffApp {
    pub db: Streams<ringcore::coordinator::Quorum, KvVnode>,
}

impl App for HandoffApp {
    const COMMANDS: &'static [CommandHelp] = console::COMMANDS;

    async fn start(node: &Node) -> Result<Self, Error> {
        Ok(HandoffApp {
            db: Streams::start_with(node, VNODE_TYPE),
        })
    }

    async fn run(&self, command: &str, args: &[&str]) -> Result<String, Error> {
        console::run(&self.db, command, args)
            .await
            .unwrap_or_else(|| Err(Self::usage(command)))
    }
}
