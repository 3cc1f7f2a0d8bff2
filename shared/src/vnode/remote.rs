//! Calling a vnode on another node: the request goes over the wire as bytes (the postcard
//! encoding of the command or coverage request), and the answer comes back the same way. The
//! one way the runtime does it: [`call`] to wait for the answer, [`spawn_call`] to have it
//! handed on when it comes.

use crate::error::Error;
use crate::net::wire::{self, Request, Response, VnodeCall};
use crate::ring::IndexNode;
use crate::vnode::Message;
use crate::vnode::context::NodeContext;
use std::time::Duration;

/// Sends one vnode request to the node that hosts `target` and decodes its answer.
pub(crate) async fn call<R: Message>(
    node: &NodeContext,
    vnode_type: &str,
    target: &IndexNode,
    call: VnodeCall,
    payload: Vec<u8>,
    wait: Duration,
) -> Result<R, Error> {
    let request = Request::Vnode {
        vnode_type: vnode_type.to_string(),
        partition: target.partition.index(),
        call,
        payload,
    };
    match node.request(&target.node, request, wait).await {
        Ok(Response::Payload(bytes)) => wire::decode(&bytes),
        Ok(other) => Err(Error::internal(format!(
            "unexpected answer from {}: {other:?}",
            target.node
        ))),
        Err(Error::Timeout { .. }) => Err(Error::timeout("command", 0, 1, wait)),
        Err(error) => Err(error),
    }
}

/// Sends `message` to `target` in the background and hands its answer (or the error that
/// stood in the way) to `answer`. The message is encoded before the task starts, so that the
/// task carries bytes, which are `Send`.
pub(crate) fn spawn_call<Q: Message, R: Message>(
    node: &NodeContext,
    vnode_type: &'static str,
    target: &IndexNode,
    kind: VnodeCall,
    message: &Q,
    answer: impl FnOnce(Result<R, Error>) + Send + 'static,
) {
    let (node, target) = (node.clone(), target.clone());
    let payload = wire::encode(message);
    tokio::spawn(async move {
        let wait = node.request_timeout();
        let result = match payload {
            Ok(payload) => call(&node, vnode_type, &target, kind, payload, wait).await,
            Err(error) => Err(error),
        };
        answer(result);
    });
}
