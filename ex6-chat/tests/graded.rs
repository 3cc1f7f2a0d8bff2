//! Graded tests of exercise 6. `cargo test -p ex6-chat` runs them against your code;
//! `cargo test -p ex6-chat-solution` runs the very same file against the reference.
//!
//! Each test runs a 3-node cluster in this process; chat clients connect over real TCP to
//! the chat servers of different nodes, as `nc` would.

use ex6_chat::ChatApp;
use ringcore::holes::hole_in;
use ringcore::testing::TestCluster;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// How long a client waits for an expected line.
const PATIENCE: Duration = Duration::from_secs(20);

/// A chat client: what it sends and what it receives, kept as a transcript.
struct Client {
    label: String,
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    /// Received and not yet matched by `expect`.
    pending: String,
    transcript: String,
}

impl Client {
    async fn connect(label: &str, addr: SocketAddr) -> Client {
        let (reader, writer) = TcpStream::connect(addr)
            .await
            .expect("the chat server accepts")
            .into_split();
        let mut client = Client {
            label: label.to_string(),
            reader,
            writer,
            pending: String::new(),
            transcript: String::new(),
        };
        client.expect("to get started\n> ").await;
        client
    }

    async fn send(&mut self, line: &str) {
        self.send_bytes(line.as_bytes(), line).await;
    }

    /// Sends raw bytes and a line; `shown` is how the transcript shows them.
    async fn send_bytes(&mut self, bytes: &[u8], shown: &str) {
        let mut line = bytes.to_vec();
        line.push(b'\n');
        self.writer.write_all(&line).await.expect("send");
        self.transcript
            .push_str(&format!("[{} types: {shown}]\n", self.label));
    }

    /// Reads until `text` has arrived; everything up to it goes into the transcript. Stops at
    /// once when the server answered with a hole (`not implemented yet: …`): that answer is
    /// final, and `text` will not come.
    async fn expect(&mut self, text: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !self.pending.contains(text) {
            if let Some(hole) = hole_in(&self.pending) {
                panic!(
                    "{}: expected {text:?}, but the server answered with a hole: {hole}\n\
                     (all it sent: {:?})",
                    self.label, self.pending
                );
            }
            let mut buffer = [0u8; 4096];
            let read = tokio::time::timeout_at(deadline, self.reader.read(&mut buffer)).await;
            match read {
                Ok(Ok(n)) if n > 0 => self
                    .pending
                    .push_str(&String::from_utf8_lossy(&buffer[..n])),
                Ok(_) => panic!(
                    "{}: the connection closed while waiting for {text:?}; got {:?}",
                    self.label, self.pending
                ),
                Err(_) => panic!(
                    "{}: no {text:?} within {PATIENCE:?}; got {:?}",
                    self.label, self.pending
                ),
            }
        }
        let end = self.pending.find(text).unwrap() + text.len();
        let seen: String = self.pending.drain(..end).collect();
        self.transcript.push_str(&seen);
    }

    /// Reads until the server closes the connection; returns what came before.
    async fn until_closed(&mut self) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let mut buffer = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.reader.read(&mut buffer)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return std::mem::take(&mut self.pending),
                Ok(Ok(n)) => self
                    .pending
                    .push_str(&String::from_utf8_lossy(&buffer[..n])),
                Err(_) => panic!("{}: the server did not close the connection", self.label),
            }
        }
    }
}

fn chat(cluster: &TestCluster<ChatApp>, k: u32) -> SocketAddr {
    cluster.app(k).chat_addr
}

/// Sets a name and joins a room, checking the replies.
async fn enter(client: &mut Client, name: &str, room: &str) {
    client.send(&format!("set-name {name}")).await;
    client.expect(&format!("ok your name is {name}\n> ")).await;
    client.send(&format!("join {room}")).await;
    client
        .expect(&format!("joined {room}! 'say {room} <message>' to chat\n"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_2_and_3_three_people_on_two_nodes_chat() {
    let cluster = TestCluster::<ChatApp>::start_joined(3).await;
    let mut alex = Client::connect("alex@dev1", chat(&cluster, 1)).await;
    let mut bea = Client::connect("bea@dev1", chat(&cluster, 1)).await;
    let mut cy = Client::connect("cy@dev3", chat(&cluster, 3)).await;

    alex.send("join CoolRoom").await;
    alex.expect("must set a name before joining/chatting\n> ")
        .await;
    enter(&mut alex, "Alex", "CoolRoom").await;
    alex.expect("> ").await;
    enter(&mut bea, "Bea", "CoolRoom").await;
    bea.expect("> ").await;
    alex.expect("* Bea has joined CoolRoom\n> ").await;
    enter(&mut cy, "Cy", "CoolRoom").await;
    cy.expect("> ").await;
    alex.expect("* Cy has joined CoolRoom\n> ").await;
    bea.expect("* Cy has joined CoolRoom\n> ").await;

    alex.send("say CoolRoom HI!").await;
    for client in [&mut alex, &mut bea, &mut cy] {
        client.expect("CoolRoom - Alex: HI!\n> ").await;
    }
    cy.send("say CoolRoom hello from dev3").await;
    for client in [&mut alex, &mut bea, &mut cy] {
        client.expect("CoolRoom - Cy: hello from dev3\n> ").await;
    }
    // Bea's connection drops: the others hear she left.
    drop(bea);
    alex.expect("* Bea has left CoolRoom\n> ").await;
    cy.expect("* Bea has left CoolRoom\n> ").await;
    // A late joiner on dev2 gets the room's history.
    let mut dee = Client::connect("dee@dev2", chat(&cluster, 2)).await;
    enter(&mut dee, "Dee", "CoolRoom").await;
    dee.expect("CoolRoom - Cy: hello from dev3\n> ").await;
    alex.expect("* Dee has joined CoolRoom\n> ").await;
    cy.expect("* Dee has joined CoolRoom\n> ").await;
    cy.send("leave CoolRoom").await;
    cy.expect("left CoolRoom\n> ").await;
    alex.expect("* Cy has left CoolRoom\n> ").await;
    dee.expect("* Cy has left CoolRoom\n> ").await;

    let transcript = [alex, cy, dee]
        .iter()
        .map(|c| format!("===== {}\n{}", c.label, c.transcript))
        .collect::<Vec<_>>()
        .join("\n");
    insta::with_settings!({description => "README steps 2 and 3: what Alex, Cy and Dee saw: \
        joins and their notices, messages said on dev1 and dev3, Bea dropping out, Dee joining \
        late on dev2 with the history, Cy leaving"}, {
        insta::assert_snapshot!(transcript);
    });
    cluster.stop().await;
}

/// Posts `body` over HTTP to `url` (from a thread of the blocking pool: ureq blocks).
async fn post_json(url: String, body: &'static str) {
    tokio::task::spawn_blocking(move || {
        ureq::post(&url)
            .header("content-type", "application/json")
            .send(body)
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_3_a_line_posted_over_http_reaches_the_people_in_the_room() {
    let cluster = TestCluster::<ChatApp>::start_joined(3).await;
    let mut alex = Client::connect("alex@dev1", chat(&cluster, 1)).await;
    let mut cy = Client::connect("cy@dev3", chat(&cluster, 3)).await;
    enter(&mut alex, "Alex", "CoolRoom").await;
    enter(&mut cy, "Cy", "CoolRoom").await;
    alex.expect("* Cy has joined CoolRoom\n").await;

    // Through dev2, where nobody is connected: flaviodb's route, then Iorio's, whose body
    // is any JSON (a `msg` in it is what is said; line breaks become spaces).
    let http = cluster.app(2).http;
    post_json(
        format!("http://{http}/msgs/chat/CoolRoom"),
        r#"{"msg": "hello over HTTP"}"#,
    )
    .await;
    for client in [&mut alex, &mut cy] {
        client
            .expect("CoolRoom - anonymous: hello over HTTP\n")
            .await;
    }
    post_json(
        format!("http://{http}/streams/chat/CoolRoom"),
        r#"{"msg": "two\nlines", "from": "a script"}"#,
    )
    .await;
    for client in [&mut alex, &mut cy] {
        client.expect("CoolRoom - anonymous: two lines\n").await;
    }
    // And the room's history has them, as posted.
    cy.send("say CoolRoom got it").await;
    alex.expect("CoolRoom - Cy: got it\n").await;
    let mut dee = Client::connect("dee@dev2", chat(&cluster, 2)).await;
    enter(&mut dee, "Dee", "CoolRoom").await;
    dee.expect("CoolRoom - hello over HTTP\n").await;
    dee.expect("CoolRoom - Cy: got it\n").await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_3_unread_messages_and_history_survive_in_the_store() {
    let cluster = TestCluster::<ChatApp>::start_joined(3).await;
    let mut alex = Client::connect("alex", chat(&cluster, 1)).await;
    enter(&mut alex, "Alex", "Lounge").await;
    alex.expect("> ").await;
    for text in ["one", "two"] {
        alex.send(&format!("say Lounge {text}")).await;
        alex.expect(&format!("Lounge - Alex: {text}\n> ")).await;
    }
    // The history is a stream of the database, readable like any other.
    let history = cluster
        .app(2)
        .db
        .read("chat", "Lounge", 1, 10, Default::default())
        .await
        .expect("README step 3: the room's history stream can be read");
    let texts: Vec<String> = history
        .entries
        .iter()
        .map(|e| String::from_utf8_lossy(&e.payload).into_owned())
        .collect();
    assert_eq!(
        texts,
        vec!["Alex: one", "Alex: two"],
        "README step 3: say appends `NAME: TEXT` to the room's history stream"
    );
    let mut bo = Client::connect("bo", chat(&cluster, 3)).await;
    bo.send("set-name Bo").await;
    bo.expect("> ").await;
    bo.send("show-unread Lounge").await;
    bo.expect("You missed the following messages:\n  Alex: one\n  Alex: two\n> ")
        .await;
    bo.send("show-unread Lounge").await;
    bo.expect("no unread messages\n> ").await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_3_the_room_works_with_one_of_its_nodes_down() {
    let mut cluster = TestCluster::<ChatApp>::start_joined(3).await;
    let mut alex = Client::connect("alex@dev1", chat(&cluster, 1)).await;
    let mut cy = Client::connect("cy@dev3", chat(&cluster, 3)).await;
    enter(&mut alex, "Alex", "Resilient").await;
    alex.expect("> ").await;
    enter(&mut cy, "Cy", "Resilient").await;
    cy.expect("> ").await;
    alex.expect("* Cy has joined Resilient\n> ").await;
    // dev2 holds one of the room's replicas (three replicas on three nodes): stop it.
    let ring = cluster.node(1).ring();
    let replicas = ring.preflist(&ringcore::chash_key(b"chat", b"Resilient"), 3);
    assert!(
        replicas.iter().any(|v| v.node == cluster.name(2)),
        "the room has a replica on dev2"
    );
    cluster.stop_node(2).await;
    let dev2 = cluster.name(2);
    cluster
        .wait_until("dev1 and dev3 see dev2 down", || async {
            !cluster.node(1).is_up(&dev2) && !cluster.node(3).is_up(&dev2)
        })
        .await;
    alex.send("say Resilient still here?").await;
    alex.expect("Resilient - Alex: still here?\n> ").await;
    cy.expect("Resilient - Alex: still here?\n> ").await;
    cy.send("say Resilient yes!").await;
    alex.expect("Resilient - Cy: yes!\n> ").await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_3_a_client_that_never_reads_does_not_delay_the_others() {
    let cluster = TestCluster::<ChatApp>::start_joined(3).await;
    // The sleeper joins, then never reads again; a tiny receive buffer fills at once.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let sleeper = socket.connect(chat(&cluster, 2)).await.unwrap();
    let (mut sleeper_reader, mut sleeper_writer) = sleeper.into_split();
    sleeper_writer
        .write_all(b"set-name Zed\njoin Busy\n")
        .await
        .unwrap();
    // Six talkers on dev1 and dev3 say 600 long lines in all (each within the flood limit).
    let mut talkers = Vec::new();
    for t in 0..6u32 {
        let k = if t % 2 == 0 { 1 } else { 3 };
        let mut talker = Client::connect(&format!("talker{t}"), chat(&cluster, k)).await;
        enter(&mut talker, &format!("T{t}"), "Busy").await;
        talker.expect("> ").await;
        talkers.push(talker);
    }
    let long = "x".repeat(900);
    for round in 0..100 {
        for (t, talker) in talkers.iter_mut().enumerate() {
            talker.send(&format!("say Busy {round} {long}")).await;
            talker.expect(&format!("Busy - T{t}: {round} ")).await;
        }
    }
    // Every talker got its 100 messages through while Zed read nothing. Zed's connection
    // is eventually closed by the server rather than holding the room back.
    let mut drained = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, sleeper_reader.read_to_end(&mut drained)).await;
    assert!(
        closed.is_ok(),
        "the server (given) disconnects a client that cannot keep up"
    );
    assert!(
        String::from_utf8_lossy(&drained).contains("joined Busy"),
        "README step 2: the sleeper, who never read, was still told it joined Busy"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_1_bad_input_gets_clear_answers_and_floods_are_cut() {
    let cluster = TestCluster::<ChatApp>::start_joined(3).await;
    let mut client = Client::connect("client", chat(&cluster, 1)).await;
    client.send("dance").await;
    client.expect("sorry, I don't understand 'dance'\n> ").await;
    client.send("say CoolRoom HI!").await;
    client
        .expect("must set a name before joining/chatting\n> ")
        .await;
    client.send("").await;
    client.expect("> ").await;
    client
        .send_bytes("a".repeat(5000).as_bytes(), "<5000 times a>")
        .await;
    client
        .expect("sorry, that line is too long (the limit is 1024 bytes)\n> ")
        .await;
    client
        .send_bytes(b"join \xff\xfe", "join <bytes ff fe>")
        .await;
    client.expect("sorry, lines must be UTF-8 text\n> ").await;
    client.send("set-name Alex").await;
    client.expect("ok your name is Alex\n> ").await;
    client.send("say Nowhere hi").await;
    client
        .expect("you are not in Nowhere: 'join Nowhere' first\n> ")
        .await;
    insta::with_settings!({description => "README step 1 (given): an unknown command, say before \
        set-name, an empty line, a line too long, bytes that are not UTF-8, say in a room not \
        joined"}, {
        insta::assert_snapshot!("bad_input", client.transcript.clone());
    });
    // A flood: the client is cut off, with a notice; the server is fine.
    let mut flooder = Client::connect("flooder", chat(&cluster, 1)).await;
    flooder
        .writer
        .write_all("dance\n".repeat(500).as_bytes())
        .await
        .unwrap();
    let rest = flooder.until_closed().await;
    assert!(
        rest.contains("too many lines at once"),
        "README step 1 (given): a flood is cut off with a notice, got {rest:?}"
    );
    let mut after = Client::connect("after", chat(&cluster, 1)).await;
    after.send("set-name Still").await;
    after.expect("ok your name is Still\n> ").await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_help_lists_the_commands_and_quit_closes_the_connection() {
    // Answered by the chat server itself (given code), before your handler sees a line.
    let cluster = TestCluster::<ChatApp>::start_joined(1).await;
    let mut client = Client::connect("client", chat(&cluster, 1)).await;
    client.send("help").await;
    client
        .expect("set-name <name>          choose the name others see\n")
        .await;
    client
        .expect("quit                     close the connection\n> ")
        .await;
    client.send("quit").await;
    assert_eq!(
        client.until_closed().await,
        "bye\n",
        "quit says bye, then the server closes the connection"
    );
    cluster.stop().await;
}
