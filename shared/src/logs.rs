//! Where the node's log lines go: standard error, or, while a person types at the console's
//! line editor, through the editor, which prints each line above the prompt and then redraws
//! the prompt with what was typed so far. Written straight to the terminal instead, a log line
//! would land in the middle of the line being typed.
//!
//! [`crate::ops::cli`] gives [`LogOutput`] to `tracing_subscriber` once, at start; the line editor
//! switches the destination while it runs (`print_through`, `print_to_stderr`).

use rustyline::ExternalPrinter;
use std::io::Write;
use std::sync::{Mutex, PoisonError};
use tracing_subscriber::fmt::MakeWriter;

/// What prints above the prompt of a running line editor.
pub(crate) type Printer = Box<dyn ExternalPrinter + Send>;

/// The line editor's printer while one runs; `None`: standard error.
static PRINTER: Mutex<Option<Printer>> = Mutex::new(None);

/// From now on, log lines go through `printer`, above the line editor's prompt.
pub(crate) fn print_through(printer: Printer) {
    *PRINTER.lock().unwrap_or_else(PoisonError::into_inner) = Some(printer);
}

/// From now on, log lines go to standard error again.
pub(crate) fn print_to_stderr() {
    *PRINTER.lock().unwrap_or_else(PoisonError::into_inner) = None;
}

/// Prints `line` above the prompt of the running line editor, if one runs; `false` if none
/// does (the caller then writes it its own way). The runtime's own one-line reports (a hole
/// met, see [`crate::holes`]) use it, so that they do not land in the line being typed.
pub(crate) fn print_above_prompt(line: &str) -> bool {
    // try_lock: this runs in a panic hook, possibly on a thread that holds the lock already.
    let Ok(mut printer) = PRINTER.try_lock() else {
        return false;
    };
    match printer.as_mut() {
        Some(printer) => {
            let _ = printer.print(format!("{line}\n"));
            true
        }
        None => false,
    }
}

/// The destination of the node's log lines, for `tracing_subscriber`'s `with_writer`.
pub struct LogOutput;

impl<'a> MakeWriter<'a> for LogOutput {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine(Vec::new())
    }
}

/// One log line as the formatter writes it, sent on whole when dropped: the editor prints a
/// message at a time, and a line cut in two would be drawn as two.
pub struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let mut printer = PRINTER.lock().unwrap_or_else(PoisonError::into_inner);
        // A log line that cannot be written is dropped: logging must never stop the node.
        match printer.as_mut() {
            Some(printer) => {
                let _ = printer.print(String::from_utf8_lossy(&self.0).into_owned());
            }
            None => {
                let _ = std::io::stderr().write_all(&self.0);
            }
        }
    }
}
