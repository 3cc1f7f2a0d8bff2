//! The console's line editor for a person at a terminal: rustyline, on a thread of its own
//! because waiting for a key blocks.
//!
//! The async side asks for a line with [`LineEditor::read`] and awaits the answer. The person
//! gets the arrow keys, the history (Up, Down, Ctrl-R; kept in a file per node, written after
//! every line so that a killed node keeps it), Tab completion of the command words, and the
//! node's logs printed above the prompt (see [`super::logs`]). Ctrl-C clears a line that has
//! text; on an empty line it ends the console, as Ctrl-D does.
//!
//! A console may end while rustyline waits for a key, e.g. when the node is asked to stop over
//! the network. Nothing can wake that thread, so dropping the [`LineEditor`] gives the terminal
//! back its own mode itself, and the process ends without waiting for the thread.

use crate::logs;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{
    Cmd, CompletionType, ConditionalEventHandler, Config, Context, Editor, Event, EventContext,
    EventHandler, Helper, KeyEvent, Movement, RepeatCount,
};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use tokio::sync::oneshot;

/// What the person did at the prompt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// Typed a line and pressed Enter.
    Line(String),
    /// Pressed Ctrl-C on an empty line.
    Interrupted,
    /// Pressed Ctrl-D on an empty line (or the terminal went away).
    End,
}

/// A prompt to show, and where to send what was typed at it.
type Request = (String, oneshot::Sender<Input>);

/// The line editor running on its thread.
pub(crate) struct LineEditor {
    requests: mpsc::Sender<Request>,
    /// Set while rustyline waits for a line, with the terminal in its raw mode.
    reading: Arc<AtomicBool>,
    /// The terminal's mode before rustyline changed it, to give back if the console ends
    /// while rustyline waits for a line.
    terminal: terminal::Saved,
}

impl LineEditor {
    /// Starts a line editor on the terminal with the history in `history` (loaded now) and Tab
    /// completing the words of `usages` (e.g. `cluster join NODE` completes `cluster`, then
    /// `join`). `None` when standard input and output are not a terminal rustyline can edit
    /// on: the caller reads plain lines then.
    pub(crate) fn start(history: PathBuf, usages: Vec<&'static str>) -> Option<LineEditor> {
        let config = Config::builder()
            .max_history_size(1000)
            .ok()?
            .completion_type(CompletionType::List)
            .completion_show_all_if_ambiguous(true)
            .build();
        let mut editor: Editor<Commands, FileHistory> = Editor::with_config(config).ok()?;
        editor.set_helper(Some(Commands { usages }));
        editor.bind_sequence(
            KeyEvent::ctrl('C'),
            EventHandler::Conditional(Box::new(CtrlC)),
        );
        // Fails where rustyline cannot edit (not a terminal, or one like TERM=dumb).
        let printer = editor.create_external_printer().ok()?;
        let terminal = terminal::Saved::now()?;
        match editor.load_history(&history) {
            Ok(()) => {}
            Err(ReadlineError::Io(error)) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => eprintln!(
                "the console history in {} is not read: {error}",
                history.display()
            ),
        }
        let (requests, waiting) = mpsc::channel();
        let reading = Arc::new(AtomicBool::new(false));
        let thread_reading = reading.clone();
        std::thread::Builder::new()
            .name("console".into())
            .spawn(move || edit_lines(editor, history, waiting, thread_reading))
            .ok()?;
        // Logs sent elsewhere (`2>node.log`) stay there: they cannot break into the prompt.
        if std::io::stderr().is_terminal() {
            logs::print_through(Box::new(printer));
        }
        Some(LineEditor {
            requests,
            reading,
            terminal,
        })
    }

    /// Shows `prompt` and waits for the person to type a line (or press Ctrl-C or Ctrl-D).
    pub(crate) async fn read(&self, prompt: String) -> Input {
        let (reply, input) = oneshot::channel();
        if self.requests.send((prompt, reply)).is_err() {
            return Input::End;
        }
        input.await.unwrap_or(Input::End)
    }
}

impl Drop for LineEditor {
    fn drop(&mut self) {
        logs::print_to_stderr();
        // rustyline waits for a key and will not give the terminal back: do it here. (A
        // console that ends in the microseconds between asking for a line and rustyline
        // taking the terminal would leave it raw; `reset` mends that.)
        if self.reading.load(Ordering::SeqCst) {
            self.terminal.restore();
        }
    }
}

/// The editor's thread: one line per request, until the console is gone.
fn edit_lines(
    mut editor: Editor<Commands, FileHistory>,
    history: PathBuf,
    requests: mpsc::Receiver<Request>,
    reading: Arc<AtomicBool>,
) {
    let mut saving = true;
    for (prompt, reply) in requests {
        reading.store(true, Ordering::SeqCst);
        let typed = editor.readline(&prompt);
        reading.store(false, Ordering::SeqCst);
        let input = match typed {
            Ok(line) => {
                // Without the space a completion leaves, so that `stats` and `stats ` are
                // one entry; written at once, so that a node that is killed keeps it.
                let added = editor.add_history_entry(line.trim()).unwrap_or(false);
                if added
                    && saving
                    && let Err(error) = editor.append_history(&history)
                {
                    eprintln!(
                        "the console history is not kept in {}: {error}",
                        history.display()
                    );
                    saving = false;
                }
                Input::Line(line)
            }
            Err(ReadlineError::Interrupted) => Input::Interrupted,
            Err(_) => Input::End,
        };
        if reply.send(input).is_err() {
            break;
        }
    }
}

/// Ctrl-C on a line with text clears it (rather than losing the line and ending the console);
/// on an empty line it is rustyline's interrupt.
struct CtrlC;

impl ConditionalEventHandler for CtrlC {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, context: &EventContext) -> Option<Cmd> {
        (!context.line().is_empty()).then_some(Cmd::Kill(Movement::WholeLine))
    }
}

/// Tab completion of the command words of the console's command tables.
struct Commands {
    usages: Vec<&'static str>,
}

impl Completer for Commands {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, words) = completions(&self.usages, &line[..pos]);
        let candidates = words
            .into_iter()
            .map(|word| Pair {
                display: word.to_string(),
                // The space lets the person type the arguments straight away.
                replacement: format!("{word} "),
            })
            .collect();
        Ok((start, candidates))
    }
}

impl Hinter for Commands {
    type Hint = String;
}

impl Highlighter for Commands {}

impl Validator for Commands {}

impl Helper for Commands {}

/// The words that complete the last word of `typed` (the line up to the cursor), and where that
/// word starts. A usage's command words are its leading lowercase words: `cluster join NODE`
/// has `cluster` and `join`, so `cluster j` completes to `cluster join`.
fn completions(usages: &[&'static str], typed: &str) -> (usize, Vec<&'static str>) {
    let start = typed
        .rfind(char::is_whitespace)
        .map_or(0, |space| space + 1);
    let before: Vec<&str> = typed[..start].split_whitespace().collect();
    let partial = &typed[start..];
    let mut words: Vec<&'static str> = usages
        .iter()
        .map(|usage| command_words(usage))
        .filter(|words| words.len() > before.len() && words[..before.len()] == before[..])
        .map(|words| words[before.len()])
        .filter(|word| word.starts_with(partial))
        .collect();
    words.sort_unstable();
    words.dedup();
    (start, words)
}

/// The leading words of a usage that are typed as they are: `cluster join NODE` → `cluster`,
/// `join`; `get BUCKET STREAM [FROM]` → `get`.
fn command_words(usage: &'static str) -> Vec<&'static str> {
    usage
        .split_whitespace()
        .take_while(|word| {
            word.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        .collect()
}

/// The terminal's mode, saved before rustyline changes it.
#[cfg(unix)]
mod terminal {
    use nix::sys::termios::{SetArg, Termios, tcgetattr, tcsetattr};

    pub(super) struct Saved(Termios);

    impl Saved {
        pub(super) fn now() -> Option<Saved> {
            tcgetattr(std::io::stdin()).ok().map(Saved)
        }

        /// Puts the terminal back as it was, and turns off the bracketed paste rustyline turns
        /// on while it reads.
        pub(super) fn restore(&self) {
            let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, &self.0);
            super::super::print_flush("\x1b[?2004l");
        }
    }
}

#[cfg(not(unix))]
mod terminal {
    pub(super) struct Saved;

    impl Saved {
        pub(super) fn now() -> Option<Saved> {
            Some(Saved)
        }

        pub(super) fn restore(&self) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USAGES: &[&str] = &[
        "ping",
        "ping-key KEY",
        "member-status",
        "cluster join NODE",
        "cluster leave [NODE]",
        "cluster plan",
        "get BUCKET STREAM [FROM] [LIMIT]",
        "help",
    ];

    #[test]
    fn the_first_word_completes_from_every_table() {
        assert_eq!(completions(USAGES, "mem"), (0, vec!["member-status"]));
        assert_eq!(completions(USAGES, "pi"), (0, vec!["ping", "ping-key"]));
        assert_eq!(completions(USAGES, "cl"), (0, vec!["cluster"]));
        assert_eq!(completions(USAGES, "x"), (0, vec![]));
    }

    #[test]
    fn later_words_complete_after_their_command() {
        assert_eq!(
            completions(USAGES, "cluster "),
            (8, vec!["join", "leave", "plan"])
        );
        assert_eq!(completions(USAGES, "cluster  pl"), (9, vec!["plan"]));
        // Arguments are the person's to type.
        assert_eq!(completions(USAGES, "get alice "), (10, vec![]));
        assert_eq!(completions(USAGES, "cluster join dev"), (13, vec![]));
    }
}
