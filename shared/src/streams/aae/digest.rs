//! What anti-entropy compares: the two levels of the hash tree of one key range on one replica.
//!
//! A stream of the range falls in one of [`SEGMENTS`] segments, chosen by the last byte of its
//! key hash (the ring uses the first bytes to choose the partition, so the two are
//! independent). A segment's hash is the wrapping sum of a well-mixed hash of each of its
//! streams' key and [`StreamSummary`]: a sum, so it does not depend on the order streams and
//! entries arrived in, and well mixed, so that two different sets almost never sum alike.
//! The [`RangeDigest`] (the 256 segment hashes) is the top of the tree; the streams of a
//! segment with their summaries ([`NamedSummary`]) are its leaves.
//!
//! Nothing here is kept between exchanges: a vnode computes a digest when asked, from the
//! summaries its store keeps up to date, in one pass over its streams (in memory, no disk).

use crate::ring::hash::KeyHash;
use crate::ring::{Partition, partition_for};
use crate::store::{PartitionStore, StreamSummary, Summarized};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Segments per key range: one per value of a key hash's last byte.
pub const SEGMENTS: usize = 256;

/// The segment of a stream, from its key hash.
pub fn segment_of(key_hash: &KeyHash) -> u8 {
    key_hash.0[19]
}

/// Whether a stream belongs to a key range: whether the range's partition is its first
/// primary.
pub fn in_range(key_hash: &KeyHash, range: Partition) -> bool {
    partition_for(key_hash, range.ring_size()) == range
}

/// One replica's digest of one key range: a hash per segment (0 for an empty segment).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeDigest {
    segments: Vec<u64>,
}

impl RangeDigest {
    /// The digest of these streams (all of one range).
    pub fn of<'a>(streams: impl IntoIterator<Item = Summarized<'a>>) -> Self {
        let mut segments = vec![0u64; SEGMENTS];
        for stream in streams {
            let segment = &mut segments[usize::from(segment_of(stream.key_hash))];
            *segment = segment.wrapping_add(stream_hash(stream.key_hash, stream.summary));
        }
        RangeDigest { segments }
    }

    /// The digest of the streams of `range` held in `store`.
    pub fn of_range(store: &PartitionStore, range: Partition) -> Self {
        RangeDigest::of(store.summaries().filter(|s| in_range(s.key_hash, range)))
    }

    /// The segments in which these digests do not all agree, in order. (A digest from the
    /// wire with too few segments disagrees in the ones it lacks.)
    pub fn differing_segments(digests: &[RangeDigest]) -> Vec<u8> {
        let Some((first, others)) = digests.split_first() else {
            return Vec::new();
        };
        (0..SEGMENTS)
            .filter(|&i| {
                let hash = first.segments.get(i);
                others.iter().any(|other| other.segments.get(i) != hash)
            })
            .map(|i| i as u8)
            .collect()
    }
}

impl fmt::Debug for RangeDigest {
    /// Short: 256 numbers would drown a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let used = self.segments.iter().filter(|&&h| h != 0).count();
        write!(
            f,
            "RangeDigest({used} of {} segments used)",
            self.segments.len()
        )
    }
}

/// A leaf of the tree: one stream of a replica, with what the replica holds of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedSummary {
    pub bucket: String,
    pub stream: String,
    pub summary: StreamSummary,
}

/// The streams of `range` held in `store` that fall in one of `segments`, sorted by name.
pub fn summaries_in(
    store: &PartitionStore,
    range: Partition,
    segments: &[u8],
) -> Vec<NamedSummary> {
    let mut wanted = [false; SEGMENTS];
    for &segment in segments {
        wanted[usize::from(segment)] = true;
    }
    let mut found: Vec<NamedSummary> = store
        .summaries()
        .filter(|s| wanted[usize::from(segment_of(s.key_hash))] && in_range(s.key_hash, range))
        .map(|s| NamedSummary {
            bucket: s.bucket.to_string(),
            stream: s.stream.to_string(),
            summary: s.summary,
        })
        .collect();
    found.sort_by(|a, b| (&a.bucket, &a.stream).cmp(&(&b.bucket, &b.stream)));
    found
}

/// A well-mixed hash of a stream's key and summary (splitmix64's finaliser, as the store's
/// identity hash). The key hash is SHA-1, so any 8 of its bytes are as good as any other.
fn stream_hash(key_hash: &KeyHash, summary: StreamSummary) -> u64 {
    let key = u64::from_be_bytes(key_hash.0[4..12].try_into().expect("8 bytes"));
    mix(mix(mix(key) ^ summary.hash) ^ summary.entries)
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::hash::chash_key;
    use crate::store::{Dot, Entry, StoreConfig};

    const RING: u32 = 8;

    fn open(dir: &tempfile::TempDir) -> PartitionStore {
        PartitionStore::open(dir.path(), StoreConfig::default()).unwrap()
    }

    /// 40 streams × 5 entries, each with a dot of its own.
    fn entries() -> Vec<(String, Entry)> {
        let mut all = Vec::new();
        for stream in 0..40u64 {
            for seq in 1..=5 {
                let entry = Entry {
                    seq,
                    dot: Dot {
                        actor: 7,
                        counter: stream * 100 + seq,
                    },
                    ts_ms: seq,
                    payload: format!("{stream}/{seq}").into_bytes(),
                };
                all.push((format!("s{stream}"), entry));
            }
        }
        all
    }

    fn ranges() -> impl Iterator<Item = Partition> {
        (0..RING).map(|i| Partition::new(i, RING))
    }

    fn range_of(stream: &str) -> Partition {
        partition_for(&chash_key(b"b", stream.as_bytes()), RING)
    }

    #[test]
    fn equal_sets_give_equal_digests_whatever_the_order_of_arrival() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut first, mut second) = (open(&one), open(&two));
        let all = entries();
        for (stream, entry) in &all {
            first.put_entry("b", stream, entry).unwrap();
        }
        for (stream, entry) in all.iter().rev() {
            second.put_entry("b", stream, entry).unwrap();
        }
        let mut used = 0;
        for range in ranges() {
            let digests = [
                RangeDigest::of_range(&first, range),
                RangeDigest::of_range(&second, range),
            ];
            assert_eq!(digests[0], digests[1], "range {range:?}");
            assert!(RangeDigest::differing_segments(&digests).is_empty());
            used += digests[0].segments.iter().filter(|&&h| h != 0).count();
        }
        assert!(
            used > 30,
            "40 streams spread over the ranges' segments: {used}"
        );
    }

    #[test]
    fn one_extra_entry_shows_in_exactly_its_streams_segment() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut first, mut second) = (open(&one), open(&two));
        for (stream, entry) in entries() {
            first.put_entry("b", &stream, &entry).unwrap();
            second.put_entry("b", &stream, &entry).unwrap();
        }
        // A second entry numbered 3 in s17, with a dot of its own: same count of sequence
        // numbers, one more entry.
        let extra = Entry {
            dot: Dot {
                actor: 9,
                counter: 1,
            },
            ..entries()[17 * 5 + 2].1.clone()
        };
        second.put_entry("b", "s17", &extra).unwrap();
        let key = chash_key(b"b", b"s17");
        for range in ranges() {
            let digests = [
                RangeDigest::of_range(&first, range),
                RangeDigest::of_range(&second, range),
            ];
            let differing = RangeDigest::differing_segments(&digests);
            if range != range_of("s17") {
                assert!(differing.is_empty(), "range {range:?}: {differing:?}");
                continue;
            }
            assert_eq!(differing, vec![segment_of(&key)]);
            let leaves = [
                summaries_in(&first, range, &differing),
                summaries_in(&second, range, &differing),
            ];
            let changed: Vec<&str> = leaves[0]
                .iter()
                .zip(&leaves[1])
                .filter(|(a, b)| a != b)
                .map(|(a, _)| a.stream.as_str())
                .collect();
            assert_eq!(leaves[0].len(), leaves[1].len());
            assert_eq!(changed, vec!["s17"]);
            assert_eq!(
                leaves[1]
                    .iter()
                    .find(|l| l.stream == "s17")
                    .unwrap()
                    .summary
                    .entries,
                6
            );
        }
    }

    #[test]
    fn a_stream_only_one_replica_has_shows_too() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (first, mut second) = (open(&one), open(&two));
        let (stream, entry) = &entries()[0];
        second.put_entry("b", stream, entry).unwrap();
        let range = range_of(stream);
        let digests = [
            RangeDigest::of_range(&first, range),
            RangeDigest::of_range(&second, range),
        ];
        let differing = RangeDigest::differing_segments(&digests);
        assert_eq!(differing.len(), 1);
        assert!(summaries_in(&first, range, &differing).is_empty());
        assert_eq!(summaries_in(&second, range, &differing)[0].stream, *stream);
    }

    #[test]
    fn a_short_digest_from_the_wire_differs_where_it_is_short() {
        let full = RangeDigest {
            segments: vec![0; SEGMENTS],
        };
        let short = RangeDigest {
            segments: vec![0; 10],
        };
        let differing = RangeDigest::differing_segments(&[full, short]);
        assert_eq!(differing.len(), SEGMENTS - 10);
        assert_eq!(differing[0], 10);
    }
}
