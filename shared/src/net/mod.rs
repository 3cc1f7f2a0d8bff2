//! How nodes talk: every message they exchange ([`wire`]), the connections a node keeps to
//! its peers ([`transport`]), and the listener that answers them ([`server`]). Nothing here
//! knows what a request means: the node answers it (`crate::node`'s dispatch).

pub mod limits;
pub mod server;
pub mod transport;
pub mod wire;
