//! The console commands of the cluster application.

use crate::balance::balance;
use crate::service::Cluster;
use ringcore::{App, CommandHelp, Error, Node};

#[derive(Clone)]
pub struct ClusterApp {
    pub cluster: Cluster,
}

impl App for ClusterApp {
    const COMMANDS: &'static [CommandHelp] = &[
        CommandHelp {
            usage: "ping",
            help: "ping a vnode chosen by the current time, on whichever node owns it",
        },
        CommandHelp {
            usage: "owner KEY",
            help: "the partition of KEY and the node that owns it (step 1)",
        },
        CommandHelp {
            usage: "ownership",
            help: "how many partitions each member owns (step 2)",
        },
        CommandHelp {
            usage: "balance [N]",
            help: "partitions per member, and preference lists of N (3) with a node twice (Going further)",
        },
    ];

    async fn start(node: &Node) -> Result<Self, Error> {
        Ok(ClusterApp {
            cluster: Cluster::start(node),
        })
    }

    async fn run(&self, command: &str, args: &[&str]) -> Result<String, Error> {
        match (command, args) {
            ("ping", []) => {
                let pong = self.cluster.ping().await?;
                Ok(format!(
                    "pong from partition {} on {}",
                    pong.partition, pong.node
                ))
            }
            ("owner", [key]) => Ok(self.cluster.owner(key)?.to_string()),
            ("ownership", []) => {
                let shares = self.cluster.ownership()?;
                let total: usize = shares.iter().map(|s| s.partitions).sum();
                let lines: Vec<String> = shares
                    .iter()
                    .map(|s| {
                        let percent = 100.0 * s.partitions as f64 / total.max(1) as f64;
                        format!("{}: {} partitions ({percent:.1}%)", s.node, s.partitions)
                    })
                    .collect();
                Ok(lines.join("\n"))
            }
            ("balance", []) => self.balance(DEFAULT_N_VAL),
            ("balance", [n]) => match n.parse() {
                Ok(n) if n > 0 => self.balance(n),
                _ => Err(Error::bad_request(format!(
                    "N must be a whole number above 0, not '{n}'"
                ))),
            },
            _ => Err(Self::usage(command)),
        }
    }
}

/// The replicas per key that `balance` checks the preference lists for, unless told: the
/// workshop's N.
const DEFAULT_N_VAL: usize = 3;

impl ClusterApp {
    /// `balance`: the table of this node's ring.
    fn balance(&self, n_val: usize) -> Result<String, Error> {
        let ring = self.cluster.node().ring();
        Ok(balance(&ring, n_val)?.to_string())
    }
}
