//! The node's command line: what `cargo run -p exN -- <subcommand>` understands.
//!
//! Every exercise's `main` is one call to [`main`], so every exercise binary speaks the same
//! command line:
//!
//! ```text
//! exN [console] [--node devK] [--data-dir DIR] [--ring-size N]
//! ```

use crate::app::App;
use crate::console::{Console, run_terminal};
use crate::node::{Node, NodeConfig};
use crate::ring::NodeName;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// Options common to every subcommand.
#[derive(Debug, Clone)]
pub struct Options {
    pub subcommand: String,
    pub config: NodeConfig,
}

/// Parses the command line (without the program name).
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut subcommand = None;
    let mut dev = 1;
    let mut name = None;
    let mut data_dir = None;
    let mut ring_size = None;
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
            "--ring-size" => {
                let size = value("--ring-size")?;
                ring_size = Some(
                    size.parse::<u32>()
                        .map_err(|_| format!("--ring-size takes a number, not '{size}'"))?,
                );
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option '{flag}'")),
            word if subcommand.is_none() => subcommand = Some(word.to_string()),
            word => return Err(format!("unexpected argument '{word}'")),
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
    Ok(Options {
        subcommand: subcommand.unwrap_or_else(|| "console".to_string()),
        config,
    })
}

/// Runs an application's node binary: parses the command line, starts the node and does what
/// the subcommand says.
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
    match options.subcommand.as_str() {
        "console" => console::<A>(options.config).await,
        other => {
            eprintln!("error: unknown subcommand '{other}'\n\n{}", usage());
            ExitCode::from(2)
        }
    }
}

/// `console`: a node with an interactive console.
async fn console<A: App>(config: NodeConfig) -> ExitCode {
    let node = match Node::start(config).await {
        Ok(node) => node,
        Err(error) => {
            eprintln!("error: could not start the node: {error}");
            return ExitCode::FAILURE;
        }
    };
    let app = match A::start(&node).await {
        Ok(app) => app,
        Err(error) => {
            eprintln!("error: could not start the application: {error}");
            node.stop().await;
            return ExitCode::FAILURE;
        }
    };
    run_terminal(&Console::new(node.clone(), app)).await;
    node.stop().await;
    ExitCode::SUCCESS
}

fn usage() -> String {
    "usage: [console] [--node devK] [--name NAME] [--data-dir DIR] [--ring-size N]".to_string()
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
    }

    #[test]
    fn node_selects_name_and_data_dir() {
        let options = parse(&args("console --node dev3 --ring-size 16")).unwrap();
        assert_eq!(options.config.name.as_str(), "dev3@127.0.0.1");
        assert_eq!(options.config.data_dir, PathBuf::from("data/dev3"));
        assert_eq!(options.config.ring_size, 16);
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
    }
}
