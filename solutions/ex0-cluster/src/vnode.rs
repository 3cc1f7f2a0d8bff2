//! A vnode that only answers pings with its partition and node: enough to see where
//! partitions live as the cluster changes.

use ringcore::{NodeName, Partition, Vnode, VnodeContext};
use serde::{Deserialize, Serialize};

/// The only command: are you there?
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ping;

/// Who answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    pub partition: Partition,
    pub node: NodeName,
}

pub struct PingVnode {
    me: Pong,
}

impl Vnode for PingVnode {
    type Command = Ping;
    type Reply = Pong;
    type CoverageRequest = Ping;
    type CoverageReply = Pong;
    type HandoffItem = ();

    fn init(ctx: VnodeContext) -> Result<Self, String> {
        Ok(PingVnode {
            me: Pong {
                partition: ctx.partition,
                node: ctx.node,
            },
        })
    }

    fn handle_command(&mut self, _: Ping) -> Pong {
        self.me.clone()
    }

    fn handle_coverage(&mut self, _: Ping) -> Pong {
        self.me.clone()
    }
}
