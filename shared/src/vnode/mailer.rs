//! Messages between applications on different nodes, outside the vnode request/reply path:
//! a node's [`Mailboxes`] (named handlers, registered by the application), and the [`Mailer`]
//! a vnode uses to send to them — its callbacks cannot wait, so each send runs in the
//! background. The chat of exercise 6 delivers room messages to members' nodes this way.

use crate::error::Error;
use crate::ring::NodeName;
use crate::vnode::context::NodeContext;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A mailbox's handler. It runs on the receiving connection's task: it must not block.
type Handler = Arc<dyn Fn(Vec<u8>) -> Result<(), String> + Send + Sync>;

/// The mailboxes of one node, by name.
#[derive(Default)]
pub(crate) struct Mailboxes {
    handlers: Mutex<HashMap<String, Handler>>,
}

impl Mailboxes {
    /// From now on, messages to `name` go to `handler`; an `Err` goes back to the sender.
    pub(crate) fn register(
        &self,
        name: &str,
        handler: impl Fn(Vec<u8>) -> Result<(), String> + Send + Sync + 'static,
    ) {
        let mut handlers = self.handlers.lock().expect("mailboxes");
        handlers.insert(name.to_string(), Arc::new(handler));
    }

    /// Hands `payload` to the handler of `mailbox` on this node, `me`.
    pub(crate) fn deliver(
        &self,
        me: &NodeName,
        mailbox: &str,
        payload: Vec<u8>,
    ) -> Result<(), Error> {
        let handler = self
            .handlers
            .lock()
            .expect("mailboxes")
            .get(mailbox)
            .cloned();
        let handler =
            handler.ok_or_else(|| Error::bad_request(format!("no mailbox '{mailbox}' on {me}")))?;
        handler(payload).map_err(Error::BadRequest)
    }
}

/// Sends messages to mailboxes from code that cannot wait (vnode callbacks): each send runs in
/// the background, and a failure is logged.
#[derive(Clone)]
pub struct Mailer {
    node: Option<NodeContext>,
}

impl Mailer {
    pub(crate) fn new(node: NodeContext) -> Self {
        Mailer { node: Some(node) }
    }

    /// A mailer attached to no node: what it sends goes nowhere (for vnodes run alone, in tests).
    pub fn detached() -> Self {
        Mailer { node: None }
    }

    /// Sends `payload` to `mailbox` on node `to`, in the background.
    pub fn send(&self, to: &NodeName, mailbox: &str, payload: Vec<u8>) {
        let Some(node) = self.node.clone() else {
            return;
        };
        let (to, mailbox) = (to.clone(), mailbox.to_string());
        tokio::spawn(async move {
            if let Err(error) = node.deliver(&to, &mailbox, payload).await {
                tracing::debug!(%to, %mailbox, %error, "message not delivered");
            }
        });
    }
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mailer")
    }
}
