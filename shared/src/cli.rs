//! The node's command line: what `cargo run -p exN -- <subcommand>` understands.
//!
//! Every exercise's `main` is one call to [`main`], so every exercise binary speaks the same
//! command line (riak's `bin/riak` and `riak-admin`, in one):
//!
//! ```text
//! exN [console]        [--node devK] [options]   a node with a console (the default)
//! exN start            [--node devK] [options]   a node without a console
//! exN attach           [--node devK]             a console on a running node
//! exN ping             [--node devK]             is the node up?
//! exN stop             [--node devK]             stop a running node
//! exN admin            [--node devK] COMMAND…    member-status, ring-status, transfers, cluster …
//! exN devrel N                                   dev1 … devN as separate processes
//! ```
//!
//! Options: `--name NAME`, `--data-dir DIR`, `--ring-size N`, `--cluster-port P` (0: any free
//! port; the node prints the one it got), `--http-port P`, `--chat-port P` (for applications
//! that serve HTTP or a chat), `--handoff-rate MB` (megabytes per second per
//! transfer, at most), `--anti-entropy S` (seconds between two anti-entropy exchanges of the
//! stream database; 0: none).

use crate::app::App;
use crate::console::{self, Console, Outcome, repl};
use crate::node::{Node, NodeConfig};
use crate::ring::NodeName;
use crate::transport::{ClientError, client_request};
use crate::wire::{Request, Response};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Options {
    pub subcommand: String,
    /// Words after the subcommand (`admin`'s command, `devrel`'s count).
    pub args: Vec<String>,
    pub config: NodeConfig,
    /// `--node devK`, when given (devrel passes it on).
    pub dev: u32,
}

/// Parses the command line (without the program name).
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut subcommand = None;
    let mut words = Vec::new();
    let mut dev = 1;
    let mut name = None;
    let mut data_dir = None;
    let mut ring_size = None;
    let mut cluster_port = None;
    let mut handoff_rate = None;
    let mut anti_entropy = None;
    let mut http_port = None;
    let mut chat_port = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = |flag: &str| {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match arg.as_str() {
            "--node" => {
                let node = value("--node")?;
                dev = node
                    .strip_prefix("dev")
                    .and_then(|k| k.parse::<u32>().ok())
                    .filter(|k| (1..=99).contains(k))
                    .ok_or_else(|| format!("--node takes dev1 … dev99, not '{node}'"))?;
            }
            "--name" => name = Some(value("--name")?),
            "--data-dir" => data_dir = Some(PathBuf::from(value("--data-dir")?)),
            "--ring-size" => ring_size = Some(number(&value("--ring-size")?, "--ring-size")?),
            "--cluster-port" => {
                cluster_port = Some(port(&value("--cluster-port")?, "--cluster-port")?)
            }
            "--http-port" => http_port = Some(port(&value("--http-port")?, "--http-port")?),
            "--chat-port" => chat_port = Some(port(&value("--chat-port")?, "--chat-port")?),
            "--handoff-rate" => {
                let megabytes = number(&value("--handoff-rate")?, "--handoff-rate")?;
                handoff_rate = Some(u64::from(megabytes) * 1024 * 1024);
            }
            "--anti-entropy" => {
                let seconds = number(&value("--anti-entropy")?, "--anti-entropy")?;
                anti_entropy = Some((seconds > 0).then(|| Duration::from_secs(seconds.into())));
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option '{flag}'")),
            word if subcommand.is_none() => subcommand = Some(word.to_string()),
            word => words.push(word.to_string()),
        }
    }
    let mut config = NodeConfig::dev(dev);
    if let Some(name) = name {
        config.name = NodeName::new(name);
    }
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    if let Some(size) = ring_size {
        crate::ring::check_ring_size(size).map_err(|e| e.to_string())?;
        config.ring_size = size;
    }
    if let Some(port) = cluster_port {
        config.listen.set_port(port);
    }
    config.handoff_rate = handoff_rate;
    if let Some(pause) = anti_entropy {
        config.anti_entropy = pause;
    }
    if let Some(port) = http_port {
        config.http.set_port(port);
    }
    if let Some(port) = chat_port {
        config.chat.set_port(port);
    }
    Ok(Options {
        subcommand: subcommand.unwrap_or_else(|| "console".to_string()),
        args: words,
        config,
        dev,
    })
}

fn port(text: &str, flag: &str) -> Result<u16, String> {
    let number = number(text, flag)?;
    u16::try_from(number).map_err(|_| format!("{flag} takes a port, not {number}"))
}

fn number(text: &str, flag: &str) -> Result<u32, String> {
    text.parse()
        .map_err(|_| format!("{flag} takes a number, not '{text}'"))
}

/// Runs an application's node binary: parses the command line and does what it says.
pub fn main<A: App>() -> ExitCode {
    init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run::<A>(options))
}

async fn run<A: App>(options: Options) -> ExitCode {
    let no_args = options.args.is_empty();
    match options.subcommand.as_str() {
        "console" if no_args => console::<A>(options.config).await,
        "start" if no_args => start::<A>(options.config).await,
        "attach" if no_args => attach(options.config).await,
        "ping" if no_args => ping(options.config).await,
        "stop" if no_args => stop(options.config).await,
        "admin" if !no_args => admin(options.config, options.args).await,
        "devrel" => crate::devrel::run(options).await,
        "help" | "--help" => {
            println!("{}", usage());
            ExitCode::SUCCESS
        }
        other => {
            eprintln!(
                "error: cannot understand '{other} {}'\n\n{}",
                options.args.join(" "),
                usage()
            );
            ExitCode::from(2)
        }
    }
}

/// Starts a node with the application on it.
async fn start_node<A: App>(config: NodeConfig) -> Option<(Node, A)> {
    let node = match Node::start(config).await {
        Ok(node) => node,
        Err(error) => {
            eprintln!("error: could not start the node: {error}");
            return None;
        }
    };
    match A::start(&node).await {
        Ok(app) => {
            node.set_console(Arc::new(Console::new(node.clone(), app.clone())));
            Some((node, app))
        }
        Err(error) => {
            eprintln!("error: could not start the application: {error}");
            node.stop().await;
            None
        }
    }
}

/// `console`: a node with an interactive console.
async fn console<A: App>(config: NodeConfig) -> ExitCode {
    let Some((node, app)) = start_node::<A>(config).await else {
        return ExitCode::FAILURE;
    };
    let console = Console::new(node.clone(), app);
    tokio::select! {
        _ = console::run_terminal(&console) => {}
        _ = node.stop_requested() => println!("\nstopped by request"),
    }
    node.stop().await;
    ExitCode::SUCCESS
}

/// `start`: a node without a console, until Ctrl-C, SIGTERM or a stop request.
async fn start<A: App>(config: NodeConfig) -> ExitCode {
    let Some((node, app)) = start_node::<A>(config).await else {
        return ExitCode::FAILURE;
    };
    // One line on stdout that says where the node is; tools (devrel, tests) read it.
    console::print_flush(&format!("{}\n", started_line(&node, &app)));
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated() => {}
        _ = node.stop_requested() => {}
    }
    node.stop().await;
    ExitCode::SUCCESS
}

#[cfg(unix)]
async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminated() {
    std::future::pending().await
}

/// The one line a node prints on stdout when it has started: where it listens, e.g.
/// `dev1@127.0.0.1 started: cluster 127.0.0.1:10017, http 127.0.0.1:8080`. Tools (devrel,
/// tests) read it with [`crate::testing::parse_started_line`].
fn started_line<A: App>(node: &Node, app: &A) -> String {
    let mut places = vec![format!("cluster {}", node.addr())];
    places.extend(
        app.endpoints()
            .iter()
            .map(|(name, addr)| format!("{name} {addr}")),
    );
    format!("{} started: {}", node.name(), places.join(", "))
}

/// `ping`: `pong`, or riak's message when the node does not answer.
async fn ping(config: NodeConfig) -> ExitCode {
    match client_request(config.listen, Request::Ping, Duration::from_secs(5)).await {
        Ok(Response::Pong { .. }) => {
            println!("pong");
            ExitCode::SUCCESS
        }
        _ => {
            println!("Node '{}' not responding to pings.", config.name);
            ExitCode::FAILURE
        }
    }
}

/// `stop`: asks a running node to stop (riak's `bin/riak stop`).
async fn stop(config: NodeConfig) -> ExitCode {
    match client_request(config.listen, Request::Stop, Duration::from_secs(5)).await {
        Ok(_) => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{}", failed(&config, &error));
            ExitCode::FAILURE
        }
    }
}

/// `admin COMMAND…`: runs an admin command on a running node.
async fn admin(config: NodeConfig, words: Vec<String>) -> ExitCode {
    match client_request(
        config.listen,
        Request::Admin(words),
        Duration::from_secs(60),
    )
    .await
    {
        Ok(Response::Text(text)) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Ok(other) => {
            eprintln!("unexpected answer: {other:?}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{}", failed(&config, &error));
            ExitCode::FAILURE
        }
    }
}

/// `attach`: a console whose lines run on a running node.
async fn attach(config: NodeConfig) -> ExitCode {
    let addr: SocketAddr = config.listen;
    if let Err(error) = client_request(addr, Request::Ping, Duration::from_secs(5)).await {
        eprintln!("{}", failed(&config, &error));
        return ExitCode::FAILURE;
    }
    if std::io::stdin().is_terminal() {
        println!(
            "attached to {} ({addr}); 'quit' detaches, the node keeps running",
            config.name
        );
    }
    let name = config.name.clone();
    repl(
        |count| format!("({name}){count}> "),
        |line| async move {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.first() {
                None => Outcome::Nothing,
                Some(&("quit" | "exit" | "q().")) => Outcome::Quit,
                Some(_) => match client_request(
                    addr,
                    Request::Console(line.clone()),
                    Duration::from_secs(60),
                )
                .await
                {
                    Ok(Response::Text(text)) => Outcome::Print(text),
                    Ok(other) => Outcome::Print(format!("unexpected answer: {other:?}")),
                    Err(error) => Outcome::Print(format!("error: {error}")),
                },
            }
        },
    )
    .await;
    ExitCode::SUCCESS
}

/// What a tool says when its request failed: the node's own answer when it refused (riak's
/// messages, e.g. `You must verify the plan with 'cluster plan' before committing`), riak's
/// "not responding" only when the node could not be reached.
fn failed(config: &NodeConfig, error: &ClientError) -> String {
    match error {
        ClientError::Refused(refusal) => refusal.to_string(),
        ClientError::NotReached(why) => format!("Node '{}' not responding ({why}).", config.name),
    }
}

fn usage() -> String {
    "usage: [console|start|attach|ping|stop|admin COMMAND…|devrel N] [--node devK] [--name NAME] \
     [--data-dir DIR] [--ring-size N] [--cluster-port P] [--http-port P] [--chat-port P] [--handoff-rate MB] \
     [--anti-entropy S]"
        .to_string()
}

/// Logs go to standard error, so that standard output carries only the console's replies.
/// `RUST_LOG` chooses the level (default: info).
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn no_arguments_means_a_console_on_dev1() {
        let options = parse(&[]).unwrap();
        assert_eq!(options.subcommand, "console");
        assert_eq!(options.config.name.as_str(), "dev1@127.0.0.1");
        assert_eq!(options.config.data_dir, PathBuf::from("data/dev1"));
        assert_eq!(options.config.listen.to_string(), "127.0.0.1:10017");
    }

    #[test]
    fn node_selects_name_data_dir_and_ports() {
        let options = parse(&args("console --node dev3 --ring-size 16")).unwrap();
        assert_eq!(options.config.name.as_str(), "dev3@127.0.0.1");
        assert_eq!(options.config.data_dir, PathBuf::from("data/dev3"));
        assert_eq!(options.config.ring_size, 16);
        assert_eq!(options.config.listen.port(), 10037);
        let options = parse(&args("start --node dev2 --cluster-port 0")).unwrap();
        assert_eq!(options.config.listen.port(), 0);
    }

    #[test]
    fn anti_entropy_is_on_unless_told_otherwise() {
        let on = parse(&[]).unwrap().config.anti_entropy;
        assert_eq!(on, Some(Duration::from_secs(1)));
        let slower = parse(&args("start --anti-entropy 5")).unwrap();
        assert_eq!(slower.config.anti_entropy, Some(Duration::from_secs(5)));
        let off = parse(&args("start --anti-entropy 0")).unwrap();
        assert_eq!(off.config.anti_entropy, None);
    }

    #[test]
    fn admin_keeps_its_words() {
        let options = parse(&args("admin --node dev2 cluster join dev1@127.0.0.1")).unwrap();
        assert_eq!(options.subcommand, "admin");
        assert_eq!(options.args, args("cluster join dev1@127.0.0.1"));
        assert_eq!(options.config.listen.port(), 10027);
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        assert_eq!(
            parse(&args("--node bob")).unwrap_err(),
            "--node takes dev1 … dev99, not 'bob'"
        );
        assert_eq!(
            parse(&args("--ring-size")).unwrap_err(),
            "--ring-size needs a value"
        );
        assert_eq!(
            parse(&args("--ring-size 48")).unwrap_err(),
            "ring size 48 is not a power of two between 8 and 1024"
        );
        assert_eq!(
            parse(&args("--frob")).unwrap_err(),
            "unknown option '--frob'"
        );
        assert_eq!(
            parse(&args("--cluster-port 70000")).unwrap_err(),
            "--cluster-port takes a port, not 70000"
        );
    }
}
