//! Bad input on a node's port closes that connection and nothing else; and nothing is
//! answered on a connection whose caller has not proved it knows the cluster's cookie.

mod common;

use bytes::Bytes;
use common::WhoApp;
use futures_util::{FutureExt, SinkExt, StreamExt};
use ringcore::net::cookie::{self, Cookie, Nonces, Side};
use ringcore::net::transport::{ClientError, client_request};
use ringcore::net::wire::{self, Frame, Hello, Proof, Request, Response, Welcome};
use ringcore::testing::{CapturedLogs, TestCluster, wait_until};
use serde::Serialize;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

type Wire = Framed<TcpStream, LengthDelimitedCodec>;

async fn send<T: Serialize>(framed: &mut Wire, message: &T) {
    let bytes = wire::encode(message).unwrap();
    framed.send(Bytes::from(bytes)).await.unwrap();
}

/// The node's next handshake message; `None` once it has closed the connection.
async fn receive(framed: &mut Wire) -> Option<Welcome> {
    let frame = tokio::time::timeout(Duration::from_secs(10), framed.next())
        .await
        .expect("the node answers or closes within 10 s")?;
    Some(wire::decode(&frame.ok()?).expect("a handshake message"))
}

/// A tool's hello, with a fresh nonce.
fn tool_hello() -> Hello {
    Hello::Client {
        protocol: wire::PROTOCOL_VERSION,
        nonce: cookie::nonce(),
    }
}

/// Connects as a tool that knows `cookie`, and goes through the handshake step by step.
async fn handshake(addr: SocketAddr, cookie: &Cookie) -> Wire {
    let mut framed = Framed::new(TcpStream::connect(addr).await.unwrap(), wire::codec());
    let hello = tool_hello();
    send(&mut framed, &hello).await;
    let Some(Welcome::Challenge { nonce, proof }) = receive(&mut framed).await else {
        panic!("no challenge");
    };
    let nonces = Nonces {
        dialer: *hello.nonce(),
        listener: nonce,
    };
    assert!(
        cookie.verify(Side::Listener, &nonces, &proof),
        "the node proves it knows the cookie"
    );
    send(
        &mut framed,
        &Proof::Mac(cookie.proof(Side::Dialer, &nonces)),
    )
    .await;
    let welcome = receive(&mut framed).await;
    assert!(
        matches!(welcome, Some(Welcome::Accepted { .. })),
        "{welcome:?}"
    );
    framed
}

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

async fn assert_pings(addr: SocketAddr, cookie: &Cookie) {
    let answer = client_request(addr, cookie, Request::Ping, Duration::from_secs(5)).await;
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
    assert_pings(addr, &cluster.cookie(1)).await;
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
    assert_pings(addr, &cluster.cookie(1)).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_after_a_good_handshake_closes_only_that_connection() {
    let cluster = TestCluster::<WhoApp>::start(1).await;
    let addr = cluster.addr(1);
    let mut framed = handshake(addr, &cluster.cookie(1)).await;
    framed
        .send(Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef, 0x99]))
        .await
        .unwrap();
    assert!(
        framed.next().await.is_none_or(|frame| frame.is_err()),
        "the connection stays open"
    );
    assert_pings(addr, &cluster.cookie(1)).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatched_handshake_is_refused_with_the_reason() {
    let cluster = TestCluster::<WhoApp>::start(1).await;
    let addr = cluster.addr(1);
    let refusal = |hello: Hello| async move {
        let mut framed = Framed::new(TcpStream::connect(addr).await.unwrap(), wire::codec());
        send(&mut framed, &hello).await;
        match receive(&mut framed).await {
            Some(Welcome::Refused { reason }) => reason,
            other => panic!("a mismatched handshake is answered {other:?}"),
        }
    };
    let wrong_protocol = Hello::Client {
        protocol: 99,
        nonce: cookie::nonce(),
    };
    assert_eq!(
        refusal(wrong_protocol).await,
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
        nonce: cookie::nonce(),
    };
    assert_eq!(
        refusal(wrong_ring).await,
        "dev9@127.0.0.1 has a ring of 16 partitions, this node has 64"
    );
    assert_pings(addr, &cluster.cookie(1)).await;
    cluster.stop().await;
}

/// The frames a caller gets back until the node closes the connection.
async fn answers_until_closed(framed: &mut Wire) -> Vec<Welcome> {
    let mut answers = Vec::new();
    while let Some(answer) = receive(framed).await {
        answers.push(answer);
    }
    answers
}

/// What a raw TCP client could do before nodes had a cookie: say hello as a tool, and send a
/// request (stop the node, make a member leave, run a console line) without waiting. The node
/// challenges it, finds no proof where one belongs, refuses it with the reason, logs it, and
/// carries out none of it; the same requests from a tool that knows the cookie are answered.
#[test]
fn a_request_without_proof_of_the_cookie_is_refused_and_not_carried_out() {
    let logs = CapturedLogs::new("ringcore=info");
    logs.run(async {
        let cluster = TestCluster::<WhoApp>::start_joined(2).await;
        let addr = cluster.addr(1);
        let attacks = [
            Request::Stop,
            Request::Admin(vec!["cluster".into(), "leave".into(), "dev2@127.0.0.1".into()]),
            Request::Console("ping".into()),
        ];
        for attack in &attacks {
            let mut framed = Framed::new(TcpStream::connect(addr).await.unwrap(), wire::codec());
            send(&mut framed, &tool_hello()).await;
            send(&mut framed, &Frame::Request { id: 1, body: attack.clone() }).await;
            let answers = answers_until_closed(&mut framed).await;
            assert!(
                matches!(
                    &answers[..],
                    [Welcome::Challenge { .. }, Welcome::Refused { reason }]
                        if reason == "wrong cookie: dev1@127.0.0.1 has another"
                ),
                "{attack:?} is answered {answers:?}"
            );
        }
        // A proof made with another cookie fares no better.
        let mut framed = Framed::new(TcpStream::connect(addr).await.unwrap(), wire::codec());
        let hello = tool_hello();
        send(&mut framed, &hello).await;
        let Some(Welcome::Challenge { nonce, .. }) = receive(&mut framed).await else {
            panic!("no challenge");
        };
        let nonces = Nonces {
            dialer: *hello.nonce(),
            listener: nonce,
        };
        let guess = Cookie::new("guess").unwrap().proof(Side::Dialer, &nonces);
        send(&mut framed, &Proof::Mac(guess)).await;
        let answers = answers_until_closed(&mut framed).await;
        assert!(
            matches!(&answers[..], [Welcome::Refused { reason }] if reason.starts_with("wrong cookie")),
            "{answers:?}"
        );

        let refusals = "refusing connection from 127.0.0.1:";
        wait_until("dev1 has logged the four refusals", || async {
            logs.matching(refusals).len() >= 4
        })
        .await;
        for line in logs.matching(refusals) {
            assert!(
                line.contains(" WARN ") && line.ends_with(" (a command-line tool): wrong cookie"),
                "{line}"
            );
        }
        // Nothing was carried out: no stop asked, no leave staged.
        let dev1 = cluster.node(1);
        assert!(dev1.stop_requested().now_or_never().is_none(), "a stop was requested");
        let plan = cluster.admin(1, "cluster plan").await.unwrap_err();
        assert_eq!(plan.to_string(), "There are no staged changes");
        // The same from a tool that knows the cookie: carried out.
        let cookie = cluster.cookie(1);
        for request in attacks {
            let answer = client_request(addr, &cookie, request.clone(), Duration::from_secs(10)).await;
            // Answered (a test node has no console to run a line on: it says so).
            assert!(
                matches!(answer, Ok(_) | Err(ClientError::Refused(_))),
                "{request:?}: {answer:?}"
            );
        }
        assert!(dev1.stop_requested().now_or_never().is_some(), "the stop is asked now");
        let plan = cluster.admin(1, "cluster plan").await.unwrap();
        assert!(plan.contains("leave          'dev2@127.0.0.1'"), "{plan}");
        cluster.stop().await;
    });
}
