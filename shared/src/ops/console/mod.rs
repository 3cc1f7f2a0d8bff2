//! The node console: an Erlang-shell-like prompt, `(dev1@127.0.0.1)1> `, over the commands of
//! the runtime and of the application.
//!
//! [`Console::eval`] turns one line into its output; [`run_terminal`] is the loop that reads
//! lines and prints replies on standard output. At a terminal the lines are typed into a line
//! editor (module `editor`: history, Tab completion, logs drawn above the prompt); from a pipe
//! they are read plainly and each is echoed after its prompt, so that a piped session's output
//! is a clean transcript (logs go to standard error).

mod editor;

use crate::app::{App, CommandHelp};
use crate::node::admin;
use crate::node::{Node, RemoteConsole};
use editor::{Input, LineEditor};
use futures_util::future::BoxFuture;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// The file in a node's data directory that keeps the lines typed at its console.
const HISTORY_FILE: &str = "console_history";

/// What a console has besides the application's commands and the cluster administration: its
/// own commands and what Ctrl-C and Ctrl-D do, for `help`.
pub(crate) struct Builtins {
    commands: &'static [CommandHelp],
    keys: &'static [CommandHelp],
}

/// The node's own console: leaving it stops the node.
const LOCAL: Builtins = Builtins {
    commands: &[
        CommandHelp {
            usage: "help",
            help: "list the commands",
        },
        CommandHelp {
            usage: "quit",
            help: "stop the node and leave the console",
        },
    ],
    keys: &[
        CommandHelp {
            usage: "Ctrl-C",
            help: "clear the line; on an empty line, stop the node",
        },
        CommandHelp {
            usage: "Ctrl-D",
            help: "stop the node",
        },
    ],
};

/// A console attached to a running node (`attach`): leaving it leaves the node running.
pub(crate) const ATTACHED: Builtins = Builtins {
    commands: &[
        CommandHelp {
            usage: "help",
            help: "list the commands",
        },
        CommandHelp {
            usage: "quit",
            help: "detach; the node keeps running",
        },
    ],
    keys: &[
        CommandHelp {
            usage: "Ctrl-C",
            help: "clear the line; on an empty line, detach",
        },
        CommandHelp {
            usage: "Ctrl-D",
            help: "detach; the node keeps running",
        },
    ],
};

/// The keys of the line editor that every console has.
const EDITING_KEYS: &[CommandHelp] = &[
    CommandHelp {
        usage: "Tab",
        help: "complete a command",
    },
    CommandHelp {
        usage: "Up, Down, Ctrl-R",
        help: "the lines typed before (kept in the node's data directory)",
    },
];

/// Every usage a console of application `A` answers, for Tab completion: the same tables that
/// `help` lists.
pub(crate) fn usages<A: App>(builtins: &Builtins) -> Vec<&'static str> {
    A::COMMANDS
        .iter()
        .map(|c| c.usage)
        .chain(admin::COMMANDS.iter().map(|(usage, _)| *usage))
        .chain(builtins.commands.iter().map(|c| c.usage))
        .collect()
}

/// The file that keeps the lines typed at the console of the node whose data is in `data_dir`.
pub(crate) fn history_file(data_dir: &Path) -> PathBuf {
    data_dir.join(HISTORY_FILE)
}

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
            "help" => Outcome::Print(self.help(&LOCAL)),
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

    fn help(&self, builtins: &Builtins) -> String {
        let admin: Vec<CommandHelp> = admin::COMMANDS
            .iter()
            .map(|&(usage, help)| CommandHelp { usage, help })
            .collect();
        let keys: Vec<CommandHelp> = EDITING_KEYS.iter().chain(builtins.keys).copied().collect();
        let width = A::COMMANDS
            .iter()
            .chain(&admin)
            .chain(builtins.commands)
            .chain(&keys)
            .map(|c| c.usage.len())
            .max()
            .unwrap_or(0);
        let table = |commands: &[CommandHelp]| {
            let lines: Vec<String> = commands
                .iter()
                .map(|c| format!("  {:width$}   {}", c.usage, c.help))
                .collect();
            lines.join("\n")
        };
        format!(
            "commands:\n{}\n\ncluster administration:\n{}\n\n{}\n\nkeys:\n{}",
            table(A::COMMANDS),
            table(&admin),
            table(builtins.commands),
            table(&keys),
        )
    }
}

impl<A: App> RemoteConsole for Console<A> {
    fn eval_remote(&self, line: String) -> BoxFuture<'static, String> {
        let console = self.clone();
        Box::pin(async move {
            // `help` tells what the attached console's own commands and keys do.
            if line.split_whitespace().next() == Some("help") {
                return console.help(&ATTACHED);
            }
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

/// How a console session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// `quit` (or `exit`, or `q().`).
    Quit,
    /// Ctrl-C on an empty line.
    CtrlC,
    /// Ctrl-D on an empty line.
    CtrlD,
    /// The end of piped input.
    EndOfInput,
}

impl Ended {
    /// The key that ended the console, if a key did.
    pub fn key(self) -> Option<&'static str> {
        match self {
            Ended::CtrlC => Some("Ctrl-C"),
            Ended::CtrlD => Some("Ctrl-D"),
            Ended::Quit | Ended::EndOfInput => None,
        }
    }
}

/// Runs the console of the node until `quit`, Ctrl-C or Ctrl-D at the terminal, or the end of
/// piped input. The history is kept in the node's data directory.
pub async fn run_terminal<A: App>(console: &Console<A>) -> Ended {
    let prompt = |count| console.prompt(count);
    let history = history_file(console.node.data_dir());
    repl(
        prompt,
        |line| async move { console.eval(&line).await },
        history,
        usages::<A>(&LOCAL),
    )
    .await
}

/// The read–eval–print loop shared by the node's console and `attach`: lines come from a line
/// editor at a terminal (with `history` and Tab completing `usages`), else from plain input.
pub(crate) async fn repl<F, Fut>(
    prompt: impl Fn(u64) -> String,
    mut eval: F,
    history: PathBuf,
    usages: Vec<&'static str>,
) -> Ended
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let at_terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut lines = match at_terminal
        .then(|| LineEditor::start(history, usages))
        .flatten()
    {
        Some(editor) => Lines::Edited(editor),
        None => Lines::Plain {
            lines: stdin_lines(),
            echo: !std::io::stdin().is_terminal(),
        },
    };
    let mut count = 1;
    loop {
        let line = match lines.read(prompt(count)).await {
            Input::Line(line) => line,
            Input::Interrupted => return Ended::CtrlC,
            Input::End if lines.is_edited() => return Ended::CtrlD,
            Input::End => return Ended::EndOfInput,
        };
        match eval(line).await {
            Outcome::Print(text) => {
                print_flush(&format!("{text}\n"));
                count += 1;
            }
            Outcome::Nothing => {}
            Outcome::Quit => return Ended::Quit,
        }
    }
}

/// Where the console's lines come from.
enum Lines {
    /// A person at a terminal, typing into the line editor.
    Edited(LineEditor),
    /// Standard input read as it comes: a pipe, a file, or a terminal rustyline cannot edit
    /// on. When it is not a terminal, each line is echoed after its prompt, so that the output
    /// reads like the session it replays.
    Plain {
        lines: mpsc::Receiver<String>,
        echo: bool,
    },
}

impl Lines {
    async fn read(&mut self, prompt: String) -> Input {
        match self {
            Lines::Edited(editor) => editor.read(prompt).await,
            Lines::Plain { lines, echo } => {
                print_flush(&prompt);
                let Some(line) = lines.recv().await else {
                    print_flush("\n");
                    return Input::End;
                };
                if *echo {
                    print_flush(&format!("{}\n", line.trim_end()));
                }
                Input::Line(line)
            }
        }
    }

    fn is_edited(&self) -> bool {
        matches!(self, Lines::Edited(_))
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
