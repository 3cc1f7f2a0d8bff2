//! The finished system as its users run it: `devrel 3` of this exercise's binary (its ports
//! moved to free ones), joined with `admin`, people chatting through the chat ports of dev1
//! and dev3, and the room's messages read back over dev2's HTTP API.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

fn admin(k: u32, cluster: SocketAddr, words: &str) -> String {
    let output = Command::new(BINARY)
        .arg("admin")
        .args(words.split_whitespace())
        .args([
            "--node",
            &format!("dev{k}"),
            "--cluster-port",
            &cluster.port().to_string(),
            "--cookie",
            ringcore::testing::COOKIE,
        ])
        .output()
        .expect("admin runs");
    String::from_utf8(output.stdout).unwrap()
}

/// A line-by-line chat client, like `nc`.
struct Nc {
    stream: TcpStream,
    seen: String,
}

impl Nc {
    fn connect(addr: SocketAddr) -> Nc {
        let stream = TcpStream::connect(addr).expect("the chat answers");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Nc {
            stream,
            seen: String::new(),
        }
    }

    fn say(&mut self, line: &str) {
        self.stream
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }

    /// Reads until `text` has come; stops at once when the chat answered with a hole (`not
    /// implemented yet: …`): that answer is final.
    fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.seen.contains(text) {
            if let Some(hole) = ringcore::holes::hole_in(&self.seen) {
                panic!("expected {text:?}, but the chat answered with a hole: {hole}");
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?}; got {:?}",
                self.seen
            );
            let mut buffer = [0u8; 4096];
            match self.stream.read(&mut buffer) {
                Ok(0) => panic!("the chat closed the connection; got {:?}", self.seen),
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buffer[..n])),
                // A read timeout: look again. Anything else is a real failure.
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue;
                }
                Err(e) => panic!("reading from the chat: {e}; got {:?}", self.seen),
            }
        }
        let end = self.seen.find(text).unwrap() + text.len();
        self.seen.drain(..end);
    }
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: dev2\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

#[test]
fn devrel_three_nodes_chat_across_nodes_and_the_history_is_in_the_database() {
    let data = tempfile::tempdir().unwrap();
    let mut devrel = ringcore::testing::spawn_devrel(BINARY, 3, data.path());
    let stdout = devrel.stdout.take().unwrap();
    let mut places: Vec<BTreeMap<String, SocketAddr>> = Vec::new();
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(found) = ringcore::testing::parse_started_line(&line) {
            places.push(found);
            if places.len() == 3 {
                break;
            }
        }
    }
    // Keep reading what the devrel prints, as a terminal would, until it exits.
    std::thread::spawn(move || lines.for_each(drop));
    assert_eq!(places.len(), 3, "devrel started three nodes");
    let place = |k: usize, what: &str| places[k - 1][what];
    for k in [2, 3] {
        let joined = admin(
            k as u32,
            place(k, "cluster"),
            &format!("cluster join dev1@127.0.0.1:{}", place(1, "cluster").port()),
        );
        assert!(joined.starts_with("Success"), "{joined}");
    }
    admin(1, place(1, "cluster"), "cluster plan");
    assert_eq!(
        admin(1, place(1, "cluster"), "cluster commit"),
        "Cluster changes committed\n"
    );
    // Settled, as dev2 sees it: three valid members, and no partition waiting to move.
    let settled = |status: &str| {
        status.contains("Valid:3 / Leaving:0 / Exiting:0 / Joining:0 / Down:0")
            && status.matches("      --      ").count() == 3
    };
    ringcore::testing::poll_until("the ring settles", Duration::from_secs(60), || {
        let status = admin(2, place(2, "cluster"), "member-status");
        if settled(&status) {
            Ok(())
        } else {
            Err(status)
        }
    });

    let mut alex = Nc::connect(place(1, "chat"));
    let mut cy = Nc::connect(place(3, "chat"));
    for (client, name) in [(&mut alex, "Alex"), (&mut cy, "Cy")] {
        client.expect("to get started\n> ");
        client.say(&format!("set-name {name}"));
        client.expect(&format!("ok your name is {name}\n> "));
        client.say("join CoolRoom");
        client.expect("joined CoolRoom! 'say CoolRoom <message>' to chat\n");
    }
    alex.expect("* Cy has joined CoolRoom\n> ");
    alex.say("say CoolRoom HI!");
    cy.expect("CoolRoom - Alex: HI!\n> ");
    cy.say("say CoolRoom hello from dev3");
    alex.expect("CoolRoom - Cy: hello from dev3\n> ");

    // The room's history is a stream of the database: dev2 serves it over HTTP.
    let body = http_get(place(2, "http"), "/msgs/chat/CoolRoom?from=1&limit=10");
    let entries: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let messages: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["msg"].as_str().unwrap())
        .collect();
    assert_eq!(messages, vec!["Alex: HI!", "Cy: hello from dev3"]);
}
