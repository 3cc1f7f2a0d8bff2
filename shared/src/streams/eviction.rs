//! Eviction policies: per bucket and per stream, keep the last N entries, at most X bytes, or
//! entries younger than T (Iorio's). The store does the evicting
//! ([`PartitionStore::apply_policy`]); this is where the policies are kept and found.
//!
//! Policies live in the cluster metadata (prefix [`EVICTION`]), so every node, and every
//! replica of a stream, applies the same one. A stream's own setting wins, field by field,
//! over its bucket's.
//!
//! # What a replica does
//!
//! A stream vnode applies its stream's policy after every write to it, before every read of
//! it (so that an age limit holds without waiting for anything), when a policy changes, and
//! before each anti-entropy digest (a sweep of every stream that has a policy). Evicting
//! raises the stream's floor, which the store keeps on disk: no read, read repair,
//! anti-entropy exchange or handoff ever brings back an entry below it, and replicas carry
//! their floors to each other (a read takes the highest floor among its answers; anti-entropy
//! and handoff raise the lower one).
//!
//! [`PartitionStore::apply_policy`]: crate::store::PartitionStore::apply_policy

use crate::cluster::Metadata;
use crate::error::Error;
use crate::store::EvictionPolicy;
use std::collections::HashMap;

/// The metadata prefix of eviction policies.
pub const EVICTION: &str = "eviction";

/// The metadata key of a bucket's (`stream` None) or a stream's policy.
fn key(bucket: &str, stream: Option<&str>) -> String {
    serde_json::to_string(&(bucket, stream)).expect("names always encode")
}

/// The policy set on exactly this bucket or stream, if any.
pub fn policy(metadata: &Metadata, bucket: &str, stream: Option<&str>) -> Option<EvictionPolicy> {
    let value = metadata.get(EVICTION, &key(bucket, stream))?;
    serde_json::from_value(value).ok()
}

/// Sets (or, with `None` or an empty policy, removes) the policy of a bucket or stream, on
/// every node.
pub async fn set_policy(
    metadata: &Metadata,
    bucket: &str,
    stream: Option<&str>,
    policy: Option<EvictionPolicy>,
) -> Result<(), Error> {
    let value = policy
        .filter(|p| !p.is_empty())
        .map(|p| serde_json::to_value(p).expect("a policy always encodes"));
    metadata.put(EVICTION, &key(bucket, stream), value).await
}

/// Every policy, read from the metadata again whenever it changed: what a vnode consults on
/// each write and read.
pub struct Policies {
    metadata: Metadata,
    version: u64,
    buckets: HashMap<String, EvictionPolicy>,
    streams: HashMap<(String, String), EvictionPolicy>,
}

impl Policies {
    pub fn new(metadata: Metadata) -> Self {
        let mut policies = Policies {
            metadata,
            version: u64::MAX,
            buckets: HashMap::new(),
            streams: HashMap::new(),
        };
        policies.refresh();
        policies
    }

    /// Reads the policies again if the metadata changed; true when it did.
    pub fn refresh(&mut self) -> bool {
        let version = self.metadata.version();
        if version == self.version {
            return false;
        }
        self.version = version;
        self.buckets.clear();
        self.streams.clear();
        for (key, value) in self.metadata.list(EVICTION) {
            let (Ok((bucket, stream)), Ok(policy)) = (
                serde_json::from_str::<(String, Option<String>)>(&key),
                serde_json::from_value::<EvictionPolicy>(value),
            ) else {
                continue;
            };
            match stream {
                Some(stream) => self.streams.insert((bucket, stream), policy),
                None => self.buckets.insert(bucket, policy),
            };
        }
        true
    }

    /// The policy that applies to a stream (empty: keep everything).
    pub fn for_stream(&self, bucket: &str, stream: &str) -> EvictionPolicy {
        let of_bucket = self.buckets.get(bucket).copied().unwrap_or_default();
        match self.streams.get(&(bucket.to_string(), stream.to_string())) {
            Some(own) => own.merged_over(of_bucket),
            None => of_bucket,
        }
    }

    /// Whether any policy is set at all (nothing to do otherwise).
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty() && self.streams.is_empty()
    }

    /// Whether a stream of this bucket may have a policy.
    pub fn may_apply_to(&self, bucket: &str) -> bool {
        self.buckets.contains_key(bucket) || self.streams.keys().any(|(b, _)| b == bucket)
    }
}
