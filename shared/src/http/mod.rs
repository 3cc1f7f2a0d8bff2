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
//! | `GET /metrics`, `GET /ready` | this node's counters (Prometheus text); whether it should take traffic (added to every router by [`serve`], see `ops.rs`) |
//! | `GET /`, `GET /ring/…` | the ring page: a live picture of the cluster in a browser, with the JSON and the server-sent events it draws from (added to every router by [`serve`], see `ring_page`) |
//! | `/streams/…`, `/buckets/`, `/ping` | Iorio DB's stream routes (`iorio.rs`) |
//! | `/sessions`, `/users/…`, `/access/…` | users, sessions and grants (`access.rs`) |
//! | `/eviction/{bucket}[/{stream}]` | eviction policies (`eviction.rs`) |
//! | `GET /listen?s=bucket:stream[:from]&…` | many streams on one connection (`s=bucket:*`, `s=*:stream`: every stream a pattern finds): server-sent events, long-poll with `mode=poll` (`listen.rs`), or a WebSocket when the request asks to upgrade, with commands to subscribe and unsubscribe (`listen_ws.rs`); what one connection follows is `subscriptions.rs` |
//!
//! Every route takes `n`, `w`, `r` query parameters (defaults 3, 2, 2). Errors are JSON
//! `{"type": …, "reason": …}` with the status that fits ([`ApiError`]); no input takes the
//! node down or leaves half an entry behind.
//!
//! An application may hear of the posts the API stores, per bucket ([`router_with`] and
//! [`PostHooks`], `hooks.rs`): the chat tells a room's members of a line POSTed to the room.
//!
//! Every route that touches a stream checks the caller's permission on it ([`crate::access`]):
//! `get` to read or follow it, `put` to append, `delete` to empty it, `list` to list a
//! bucket's streams; a refused request is 401 `no-perm` with `WWW-Authenticate`. The caller is
//! whoever the session token says ([`token_of`]: `X-Session`, `Authorization: Bearer` or
//! `?jwt=`); without one, the anonymous caller. Browsers may call from any origin (CORS,
//! answered in [`serve`]).
//!
//! The building blocks ([`ApiError`], [`EntryJson`], [`Params`], [`json_body`], [`feed`]) are
//! public so that an exercise can write its own routes with them.

mod access;
mod auth;
mod body_limit;
mod error;
mod eviction;
pub mod feed;
mod hooks;
mod iorio;
mod json;
mod listen;
mod listen_ws;
mod live;
mod ops;
mod ring_page;
mod routes;
mod serve;
mod subscriptions;

pub use auth::{allowed, caller, token_of};
pub use error::ApiError;
pub use hooks::{PostHooks, Posted};
pub use iorio::entries_json;
pub use json::{EntryJson, Params, json_body, msg_of};
pub use routes::{router, router_with};
pub use serve::{serve, serve_node_pages};

/// The largest request body accepted (a larger one is answered 413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
