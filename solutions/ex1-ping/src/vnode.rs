//! The ping vnode: answers pings, adds numbers and counts its additions.

use ringcore::{Error, NodeName, Partition, Vnode, VnodeContext};
use serde::{Deserialize, Serialize};

/// What the service can ask one ping vnode.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Command {
    Ping,
    Add(i64, i64),
}

/// A vnode's answer: who answered, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub partition: Partition,
    pub node: NodeName,
    /// The sum, for `Add`; `None` for `Ping`.
    pub sum: Option<i64>,
}

/// What a coverage call can ask every vnode.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CoverageRequest {
    Stats,
}

/// One vnode of the ring. Its state is its place on the ring and how many additions it did.
pub struct PingVnode {
    partition: Partition,
    node: NodeName,
    ops_count: u64,
}

impl PingVnode {
    fn answer(&self, sum: Option<i64>) -> Answer {
        Answer {
            partition: self.partition,
            node: self.node.clone(),
            sum,
        }
    }
}

impl Vnode for PingVnode {
    type Command = Command;
    type Reply = Result<Answer, Error>;
    type CoverageRequest = CoverageRequest;
    type CoverageReply = Result<u64, Error>;
    // A ping vnode has no data to hand to another node.
    type HandoffItem = ();

    fn init(ctx: VnodeContext) -> Result<Self, String> {
        Ok(PingVnode {
            partition: ctx.partition,
            node: ctx.node,
            ops_count: 0,
        })
    }

    fn handle_command(&mut self, command: Command) -> Self::Reply {
        match command {
            Command::Ping => Ok(self.answer(None)),
            Command::Add(a, b) => {
                // Step 2: count the operation, then answer with the sum.
                self.ops_count += 1;
                let sum = a.checked_add(b).ok_or_else(|| {
                    Error::bad_request(format!("{a} + {b} does not fit in 64 bits"))
                })?;
                Ok(self.answer(Some(sum)))
            }
        }
    }

    fn handle_coverage(&mut self, request: CoverageRequest) -> Self::CoverageReply {
        match request {
            // Step 3: every vnode tells its count.
            CoverageRequest::Stats => Ok(self.ops_count),
        }
    }
}
