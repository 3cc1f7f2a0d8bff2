//! A raw connection to a node's cluster port, greeted as a command-line tool is (with the
//! cookie proved), for tests that misbehave on purpose: send requests and never read the
//! answers, stay idle, open more connections than a node takes.

use crate::net::cookie::{self, Cookie};
use crate::net::transport::{DialError, dial};
use crate::net::wire::{self, Frame, Hello, Request};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

/// A connection that has said hello and been welcomed.
pub struct RawClient {
    wire: Framed<TcpStream, LengthDelimitedCodec>,
}

impl RawClient {
    /// Connects to `addr` and goes through the handshake, proving it knows `cookie`; `Err` if
    /// the node refuses or closes the connection (as one over its limit of connections is).
    pub async fn greet(addr: SocketAddr, cookie: &Cookie) -> Result<RawClient, String> {
        let hello = Hello::Client {
            protocol: wire::PROTOCOL_VERSION,
            nonce: cookie::nonce(),
        };
        match dial(addr, hello, cookie).await {
            Ok((wire, _)) => Ok(RawClient { wire }),
            Err(DialError::NotReached(why)) => Err(why),
            Err(DialError::WrongCookie(addr)) => {
                Err(format!("the node at {addr} does not share this cookie"))
            }
        }
    }

    /// Sends one request (and reads nothing): `Err` if it could not be written `within`
    /// (the node stopped reading) or the connection is closed.
    pub async fn send(&mut self, id: u64, body: Request, within: Duration) -> Result<(), String> {
        let frame = wire::encode(&Frame::Request { id, body }).map_err(|e| e.to_string())?;
        match timeout(within, self.wire.send(Bytes::from(frame))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(format!("closed: {error}")),
            Err(_) => Err(format!("stalled: not written within {within:?}")),
        }
    }

    /// Reads (and drops) what the node sends until it closes the connection; whether it did
    /// `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let drained = async { while let Some(Ok(_)) = self.wire.next().await {} };
        timeout(within, drained).await.is_ok()
    }
}
