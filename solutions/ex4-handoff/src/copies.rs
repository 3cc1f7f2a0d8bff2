//! Going further: what goes wrong when a handoff stores entries with `append` instead of
//! `put_entry`, and how to see it.
//!
//! `append` makes a *new* entry: the next sequence number of the receiving store, a dot of
//! its own, the time of now. A retried transfer sends entries again, and a hinted handoff
//! sends the owner entries its fellow replicas already hold under their real identity: each
//! becomes a second message with the same text. `find_copies` finds them in a stream.

use ringcore::Error;
use ringcore::store::Entry;
use std::collections::HashMap;
use std::fmt;

/// An entry that repeats the text of an earlier entry of its stream, under another identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat {
    /// The first entry with that text.
    pub first: Entry,
    /// A later one with the same text (and another identity).
    pub again: Entry,
}

/// Going further: every entry of `entries` (one stream, in order) whose payload an earlier
/// entry already had, each paired with the first entry of that payload (README, Going
/// further).
pub fn find_copies(entries: &[Entry]) -> Result<Vec<Repeat>, Error> {
    let mut first_of: HashMap<&[u8], &Entry> = HashMap::new();
    let mut copies = Vec::new();
    for entry in entries {
        match first_of.get(entry.payload.as_slice()) {
            // The same entry twice (one identity) is not a copy: a read never returns that.
            Some(first) if first.id() != entry.id() => copies.push(Repeat {
                first: (*first).clone(),
                again: entry.clone(),
            }),
            Some(_) => {}
            None => {
                first_of.insert(&entry.payload, entry);
            }
        }
    }
    Ok(copies)
}

impl fmt::Display for Repeat {
    /// `#6 repeats #1: message 1`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} repeats #{}: {}",
            self.again.seq,
            self.first.seq,
            String::from_utf8_lossy(&self.again.payload)
        )
    }
}
