//! The metadata map itself and its merge rule, with no I/O: what a node holds, how an entry
//! from elsewhere is taken in, and the digest two nodes compare.
//!
//! Of two entries for one key the higher version wins; in the one case where two versions
//! are equal (which well-behaved nodes never produce: a version names its node and that
//! node's count of puts) the one whose value's JSON text sorts higher wins. So the merge is
//! a pure function of the entries: commutative, associative and idempotent, and every node
//! that has seen the same entries holds the same map.

use crate::net::wire::{self, MetadataEntry, MetadataVersion};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// One key's entry: its version and its value (`None`: the key was deleted, a tombstone).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Stored {
    pub(crate) version: MetadataVersion,
    pub(crate) value: Option<Value>,
    /// The size of the entry as it travels (see [`Table::bytes`]).
    size: usize,
}

impl Stored {
    /// The entry an entry from the wire stands for, under its prefix and key; an error (the
    /// value is not JSON) says why.
    pub(crate) fn from_wire(entry: MetadataEntry) -> Result<(String, String, Stored), String> {
        let size = wire::encode(&entry).map_err(|e| e.to_string())?.len();
        let value = match &entry.value {
            Some(text) => Some(serde_json::from_str(text).map_err(|e| {
                format!(
                    "the value of {}/{} is not JSON: {e}",
                    entry.prefix, entry.key
                )
            })?),
            None => None,
        };
        let stored = Stored {
            version: entry.version,
            value,
            size,
        };
        Ok((entry.prefix, entry.key, stored))
    }

    /// The entry as it travels.
    pub(crate) fn to_wire(&self, prefix: &str, key: &str) -> MetadataEntry {
        MetadataEntry {
            prefix: prefix.to_string(),
            key: key.to_string(),
            version: self.version.clone(),
            value: self.text(),
        }
    }

    /// The value as JSON text. `serde_json` writes an object's fields in key order, so equal
    /// values give equal text on every node.
    fn text(&self) -> Option<String> {
        self.value.as_ref().map(Value::to_string)
    }

    /// Whether this entry wins over `other`, an entry for the same key.
    fn beats(&self, other: &Stored) -> bool {
        match self.version.cmp(&other.version) {
            std::cmp::Ordering::Equal => self.text() > other.text(),
            order => order.is_gt(),
        }
    }

    /// Whether this entry wins over `other`, the same key's entry as it came from the wire.
    fn beats_wire(&self, other: &MetadataEntry) -> bool {
        match self.version.cmp(&other.version) {
            std::cmp::Ordering::Equal => self.text() > other.value,
            order => order.is_gt(),
        }
    }
}

/// The whole map: prefixes, their keys, each key's entry (tombstones included).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Table {
    prefixes: BTreeMap<String, BTreeMap<String, Stored>>,
    /// The sum of the entries' sizes as they travel: what an exchange sends.
    bytes: usize,
}

impl Table {
    /// The entry of `key` under `prefix`, tombstone or not.
    pub(crate) fn get(&self, prefix: &str, key: &str) -> Option<&Stored> {
        self.prefixes.get(prefix)?.get(key)
    }

    /// The entries under `prefix`, tombstones included, sorted by key.
    pub(crate) fn prefix(&self, prefix: &str) -> impl Iterator<Item = (&String, &Stored)> {
        self.prefixes.get(prefix).into_iter().flatten()
    }

    /// Every entry, as `(prefix, key, entry)`, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &String, &Stored)> {
        self.prefixes
            .iter()
            .flat_map(|(prefix, keys)| keys.iter().map(move |(key, s)| (prefix, key, s)))
    }

    /// How many entries, tombstones included.
    pub(crate) fn len(&self) -> usize {
        self.prefixes.values().map(BTreeMap::len).sum()
    }

    /// The size of the whole map as an exchange sends it (the postcard encoding of its
    /// entries).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `stored` would win over what the map holds for its key (or the map holds
    /// nothing for it).
    pub(crate) fn would_take(&self, prefix: &str, key: &str, stored: &Stored) -> bool {
        self.get(prefix, key).is_none_or(|held| stored.beats(held))
    }

    /// Takes in one entry if it wins over the one held for its key; returns whether it did.
    pub(crate) fn merge(&mut self, prefix: String, key: String, stored: Stored) -> bool {
        let keys = self.prefixes.entry(prefix).or_default();
        match keys.get_mut(&key) {
            Some(held) if !stored.beats(held) => false,
            Some(held) => {
                self.bytes = self.bytes - held.size + stored.size;
                *held = stored;
                true
            }
            None => {
                self.bytes += stored.size;
                keys.insert(key, stored);
                true
            }
        }
    }

    /// Every entry, as it travels.
    pub(crate) fn entries(&self) -> Vec<MetadataEntry> {
        self.iter()
            .map(|(prefix, key, stored)| stored.to_wire(prefix, key))
            .collect()
    }

    /// The entries of this map that `theirs` (another node's entries) lacks or holds an older
    /// version of: what that node is missing.
    pub(crate) fn newer_than(&self, theirs: &[MetadataEntry]) -> Vec<MetadataEntry> {
        let held: HashMap<(&str, &str), &MetadataEntry> = theirs
            .iter()
            .map(|e| ((e.prefix.as_str(), e.key.as_str()), e))
            .collect();
        self.iter()
            .filter(|(prefix, key, stored)| {
                held.get(&(prefix.as_str(), key.as_str()))
                    .is_none_or(|their| stored.beats_wire(their))
            })
            .map(|(prefix, key, stored)| stored.to_wire(prefix, key))
            .collect()
    }

    /// A hash of every key and its version: two nodes whose digests are equal hold the same
    /// map (a version stands for one value). SHA-256, so that it is the same on every build
    /// of the node, cut to 64 bits.
    pub(crate) fn digest(&self) -> u64 {
        let mut hash = Sha256::new();
        for (prefix, key, stored) in self.iter() {
            // Each string with its length first, so that ("ab", "c") and ("a", "bc") differ.
            for text in [prefix.as_str(), key.as_str(), stored.version.node.as_str()] {
                hash.update((text.len() as u64).to_be_bytes());
                hash.update(text.as_bytes());
            }
            hash.update(stored.version.time_ms.to_be_bytes());
            hash.update(stored.version.counter.to_be_bytes());
        }
        let full = hash.finalize();
        u64::from_be_bytes(full[..8].try_into().expect("32 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::NodeName;

    fn entry(
        key: &str,
        time_ms: u64,
        node: &str,
        counter: u64,
        value: Option<&str>,
    ) -> MetadataEntry {
        MetadataEntry {
            prefix: "grants".into(),
            key: key.into(),
            version: MetadataVersion {
                time_ms,
                node: NodeName::new(node),
                counter,
            },
            value: value.map(str::to_string),
        }
    }

    fn table_of(entries: &[MetadataEntry]) -> Table {
        let mut table = Table::default();
        for e in entries {
            let (prefix, key, stored) = Stored::from_wire(e.clone()).unwrap();
            table.merge(prefix, key, stored);
        }
        table
    }

    fn value(table: &Table, key: &str) -> Option<Option<Value>> {
        table.get("grants", key).map(|s| s.value.clone())
    }

    #[test]
    fn the_higher_version_wins_in_either_order() {
        let old = entry("alice", 1_000, "dev1@h", 1, Some(r#""read""#));
        let new = entry("alice", 2_000, "dev2@h", 1, Some(r#""write""#));
        for order in [[old.clone(), new.clone()], [new.clone(), old.clone()]] {
            let table = table_of(&order);
            assert_eq!(value(&table, "alice"), Some(Some(Value::from("write"))));
        }
        // Same time: the node's name decides, then the counter.
        let by_name = [
            entry("bob", 5, "dev1@h", 9, Some("1")),
            entry("bob", 5, "dev2@h", 1, Some("2")),
        ];
        assert_eq!(
            value(&table_of(&by_name), "bob"),
            Some(Some(Value::from(2)))
        );
        let by_counter = [
            entry("carol", 5, "dev1@h", 2, Some("2")),
            entry("carol", 5, "dev1@h", 1, Some("1")),
        ];
        assert_eq!(
            value(&table_of(&by_counter), "carol"),
            Some(Some(Value::from(2)))
        );
    }

    #[test]
    fn a_tombstone_wins_over_older_values_and_is_kept() {
        let table = table_of(&[
            entry("alice", 3, "dev1@h", 2, None),
            entry("alice", 1, "dev2@h", 1, Some("true")),
        ]);
        assert_eq!(value(&table, "alice"), Some(None));
        assert_eq!(table.len(), 1);
        // A newer value brings the key back.
        let back = table_of(&[
            entry("alice", 3, "dev1@h", 2, None),
            entry("alice", 4, "dev2@h", 1, Some("true")),
        ]);
        assert_eq!(value(&back, "alice"), Some(Some(Value::Bool(true))));
    }

    #[test]
    fn equal_versions_are_settled_by_the_value() {
        let a = entry("k", 1, "dev1@h", 1, Some(r#""a""#));
        let b = entry("k", 1, "dev1@h", 1, Some(r#""b""#));
        assert_eq!(table_of(&[a.clone(), b.clone()]), table_of(&[b, a]));
    }

    #[test]
    fn a_value_that_is_not_json_is_refused() {
        let bad = entry("k", 1, "dev1@h", 1, Some("{not json"));
        let error = Stored::from_wire(bad).unwrap_err();
        assert!(
            error.starts_with("the value of grants/k is not JSON"),
            "{error}"
        );
    }

    /// A small deterministic generator (xorshift), so that the merge laws are checked on many
    /// maps without a dependency.
    struct Dice(u64);

    impl Dice {
        fn next(&mut self, below: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % below
        }

        /// A few entries over a few keys, nodes, times and values, tombstones included, with
        /// collisions on purpose.
        fn entries(&mut self) -> Vec<MetadataEntry> {
            (0..self.next(8))
                .map(|_| {
                    let key = format!("k{}", self.next(4));
                    let node = format!("dev{}@h", self.next(3));
                    let value = match self.next(4) {
                        0 => None,
                        n => Some(format!("{{\"v\":{n}}}")),
                    };
                    entry(&key, self.next(3), &node, self.next(2), value.as_deref())
                })
                .collect()
        }
    }

    /// merge(a, b): `b`'s entries taken into `a`.
    fn merged(a: &Table, b: &Table) -> Table {
        let mut out = a.clone();
        for (prefix, key, stored) in b.iter() {
            out.merge(prefix.clone(), key.clone(), stored.clone());
        }
        out
    }

    #[test]
    fn merging_is_commutative_associative_and_idempotent() {
        let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2_000 {
            let a = table_of(&dice.entries());
            let b = table_of(&dice.entries());
            let c = table_of(&dice.entries());
            assert_eq!(merged(&a, &b), merged(&b, &a), "commutative");
            assert_eq!(
                merged(&merged(&a, &b), &c),
                merged(&a, &merged(&b, &c)),
                "associative"
            );
            assert_eq!(merged(&a, &a), a, "idempotent");
            let ab = merged(&a, &b);
            assert_eq!(merged(&ab, &b), ab, "idempotent after a merge");
            // Equal maps have equal digests, and the size follows the entries.
            assert_eq!(ab.digest(), merged(&b, &a).digest());
            let sizes: usize = ab
                .entries()
                .iter()
                .map(|e| wire::encode(e).unwrap().len())
                .sum();
            assert_eq!(ab.bytes(), sizes);
        }
    }

    #[test]
    fn newer_than_is_what_the_other_side_lacks() {
        let ours = table_of(&[
            entry("a", 2, "dev1@h", 1, Some("1")),
            entry("b", 1, "dev1@h", 2, Some("2")),
            entry("c", 1, "dev1@h", 3, None),
        ]);
        let theirs = vec![
            entry("a", 1, "dev2@h", 1, Some("0")), // older: sent
            entry("b", 5, "dev2@h", 2, Some("9")), // newer: not sent
            entry("d", 1, "dev2@h", 3, Some("4")), // theirs only
        ];
        let keys: Vec<String> = ours
            .newer_than(&theirs)
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(keys, ["a", "c"]);
        // After both sides took the other's entries, they hold the same map.
        let mut here = ours.clone();
        for e in &theirs {
            let (p, k, s) = Stored::from_wire(e.clone()).unwrap();
            here.merge(p, k, s);
        }
        let there = table_of(&[theirs.clone(), ours.newer_than(&theirs)].concat());
        assert_eq!(here, there);
        assert_eq!(here.digest(), there.digest());
        assert_ne!(here.digest(), ours.digest());
    }
}
