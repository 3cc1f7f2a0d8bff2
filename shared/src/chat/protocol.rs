//! The zap chat line protocol: one command per line, replies as lines, then the prompt.
//!
//! | input | reply |
//! |---|---|
//! | (on connect) | `connected! 'set-name <name>' and 'join <chat name>' to get started` |
//! | `set-name Alex` | `ok your name is Alex` |
//! | `join CoolRoom` | `joined CoolRoom! 'say CoolRoom <message>' to chat` |
//! | `say CoolRoom HI!` | none; every member of the room receives `CoolRoom - Alex: HI!` |
//! | `leave CoolRoom` | `left CoolRoom` |
//! | `show-unread CoolRoom` | `You missed the following messages:` and `  Name: text` lines, or `no unread messages` |
//! | `join`/`say` before `set-name` | `must set a name before joining/chatting` |
//! | empty line | just the prompt |
//! | `help` | the commands, one a line ([`HELP`]) |
//! | `quit` | `bye`, then the connection closes (as when the client leaves) |
//! | anything else | `sorry, I don't understand '<line>'` |

use super::MAX_LINE_BYTES;

/// Written after every reply.
pub const PROMPT: &str = "> ";

/// The first line a connection receives.
pub const WELCOME: &str = "connected! 'set-name <name>' and 'join <chat name>' to get started";

/// The answer to `help`.
pub const HELP: &[&str] = &[
    "set-name <name>          choose the name others see",
    "join <room>              enter a room (its latest messages are replayed)",
    "say <room> <message>     send a message to everyone in the room",
    "leave <room>             leave a room",
    "show-unread <room>       what was said since you last saw the room",
    "help                     this list",
    "quit                     close the connection",
];

/// The answer to `quit`, just before the connection closes.
pub const BYE: &str = "bye";

/// The answer to `join` or `say` before `set-name`.
pub const NAME_FIRST: &str = "must set a name before joining/chatting";

/// One line of input, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatCommand {
    SetName(String),
    Join(String),
    Say {
        room: String,
        text: String,
    },
    Leave(String),
    ShowUnread(String),
    /// An empty line: just the prompt.
    Empty,
    /// Anything else: the line as it came.
    Unknown(String),
}

/// Reads one line: trimmed, split on spaces, the first word is the command.
pub fn parse(line: &str) -> ChatCommand {
    let line = line.trim();
    let (word, rest) = line
        .split_once(' ')
        .map_or((line, ""), |(w, r)| (w, r.trim()));
    let one_word = |make: fn(String) -> ChatCommand| {
        if !rest.is_empty() && !rest.contains(' ') {
            make(rest.to_string())
        } else {
            ChatCommand::Unknown(line.to_string())
        }
    };
    match word {
        "" => ChatCommand::Empty,
        "set-name" => one_word(ChatCommand::SetName),
        "join" => one_word(ChatCommand::Join),
        "leave" => one_word(ChatCommand::Leave),
        "show-unread" => one_word(ChatCommand::ShowUnread),
        "say" => match rest.split_once(' ') {
            Some((room, text)) if !text.trim().is_empty() => ChatCommand::Say {
                room: room.to_string(),
                text: text.trim().to_string(),
            },
            _ => ChatCommand::Unknown(line.to_string()),
        },
        _ => ChatCommand::Unknown(line.to_string()),
    }
}

/// The answer to a line that is not understood.
pub fn not_understood(line: &str) -> String {
    format!("sorry, I don't understand '{line}'")
}

/// What a room member sees for a message: `CoolRoom - Alex: HI!`.
pub fn said(room: &str, name: &str, text: &str) -> String {
    format!("{room} - {name}: {text}")
}

/// Text from elsewhere (a line POSTed over HTTP) made fit to send as one chat line: line
/// breaks and other control characters become spaces, and it is cut to [`MAX_LINE_BYTES`]
/// (ending in `…`), the most a client may send itself.
pub fn one_line(text: &str) -> String {
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.len() > MAX_LINE_BYTES {
        let mut end = MAX_LINE_BYTES - '…'.len_utf8();
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push('…');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_elsewhere_becomes_one_bounded_line() {
        assert_eq!(one_line("hi\r\nthere\tyou"), "hi  there you");
        let long = "é".repeat(MAX_LINE_BYTES);
        let line = one_line(&long);
        assert!(
            line.len() <= MAX_LINE_BYTES && line.ends_with('…'),
            "{}",
            line.len()
        );
    }

    #[test]
    fn lines_are_trimmed_and_split_on_spaces() {
        assert_eq!(
            parse("  set-name Alex \r"),
            ChatCommand::SetName("Alex".into())
        );
        assert_eq!(parse("join CoolRoom"), ChatCommand::Join("CoolRoom".into()));
        assert_eq!(
            parse("say CoolRoom HI!  how are you? "),
            ChatCommand::Say {
                room: "CoolRoom".into(),
                text: "HI!  how are you?".into()
            }
        );
        assert_eq!(
            parse("leave CoolRoom"),
            ChatCommand::Leave("CoolRoom".into())
        );
        assert_eq!(
            parse("show-unread CoolRoom"),
            ChatCommand::ShowUnread("CoolRoom".into())
        );
        assert_eq!(parse(""), ChatCommand::Empty);
        assert_eq!(parse("   "), ChatCommand::Empty);
    }

    #[test]
    fn malformed_commands_are_not_understood() {
        for line in [
            "dance",
            "join",
            "join two rooms",
            "say CoolRoom",
            "say",
            "set-name",
            "set-name Al Ex",
        ] {
            assert_eq!(
                parse(line),
                ChatCommand::Unknown(line.to_string()),
                "{line}"
            );
        }
        assert_eq!(not_understood("dance"), "sorry, I don't understand 'dance'");
    }
}
