//! Bad input on a node's port closes that connection and nothing else.

mod common;

use bytes::Bytes;
use common::WhoApp;
use futures_util::{SinkExt, StreamExt};
use ringcore::net::transport::client_request;
use ringcore::net::wire::{self, Hello, Request, Response, Welcome};
use ringcore::testing::TestCluster;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// Reads until the node closes the connection; fails the test if it stays open.
async fn assert_closed(stream: &mut TcpStream) {
    let mut buffer = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the node kept the connection open");
}

async fn assert_pings(addr: SocketAddr) {
    let answer = client_request(addr, Request::Ping, Duration::from_secs(5)).await;
    assert!(matches!(answer, Ok(Response::Pong { .. })), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_close_the_connection_and_the_node_keeps_answering() {
    let cluster = TestCluster::<WhoApp>::start(1).await;
    let addr = cluster.addr(1);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"\x00\x00\x00\x05hello, is this riak?")
        .await
        .unwrap();
    assert_closed(&mut stream).await;
    assert_pings(addr).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_closes_the_connection() {
    let cluster = TestCluster::<WhoApp>::start(1).await;
    let addr = cluster.addr(1);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // A length prefix of 4 GiB: the node must not try to buffer it.
    stream
        .write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3])
        .await
        .unwrap();
    assert_closed(&mut stream).await;
    assert_pings(addr).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_after_a_good_handshake_closes_only_that_connection() {
    let cluster = TestCluster::<WhoApp>::start(1).await;
    let addr = cluster.addr(1);
    let hello = wire::encode(&Hello::Client {
        protocol: wire::PROTOCOL_VERSION,
    })
    .unwrap();
    let mut framed = Framed::new(TcpStream::connect(addr).await.unwrap(), wire::codec());
    framed.send(Bytes::from(hello)).await.unwrap();
    let welcome: Welcome = wire::decode(&framed.next().await.unwrap().unwrap()).unwrap();
    assert!(matches!(welcome, Welcome::Accepted { .. }));
    framed
        .send(Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef, 0x99]))
        .await
        .unwrap();
    assert!(
        framed.next().await.is_none_or(|frame| frame.is_err()),
        "the connection stays open"
    );
    assert_pings(addr).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatched_handshake_is_refused_with_the_reason() {
    let cluster = TestCluster::<WhoApp>::start(1).await;
    let addr = cluster.addr(1);
    let refusal = |hello: Hello| async move {
        let mut framed = Framed::new(TcpStream::connect(addr).await.unwrap(), wire::codec());
        framed
            .send(Bytes::from(wire::encode(&hello).unwrap()))
            .await
            .unwrap();
        match wire::decode::<Welcome>(&framed.next().await.unwrap().unwrap()).unwrap() {
            Welcome::Refused { reason } => reason,
            Welcome::Accepted { .. } => panic!("accepted a mismatched handshake"),
        }
    };
    assert_eq!(
        refusal(Hello::Client { protocol: 99 }).await,
        format!(
            "protocol version 99 does not match this node's version {}",
            wire::PROTOCOL_VERSION
        )
    );
    let wrong_ring = Hello::Node {
        protocol: wire::PROTOCOL_VERSION,
        name: "dev9@127.0.0.1".into(),
        ring_size: 16,
        addr: "127.0.0.1:9".parse().unwrap(),
        incarnation: 1,
    };
    assert_eq!(
        refusal(wrong_ring).await,
        "dev9@127.0.0.1 has a ring of 16 partitions, this node has 64"
    );
    assert_pings(addr).await;
    cluster.stop().await;
}
