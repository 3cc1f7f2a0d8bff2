//! A program run in a pseudo-terminal, as a person runs it in a terminal window: a test types
//! keys into it and waits for what it writes. The console's line editor (history, Tab, Ctrl-C,
//! logs above the prompt) only runs when its input and output are a terminal, so this is how
//! its tests meet it.
//!
//! What the program writes is kept as text without the terminal's control sequences (colours,
//! cursor moves): [`Terminal::expect`] waits for a text to appear in it, with a deadline.

use nix::pty::{Winsize, openpty};
use nix::sys::signal::{Signal, kill};
use nix::sys::termios::{LocalFlags, tcgetattr};
use nix::unistd::Pid;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long [`Terminal::expect`] and [`Terminal::wait`] wait: generous, for a loaded 2-core
/// machine.
const DEADLINE: Duration = super::DEFAULT_DEADLINE;

/// A program running in a pseudo-terminal of 120 columns by 40 rows; killed when dropped.
pub struct Terminal {
    child: Child,
    /// The terminal's keyboard end: what is written here, the program reads.
    keys: File,
    /// What the program wrote, and a signal for each read.
    written: Arc<(Mutex<Written>, Condvar)>,
    /// How much of the text has been matched by [`Terminal::expect`] so far.
    seen: usize,
}

/// Every byte the program wrote so far.
#[derive(Default)]
struct Written {
    bytes: Vec<u8>,
    /// The program has closed the terminal (it exited): nothing more will come.
    ended: bool,
}

impl Terminal {
    /// Starts `program` with `args` in directory `dir`, with a terminal as its input, output
    /// and error output.
    pub fn spawn(program: &str, args: &[&str], dir: &Path) -> Terminal {
        let size = Winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(&size, None).expect("a pseudo-terminal");
        let end = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("a terminal descriptor"));
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .env("TERM", "xterm")
            .stdin(end(&pty.slave))
            .stdout(end(&pty.slave))
            .stderr(end(&pty.slave))
            .spawn()
            .expect("the program starts");
        // Only the program holds its end now, so reading fails once the program has exited.
        drop(pty.slave);
        let keys = File::from(pty.master);
        let written = Arc::new((Mutex::new(Written::default()), Condvar::new()));
        let mut screen = keys.try_clone().expect("a terminal descriptor");
        let sink = written.clone();
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            let (written, arrived) = &*sink;
            while let Ok(n @ 1..) = screen.read(&mut buffer) {
                let mut written = written.lock().unwrap_or_else(PoisonError::into_inner);
                written.bytes.extend_from_slice(&buffer[..n]);
                arrived.notify_all();
            }
            written.lock().unwrap_or_else(PoisonError::into_inner).ended = true;
            arrived.notify_all();
        });
        Terminal {
            child,
            keys,
            written,
            seen: 0,
        }
    }

    /// Sends the program SIGTERM, as `kill PID` does.
    pub fn terminate(&self) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("a process id"));
        kill(pid, Signal::SIGTERM).expect("SIGTERM is sent");
    }

    /// Types `keys`, e.g. `"ping\r"` (Enter is `\r`), `"\x1b[A"` (Up), `"\t"`, `"\x04"` (Ctrl-D).
    pub fn type_keys(&mut self, keys: &str) {
        self.keys
            .write_all(keys.as_bytes())
            .and_then(|()| self.keys.flush())
            .expect("the terminal takes keys");
    }

    /// Waits until `text` appears in what the program wrote after the last match, and returns
    /// what it wrote up to the end of `text`. Panics with everything it wrote if `text` does
    /// not appear within the deadline.
    pub fn expect(&mut self, text: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        let (written, arrived) = &*self.written;
        let mut written = written.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let plain = plain_text(&written.bytes);
            if let Some(at) = plain[self.seen..].find(text) {
                let end = self.seen + at + text.len();
                let found = plain[self.seen..end].to_string();
                self.seen = end;
                return found;
            }
            // No waiting for what can no longer come.
            if written.ended {
                panic!("the program ended without writing {text:?}; it wrote:\n{plain}");
            }
            let now = Instant::now();
            if now >= deadline {
                panic!(
                    "timed out after {DEADLINE:?} waiting for {text:?}; the program wrote:\n{plain}"
                );
            }
            written = arrived
                .wait_timeout(written, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Everything the program wrote so far, as text.
    pub fn text(&self) -> String {
        plain_text(
            &self
                .written
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .bytes,
        )
    }

    /// Waits for the program to exit, and returns how it did.
    pub fn wait(&mut self) -> ExitStatus {
        super::poll_within(DEADLINE, || super::exited(&mut self.child)).unwrap_or_else(|_| {
            panic!(
                "the program did not exit within {DEADLINE:?}; it wrote:\n{}",
                self.text()
            )
        })
    }

    /// Whether the terminal is in the mode a shell expects: lines edited by the terminal and
    /// echoed as typed. A program that leaves it raw leaves a terminal that shows nothing typed.
    /// (Linux answers for the pair on the keyboard end, also once the program has gone.)
    pub fn is_in_line_mode(&self) -> bool {
        let mode = tcgetattr(&self.keys).expect("the terminal's mode");
        mode.local_flags
            .contains(LocalFlags::ICANON | LocalFlags::ECHO)
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `bytes` as text without the terminal's control sequences: escape sequences (colours, cursor
/// moves, modes), carriage returns and bells. A sequence cut off at the end is left out.
fn plain_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                // CSI: parameters and intermediates, then one final byte in '@'..='~'.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ESC \.
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                // Two-byte sequences (ESC =, ESC >, ESC ( B …): one more byte at most.
                Some('(' | ')') => {
                    chars.next();
                }
                _ => {}
            },
            '\r' | '\x07' => {}
            c => plain.push(c),
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::plain_text;

    #[test]
    fn control_sequences_are_left_out() {
        let written = "\x1b[?2004h\r(dev1@127.0.0.1)1> \x1b[K\x07ping\r\n\x1b[2m2026\x1b[0m \x1b[33m WARN\x1b[0m x\r\n\x1b[";
        assert_eq!(
            plain_text(written.as_bytes()),
            "(dev1@127.0.0.1)1> ping\n2026  WARN x\n"
        );
    }
}
