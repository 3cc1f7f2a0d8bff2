//! What a node answers over the wire: each [`Request`] from another node or a command-line
//! tool goes to the handle that owns it — the vnode hosts, the ring state, the claimant, the
//! admin commands, the console, the handoff receiver, the mailboxes, the cluster metadata.

use crate::error::Error;
use crate::net::server::Answer;
use crate::net::wire::{Request, Response};
use crate::node::{Node, admin};
use std::sync::Arc;

/// The listener's way to answer requests on `node`.
pub(super) fn answerer(node: &Node) -> Answer {
    let node = node.clone();
    Arc::new(move |request| {
        let node = node.clone();
        Box::pin(async move { answer(&node, request).await })
    })
}

/// Answers one request.
pub(super) async fn answer(node: &Node, request: Request) -> Result<Response, Error> {
    match request {
        Request::Ping => Ok(Response::Pong {
            name: node.name().clone(),
            ring_version: node.ring().version(),
        }),
        Request::Vnode {
            vnode_type,
            partition,
            call,
            payload,
        } => {
            if partition >= node.ring().size() {
                return Err(Error::bad_request(format!(
                    "there is no partition {partition}"
                )));
            }
            let host = node.hosts().find(&vnode_type).ok_or_else(|| {
                Error::bad_request(format!("no vnode type '{vnode_type}' on {}", node.name()))
            })?;
            host.dispatch(partition, call, payload)
                .await
                .map(Response::Payload)
        }
        Request::Gossip(theirs) => {
            let their_version = theirs.ring.version();
            let state = node.state();
            state.receive_gossip(theirs);
            let newer = state.ring().version() > their_version;
            Ok(Response::Gossip(newer.then(|| state.gossip_state())))
        }
        Request::State => Ok(Response::State(node.state().gossip_state())),
        Request::Claimant(request) => node.claimant().handle(request).await,
        Request::Admin(words) => {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            admin::run(node, &words).await.map(Response::Text)
        }
        Request::Console(line) => match node.console() {
            Some(console) => Ok(Response::Text(console.eval_remote(line).await)),
            None => Err(Error::bad_request("this node has no console")),
        },
        Request::Handoff(request) => node.handoff().receive(request).await,
        Request::Transfers => Ok(Response::Transfers(node.transfers())),
        Request::Deliver { mailbox, payload } => {
            let mailboxes = node.context().mailboxes();
            mailboxes
                .deliver(node.name(), &mailbox, payload)
                .map(|()| Response::Done)
        }
        Request::Stop => {
            node.request_stop();
            Ok(Response::Done)
        }
        Request::Metadata(request) => node.metadata().answer(request).await,
    }
}
