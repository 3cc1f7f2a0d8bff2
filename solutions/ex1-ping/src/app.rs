//! The console commands of the ping application: parse the arguments, call the service,
//! print the answer.

use crate::service::Ping;
use ringcore::{App, CommandHelp, Error, Node};

/// The ping application as the node runs it.
#[derive(Clone)]
pub struct PingApp {
    pub ping: Ping,
}

impl App for PingApp {
    const COMMANDS: &'static [CommandHelp] = &[
        CommandHelp {
            usage: "ping",
            help: "ping a vnode chosen by the current time",
        },
        CommandHelp {
            usage: "ping-key KEY",
            help: "ping the vnode that KEY hashes to (step 1)",
        },
        CommandHelp {
            usage: "add A B",
            help: "add two numbers on the vnode that (A, B) hashes to (step 2)",
        },
        CommandHelp {
            usage: "stats",
            help: "additions per vnode, for vnodes that did any (step 3)",
        },
        CommandHelp {
            usage: "preflist KEY [N]",
            help: "the N (3) vnodes that serve KEY, primaries and fallbacks (Going further)",
        },
    ];

    async fn start(node: &Node) -> Result<Self, Error> {
        Ok(PingApp {
            ping: Ping::start(node),
        })
    }

    async fn run(&self, command: &str, args: &[&str]) -> Result<String, Error> {
        match (command, args) {
            ("ping", []) => Ok(self.ping.ping().await?.to_string()),
            ("ping-key", [key]) => Ok(self.ping.ping_key(key).await?.to_string()),
            ("add", [a, b]) => {
                let sum = self.ping.add(number(a)?, number(b)?).await?;
                Ok(sum.to_string())
            }
            ("stats", []) => {
                let stats = self.ping.stats().await?;
                if stats.is_empty() {
                    return Ok("no vnode has done an addition yet".to_string());
                }
                let lines: Vec<String> = stats
                    .iter()
                    .map(|s| {
                        format!(
                            "{} on {}: ops_count={}",
                            s.vnode.partition, s.vnode.node, s.ops_count
                        )
                    })
                    .collect();
                Ok(lines.join("\n"))
            }
            ("preflist", [key]) => self.preflist(key, 3),
            ("preflist", [key, n]) => self.preflist(key, number(n)?),
            _ => Err(Self::usage(command)),
        }
    }
}

fn number(text: &str) -> Result<i64, Error> {
    text.parse()
        .map_err(|_| Error::bad_request(format!("'{text}' is not a whole number")))
}

impl PingApp {
    /// `preflist`: one line per vnode, in the list's order.
    fn preflist(&self, key: &str, n: i64) -> Result<String, Error> {
        let n = usize::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| Error::bad_request(format!("N must be above 0, not {n}")))?;
        let list = self.ping.preflist(key, n)?;
        if list.is_empty() {
            return Ok("no vnode is available for this key".to_string());
        }
        let lines: Vec<String> = list
            .iter()
            .map(|e| {
                format!(
                    "{} on {} ({})",
                    e.target.partition, e.target.node, e.replica
                )
            })
            .collect();
        Ok(lines.join("\n"))
    }
}
