//! The console commands: the stream database's (from ringcore), run with your coordinator,
//! and `list-streams` with your merge. Every command takes optional `n=`, `w=` and `r=`
//! settings (defaults N=3, W=2, R=2).

use crate::repair::read_repair;
use crate::service::Db;
use ringcore::streams::Nwr;
use ringcore::streams::commands::{self, show_listing};
use ringcore::{App, CommandHelp, Error, Node};

/// The database's commands, then `repair` (Going further).
const COMMANDS: [CommandHelp; commands::COMMANDS.len() + 1] =
    CommandHelp::and(commands::COMMANDS, REPAIR);

const REPAIR: CommandHelp = CommandHelp {
    usage: "repair BUCKET STREAM [n=3]",
    help: "read every replica of a stream and send each what it lacked (Going further)",
};

#[derive(Clone)]
pub struct DbApp {
    pub db: Db,
}

impl App for DbApp {
    const COMMANDS: &'static [CommandHelp] = &COMMANDS;

    async fn start(node: &Node) -> Result<Self, Error> {
        Ok(DbApp {
            db: Db::start(node),
        })
    }

    async fn run(&self, command: &str, args: &[&str]) -> Result<String, Error> {
        if command == "list-streams" {
            let (nwr, args) = Nwr::from_args(args)?;
            let [bucket] = args.as_slice() else {
                return Err(Self::usage(command));
            };
            return Ok(show_listing(
                &self.db.list_streams(bucket, nwr).await?,
                "no streams",
            ));
        }
        if command == "repair" {
            let (nwr, args) = Nwr::from_args(args)?;
            let [bucket, stream] = args.as_slice() else {
                return Err(Self::usage(command));
            };
            let repaired = read_repair(self.db.streams(), bucket, stream, nwr.n).await?;
            return Ok(repaired.to_string());
        }
        commands::run(self.db.streams(), command, args)
            .await
            .unwrap_or_else(|| Err(Self::usage(command)))
    }
}
