//! How nodes talk: every message they exchange ([`wire`]), the connections a node keeps to
//! its peers ([`transport`]), the listener that answers them ([`server`]) within its
//! [`limits`], and the secret each end proves it knows before anything else is said
//! ([`cookie`]). Nothing here knows what a request means: the node answers it
//! (`crate::node`'s dispatch).

use std::net::IpAddr;

pub mod cookie;
pub mod limits;
pub mod server;
pub mod transport;
pub mod wire;

/// The address of a node's host, the part of its name after the `@`: an IP as written, or a
/// host name looked up (its first address); `None` when it is neither.
pub fn host_ip(host: &str) -> Option<IpAddr> {
    if let Ok(ip) = host.parse() {
        return Some(ip);
    }
    use std::net::ToSocketAddrs;
    (host, 0)
        .to_socket_addrs()
        .ok()?
        .next()
        .map(|addr| addr.ip())
}
