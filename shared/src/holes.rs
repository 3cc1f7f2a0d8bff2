//! The holes of an exercise: code an attendee has yet to write, which answers or panics with
//! `not implemented yet: write X in src/… (README step N)` (or the standard
//! library's placeholder panics, `not yet implemented` and `not implemented`).
//!
//! A hole in a vnode callback panics every time the runtime calls it — a handoff retried
//! several times a second calls it hundreds of times — and the default panic hook prints a
//! backtrace each time, burying the one line that says what to write. [`report_briefly`]
//! installs a panic hook that prints such a panic as one line the first time it happens at a
//! place, then only a count, at the 10th, 100th, 1000th … time:
//!
//! ```text
//! hole: not implemented yet: write KvVnode::fold in src/vnode.rs (README step 1) [at ex4-handoff/src/vnode.rs:53; 1st time]
//! hole: not implemented yet: write KvVnode::fold in src/vnode.rs (README step 1) [at ex4-handoff/src/vnode.rs:53; 10th time]
//! ```
//!
//! Every other panic goes on to the hook that was there before, with its backtrace when
//! `RUST_BACKTRACE` asks for one: only holes, whose place and fix are known, go without.
//!
//! [`hole_in`] finds a hole's sentence in an answer, an error or a log, so that a test can
//! stop waiting the moment the answer is final.

use std::collections::BTreeMap;
use std::panic::{self, PanicHookInfo};
use std::sync::{Mutex, Once, PoisonError};

/// How a hole's sentence begins: ours (`not implemented yet`, and the standard library's
/// `not implemented` placeholder panic) and the standard `not yet implemented` one.
const HOLE_PHRASES: [&str; 2] = ["not implemented", "not yet implemented"];

/// The hole named in `text` (an answer, an error message, a log): from its first words to the
/// end of that line, or to the `; ` that joins it to the next reason of a failed quorum.
/// `None` when `text` names no hole.
pub fn hole_in(text: &str) -> Option<&str> {
    let at = HOLE_PHRASES.iter().filter_map(|p| text.find(p)).min()?;
    let rest = &text[at..];
    let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
    let end = rest[..end].find("; ").unwrap_or(end);
    Some(&rest[..end])
}

/// Installs the panic hook that reports a hole in one line (see the module's doc). Every
/// node binary calls it as it starts, and so does the test harness; calling it again does
/// nothing.
pub fn report_briefly() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| match hole_panic(info) {
            Some(message) => report(message, info),
            None => previous(info),
        }));
    });
}

/// The message of a panic that is a hole.
fn hole_panic<'a>(info: &'a PanicHookInfo<'_>) -> Option<&'a str> {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))?;
    is_hole(message).then_some(message)
}

/// Whether a panic's message is a hole: it begins with a hole's words. A panic that only
/// quotes one (a test's assertion showing an answer) is not a hole, and keeps its backtrace.
fn is_hole(message: &str) -> bool {
    HOLE_PHRASES.iter().any(|p| message.starts_with(p))
}

/// How often each place has panicked, by place and thread name: a node's worker threads
/// share one count, while each test (run on a thread named after it) hears of a hole it
/// calls itself.
static TIMES: Mutex<BTreeMap<(String, String), u64>> = Mutex::new(BTreeMap::new());

fn report(message: &str, info: &PanicHookInfo<'_>) {
    let place = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_else(|| "an unknown place".to_string());
    let thread = std::thread::current().name().unwrap_or("").to_string();
    let times = {
        let mut counts = TIMES.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry((place.clone(), thread)).or_insert(0);
        *count += 1;
        *count
    };
    if let Some(line) = line(message, &place, times) {
        // Above the console's prompt while a person types at it; otherwise eprintln!, as the
        // default hook writes, so that a test's captured output keeps it.
        if !crate::logs::print_above_prompt(&line) {
            eprintln!("{line}");
        }
    }
}

/// The line that tells of the `times`th hit of a hole at `place`, if that one is told: the
/// 1st, 10th, 100th … time, enough to show that a hole is still being hit, and how often,
/// without a line per hit.
fn line(message: &str, place: &str, times: u64) -> Option<String> {
    let mut rest = times;
    while rest >= 10 && rest.is_multiple_of(10) {
        rest /= 10;
    }
    if rest != 1 {
        return None;
    }
    // 1, 10, 100 …: only the first is not "…th".
    let nth = if times == 1 {
        "1st".to_string()
    } else {
        format!("{times}th")
    };
    Some(format!("hole: {message} [at {place}; {nth} time]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hole_is_found_in_an_answer_up_to_the_end_of_its_line() {
        assert_eq!(
            hole_in(
                "sorry, that did not work: not implemented yet: write Chat::join (README step 2)\n> "
            ),
            Some("not implemented yet: write Chat::join (README step 2)")
        );
        assert_eq!(
            hole_in("vnode 0 on dev1 failed: panicked: not yet implemented"),
            Some("not yet implemented")
        );
        assert_eq!(
            hole_in(
                "room needs 2 of 3 replicas, 0 succeeded: 0 on dev1: vnode 0 on dev1 failed: panicked: not implemented yet: handle Join (README step 2); 1 on dev2: …"
            ),
            Some("not implemented yet: handle Join (README step 2)")
        );
        assert_eq!(hole_in("write needs 2 of 3 replicas, 1 succeeded"), None);
    }

    #[test]
    fn a_panic_is_a_hole_when_it_begins_with_a_holes_words() {
        assert!(is_hole(
            "not implemented yet: write KvVnode::fold (README step 1)"
        ));
        assert!(
            is_hole("not yet implemented"),
            "the standard placeholder for later"
        );
        assert!(
            is_hole("not implemented"),
            "the standard placeholder for never"
        );
        // A test's assertion that shows a hole's answer keeps its backtrace.
        assert!(!is_hole(
            "step 1: fetch should answer: NotImplemented(\"not implemented yet: …\")"
        ));
    }

    #[test]
    fn a_hole_is_told_the_first_time_then_at_each_power_of_ten() {
        let message = "not implemented yet: write KvVnode::fold in src/vnode.rs (README step 1)";
        assert_eq!(
            line(message, "ex4-handoff/src/vnode.rs:53", 1).as_deref(),
            Some(
                "hole: not implemented yet: write KvVnode::fold in src/vnode.rs (README step 1) \
                 [at ex4-handoff/src/vnode.rs:53; 1st time]"
            )
        );
        assert_eq!(
            line(message, "ex4-handoff/src/vnode.rs:53", 100).as_deref(),
            Some(
                "hole: not implemented yet: write KvVnode::fold in src/vnode.rs (README step 1) \
                 [at ex4-handoff/src/vnode.rs:53; 100th time]"
            )
        );
        let told: Vec<u64> = (1..=2000)
            .filter(|n| line(message, "here", *n).is_some())
            .collect();
        assert_eq!(told, [1, 10, 100, 1000]);
    }
}
