//! A cluster of nodes on separate hosts, as an operator runs one: three node processes named
//! `ring@127.0.0.2`, `ring@127.0.0.3` and `ring@127.0.0.4` (three loopback addresses stand for
//! three hosts), each listening on the host of its name, all on the **same** port numbers,
//! each started from a configuration file of its own, as the README shows — joined with
//! `admin cluster join`, settled, serving HTTP and chat on every host; one is killed and
//! restarted, and comes back into the cluster by itself.

use ringcore::testing::{NodeProcess, poll_until};
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_ex6-chat-solution");
const HOSTS: [&str; 3] = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

/// A port free on every host (found by the system, not fixed): cluster, HTTP and chat.
fn free_ports() -> [u16; 3] {
    let free_everywhere = |port: u16| {
        HOSTS.iter().all(|host| {
            let ip: Ipv4Addr = host.parse().unwrap();
            TcpListener::bind((ip, port)).is_ok()
        })
    };
    let mut ports = Vec::new();
    while ports.len() < 3 {
        let any = TcpListener::bind((Ipv4Addr::new(127, 0, 0, 2), 0)).unwrap();
        let port = any.local_addr().unwrap().port();
        drop(any);
        if free_everywhere(port) && !ports.contains(&port) {
            ports.push(port);
        }
    }
    [ports[0], ports[1], ports[2]]
}

struct Hosts {
    dir: tempfile::TempDir,
    ports: [u16; 3],
}

impl Hosts {
    fn name(&self, host: &str) -> String {
        format!("ring@{host}")
    }

    /// The cluster's cookie, as an operator would copy it to every host: one file, made by
    /// the first node to start, given to every node and tool with `--cookie-file`.
    fn cookie_file(&self) -> String {
        self.dir.path().join("cookie").to_str().unwrap().to_string()
    }

    /// The host's configuration file, as an operator writes one per host: its name, its data
    /// directory, the shared ports and cookie file.
    fn config(&self, host: &str) -> String {
        let [cluster, http, chat] = self.ports;
        let data = self.dir.path().join(host);
        let file = self.dir.path().join(format!("{host}.toml"));
        let settings = format!(
            "name = \"{}\"\ndata_dir = {:?}\ncookie_file = {:?}\ncluster_port = {cluster}\n\
             http_port = {http}\nchat_port = {chat}\n",
            self.name(host),
            data.to_str().unwrap(),
            self.cookie_file(),
        );
        std::fs::write(&file, settings).unwrap();
        file.to_str().unwrap().to_string()
    }

    /// `start --config HOST.toml`, its log in the test's folder.
    fn start(&self, host: &str) -> NodeProcess {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{host}.log")))
            .unwrap();
        let mut command = Command::new(BINARY);
        command
            .args(["start", "--config", &self.config(host)])
            .stderr(log);
        NodeProcess::spawn(command)
    }

    /// `admin --config HOST.toml WORDS…` (the node's own file: the tool takes the name,
    /// the port and the cookie from it): its output, and whether it succeeded.
    fn admin(&self, host: &str, words: &[&str]) -> (String, bool) {
        let output = Command::new(BINARY)
            .args(["admin", "--config", &self.config(host)])
            .args(words)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (text, output.status.success())
    }

    /// Waits until `host` sees the three nodes valid, up, with nothing pending.
    fn settled(&self, host: &str) {
        poll_until(
            &format!("{host} sees three valid members"),
            Duration::from_secs(60),
            || {
                let (status, _) = self.admin(host, &["member-status"]);
                let valid = status
                    .lines()
                    .filter(|l| l.starts_with("valid") && l.contains("--"))
                    .count();
                if valid == 3
                    && status.contains("Valid:3 / Leaving:0 / Exiting:0 / Joining:0 / Down:0")
                {
                    Ok(())
                } else {
                    Err(status)
                }
            },
        );
    }

    fn http(&self, host: &str) -> String {
        format!("http://{host}:{}", self.ports[1])
    }
}

fn post(url: &str, msg: &str) -> u16 {
    let body = format!(r#"{{"msg": "{msg}"}}"#);
    let response = ureq::post(url)
        .header("content-type", "application/json")
        .send(&body);
    response.expect("an answer").status().as_u16()
}

fn get(url: &str) -> String {
    ureq::get(url)
        .call()
        .expect("an answer")
        .body_mut()
        .read_to_string()
        .unwrap()
}

#[test]
fn three_hosts_on_the_same_ports_join_serve_and_survive_a_restart() {
    let hosts = Hosts {
        dir: tempfile::tempdir().unwrap(),
        ports: free_ports(),
    };
    let mut nodes: Vec<NodeProcess> = HOSTS.iter().map(|host| hosts.start(host)).collect();
    for (node, host) in nodes.iter().zip(HOSTS) {
        let listening: SocketAddr = format!("{host}:{}", hosts.ports[0]).parse().unwrap();
        assert_eq!(
            node.places["cluster"], listening,
            "a node listens on the host of its name"
        );
    }

    for host in &HOSTS[1..] {
        let (said, ok) = hosts.admin(host, &["cluster", "join", "ring@127.0.0.2"]);
        assert!(ok, "join from {host}: {said}");
        assert!(
            said.contains("Success: staged join request for 'ring@"),
            "{said}"
        );
    }
    let (plan, ok) = hosts.admin("127.0.0.2", &["cluster", "plan"]);
    assert!(ok, "{plan}");
    let (commit, ok) = hosts.admin("127.0.0.2", &["cluster", "commit"]);
    assert!(
        ok && commit.contains("Cluster changes committed"),
        "{commit}"
    );
    for host in HOSTS {
        hosts.settled(host);
    }

    // HTTP on every host: written through one, read through the others.
    assert_eq!(
        post(
            &format!("{}/msgs/ops/log", hosts.http("127.0.0.2")),
            "first"
        ),
        201
    );
    for host in &HOSTS[1..] {
        let read = get(&format!("{}/msgs/ops/log?from=1&r=2", hosts.http(host)));
        assert!(read.contains("first"), "{host}: {read}");
    }
    // The chat, on every host.
    for host in HOSTS {
        let chat = TcpStream::connect((host, hosts.ports[2])).unwrap();
        chat.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut welcome = String::new();
        BufReader::new(chat).read_line(&mut welcome).unwrap();
        assert!(
            welcome.contains(ringcore::chat::WELCOME.trim()),
            "{host}: {welcome:?}"
        );
    }

    // ring@127.0.0.4 is killed, then started again on the same host, ports and data: it comes
    // back as the member it was, without anyone joining it again.
    nodes.pop(); // killed (SIGKILL) when dropped
    poll_until(
        "127.0.0.2 sees 127.0.0.4 down",
        Duration::from_secs(30),
        || {
            let (status, _) = hosts.admin("127.0.0.2", &["member-status"]);
            if status.contains("Down:1") {
                Ok(())
            } else {
                Err(status)
            }
        },
    );
    nodes.push(hosts.start("127.0.0.4"));
    hosts.settled("127.0.0.2");
    hosts.settled("127.0.0.4");
    assert_eq!(
        post(
            &format!("{}/msgs/ops/log", hosts.http("127.0.0.4")),
            "second"
        ),
        201
    );
    let read = get(&format!(
        "{}/msgs/ops/log?from=1&r=2",
        hosts.http("127.0.0.3")
    ));
    assert!(read.contains("first") && read.contains("second"), "{read}");
}
