//! The node console: an Erlang-shell-like prompt, `(dev1@127.0.0.1)1> `, over the commands of
//! the runtime and of the application.
//!
//! [`Console::eval`] turns one line into its output; [`run_terminal`] is the loop that reads
//! lines from standard input (a terminal or a pipe alike) and prints replies on standard
//! output. Logs go to standard error, so a piped session's output is a clean transcript.

use crate::admin;
use crate::app::{App, CommandHelp};
use crate::node::Node;
use futures_util::future::BoxFuture;
use std::io::{IsTerminal, Write};
use tokio::sync::mpsc;

/// Commands every node's console has, whatever the application.
const BUILTIN: &[CommandHelp] = &[
    CommandHelp {
        usage: "help",
        help: "list the commands",
    },
    CommandHelp {
        usage: "quit",
        help: "stop the node and leave the console",
    },
];

/// What a line of input asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Print this (it may be several lines) and prompt again.
    Print(String),
    /// Nothing to print (an empty line).
    Nothing,
    /// Leave the console.
    Quit,
}

/// A console that lines can be sent to from elsewhere (`attach`).
pub trait RemoteConsole: Send + Sync {
    /// Runs one line and returns what to print.
    fn eval_remote(&self, line: String) -> BoxFuture<'static, String>;
}

/// Evaluates console lines for one application on one node.
#[derive(Clone)]
pub struct Console<A: App> {
    node: Node,
    app: A,
}

impl<A: App> Console<A> {
    pub fn new(node: Node, app: A) -> Self {
        Console { node, app }
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The prompt shown before input number `count`: `(dev1@127.0.0.1)1> `.
    pub fn prompt(&self, count: u64) -> String {
        format!("({}){count}> ", self.node.name())
    }

    /// Runs one line. Errors are printed, never raised: a bad command leaves the node running.
    pub async fn eval(&self, line: &str) -> Outcome {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&command, args)) = words.split_first() else {
            return Outcome::Nothing;
        };
        match command {
            "help" => Outcome::Print(self.help()),
            "quit" | "exit" | "q()." => Outcome::Quit,
            _ if admin::is_admin_command(command) => match admin::run(&self.node, &words).await {
                Ok(text) => Outcome::Print(text),
                Err(error) => Outcome::Print(error.to_string()),
            },
            _ if A::COMMANDS.iter().any(|c| c.name() == command) => {
                match self.app.run(command, args).await {
                    Ok(text) => Outcome::Print(text),
                    Err(error) => Outcome::Print(format!("error: {error}")),
                }
            }
            _ => Outcome::Print(format!(
                "unknown command '{command}': type 'help' to list the commands"
            )),
        }
    }

    fn help(&self) -> String {
        let admin = admin::COMMANDS
            .iter()
            .map(|(usage, help)| CommandHelp { usage, help });
        let width = A::COMMANDS
            .iter()
            .chain(BUILTIN)
            .map(|c| c.usage.len())
            .chain(admin.clone().map(|c| c.usage.len()))
            .max()
            .unwrap_or(0);
        let line = |c: &CommandHelp| format!("  {:width$}   {}", c.usage, c.help);
        let app: Vec<String> = A::COMMANDS.iter().map(line).collect();
        let admin: Vec<String> = admin.map(|c| line(&c)).collect();
        let builtin: Vec<String> = BUILTIN.iter().map(line).collect();
        format!(
            "commands:\n{}\n\ncluster administration:\n{}\n\n{}",
            app.join("\n"),
            admin.join("\n"),
            builtin.join("\n")
        )
    }
}

impl<A: App> RemoteConsole for Console<A> {
    fn eval_remote(&self, line: String) -> BoxFuture<'static, String> {
        let console = self.clone();
        Box::pin(async move {
            match console.eval(&line).await {
                Outcome::Print(text) => text,
                Outcome::Nothing => String::new(),
                Outcome::Quit => {
                    "use quit in the attached console to detach; the node keeps running".to_string()
                }
            }
        })
    }
}

/// Reads lines from standard input until `quit` or end of input, printing each reply.
///
/// When input is piped rather than typed, each line is echoed after its prompt so that the
/// output reads like the session it replays.
pub async fn run_terminal<A: App>(console: &Console<A>) {
    let prompt = |count| console.prompt(count);
    repl(prompt, |line| async move { console.eval(&line).await }).await;
}

/// The read–eval–print loop shared by the node's console and `attach`.
pub(crate) async fn repl<F, Fut>(prompt: impl Fn(u64) -> String, mut eval: F)
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let echo = !std::io::stdin().is_terminal();
    let mut lines = stdin_lines();
    let mut count = 1;
    loop {
        print_flush(&prompt(count));
        let Some(line) = lines.recv().await else {
            print_flush("\n");
            break;
        };
        if echo {
            print_flush(&format!("{}\n", line.trim_end()));
        }
        match eval(line).await {
            Outcome::Print(text) => {
                print_flush(&format!("{text}\n"));
                count += 1;
            }
            Outcome::Nothing => {}
            Outcome::Quit => break,
        }
    }
}

pub(crate) fn print_flush(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (e.g. `| head`) must not crash the node.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Standard input as a stream of lines, read on a thread of its own because reading a
/// terminal blocks.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}
