//! Small applications for the runtime's own tests: `WhoApp`, whose vnodes answer who they
//! are, and `DbApp`, the stream database.
#![allow(dead_code)] // each test file uses some of these

use ringcore::{
    App, CommandHelp, Error, Node, NodeName, Partition, Vnode, VnodeContext, VnodeMaster,
};
use serde::{Deserialize, Serialize};

pub struct WhoVnode {
    partition: Partition,
    node: NodeName,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Who {
    pub partition: Partition,
    pub node: NodeName,
}

impl Vnode for WhoVnode {
    type Command = ();
    type Reply = Who;
    type CoverageRequest = ();
    type CoverageReply = Who;
    type HandoffItem = ();

    fn init(ctx: VnodeContext) -> Result<Self, String> {
        Ok(WhoVnode {
            partition: ctx.partition,
            node: ctx.node,
        })
    }

    fn handle_command(&mut self, _: ()) -> Who {
        Who {
            partition: self.partition,
            node: self.node.clone(),
        }
    }

    fn handle_coverage(&mut self, _: ()) -> Who {
        self.handle_command(())
    }
}

#[derive(Clone)]
pub struct WhoApp {
    pub who: VnodeMaster<WhoVnode>,
}

impl App for WhoApp {
    const COMMANDS: &'static [CommandHelp] = &[CommandHelp {
        usage: "who KEY",
        help: "which vnode KEY reaches",
    }];

    async fn start(node: &Node) -> Result<Self, Error> {
        Ok(WhoApp {
            who: node.register::<WhoVnode>("who_vnode"),
        })
    }

    async fn run(&self, command: &str, args: &[&str]) -> Result<String, Error> {
        match (command, args) {
            ("who", [key]) => {
                let hash = ringcore::chash_key(b"who", key.as_bytes());
                let first = self.who.apl(&hash, 1).remove(0);
                let who = self.who.sync_command(&first.target, ()).await?;
                Ok(format!("{} on {}", who.partition, who.node))
            }
            _ => Err(Self::usage(command)),
        }
    }
}

/// The stream database, with no console commands of its own.
#[derive(Clone)]
pub struct DbApp {
    pub db: ringcore::streams::Streams,
}

impl App for DbApp {
    const COMMANDS: &'static [CommandHelp] = &[];

    async fn start(node: &Node) -> Result<Self, Error> {
        Ok(DbApp {
            db: ringcore::streams::Streams::start(node),
        })
    }

    async fn run(&self, command: &str, _: &[&str]) -> Result<String, Error> {
        Err(Self::usage(command))
    }
}
