//! The node console: an Erlang-shell-like prompt, `(dev1@127.0.0.1)1> `, over the commands of
//! the runtime and of the application.
//!
//! [`Console::eval`] turns one line into its output; [`run_terminal`] is the loop that reads
//! lines from standard input (a terminal or a pipe alike) and prints replies on standard
//! output. Logs go to standard error, so a piped session's output is a clean transcript.

use crate::app::{App, CommandHelp};
use crate::node::Node;
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

/// Evaluates console lines for one application on one node.
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
        let all = A::COMMANDS.iter().chain(BUILTIN);
        let width = all.clone().map(|c| c.usage.len()).max().unwrap_or(0);
        let lines: Vec<String> = all
            .map(|c| format!("  {:width$}   {}", c.usage, c.help))
            .collect();
        format!("commands:\n{}", lines.join("\n"))
    }
}

/// Reads lines from standard input until `quit` or end of input, printing each reply.
///
/// When input is piped rather than typed, each line is echoed after its prompt so that the
/// output reads like the session it replays.
pub async fn run_terminal<A: App>(console: &Console<A>) {
    let echo = !std::io::stdin().is_terminal();
    let mut lines = stdin_lines();
    let mut count = 1;
    loop {
        print_flush(&console.prompt(count));
        let Some(line) = lines.recv().await else {
            print_flush("\n");
            break;
        };
        if echo {
            print_flush(&format!("{}\n", line.trim_end()));
        }
        match console.eval(&line).await {
            Outcome::Print(text) => {
                print_flush(&format!("{text}\n"));
                count += 1;
            }
            Outcome::Nothing => {}
            Outcome::Quit => break,
        }
    }
}

fn print_flush(text: &str) {
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
