//! The console commands: the stream database's (from ringcore), run with your coordinator,
//! and `list-streams` with your merge. Every command takes optional `n=`, `w=` and `r=`
//! settings (defaults N=3, W=2, R=2).

use crate::service::Db;
use ringcore::streams::Nwr;
use ringcore::streams::console::{self, show_listing};
use ringcore::{App, CommandHelp, Error, Node};

#[derive(Clone)]
pub struct DbApp {
    pub db: Db,
}

impl App for DbApp {
    const COMMANDS: &'static [CommandHelp] = console::COMMANDS;

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
        console::run(self.db.streams(), command, args)
            .await
            .unwrap_or_else(|| Err(Self::usage(command)))
    }
}
