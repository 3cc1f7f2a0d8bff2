//! The stream database over HTTP (axum): flaviodb's routes, the EUC workshop's key/value
//! routes, listings, stats, health, and a live feed of new entries as server-sent events.
//!
//! | route | what |
//! |---|---|
//! | `POST /msgs/{user}/{topic}` `{"msg": …}` | append; 201 with the stored entry |
//! | `GET /msgs/{user}/{topic}?from=&limit=` | entries from `from` (at most `limit`, or a few more so that a page never splits entries that share a number), or the newest `limit` (default 1); `X-Concurrent-Entries: K` when K numbers are held by several entries |
//! | `GET /msgs/{user}/{topic}/listen?from=SEQ` | server-sent events: entries after SEQ, then each new one |
//! | `GET /msgs/{user}`, `GET /msgs` | a user's topics, the users (coverage queries) |
//! | `PUT /api/store/{key}` JSON, `GET /api/store/{key}` | the workshop's key/value store |
//! | `GET /stats`, `GET /health` | per-vnode counters; the node's view of the cluster |
//!
//! Every route takes `n`, `w`, `r` query parameters (defaults 3, 2, 2). Errors are JSON
//! `{"type": …, "reason": …}` with the status that fits ([`ApiError`]); no input takes the
//! node down or leaves half an entry behind.
//!
//! The building blocks ([`ApiError`], [`EntryJson`], [`Params`], [`json_body`], [`feed`]) are
//! public so that an exercise can write its own routes with them.

mod body_limit;
mod error;
pub mod feed;
mod json;
mod routes;

pub use error::ApiError;
pub use json::{EntryJson, Params, json_body, msg_of};
pub use routes::router;

use crate::node::Node;
use axum::Router;
use std::net::SocketAddr;

/// The largest request body accepted (a larger one is answered 413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Serves `router` on `addr` until the node stops; returns the address it listens on. A
/// request body over [`MAX_BODY_BYTES`] is answered 413 before any route sees it, once the
/// client has sent it (see `body_limit.rs`).
pub async fn serve(node: &Node, addr: SocketAddr, router: Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot serve HTTP on {addr}: {e}")))?;
    let local = listener.local_addr()?;
    let shutdown = node.lifecycle().token().clone();
    let name = node.name().clone();
    tokio::spawn(async move {
        // The body limit wraps every route, an exercise's own included.
        let router = router.layer(axum::middleware::from_fn(body_limit::limit_body));
        let server = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await });
        if let Err(error) = server.await {
            tracing::error!(node = %name, %error, "the HTTP server stopped");
        }
    });
    tracing::info!(node = %node.name(), addr = %local, "HTTP server listening");
    Ok(local)
}
