//! The node: the stream database, its HTTP API, the chat server, and the console.

use crate::service::{Chat, HISTORY_BUCKET};
use ringcore::http::PostHooks;
use ringcore::streams::{Streams, commands};
use ringcore::{App, CommandHelp, Error, Node};
use std::net::SocketAddr;

#[derive(Clone)]
pub struct ChatApp {
    pub db: Streams,
    pub chat: Chat,
    /// Where this node serves HTTP and the chat.
    pub http: SocketAddr,
    pub chat_addr: SocketAddr,
}

impl App for ChatApp {
    const COMMANDS: &'static [CommandHelp] = commands::COMMANDS;

    async fn start(node: &Node) -> Result<Self, Error> {
        let db = Streams::start(node);
        let chat = Chat::start(node, db.clone());
        crate::departures::watch(node, chat.clone());
        // Lines POSTed to a room's stream reach the room's members too.
        let bridge = chat.clone();
        let hooks = PostHooks::new().on(HISTORY_BUCKET, move |posted| {
            let chat = bridge.clone();
            async move { chat.posted_over_http(posted).await }
        });
        let api = ringcore::http::router_with(db.clone(), hooks);
        let http = ringcore::http::serve(node, node.config().http, api)
            .await
            .map_err(|e| Error::internal(e.to_string()))?;
        let (chat_addr, _connections) =
            ringcore::chat::serve(node, node.config().chat, chat.clone())
                .await
                .map_err(|e| Error::internal(e.to_string()))?;
        Ok(ChatApp {
            db,
            chat,
            http,
            chat_addr,
        })
    }

    fn endpoints(&self) -> Vec<(&'static str, SocketAddr)> {
        vec![("http", self.http), ("chat", self.chat_addr)]
    }

    async fn run(&self, command: &str, args: &[&str]) -> Result<String, Error> {
        commands::run(&self.db, command, args)
            .await
            .unwrap_or_else(|| Err(Self::usage(command)))
    }
}
