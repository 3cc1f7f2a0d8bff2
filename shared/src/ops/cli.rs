//! The node's command line: what `cargo run -p exN -- <subcommand>` understands.
//!
//! Every exercise's `main` is one call to [`main`], so every exercise binary speaks the same
//! command line (riak's `bin/riak` and `riak-admin`, in one). clap parses it from the types
//! below, which also make `exN --help` and `exN help SUBCOMMAND`:
//!
//! ```text
//! exN [console]  [--node devK] [options]   a node with a console (the default)
//! exN start      [--node devK] [options]   a node without a console
//! exN attach     [--node devK]             a console on a running node
//! exN ping       [--node devK]             is the node up?
//! exN stop       [--node devK]             stop a running node
//! exN admin      [--node devK] COMMAND…    member-status, ring-status, transfers, cluster …
//! exN devrel N   [options]                 dev1 … devN as separate processes
//! ```
//!
//! Every option can also come from an environment variable, `RING_` and the option's name in
//! capitals (`RING_NODE=dev2`, `RING_HTTP_PORT=8081`); a flag on the command line wins over
//! its variable. Each exercise keeps its nodes' files in a folder of its own,
//! `data/<exercise>/devK`, so that one exercise's cluster never shows up in the next.
//!
//! Nodes and tools prove to each other that they know the cluster's cookie
//! ([`crate::net::cookie`]): `--cookie SECRET`, or the file `--cookie-file PATH`, by default
//! `data/<exercise>/cookie` (`DIR/cookie` for a node given `--data-dir DIR`). A node makes the
//! file with a fresh secret on its first start; the tools only read it. So the nodes of one
//! exercise, started in any number of terminals or by `devrel`, share one cookie without
//! anyone passing it, and an operator copies the file to the other hosts, as with Erlang's
//! `.erlang.cookie`.

use crate::access::Anonymous;
use crate::app::App;
use crate::net::cookie::Cookie;
use crate::net::host_ip;
use crate::net::transport::{ClientError, client_request};
use crate::net::wire::{Request, Response};
use crate::node::{Node, NodeConfig};
use crate::ops::config_file;
use crate::ops::console::{self, Console, Outcome, repl};
use crate::ops::cookie::CookieSource;
use crate::ops::devrel::Devrel;
use crate::ops::signals::StopSignals;
use crate::ring::{DEFAULT_RING_SIZE, NodeName};
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// The command line, as clap reads it.
#[derive(Parser, Debug)]
#[command(
    version,
    about = "A node of a Ring Workshop exercise, and the tools to run a cluster of them\n\
             (riak's bin/riak and riak-admin, in one).",
    after_help = ENVIRONMENT,
    // `exN --node dev2` is a console on dev2; `exN --node dev2 start` would leave the
    // option on the wrong command, so options come after the subcommand.
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a subcommand, the options of `console`.
    #[command(flatten)]
    console: NodeArgs,
}

/// The end of `--help`: where else options come from.
const ENVIRONMENT: &str = "\
A port of 0: any free port (the node prints the ones it got).
Nodes and tools prove to each other that they know the cluster's cookie: --cookie, or the
file --cookie-file (with --data-dir DIR: DIR/cookie), which a node makes if there is none.
Every option can also be set by an environment variable, RING_ and the option's name in
capitals (RING_NODE=dev2, RING_HTTP_PORT=8081); a flag on the command line wins.
Logs go to standard error; RUST_LOG chooses how much (default: info; e.g. RUST_LOG=debug).";

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a node with a console (the default)
    #[command(after_help = ENVIRONMENT)]
    Console(NodeArgs),
    /// Run a node without a console, until Ctrl-C, SIGTERM or `stop`
    #[command(after_help = ENVIRONMENT)]
    Start(NodeArgs),
    /// Open a console on a running node ('quit' detaches; the node keeps running)
    Attach(AttachArgs),
    /// Ask a running node whether it is up ('pong')
    Ping(TargetArgs),
    /// Stop a running node
    Stop(TargetArgs),
    #[command(
        about = admin_about(),
        after_help = admin_after_help(),
        // `admin` alone shows what it can run, rather than an error about a missing word.
        arg_required_else_help = true
    )]
    Admin(AdminArgs),
    /// Run a local cluster, dev1 … devN, each a process of its own, until Ctrl-C
    #[command(after_help = "\
The nodes are started, not joined: joining them is the lesson (admin … cluster join).
Their data is in data/<exercise>/devK. A port of 0: every node takes any free port.")]
    Devrel(DevrelArgs),
}

/// Which node a tool talks to (and which node a node is).
#[derive(Args, Debug, Clone)]
struct TargetArgs {
    /// The node: dev1 … dev99, named devK@127.0.0.1
    #[arg(
        long,
        value_name = "devK",
        default_value = "dev1",
        value_parser = dev_number,
        env = "RING_NODE"
    )]
    node: u32,
    /// The node's name, if not devK@127.0.0.1; its host is where the node listens
    #[arg(long, value_name = "NAME@HOST", env = "RING_NAME")]
    name: Option<String>,
    /// The node's cluster port, if not 10017 + 10·(K−1)
    #[arg(long, value_name = "PORT", env = "RING_CLUSTER_PORT")]
    cluster_port: Option<u16>,
    #[command(flatten)]
    cookie: CookieArgs,
    /// Settings from a TOML file, long options as `http_port = 8081` (flags, RING_* win)
    #[arg(long, value_name = "FILE", env = "RING_CONFIG")]
    config: Option<PathBuf>,
}

/// Where the cluster's cookie comes from, for a node and for every tool that talks to one.
#[derive(Args, Debug, Clone)]
struct CookieArgs {
    /// The cluster's secret [default: the one in --cookie-file]
    #[arg(
        long,
        value_name = "SECRET",
        value_parser = cookie,
        env = "RING_COOKIE",
        // Never a silent choice between two cookies.
        conflicts_with = "cookie_file",
        // `--help` must not print the secret of the shell's variable.
        hide_env_values = true
    )]
    cookie: Option<Cookie>,
    /// Where the cookie is kept [default: data/<exercise>/cookie]
    #[arg(long, value_name = "PATH", env = "RING_COOKIE_FILE")]
    cookie_file: Option<PathBuf>,
}

/// The options of a node (`console`, `start`).
#[derive(Args, Debug, Clone)]
struct NodeArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Where the node keeps its files [default: data/<exercise>/devK]
    #[arg(long, value_name = "DIR", env = "RING_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The HTTP port: the ring page, and the application's API if any [default: 8080 + K − 1]
    #[arg(long, value_name = "PORT", env = "RING_HTTP_PORT")]
    http_port: Option<u16>,
    /// The application's chat port, if it has a chat [default: 4040 + K − 1]
    #[arg(long, value_name = "PORT", env = "RING_CHAT_PORT")]
    chat_port: Option<u16>,
    /// Print the settings this node would run with (a configuration file) and exit
    #[arg(long)]
    print_config: bool,
    /// Listen on this address (e.g. 0.0.0.0) instead of the host of the node's name
    #[arg(long, value_name = "IP", env = "RING_BIND")]
    bind: Option<IpAddr>,
    /// Tell other nodes to reach this one here, when that is not where it listens
    #[arg(long, value_name = "HOST[:PORT]", env = "RING_ADVERTISE")]
    advertise: Option<String>,
    #[command(flatten)]
    tuning: Tuning,
}

/// The options of `attach`: the node, and where its files are (the history of its console is
/// kept there, the same for `attach` as for the node's own console).
#[derive(Args, Debug, Clone)]
struct AttachArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Where the node keeps its files [default: data/<exercise>/devK]
    #[arg(long, value_name = "DIR", env = "RING_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

/// The options of `admin`: its words, and the node to run them on.
#[derive(Args, Debug)]
struct AdminArgs {
    /// The admin command and its arguments, e.g. cluster join dev1@127.0.0.1
    #[arg(value_name = "COMMAND", required = true)]
    words: Vec<String>,
    #[command(flatten)]
    target: TargetArgs,
}

/// The options of `devrel`. Ports are dev1's, and each next node takes the next ones as
/// riak's devrel numbers them; 0 lets every node take any free port.
#[derive(Args, Debug)]
struct DevrelArgs {
    /// How many nodes: 1 … 9
    #[arg(value_name = "N", value_parser = clap::value_parser!(u32).range(1..=9))]
    count: u32,
    /// dev1's cluster port; devK's is 10·(K−1) more [default: 10017]
    #[arg(long, value_name = "PORT", env = "RING_CLUSTER_PORT")]
    cluster_port: Option<u16>,
    /// dev1's HTTP port; devK's is K − 1 more [default: 8080]
    #[arg(long, value_name = "PORT", env = "RING_HTTP_PORT")]
    http_port: Option<u16>,
    /// dev1's chat port; devK's is K − 1 more [default: 4040]
    #[arg(long, value_name = "PORT", env = "RING_CHAT_PORT")]
    chat_port: Option<u16>,
    #[command(flatten)]
    tuning: Tuning,
    #[command(flatten)]
    cookie: CookieArgs,
}

/// How a node runs, the same for a node and for every node of a devrel.
#[derive(Args, Debug, Clone)]
struct Tuning {
    /// Partitions in the ring: a power of two, 8 … 1024
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_RING_SIZE,
        value_parser = ring_size,
        env = "RING_RING_SIZE"
    )]
    ring_size: u32,
    /// Megabytes a second per transfer, at most [default: no limit]
    #[arg(long, value_name = "MB", env = "RING_HANDOFF_RATE")]
    handoff_rate: Option<u32>,
    /// Seconds between two anti-entropy exchanges; 0: none [default: 1]
    #[arg(long, value_name = "S", env = "RING_ANTI_ENTROPY")]
    anti_entropy: Option<u32>,
    /// Connections the cluster port takes at once; one more is closed [default: 1024]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), env = "RING_MAX_CONNECTIONS")]
    max_connections: Option<u32>,
    /// Requests of one connection answered at once; then reading it pauses [default: 64]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), env = "RING_MAX_IN_FLIGHT")]
    max_in_flight: Option<u32>,
    /// Seconds after which a connection with no request is closed [default: 60]
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u32).range(1..), env = "RING_IDLE_TIMEOUT")]
    idle_timeout: Option<u32>,
    /// Seconds a caller may leave its answers unread; then it is cut off [default: 30]
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u32).range(1..), env = "RING_WRITE_TIMEOUT")]
    write_timeout: Option<u32>,
    /// Connections the HTTP port takes at once; one more is closed [default: 1024]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), env = "RING_HTTP_MAX_CONNECTIONS")]
    http_max_connections: Option<u32>,
    /// Seconds a request's headers may take to arrive over HTTP [default: 10]
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u32).range(1..), env = "RING_HTTP_HEADER_TIMEOUT")]
    http_header_timeout: Option<u32>,
    /// Connections the chat port takes at once; one more is told it is full [default: 1024]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), env = "RING_CHAT_MAX_CONNECTIONS")]
    chat_max_connections: Option<u32>,
    /// Seconds an HTTP request may take until its answer, its body included [default: 30]
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u32).range(1..), env = "RING_HTTP_REQUEST_TIMEOUT")]
    http_request_timeout: Option<u32>,
    /// What callers without a session token may do to data: all, or none [default: all]
    #[arg(long, value_name = "all|none", env = "RING_ANONYMOUS")]
    anonymous: Option<Anonymous>,
    /// The admin's password at the cluster's first start [default: made from the cookie]
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "RING_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    admin_password: Option<String>,
    /// Seconds a session token is accepted after logging in [default: 86400]
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u32).range(1..), env = "RING_SESSION_TTL")]
    session_ttl: Option<u32>,
}

/// `--node devK` → K.
fn dev_number(text: &str) -> Result<u32, String> {
    text.strip_prefix("dev")
        .and_then(|k| k.parse::<u32>().ok())
        .filter(|k| (1..=99).contains(k))
        .ok_or_else(|| "a node is dev1 … dev99".to_string())
}

fn cookie(text: &str) -> Result<Cookie, String> {
    Cookie::new(text).map_err(|e| e.to_string())
}

fn ring_size(text: &str) -> Result<u32, String> {
    let size: u32 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    crate::ring::check_ring_size(size).map_err(|e| e.to_string())?;
    Ok(size)
}

/// `admin`'s line in the list of subcommands, naming the admin commands from their table.
fn admin_about() -> String {
    let mut first_words: Vec<&str> = Vec::new();
    for (usage, _) in crate::node::admin::COMMANDS {
        let word = usage.split_whitespace().next().unwrap_or_default();
        if !first_words.contains(&word) {
            first_words.push(word);
        }
    }
    format!("Run an admin command: {} …", first_words.join(", "))
}

fn admin_after_help() -> String {
    format!(
        "Admin commands (riak-admin's, run by the node):\n{}",
        crate::node::admin::command_list()
    )
}

impl TargetArgs {
    fn config(&self, program: &Program) -> NodeConfig {
        let mut config = NodeConfig::dev(self.node);
        config.data_dir = program.data_dir(self.node);
        if let Some(name) = &self.name {
            config.name = NodeName::new(name.clone());
            // riak's way: a node named ring@10.0.0.2 runs on 10.0.0.2, and listens there.
            if let Some(ip) = host_ip(config.name.host()) {
                config.listen.set_ip(ip);
                config.http.set_ip(ip);
                config.chat.set_ip(ip);
            }
        }
        if let Some(port) = self.cluster_port {
            config.listen.set_port(port);
        }
        config
    }

    /// Where a tool finds the cookie: the exercise's cookie file, unless told otherwise.
    fn cookie(&self, program: &Program) -> CookieSource {
        self.cookie.source(program.cookie_file())
    }
}

/// `--advertise HOST[:PORT]` as an address (the port: the one it listens on); `None` when the
/// host has no address (clap has checked the text; a name that does not resolve is logged by
/// the node's peers as unreachable).
fn advertised(text: &str, port: u16) -> Option<SocketAddr> {
    if let Ok(addr) = text.parse() {
        return Some(addr);
    }
    if let Some((host, port)) = text.rsplit_once(':')
        && let Ok(port) = port.parse()
    {
        return host_ip(host).map(|ip| SocketAddr::new(ip, port));
    }
    host_ip(text).map(|ip| SocketAddr::new(ip, port))
}

impl AttachArgs {
    fn config(&self, program: &Program) -> NodeConfig {
        let mut config = self.target.config(program);
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        config
    }

    /// The cookie of the node's own data directory, when `--data-dir` names it.
    fn cookie(&self, program: &Program) -> CookieSource {
        let file = cookie_file(program, self.data_dir.as_deref());
        self.target.cookie.source(file)
    }
}

impl CookieArgs {
    /// Where the cookie comes from: `--cookie`, else `--cookie-file`, else `default`.
    fn source(&self, default: PathBuf) -> CookieSource {
        match (&self.cookie, &self.cookie_file) {
            (Some(cookie), _) => CookieSource::Given(cookie.clone()),
            (None, Some(path)) => CookieSource::File(path.clone()),
            (None, None) => CookieSource::File(default),
        }
    }
}

/// The default cookie file: in the data directory a node is given with `--data-dir` (an
/// operator copies it from host to host, like `.erlang.cookie`), else the exercise's, which
/// all its `devK` share.
fn cookie_file(program: &Program, data_dir: Option<&Path>) -> PathBuf {
    match data_dir {
        Some(dir) => dir.join("cookie"),
        None => program.cookie_file(),
    }
}

impl NodeArgs {
    /// What this command line runs: `run` with the node's configuration, or, with
    /// `--print-config`, the printing of it.
    fn invocation(&self, program: &Program, run: fn(NodeConfig) -> Invocation) -> Invocation {
        let config = self.config(program);
        if self.print_config {
            let cookie = self.cookie(program);
            return Invocation::PrintConfig(config_file::settings(&config, &cookie));
        }
        run(config)
    }

    fn config(&self, program: &Program) -> NodeConfig {
        let mut config = self.target.config(program);
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(port) = self.http_port {
            config.http.set_port(port);
        }
        if let Some(port) = self.chat_port {
            config.chat.set_port(port);
        }
        if let Some(ip) = self.bind {
            config.listen.set_ip(ip);
            config.http.set_ip(ip);
            config.chat.set_ip(ip);
        }
        if let Some(advertise) = &self.advertise {
            config.advertise = advertised(advertise, config.listen.port());
        }
        self.tuning.apply(&mut config);
        config
    }

    /// The cookie of the node's data directory when `--data-dir` names it, else the exercise's.
    fn cookie(&self, program: &Program) -> CookieSource {
        let file = cookie_file(program, self.data_dir.as_deref());
        self.target.cookie.source(file)
    }
}

impl Tuning {
    fn apply(&self, config: &mut NodeConfig) {
        config.ring_size = self.ring_size;
        config.handoff_rate = self
            .handoff_rate
            .map(|megabytes| u64::from(megabytes) * 1024 * 1024);
        if let Some(seconds) = self.anti_entropy {
            config.anti_entropy = (seconds > 0).then(|| Duration::from_secs(seconds.into()));
        }
        let limits = &mut config.limits;
        if let Some(n) = self.max_connections {
            limits.max_connections = n as usize;
        }
        if let Some(n) = self.max_in_flight {
            limits.max_in_flight = n as usize;
        }
        if let Some(seconds) = self.idle_timeout {
            limits.idle_timeout = Duration::from_secs(seconds.into());
        }
        if let Some(seconds) = self.write_timeout {
            limits.write_timeout = Duration::from_secs(seconds.into());
        }
        if let Some(n) = self.chat_max_connections {
            config.chat_max_connections = n as usize;
        }
        let http = &mut config.http_limits;
        if let Some(n) = self.http_max_connections {
            http.max_connections = n as usize;
        }
        if let Some(seconds) = self.http_header_timeout {
            http.header_timeout = Duration::from_secs(seconds.into());
        }
        if let Some(seconds) = self.http_request_timeout {
            http.request_timeout = Duration::from_secs(seconds.into());
        }
        let access = &mut config.access;
        if let Some(anonymous) = self.anonymous {
            access.anonymous = anonymous;
        }
        if let Some(password) = &self.admin_password {
            access.admin_password = Some(password.clone());
        }
        if let Some(seconds) = self.session_ttl {
            access.session_ttl = Duration::from_secs(seconds.into());
        }
    }

    /// The same options, as a devrel passes them on to each node.
    fn to_args(&self) -> Vec<String> {
        let mut args = vec!["--ring-size".to_string(), self.ring_size.to_string()];
        if let Some(megabytes) = self.handoff_rate {
            args.extend(["--handoff-rate".to_string(), megabytes.to_string()]);
        }
        let options = [
            ("--anti-entropy", self.anti_entropy),
            ("--max-connections", self.max_connections),
            ("--max-in-flight", self.max_in_flight),
            ("--idle-timeout", self.idle_timeout),
            ("--write-timeout", self.write_timeout),
            ("--http-max-connections", self.http_max_connections),
            ("--chat-max-connections", self.chat_max_connections),
            ("--http-header-timeout", self.http_header_timeout),
            ("--http-request-timeout", self.http_request_timeout),
            ("--session-ttl", self.session_ttl),
        ];
        for (option, value) in options {
            if let Some(value) = value {
                args.extend([option.to_string(), value.to_string()]);
            }
        }
        if let Some(anonymous) = self.anonymous {
            args.extend(["--anonymous".to_string(), anonymous.to_string()]);
        }
        // The admin password is not passed on: each node reads RING_ADMIN_PASSWORD from the
        // environment it inherits, and a command line is visible to every user of the machine.
        args
    }
}

impl DevrelArgs {
    /// The command line of each node, `start --node devK …`, in order.
    fn node_args(&self, program: &Program) -> Result<Vec<Vec<String>>, String> {
        (1..=self.count).map(|k| self.args_of(program, k)).collect()
    }

    /// devK's command line. The devrel says where each node keeps its data: the folder
    /// follows the name the devrel was run by, whatever file the node processes run from.
    fn args_of(&self, program: &Program, k: u32) -> Result<Vec<String>, String> {
        let data_dir = program.data_dir(k).display().to_string();
        let mut args = vec![
            "start",
            "--node",
            &format!("dev{k}"),
            "--data-dir",
            &data_dir,
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        // How far devK's ports are from dev1's, in riak's devrel numbering.
        let (dev1, dev) = (NodeConfig::dev(1), NodeConfig::dev(k));
        let cluster = dev.listen.port() - dev1.listen.port();
        let http = dev.http.port() - dev1.http.port();
        let chat = dev.chat.port() - dev1.chat.port();
        for (flag, base, offset) in [
            ("--cluster-port", self.cluster_port, cluster),
            ("--http-port", self.http_port, http),
            ("--chat-port", self.chat_port, chat),
        ] {
            let port = match base {
                None => continue,
                // Port 0 stays 0 for every node: each takes a free one and says which.
                Some(0) => 0,
                Some(base) => base
                    .checked_add(offset)
                    .ok_or_else(|| format!("{flag} {base} leaves no port for dev{k}"))?,
            };
            args.extend([flag.to_string(), port.to_string()]);
        }
        args.extend(self.tuning.to_args());
        Ok(args)
    }
}

/// The exercise binary that runs: its name (`ex1-ping`, `ex1-ping-solution`), which the
/// help shows, and the folder its nodes keep their data in.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    name: String,
}

impl Program {
    /// The running program, by the file name it was invoked by.
    pub fn current() -> Program {
        let invoked = std::env::args_os().next().map(PathBuf::from);
        let invoked = invoked.or_else(|| std::env::current_exe().ok());
        let name = invoked
            .as_deref()
            .and_then(Path::file_stem)
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| "node".to_string());
        Program { name }
    }

    #[cfg(test)]
    fn named(name: &str) -> Program {
        Program {
            name: name.to_string(),
        }
    }

    /// The binary's name, as `cargo run -p` takes it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The exercise: the binary's name, less `-solution`.
    pub fn exercise(&self) -> &str {
        self.name.strip_suffix("-solution").unwrap_or(&self.name)
    }

    /// `data/ex1-ping/devK`: where the nodes keep their files, as a reader is told.
    pub fn data_dirs(&self) -> PathBuf {
        self.data_dir(1).with_file_name("devK")
    }

    /// Where node devK keeps its files: `data/ex1-ping/dev1`. A starter and its solution
    /// share the folder: they are one application with one layout on disk, and an attendee
    /// who runs the solution next to their own work finds the cluster they built; two
    /// exercises never share one, so ex0's four nodes do not come back in ex1's ring.
    pub fn data_dir(&self, k: u32) -> PathBuf {
        Path::new("data")
            .join(self.exercise())
            .join(format!("dev{k}"))
    }

    /// `data/ex1-ping/cookie`: the cluster's cookie, beside the nodes' folders, for all of
    /// them and the tools.
    pub fn cookie_file(&self) -> PathBuf {
        Path::new("data").join(self.exercise()).join("cookie")
    }
}

/// What the command line asked for, and where its cookie comes from.
#[derive(Debug)]
struct CommandLine {
    invocation: Invocation,
    cookie: CookieSource,
}

/// What the command line asked for, ready to run once the cookie is found.
#[derive(Debug)]
enum Invocation {
    Console(NodeConfig),
    Start(NodeConfig),
    Attach(NodeConfig),
    Ping(NodeConfig),
    Stop(NodeConfig),
    Admin(NodeConfig, Vec<String>),
    Devrel(Devrel),
    /// `--print-config`: the settings, as a configuration file.
    PrintConfig(String),
}

/// The command line of `program`, with its name where clap would put `ringcore`'s.
fn command(program: &Program) -> clap::Command {
    // Each option's help on a line of its own, below the option: lines stay within 100
    // columns without wrapping them (which would take a crate to measure the terminal).
    let data = program.data_dirs();
    let cookie = program.cookie_file();
    each_arg(Cli::command(), |arg| {
        let arg = arg.next_line_help(true);
        match arg.get_id().as_str() {
            "data_dir" => arg.help(format!(
                "Where the node keeps its files [default: {}]",
                data.display()
            )),
            "cookie_file" => arg.help(format!(
                "Where the cookie is kept [default: {}]",
                cookie.display()
            )),
            _ => arg,
        }
    })
    // A later flag wins over an earlier one: a configuration file's settings go first.
    .args_override_self(true)
    .mut_subcommands(|command| command.args_override_self(true))
    .bin_name(program.name())
    .display_name(program.name())
}

/// `command` with `change` made to every argument of it and of its subcommands.
fn each_arg(
    command: clap::Command,
    change: impl Fn(clap::Arg) -> clap::Arg + Copy,
) -> clap::Command {
    let subcommands: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let mut command = command.mut_args(change);
    for name in subcommands {
        command = command.mut_subcommand(name, |sub| each_arg(sub, change));
    }
    command
}

/// The environment variables that stand for options (`RING_NODE`, …), of every subcommand.
pub(crate) fn option_variables() -> Vec<OsString> {
    let root = Cli::command();
    let mut names: Vec<OsString> = std::iter::once(&root)
        .chain(root.get_subcommands())
        .flat_map(|c| c.get_arguments())
        .filter_map(|arg| arg.get_env().map(OsString::from))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Parses a command line (without the program's name). Help and version come back as
/// errors too, which print them (on standard output, exit 0).
fn parse<I, T>(program: &Program, args: I) -> Result<CommandLine, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    parse_with(command(program), program, args)
}

fn parse_with<I, T>(
    mut command: clap::Command,
    program: &Program,
    args: I,
) -> Result<CommandLine, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let from_file = config_file::options_from_file(&command, &args).map_err(|message| {
        clap::Error::raw(ErrorKind::ValueValidation, format!("{message}\n")).format(&mut command)
    })?;
    let args = config_file::insert_options(&args, &command, from_file);
    let argv = std::iter::once(OsString::from(program.name())).chain(args);
    let matches = command.try_get_matches_from_mut(argv)?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
    let (invocation, cookie) = match cli.command {
        None => (
            cli.console.invocation(program, Invocation::Console),
            cli.console.cookie(program),
        ),
        Some(Command::Console(args)) => (
            args.invocation(program, Invocation::Console),
            args.cookie(program),
        ),
        Some(Command::Start(args)) => (
            args.invocation(program, Invocation::Start),
            args.cookie(program),
        ),
        Some(Command::Attach(args)) => (
            Invocation::Attach(args.config(program)),
            args.cookie(program),
        ),
        Some(Command::Ping(target)) => (
            Invocation::Ping(target.config(program)),
            target.cookie(program),
        ),
        Some(Command::Stop(target)) => (
            Invocation::Stop(target.config(program)),
            target.cookie(program),
        ),
        Some(Command::Admin(args)) => (
            Invocation::Admin(args.target.config(program), args.words),
            args.target.cookie(program),
        ),
        Some(Command::Devrel(args)) => {
            let nodes = args.node_args(program).map_err(|message| {
                clap::Error::raw(ErrorKind::ValueValidation, format!("{message}\n"))
                    .format(&mut command)
            })?;
            let cookie = args.cookie.source(program.cookie_file());
            let devrel = Devrel {
                program: program.name().to_string(),
                data: program.data_dirs(),
                nodes,
                cookie: cookie.clone(),
            };
            (Invocation::Devrel(devrel), cookie)
        }
    };
    Ok(CommandLine { invocation, cookie })
}

/// Runs an application's node binary: parses the command line and does what it says.
pub fn main<A: App>() -> ExitCode {
    init_logging();
    crate::holes::report_briefly();
    let command_line = match parse(&Program::current(), std::env::args_os().skip(1)) {
        Ok(command_line) => command_line,
        Err(error) => {
            // `--help` and `--version` (exit 0, standard output) or a mistake (exit 2,
            // standard error, with a hint).
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run::<A>(command_line))
}

async fn run<A: App>(command_line: CommandLine) -> ExitCode {
    let CommandLine {
        mut invocation,
        cookie,
    } = command_line;
    if let Err(error) = invocation.find_cookie(&cookie) {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    match invocation {
        Invocation::Console(config) => console::<A>(config).await,
        Invocation::Start(config) => start::<A>(config).await,
        Invocation::Attach(config) => attach::<A>(config, &cookie).await,
        Invocation::Ping(config) => ping(config, &cookie).await,
        Invocation::Stop(config) => stop(config, &cookie).await,
        Invocation::Admin(config, words) => admin(config, &cookie, words).await,
        Invocation::Devrel(devrel) => devrel.run().await,
        Invocation::PrintConfig(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
    }
}

impl Invocation {
    /// Puts the cluster's cookie into the node's configuration: a node's own (its file made if
    /// need be), or the one a tool proves to the node it talks to (only read). A devrel finds
    /// its own when it runs.
    fn find_cookie(&mut self, source: &CookieSource) -> Result<(), String> {
        let (config, cookie) = match self {
            Invocation::Console(config) | Invocation::Start(config) => (config, source.for_node()),
            Invocation::Attach(config)
            | Invocation::Ping(config)
            | Invocation::Stop(config)
            | Invocation::Admin(config, _) => (config, source.for_tool()),
            Invocation::Devrel(_) | Invocation::PrintConfig(_) => return Ok(()),
        };
        config.cookie = cookie?;
        Ok(())
    }
}

/// Where a node serves its clients: `("http", …)`, `("chat", …)`.
type Endpoints = Vec<(&'static str, SocketAddr)>;

/// Starts a node with the application on it; returns them, with where the node serves.
async fn start_node<A: App>(config: NodeConfig) -> Option<(Node, A, Endpoints)> {
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
            let endpoints = endpoints(&node, &app).await;
            Some((node, app, endpoints))
        }
        Err(error) => {
            eprintln!("error: could not start the application: {error}");
            node.stop().await;
            None
        }
    }
}

/// The application's endpoints, and HTTP: every node serves the ring page (and `/metrics`,
/// `/ready`) on its HTTP port. An application with an HTTP API serves them beside its own
/// routes (`http::serve` adds them); for one without (exercises 0 to 4) the node serves them
/// alone. Only there, a port that is taken is not the end of the node: the exercise does not
/// need the page, so the node runs on without it and says why.
async fn endpoints<A: App>(node: &Node, app: &A) -> Endpoints {
    let mut endpoints = app.endpoints();
    if endpoints.iter().any(|(name, _)| *name == "http") {
        return endpoints;
    }
    match crate::http::serve_node_pages(node, node.config().http).await {
        Ok(addr) => endpoints.insert(0, ("http", addr)),
        Err(error) => tracing::warn!(
            node = %node.name(),
            "the ring page is not served: {error} (--http-port chooses another port)"
        ),
    }
    endpoints
}

/// `console`: a node with an interactive console. However the console ends (`quit`, Ctrl-C,
/// Ctrl-D, SIGTERM, a `stop` over the network), the node stops cleanly.
async fn console<A: App>(config: NodeConfig) -> ExitCode {
    // Listening from before the node starts: see `signals.rs`.
    let mut signals = StopSignals::listen();
    let Some((node, app, _)) = start_node::<A>(config).await else {
        return ExitCode::FAILURE;
    };
    let console = Console::new(node.clone(), app);
    // Ending the console's loop (dropping it) gives the terminal back its own mode. A request
    // or a signal comes while the prompt waits: its message starts a line of its own.
    let why = tokio::select! {
        ended = console::run_terminal(&console) => ended.key().map(String::from),
        _ = node.stop_requested() => Some("\nstop requested".into()),
        signal = signals.recv() => Some(format!("\n{}", signal.name())),
    };
    if let Some(why) = why {
        console::print_flush(&format!("{why}: stopping {}\n", node.name()));
    }
    node.stop().await;
    ExitCode::SUCCESS
}

/// `start`: a node without a console, until Ctrl-C, SIGTERM or a stop request.
async fn start<A: App>(config: NodeConfig) -> ExitCode {
    // Listening from before the node says it has started: see `signals.rs`.
    let mut signals = StopSignals::listen();
    let Some((node, _, endpoints)) = start_node::<A>(config).await else {
        return ExitCode::FAILURE;
    };
    // One line on stdout that says where the node is; tools (devrel, tests) read it.
    console::print_flush(&format!("{}\n", started_line(&node, &endpoints)));
    tokio::select! {
        _ = signals.recv() => {}
        _ = node.stop_requested() => {}
    }
    node.stop().await;
    ExitCode::SUCCESS
}

/// The one line a node prints on stdout when it has started: where it listens, e.g.
/// `dev1@127.0.0.1 started: cluster 127.0.0.1:10017, http 127.0.0.1:8080`. Tools (devrel,
/// tests) read it with [`parse_started_line`].
fn started_line(node: &Node, endpoints: &[(&'static str, SocketAddr)]) -> String {
    let mut places = vec![format!("cluster {}", node.addr())];
    places.extend(
        endpoints
            .iter()
            .map(|(name, addr)| format!("{name} {addr}")),
    );
    format!("{} started: {}", node.name(), places.join(", "))
}

/// Reads the line a node prints when it starts (`devK@127.0.0.1 started: cluster ADDR, http
/// ADDR, …`) into (name, address) pairs: `cluster` first.
pub fn parse_started_line(line: &str) -> Option<std::collections::BTreeMap<String, SocketAddr>> {
    let (_, places) = line.trim().split_once(" started: ")?;
    places
        .split(", ")
        .map(|place| {
            let (name, addr) = place.split_once(' ')?;
            Some((name.to_string(), addr.parse().ok()?))
        })
        .collect()
}

/// `ping`: `pong`, or riak's message when the node does not answer.
async fn ping(config: NodeConfig, cookie: &CookieSource) -> ExitCode {
    let wait = Duration::from_secs(5);
    match client_request(config.listen, &config.cookie, Request::Ping, wait).await {
        Ok(Response::Pong { .. }) => {
            console::print_flush("pong\n");
            ExitCode::SUCCESS
        }
        Err(error @ ClientError::WrongCookie(_)) => {
            eprintln!("{}", failed(&config, cookie, &error));
            ExitCode::FAILURE
        }
        _ => {
            console::print_flush(&format!(
                "Node '{}' not responding to pings.\n",
                config.name
            ));
            ExitCode::FAILURE
        }
    }
}

/// `stop`: asks a running node to stop (riak's `bin/riak stop`).
async fn stop(config: NodeConfig, cookie: &CookieSource) -> ExitCode {
    let wait = Duration::from_secs(5);
    match client_request(config.listen, &config.cookie, Request::Stop, wait).await {
        Ok(_) => {
            console::print_flush("ok\n");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{}", failed(&config, cookie, &error));
            ExitCode::FAILURE
        }
    }
}

/// `admin COMMAND…`: runs an admin command on a running node.
async fn admin(config: NodeConfig, cookie: &CookieSource, words: Vec<String>) -> ExitCode {
    let wait = Duration::from_secs(60);
    match client_request(config.listen, &config.cookie, Request::Admin(words), wait).await {
        Ok(Response::Text(text)) => {
            // `admin member-status | head -3` closes the pipe early: no reason to panic.
            console::print_flush(&format!("{text}\n"));
            ExitCode::SUCCESS
        }
        Ok(other) => {
            eprintln!("unexpected answer: {other:?}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{}", failed(&config, cookie, &error));
            ExitCode::FAILURE
        }
    }
}

/// `attach`: a console whose lines run on a running node. Leaving it (`quit`, Ctrl-C, Ctrl-D)
/// leaves the node running. The history is the node's, in its data directory.
async fn attach<A: App>(config: NodeConfig, cookie: &CookieSource) -> ExitCode {
    let addr: SocketAddr = config.listen;
    let secret = &config.cookie;
    let wait = Duration::from_secs(5);
    if let Err(error) = client_request(addr, secret, Request::Ping, wait).await {
        eprintln!("{}", failed(&config, cookie, &error));
        return ExitCode::FAILURE;
    }
    if std::io::stdin().is_terminal() {
        println!(
            "attached to {} ({addr}); 'quit' detaches, the node keeps running",
            config.name
        );
    }
    let mut signals = StopSignals::listen();
    let name = config.name.clone();
    let session = repl(
        |count| format!("({name}){count}> "),
        |line| async move {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.first() {
                None => Outcome::Nothing,
                Some(&("quit" | "exit" | "q().")) => Outcome::Quit,
                Some(_) => match client_request(
                    addr,
                    secret,
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
        console::history_file(&config.data_dir),
        console::usages::<A>(&console::ATTACHED),
    );
    // Ending the console's loop (dropping it) gives the terminal back its own mode.
    let why = tokio::select! {
        ended = session => ended.key().map(String::from),
        signal = signals.recv() => Some(format!("\n{}", signal.name())),
    };
    if let Some(why) = why {
        println!("{why}: detached, {} keeps running", config.name);
    }
    ExitCode::SUCCESS
}

/// What a tool says when its request failed: the node's own answer when it refused (riak's
/// messages, e.g. `You must verify the plan with 'cluster plan' before committing`), riak's
/// "not responding" only when the node could not be reached, and which cookie the node does
/// not share when that is the trouble.
fn failed(config: &NodeConfig, cookie: &CookieSource, error: &ClientError) -> String {
    match error {
        ClientError::Refused(refusal) => refusal.to_string(),
        ClientError::NotReached(why) => format!("Node '{}' not responding ({why}).", config.name),
        ClientError::WrongCookie(addr) => format!(
            "Node '{}' at {addr} does not share {}: pass the cluster's cookie with --cookie or \
             --cookie-file.",
            config.name,
            cookie.describe()
        ),
    }
}

/// Logs go to standard error, so that standard output carries only the console's replies;
/// while a person types at the console, they are printed above its prompt instead (see
/// [`console::logs`]). `RUST_LOG` chooses the level (default: info).
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::logs::LogOutput)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::limits::Limits;

    /// Parses `line` as `program`'s command line, whatever RING_ variables the shell that
    /// runs the tests has set (the process tests check the variables).
    fn parse_line(program: &str, line: &str) -> Result<Invocation, clap::Error> {
        parse_all(program, line).map(|parsed| parsed.invocation)
    }

    fn parse_all(program: &str, line: &str) -> Result<CommandLine, clap::Error> {
        let program = Program::named(program);
        let command = each_arg(command(&program), |arg| arg.env(None));
        parse_with(command, &program, line.split_whitespace())
    }

    /// Where `line` finds its cookie.
    fn cookie_of(line: &str) -> CookieSource {
        parse_all("ex1-ping", line).unwrap().cookie
    }

    fn node_config(line: &str) -> NodeConfig {
        match parse_line("ex1-ping", line).unwrap() {
            Invocation::Console(config) | Invocation::Start(config) => config,
            other => panic!("'{line}' runs a node, not {other:?}"),
        }
    }

    /// What the program prints for a command line that is not run: help, or a mistake.
    fn refusal(line: &str) -> (ErrorKind, String) {
        let error = parse_line("ex1-ping", line).unwrap_err();
        (error.kind(), error.to_string())
    }

    #[test]
    fn no_arguments_means_a_console_on_dev1_in_the_exercise_folder() {
        let Invocation::Console(config) = parse_line("ex1-ping", "").unwrap() else {
            panic!("not a console");
        };
        assert_eq!(config.name.as_str(), "dev1@127.0.0.1");
        assert_eq!(config.data_dir, PathBuf::from("data/ex1-ping/dev1"));
        assert_eq!(config.listen.to_string(), "127.0.0.1:10017");
    }

    #[test]
    fn a_solution_keeps_its_nodes_in_its_exercise_folder() {
        let Invocation::Start(config) =
            parse_line("ex1-ping-solution", "start --node dev2").unwrap()
        else {
            panic!("not a start");
        };
        assert_eq!(config.data_dir, PathBuf::from("data/ex1-ping/dev2"));
    }

    #[test]
    fn node_selects_name_data_dir_and_ports() {
        let config = node_config("console --node dev3 --ring-size 16");
        assert_eq!(config.name.as_str(), "dev3@127.0.0.1");
        assert_eq!(config.data_dir, PathBuf::from("data/ex1-ping/dev3"));
        assert_eq!(config.ring_size, 16);
        assert_eq!(config.listen.port(), 10037);
        assert_eq!(config.http.port(), 8082);
        let config = node_config("start --node dev2 --cluster-port 0 --data-dir /tmp/x");
        assert_eq!(config.listen.port(), 0);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        // Options of the default console come without a subcommand too.
        let config = node_config("--node dev4 --http-port 0");
        assert_eq!(config.name.as_str(), "dev4@127.0.0.1");
        assert_eq!(config.http.port(), 0);
    }

    #[test]
    fn a_flag_takes_its_value_after_a_space_or_an_equals_sign() {
        let config = node_config("start --node=dev2 --http-port=8090 --chat-port 4050");
        assert_eq!(config.name.as_str(), "dev2@127.0.0.1");
        assert_eq!(config.http.port(), 8090);
        assert_eq!(config.chat.port(), 4050);
    }

    #[test]
    fn anti_entropy_is_on_unless_told_otherwise() {
        assert_eq!(node_config("").anti_entropy, Some(Duration::from_secs(1)));
        let slower = node_config("start --anti-entropy 5");
        assert_eq!(slower.anti_entropy, Some(Duration::from_secs(5)));
        assert_eq!(node_config("start --anti-entropy 0").anti_entropy, None);
    }

    #[test]
    fn the_cluster_ports_limits_are_set_by_flags() {
        assert_eq!(node_config("start").limits, Limits::default());
        let tight = node_config(
            "start --max-connections 10 --max-in-flight 4 --idle-timeout 2 --write-timeout 3",
        );
        let expected = Limits {
            max_connections: 10,
            max_in_flight: 4,
            idle_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(3),
        };
        assert_eq!(tight.limits, expected);
        let http = node_config(
            "start --http-max-connections 5 --http-header-timeout 2 --http-request-timeout 7",
        )
        .http_limits;
        assert_eq!(http.max_connections, 5);
        assert_eq!(http.header_timeout, Duration::from_secs(2));
        assert_eq!(http.request_timeout, Duration::from_secs(7));
        assert!(parse_line("ex1-ping", "start --max-in-flight 0").is_err());
    }

    #[test]
    fn a_node_listens_on_the_host_of_its_name_unless_told_otherwise() {
        let named = node_config("start --name ring@127.0.0.3");
        assert_eq!(named.listen.to_string(), "127.0.0.3:10017");
        assert_eq!(named.http.to_string(), "127.0.0.3:8080");
        assert_eq!(named.chat.to_string(), "127.0.0.3:4040");
        assert_eq!(named.advertise, None);
        let bound = node_config("start --name ring@127.0.0.3 --bind 0.0.0.0 --advertise 10.1.2.3");
        assert_eq!(bound.listen.to_string(), "0.0.0.0:10017");
        assert_eq!(bound.http.to_string(), "0.0.0.0:8080");
        assert_eq!(bound.advertise, Some("10.1.2.3:10017".parse().unwrap()));
        let moved = node_config("start --advertise 10.1.2.3:9000");
        assert_eq!(moved.advertise, Some("10.1.2.3:9000".parse().unwrap()));
        // A tool talks to the node where its name says it runs.
        let Invocation::Admin(tool, _) =
            parse_line("ex1-ping", "admin --name ring@127.0.0.4 member-status").unwrap()
        else {
            panic!("not admin");
        };
        assert_eq!(tool.listen.to_string(), "127.0.0.4:10017");
    }

    #[test]
    fn a_node_and_its_tools_share_a_configuration_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ring.toml");
        std::fs::write(
            &file,
            "name = \"ring@127.0.0.6\"\nhttp_port = 9001\nring_size = 16\n",
        )
        .unwrap();
        let path = file.display();
        let node = node_config(&format!("start --config {path}"));
        assert_eq!(node.listen.to_string(), "127.0.0.6:10017");
        assert_eq!(node.http.to_string(), "127.0.0.6:9001");
        assert_eq!(node.ring_size, 16);
        // admin takes the name; the node's own settings are not its business.
        let line = format!("admin --config={path} member-status");
        let Invocation::Admin(tool, words) = parse_line("ex1-ping", &line).unwrap() else {
            panic!("not admin");
        };
        assert_eq!(tool.listen.to_string(), "127.0.0.6:10017");
        assert_eq!(words, ["member-status"]);
        // A flag wins over the file.
        let node = node_config(&format!("start --config {path} --ring-size 32"));
        assert_eq!(node.ring_size, 32);
        let missing = parse_line("ex1-ping", "start --config /no/such/ring.toml").unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("cannot read the configuration file /no/such/ring.toml")
        );
    }

    #[test]
    fn handoff_rate_is_in_megabytes_per_second() {
        assert_eq!(node_config("start").handoff_rate, None);
        let limited = node_config("start --handoff-rate 2");
        assert_eq!(limited.handoff_rate, Some(2 * 1024 * 1024));
    }

    #[test]
    fn admin_keeps_its_words_with_options_before_or_after_them() {
        for line in [
            "admin --node dev2 cluster join dev1@127.0.0.1",
            "admin cluster join dev1@127.0.0.1 --node dev2",
        ] {
            let Invocation::Admin(config, words) = parse_line("ex0-cluster", line).unwrap() else {
                panic!("'{line}' is not an admin command");
            };
            assert_eq!(words, ["cluster", "join", "dev1@127.0.0.1"]);
            assert_eq!(config.listen.port(), 10027);
        }
    }

    #[test]
    fn tools_take_the_node_and_its_port() {
        let Invocation::Ping(config) = parse_line("ex0-cluster", "ping --node dev3").unwrap()
        else {
            panic!("not a ping");
        };
        assert_eq!(config.listen.port(), 10037);
        let Invocation::Stop(config) =
            parse_line("ex0-cluster", "stop --node dev2 --cluster-port 40000").unwrap()
        else {
            panic!("not a stop");
        };
        assert_eq!(config.name.as_str(), "dev2@127.0.0.1");
        assert_eq!(config.listen.port(), 40000);
    }

    #[test]
    fn attach_finds_the_history_in_the_node_s_data_directory() {
        let Invocation::Attach(config) = parse_line("ex1-ping", "attach --node dev2").unwrap()
        else {
            panic!("not an attach");
        };
        assert_eq!(config.data_dir, PathBuf::from("data/ex1-ping/dev2"));
        let Invocation::Attach(config) =
            parse_line("ex1-ping", "attach --data-dir /tmp/x --cluster-port 0").unwrap()
        else {
            panic!("not an attach");
        };
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn the_cookie_is_the_exercise_s_file_unless_told_otherwise() {
        let file = |path: &str| CookieSource::File(PathBuf::from(path));
        for line in [
            "",
            "start --node dev2",
            "console --cluster-port 0",
            "attach --node dev3",
            "ping",
            "stop --node dev2",
            "admin member-status",
            "devrel 3",
        ] {
            assert_eq!(cookie_of(line), file("data/ex1-ping/cookie"), "'{line}'");
        }
        // A node given its data directory keeps its cookie there (as `attach` finds it).
        assert_eq!(
            cookie_of("start --data-dir /srv/ring"),
            file("/srv/ring/cookie")
        );
        assert_eq!(cookie_of("--data-dir /srv/ring"), file("/srv/ring/cookie"));
        assert_eq!(
            cookie_of("attach --data-dir /srv/ring"),
            file("/srv/ring/cookie")
        );
        for line in [
            "start --cookie-file /etc/ring/cookie --data-dir /srv/ring",
            "admin member-status --cookie-file /etc/ring/cookie",
            "devrel 2 --cookie-file /etc/ring/cookie",
        ] {
            assert_eq!(cookie_of(line), file("/etc/ring/cookie"), "'{line}'");
        }
        let given = CookieSource::Given(Cookie::new("s3cret").unwrap());
        for line in [
            "start --cookie s3cret",
            "admin --cookie=s3cret ring-status",
            "devrel 2 --cookie s3cret",
        ] {
            assert_eq!(cookie_of(line), given, "'{line}'");
        }
        let Invocation::Devrel(devrel) =
            parse_line("ex1-ping", "devrel 2 --cookie s3cret").unwrap()
        else {
            panic!("not a devrel");
        };
        assert_eq!(devrel.cookie, given);
        assert_eq!(
            given.describe(),
            "the cookie given (--cookie or RING_COOKIE)"
        );
        assert_eq!(
            file("data/ex1-ping/cookie").describe(),
            "the cookie in data/ex1-ping/cookie"
        );
    }

    #[test]
    fn devrel_gives_each_node_its_ports_and_folder() {
        let Invocation::Devrel(devrel) = parse_line("ex2-kv", "devrel 3 --http-port 9000").unwrap()
        else {
            panic!("not a devrel");
        };
        assert_eq!(devrel.program, "ex2-kv");
        assert_eq!(devrel.data, PathBuf::from("data/ex2-kv/devK"));
        assert_eq!(devrel.nodes.len(), 3);
        assert_eq!(
            devrel.nodes[2].join(" "),
            "start --node dev3 --data-dir data/ex2-kv/dev3 --http-port 9002 --ring-size 64"
        );
        let Invocation::Devrel(free) =
            parse_line("ex2-kv", "devrel 2 --cluster-port 0 --ring-size 16").unwrap()
        else {
            panic!("not a devrel");
        };
        assert_eq!(
            free.nodes[1].join(" "),
            "start --node dev2 --data-dir data/ex2-kv/dev2 --cluster-port 0 --ring-size 16"
        );
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        let cases = [
            (
                "--node bob",
                "invalid value 'bob' for '--node <devK>': a node is dev1 … dev99",
            ),
            ("--ring-size", "a value is required for '--ring-size <N>'"),
            (
                "--ring-size 48",
                "ring size 48 is not a power of two between 8 and 1024",
            ),
            ("--frob", "unexpected argument '--frob'"),
            ("--cluster-port 70000", "70000 is not in 0..=65535"),
            ("devrel 12", "12 is not in 1..=9"),
            (
                "devrel 9 --cluster-port 65530",
                "--cluster-port 65530 leaves no port for dev2",
            ),
            ("start --cookie=", "a cookie cannot be empty"),
            (
                "admin ring-status --cookie a --cookie-file b",
                "the argument '--cookie <SECRET>' cannot be used with '--cookie-file <PATH>'",
            ),
        ];
        for (line, expected) in cases {
            let (kind, message) = refusal(line);
            assert_ne!(kind, ErrorKind::DisplayHelp, "'{line}' is a mistake");
            assert!(message.contains(expected), "'{line}' says:\n{message}");
        }
    }

    #[test]
    fn a_typo_gets_a_suggestion() {
        let (_, message) = refusal("strat");
        assert!(
            message.contains("a similar subcommand exists: 'start'"),
            "{message}"
        );
        let (_, message) = refusal("start --nod dev2");
        assert!(
            message.contains("a similar argument exists: '--node'"),
            "{message}"
        );
    }

    #[test]
    fn help_lists_the_subcommands_under_the_binary_name() {
        let (kind, help) = refusal("--help");
        assert_eq!(kind, ErrorKind::DisplayHelp);
        assert!(help.contains("Usage: ex1-ping [OPTIONS]"), "{help}");
        for subcommand in [
            "console", "start", "attach", "ping", "stop", "admin", "devrel",
        ] {
            assert!(
                help.contains(&format!("\n  {subcommand} ")),
                "{subcommand}:\n{help}"
            );
        }
        assert!(help.contains("RING_NODE"), "{help}");
    }

    #[test]
    fn every_help_fits_in_100_columns() {
        let mut helps = vec![refusal("--help").1];
        for subcommand in [
            "console", "start", "attach", "ping", "stop", "admin", "devrel",
        ] {
            helps.push(refusal(&format!("help {subcommand}")).1);
        }
        for help in helps {
            for line in help.lines() {
                assert!(line.chars().count() <= 100, "too wide:\n{line}");
            }
        }
    }

    #[test]
    fn admin_help_lists_the_admin_commands_from_their_table() {
        for line in ["admin --help", "help admin"] {
            let (kind, help) = refusal(line);
            assert_eq!(kind, ErrorKind::DisplayHelp);
            for (usage, _) in crate::node::admin::COMMANDS {
                assert!(help.contains(usage), "'{line}' lacks {usage}:\n{help}");
            }
        }
        // `admin` alone shows the same help, as a mistake (exit 2).
        let (kind, help) = refusal("admin");
        assert_eq!(kind, ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand);
        assert!(help.contains("cluster join NODE"), "{help}");
    }

    #[test]
    fn version_names_the_binary() {
        let (kind, version) = refusal("--version");
        assert_eq!(kind, ErrorKind::DisplayVersion);
        assert_eq!(version, format!("ex1-ping {}\n", env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn every_option_has_its_variable() {
        let variables: Vec<String> = option_variables()
            .into_iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            variables,
            [
                "RING_ADMIN_PASSWORD",
                "RING_ADVERTISE",
                "RING_ANONYMOUS",
                "RING_ANTI_ENTROPY",
                "RING_BIND",
                "RING_CHAT_MAX_CONNECTIONS",
                "RING_CHAT_PORT",
                "RING_CLUSTER_PORT",
                "RING_CONFIG",
                "RING_COOKIE",
                "RING_COOKIE_FILE",
                "RING_DATA_DIR",
                "RING_HANDOFF_RATE",
                "RING_HTTP_HEADER_TIMEOUT",
                "RING_HTTP_MAX_CONNECTIONS",
                "RING_HTTP_PORT",
                "RING_HTTP_REQUEST_TIMEOUT",
                "RING_IDLE_TIMEOUT",
                "RING_MAX_CONNECTIONS",
                "RING_MAX_IN_FLIGHT",
                "RING_NAME",
                "RING_NODE",
                "RING_RING_SIZE",
                "RING_SESSION_TTL",
                "RING_WRITE_TIMEOUT",
            ]
        );
    }

    #[test]
    fn started_lines_name_each_place() {
        let places = parse_started_line(
            "dev2@127.0.0.1 started: cluster 127.0.0.1:10027, http 127.0.0.1:8081\n",
        )
        .unwrap();
        assert_eq!(
            places["cluster"],
            "127.0.0.1:10027".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            places["http"],
            "127.0.0.1:8081".parse::<SocketAddr>().unwrap()
        );
        assert!(parse_started_line("error: could not start").is_none());
    }
}
