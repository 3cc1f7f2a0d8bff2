//! The console commands: the stream database's, served by this exercise's vnode.

use crate::copies::find_copies;
use crate::vnode::KvVnode;
use ringcore::streams::{Nwr, Streams, commands};
use ringcore::{App, CommandHelp, Error, Node};

/// The name the vnodes are registered under (it shows in `transfers` and in the handoff log).
pub const VNODE_TYPE: &str = "kv_vnode";

/// The database's commands, then `copies` (Going further).
const COMMANDS: [CommandHelp; commands::COMMANDS.len() + 1] =
    CommandHelp::and(commands::COMMANDS, COPIES);

const COPIES: CommandHelp = CommandHelp {
    usage: "copies BUCKET STREAM [n=3 r=2]",
    help: "messages of a stream stored twice under two identities (Going further)",
};

#[derive(Clone)]
pub struct HandoffApp {
    pub db: Streams<ringcore::coordinator::Quorum, KvVnode>,
}

impl App for HandoffApp {
    const COMMANDS: &'static [CommandHelp] = &COMMANDS;

    async fn start(node: &Node) -> Result<Self, Error> {
        Ok(HandoffApp {
            db: Streams::start_with(node, VNODE_TYPE),
        })
    }

    async fn run(&self, command: &str, args: &[&str]) -> Result<String, Error> {
        if command == "copies" {
            let (nwr, args) = Nwr::from_args(args)?;
            let [bucket, stream] = args.as_slice() else {
                return Err(Self::usage(command));
            };
            let read = self.db.read(bucket, stream, 1, usize::MAX, nwr).await?;
            let copies = find_copies(&read.entries)?;
            if copies.is_empty() {
                return Ok(format!("no copies in {} entries", read.entries.len()));
            }
            let lines: Vec<String> = copies.iter().map(ToString::to_string).collect();
            return Ok(lines.join("\n"));
        }
        commands::run(&self.db, command, args)
            .await
            .unwrap_or_else(|| Err(Self::usage(command)))
    }
}
