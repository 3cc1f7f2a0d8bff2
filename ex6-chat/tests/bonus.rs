//! The bonus tests of exercise 6 (README, Going further): `cargo test -p ex6-chat bonus`.
//! A 3-node cluster in this process; chat clients connect over real TCP, as `nc` would. A
//! node "goes down" by losing every link to the others (`stall`): its clients stay
//! connected, so nobody leaves a room unless the rooms forget them.

use ex6_chat::ChatApp;
use ringcore::testing::{TestCluster, wait_until};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a client waits for an expected line.
const PATIENCE: Duration = Duration::from_secs(20);

/// A chat client that remembers what it received.
struct Client {
    label: &'static str,
    stream: TcpStream,
    received: String,
}

impl Client {
    async fn connect(label: &'static str, addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr)
            .await
            .expect("the chat server accepts");
        let mut client = Client {
            label,
            stream,
            received: String::new(),
        };
        client.expect("to get started").await;
        client
    }

    async fn send(&mut self, line: &str) {
        let line = format!("{line}\n");
        self.stream.write_all(line.as_bytes()).await.expect("send");
    }

    /// Reads until `text` has arrived, and forgets everything up to it. An answer that says
    /// a hole is not written yet ends the wait at once.
    async fn expect(&mut self, text: &str) {
        self.expect_all(&[text]).await;
    }

    /// Reads until every one of `texts` has arrived, in any order, and forgets everything up
    /// to the last of them.
    async fn expect_all(&mut self, texts: &[&str]) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while let Some(text) = texts.iter().find(|t| !self.received.contains(**t)) {
            if let Some(at) = self.received.find("not implemented yet") {
                let line = self.received[at..].lines().next().unwrap_or_default();
                panic!("{}: waiting for {text:?}, got: {line}", self.label);
            }
            let mut buffer = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buffer)).await {
                Ok(Ok(n)) if n > 0 => self
                    .received
                    .push_str(&String::from_utf8_lossy(&buffer[..n])),
                _ => panic!(
                    "{}: no {text:?} within {PATIENCE:?}; got {:?}",
                    self.label, self.received
                ),
            }
        }
        let end = texts
            .iter()
            .map(|t| self.received.find(t).unwrap() + t.len())
            .max()
            .unwrap_or(0);
        self.received.drain(..end);
    }

    /// Sets a name and joins rooms (steps 2 and 3 must work).
    async fn enter(&mut self, name: &str, rooms: &[&str]) {
        self.send(&format!("set-name {name}")).await;
        self.expect(&format!("ok your name is {name}")).await;
        for room in rooms {
            self.send(&format!("join {room}")).await;
            self.expect(&format!("joined {room}!")).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonus_members_of_a_node_that_went_down_leave_their_rooms() {
    let cluster = TestCluster::<ChatApp>::start_joined(3).await;
    let chat = |k: u32| cluster.app(k).chat_addr;
    let mut alex = Client::connect("alex@dev1", chat(1)).await;
    let mut bea = Client::connect("bea@dev2", chat(2)).await;
    let mut bo = Client::connect("bo@dev2", chat(2)).await;
    let mut cy = Client::connect("cy@dev3", chat(3)).await;
    alex.enter("Alex", &["Ghosts", "Calm"]).await;
    bea.enter("Bea", &["Ghosts"]).await;
    bo.enter("Bo", &["Ghosts"]).await;
    cy.enter("Cy", &["Ghosts", "Calm"]).await;
    alex.expect("* Cy has joined Ghosts").await;

    // dev2 goes silent: to dev1 and dev3 it is down, and Bea and Bo with it.
    cluster.stall(2);
    let dev2 = cluster.name(2);
    wait_until("dev1 and dev3 see dev2 down", || async {
        !cluster.node(1).is_up(&dev2) && !cluster.node(3).is_up(&dev2)
    })
    .await;
    let bea_left = format!("* Bea has left Ghosts: {dev2} is down");
    let bo_left = format!("* Bo has left Ghosts: {dev2} is down");
    for client in [&mut alex, &mut cy] {
        client.expect_all(&[&bea_left, &bo_left]).await;
    }

    // They are gone from the room: what is said now reaches Alex and Cy, and no notice
    // about anyone else came in between (Calm had nobody on dev2).
    alex.send("say Ghosts still here?").await;
    for client in [&mut alex, &mut cy] {
        client.expect("Ghosts - Alex: still here?").await;
        assert!(
            !client.received.contains("has left"),
            "Going further: {}: only the members on dev2 leave, once each; got {:?}",
            client.label,
            client.received
        );
    }
    let forgotten = cluster
        .app(1)
        .chat
        .forget_node(&dev2)
        .await
        .unwrap_or_else(|e| panic!("Going further: Chat::forget_node should answer: {e}"));
    assert_eq!(
        forgotten, 0,
        "Going further: forgetting dev2 again finds nobody left to remove"
    );
    cluster.heal();
    cluster.stop().await;
}
