//! The configuration file (`--config FILE`, or `RING_CONFIG`): a TOML file whose settings are
//! the command's long options, as `--help` lists them (`http_port = 8081` or `http-port`):
//!
//! ```toml
//! name = "ring@10.0.0.2"
//! data_dir = "/var/lib/ring"
//! cookie_file = "/etc/ring/cookie"
//! http_port = 8080
//! max_connections = 2048
//! ```
//!
//! Where a setting comes from, first found: a flag on the command line, then its `RING_…`
//! variable, then the file, then the default. The file's settings become options inserted
//! before the command line's own, so that clap reads and checks them as it does flags (a
//! later flag wins), leaving out those whose variable is set. A setting that no command has
//! is an error naming the file; one that this command does not take (`http_port` for
//! `admin`) is left out, so that a node and the tools that talk to it can share one file.

use super::cookie::CookieSource;
use crate::node::NodeConfig;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// The options a configuration file gives `subcommand` (of `command`), to put before the
/// command line's own. `args` is the command line (without the program's name).
pub(super) fn options_from_file(
    command: &clap::Command,
    args: &[OsString],
) -> Result<Vec<OsString>, String> {
    let Some(file) = config_path(args) else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read the configuration file {}: {e}", file.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("{} is not valid TOML: {e}", file.display()))?;
    let target = subcommand_of(command, args);
    let known: BTreeSet<String> = std::iter::once(command)
        .chain(command.get_subcommands())
        .flat_map(|c| c.get_arguments())
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    let mut options = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        if long == "config" || !known.contains(&long) {
            return Err(format!(
                "{}: unknown setting '{key}' (the settings are the long options of --help)",
                file.display()
            ));
        }
        let Some(arg) = target.get_arguments().find(|a| a.get_long() == Some(&long)) else {
            continue; // another command's setting
        };
        if arg
            .get_env()
            .is_some_and(|variable| std::env::var_os(variable).is_some())
        {
            continue; // the environment wins over the file
        }
        let text = match value {
            toml::Value::String(text) => text.clone(),
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(format!(
                    "{}: '{key}' takes a string, a number or true/false, not {}",
                    file.display(),
                    other.type_str()
                ));
            }
        };
        options.push(OsString::from(format!("--{long}={text}")));
    }
    Ok(options)
}

/// The file named by `--config FILE` (or `--config=FILE`) on the command line, or else by
/// `RING_CONFIG`.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut words = args.iter().map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        if word == "--config" {
            return words.next().map(|path| PathBuf::from(path.as_ref()));
        }
        if let Some(path) = word.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("RING_CONFIG").map(PathBuf::from)
}

/// The subcommand `args` run (the first word that names one), or the command itself when
/// none does (a console).
fn subcommand_of<'c>(command: &'c clap::Command, args: &[OsString]) -> &'c clap::Command {
    let first = args.iter().find(|a| !a.to_string_lossy().starts_with('-'));
    first
        .and_then(|word| command.find_subcommand(word))
        .unwrap_or(command)
}

/// Where the options from a file go: right after the subcommand's name, before the command
/// line's own options (which then win), or first when there is no subcommand.
pub(super) fn insert_options(
    args: &[OsString],
    command: &clap::Command,
    options: Vec<OsString>,
) -> Vec<OsString> {
    let at = args
        .iter()
        .position(|a| command.find_subcommand(a).is_some())
        .map_or(0, |i| i + 1);
    let mut all = args[..at].to_vec();
    all.extend(options);
    all.extend_from_slice(&args[at..]);
    all
}

/// The settings a node runs with, as a configuration file that starts it the same way.
pub(super) fn settings(config: &NodeConfig, cookie: &CookieSource) -> String {
    let seconds = |d: Duration| d.as_secs();
    let mut lines = vec![
        format!("name = {:?}", config.name.as_str()),
        format!("data_dir = {:?}", config.data_dir.display().to_string()),
        format!("bind = \"{}\"", config.listen.ip()),
        format!("cluster_port = {}", config.listen.port()),
        format!("http_port = {}", config.http.port()),
        format!("chat_port = {}", config.chat.port()),
    ];
    if let Some(addr) = config.advertise {
        lines.push(format!("advertise = \"{addr}\""));
    }
    lines.push(match cookie {
        CookieSource::File(path) => format!("cookie_file = {:?}", path.display().to_string()),
        CookieSource::Given(_) => "# cookie: given by --cookie or RING_COOKIE (not shown)".into(),
    });
    lines.push(format!("ring_size = {}", config.ring_size));
    if let Some(rate) = config.handoff_rate {
        lines.push(format!("handoff_rate = {}", rate / (1024 * 1024)));
    }
    lines.push(format!(
        "anti_entropy = {}",
        config.anti_entropy.map_or(0, seconds)
    ));
    let limits = &config.limits;
    lines.push(format!("max_connections = {}", limits.max_connections));
    lines.push(format!("max_in_flight = {}", limits.max_in_flight));
    lines.push(format!("idle_timeout = {}", seconds(limits.idle_timeout)));
    lines.push(format!("write_timeout = {}", seconds(limits.write_timeout)));
    let http = &config.http_limits;
    lines.push(format!("http_max_connections = {}", http.max_connections));
    lines.push(format!(
        "http_header_timeout = {}",
        seconds(http.header_timeout)
    ));
    lines.push(format!(
        "http_request_timeout = {}",
        seconds(http.request_timeout)
    ));
    lines.push(format!(
        "chat_max_connections = {}",
        config.chat_max_connections
    ));
    let access = &config.access;
    lines.push(format!("anonymous = \"{}\"", access.anonymous));
    lines.push(format!("session_ttl = {}", seconds(access.session_ttl)));
    if access.admin_password.is_some() {
        lines.push("# admin_password: given (not shown)".into());
    }
    lines.join("\n") + "\n"
}
