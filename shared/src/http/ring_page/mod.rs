//! The ring page: a live picture of the cluster, served by every node at `/`, for a workshop
//! taught on a projector. People understand consistent hashing, claim and handoff faster when
//! they watch partitions change owner than when they read percentages in a table.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the page; without JavaScript, the text of `member-status`, `ring-status` and `transfers` (`page.rs`) |
//! | `GET /ring/ring.css`, `GET /ring/ring.js` | its style and its script |
//! | `GET /ring/state` | the snapshot the page draws, as JSON: members, partitions, transfers, anti-entropy, counters (`state.rs`) |
//! | `GET /ring/events` | server-sent events: a `state` event with the snapshot whenever it changes (`events.rs`) |
//! | `GET /ring/preflist?bucket=B&key=K[&n=3]` | where a key lives: its hash, its partition, and its preference list as this node computes it (`preflist.rs`) |
//!
//! The page is hand-written HTML, CSS and JavaScript (`assets/`), built into the binary: no
//! CDN and no build step, since the machines of a workshop may be offline. It draws the ring
//! as a circle of arcs, one per partition, coloured by owner; a key typed in its form lights
//! up the key's preference list; the streams of the stream database (exercise 6) and the
//! node's counters show beside it. Updates are pushed by the node on one stream per page, so
//! that a page does not poll each table.
//!
//! Every application's router gets these routes from [`super::serve`]; an application with no
//! HTTP API of its own (exercises 0 to 4) gets them alone, from [`super::serve_node_pages`],
//! which the command line starts for it. Like `/metrics` and `/ready`, they are open to every
//! caller: they show the cluster, not the data in it.

mod events;
mod page;
mod preflist;
mod state;

use crate::node::Node;
use axum::Router;
use axum::routing::get;

/// The page, its assets and the data it draws, for `node`.
pub(super) fn routes(node: Node) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/ring/ring.css", get(page::css))
        .route("/ring/ring.js", get(page::script))
        .route("/ring/state", get(state::get))
        .route("/ring/preflist", get(preflist::get))
        .with_state(node.clone())
        .merge(
            Router::new()
                .route("/ring/events", get(events::get))
                .with_state(events::Watcher::new(node)),
        )
}
