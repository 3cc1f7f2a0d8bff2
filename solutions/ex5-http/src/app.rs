//! The application on each node: the stream database, its HTTP server (its address is in the
//! node's `started` line), and the database's console commands.

use crate::routes::router;
use ringcore::streams::{Streams, commands};
use ringcore::{App, CommandHelp, Error, Node};
use std::net::SocketAddr;

#[derive(Clone)]
pub struct HttpApp {
    pub db: Streams,
    /// Where this node's HTTP API listens.
    pub http: SocketAddr,
}

impl App for HttpApp {
    const COMMANDS: &'static [CommandHelp] = commands::COMMANDS;

    async fn start(node: &Node) -> Result<Self, Error> {
        let db = Streams::start(node);
        let http = ringcore::http::serve(node, node.config().http, router(db.clone()))
            .await
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(HttpApp { db, http })
    }

    fn endpoints(&self) -> Vec<(&'static str, SocketAddr)> {
        vec![("http", self.http)]
    }

    async fn run(&self, command: &str, args: &[&str]) -> Result<String, Error> {
        commands::run(&self.db, command, args)
            .await
            .unwrap_or_else(|| Err(Self::usage(command)))
    }
}
