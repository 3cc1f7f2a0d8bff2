//! One exchange (riak_kv_exchange_fsm): the replicas of one key range compare their digests;
//! only where those differ, the streams of the differing segments; only for the differing
//! streams, their entries' identities. Each replica is then sent every entry it lacks,
//! fetched from a replica that holds it, in batches (`Get`, then `PutMany`: each entry merged
//! by identity, as every copy is). Before that, the replicas of a differing stream agree on
//! its floor: the highest wins (`Trim`), so an evicted or deleted entry is never copied back.
//!
//! The node running the exchange asks the replicas one question at a time and waits for each
//! answer, so an exchange never has more than one request per replica in flight: foreground
//! traffic keeps its speed, and the work of one exchange is bounded ([`MAX_REPAIRS`]).

use super::digest::RangeDigest;
use super::status::Outcome;
use crate::node::VnodeMaster;
use crate::ring::{IndexNode, Partition};
use crate::store::{Entry, EntryId, StreamSummary};
use crate::streams::service::StreamsVnode;
use crate::streams::vnode::{StreamCommand, StreamReply};
use std::collections::{BTreeMap, BTreeSet};

/// At most this many entries are sent to replicas by one exchange; what is left is repaired
/// by the next exchange of the range.
pub const MAX_REPAIRS: u64 = 10_000;

/// Entries fetched from a replica with one request.
const GET_BATCH: usize = 64;

/// Exchanges key range `range` between `replicas` (at least two).
pub(super) async fn exchange<V: StreamsVnode>(
    vnodes: &VnodeMaster<V>,
    range: Partition,
    replicas: Vec<IndexNode>,
) -> Outcome {
    let mut exchange = Exchange {
        vnodes,
        range,
        replicas,
        unanswered: Vec::new(),
        budget: MAX_REPAIRS,
        repaired: 0,
        more: false,
    };
    let result = exchange.repair_range().await;
    let metrics = vnodes.node().metrics();
    metrics.anti_entropy_repairs.inc_by(exchange.repaired);
    exchange.outcome(result)
}

/// A stream: bucket and name.
type StreamKey = (String, String);

struct Exchange<'a, V: StreamsVnode> {
    vnodes: &'a VnodeMaster<V>,
    range: Partition,
    /// The replicas taking part: those that answered the digest request.
    replicas: Vec<IndexNode>,
    /// Why the replicas that did not answer the digest request did not.
    unanswered: Vec<String>,
    /// Entries this exchange may still send.
    budget: u64,
    /// Entries stored by replicas that lacked them.
    repaired: u64,
    /// Whether the budget ran out with entries left to send.
    more: bool,
}

impl<V: StreamsVnode> Exchange<'_, V> {
    async fn repair_range(&mut self) -> Result<(), String> {
        let digests = self.digests().await?;
        let segments = RangeDigest::differing_segments(&digests);
        if segments.is_empty() {
            return Ok(());
        }
        for (bucket, stream) in self.differing_streams(segments).await? {
            if self.budget == 0 {
                self.more = true;
                break;
            }
            self.repair_stream(&bucket, &stream).await?;
        }
        Ok(())
    }

    fn outcome(self, result: Result<(), String>) -> Outcome {
        let failure = match result {
            Err(reason) => Some(reason),
            Ok(()) if !self.unanswered.is_empty() => Some(self.unanswered.join("; ")),
            Ok(()) => None,
        };
        match failure {
            Some(reason) => Outcome::Failed {
                reason,
                repaired: self.repaired,
            },
            // Digests that differed only because a write was reaching the replicas meanwhile
            // leave nothing to send.
            None if self.repaired == 0 && !self.more => Outcome::InSync,
            None => Outcome::Repaired {
                entries: self.repaired,
                more: self.more,
            },
        }
    }

    /// Level 1: every replica's digest of the range. Replicas that cannot answer are left out
    /// of the rest of the exchange; at least two must answer.
    async fn digests(&mut self) -> Result<Vec<RangeDigest>, String> {
        let command = StreamCommand::RangeDigest { range: self.range };
        let answers = self.ask_all(command).await;
        let mut answered = Vec::new();
        let mut digests = Vec::new();
        for (replica, answer) in self.replicas.iter().zip(answers) {
            match answer {
                Ok(StreamReply::RangeDigest(digest)) => {
                    answered.push(replica.clone());
                    digests.push(digest);
                }
                Ok(other) => self.unanswered.push(unexpected(replica, &other)),
                Err(reason) => self.unanswered.push(reason),
            }
        }
        if answered.len() < 2 {
            return Err(self.unanswered.join("; "));
        }
        self.replicas = answered;
        Ok(digests)
    }

    /// Level 2: the streams of the differing segments whose summaries differ between
    /// replicas (a stream a replica does not hold counts as empty there).
    async fn differing_streams(&self, segments: Vec<u8>) -> Result<Vec<StreamKey>, String> {
        let command = StreamCommand::RangeSummaries {
            range: self.range,
            segments,
        };
        let answers = self.ask_each(command).await?;
        let mut held: BTreeMap<StreamKey, Vec<Option<StreamSummary>>> = BTreeMap::new();
        for (i, (replica, answer)) in self.replicas.iter().zip(answers).enumerate() {
            let StreamReply::Summaries(leaves) = answer else {
                return Err(unexpected(replica, &answer));
            };
            for leaf in leaves {
                let slots = held
                    .entry((leaf.bucket, leaf.stream))
                    .or_insert_with(|| vec![None; self.replicas.len()]);
                slots[i] = Some(leaf.summary);
            }
        }
        Ok(held
            .into_iter()
            .filter(|(_, summaries)| summaries.iter().any(|s| *s != summaries[0]))
            .map(|(stream, _)| stream)
            .collect())
    }

    /// The leaves: which entries of the stream each replica holds; then every entry some
    /// replica lacks is fetched once, from a replica that holds it, and put on those lacking it.
    async fn repair_stream(&mut self, bucket: &str, stream: &str) -> Result<(), String> {
        let command = StreamCommand::Ids {
            bucket: bucket.into(),
            stream: stream.into(),
        };
        let mut held: Vec<BTreeSet<EntryId>> = Vec::new();
        let mut floors = Vec::new();
        for (replica, answer) in self.replicas.iter().zip(self.ask_each(command).await?) {
            let StreamReply::Ids { floor, ids } = answer else {
                return Err(unexpected(replica, &answer));
            };
            held.push(ids.into_iter().collect());
            floors.push(floor);
        }
        // Floors first: a replica that evicted (or deleted) the stream further than another
        // has the final word on what is gone. The others evict up to it, and nothing below it
        // is copied anywhere.
        let floor = floors.iter().copied().max().unwrap_or(1);
        for (i, replica_floor) in floors.iter().enumerate() {
            if *replica_floor < floor {
                self.trim(i, bucket, stream, floor).await?;
            }
        }
        for ids in &mut held {
            ids.retain(|id| id.seq >= floor);
        }
        for (holder, ids) in lacking_by_holder(&held) {
            for batch in ids.chunks(GET_BATCH) {
                let entries = self.get(holder, bucket, stream, batch).await?;
                for (lacking, has) in held.iter().enumerate() {
                    let mut missing: Vec<Entry> = entries
                        .iter()
                        .filter(|e| !has.contains(&e.id()))
                        .cloned()
                        .collect();
                    if missing.is_empty() {
                        continue;
                    }
                    if missing.len() as u64 > self.budget {
                        missing.truncate(self.budget as usize);
                        self.more = true;
                    }
                    self.budget -= missing.len() as u64;
                    self.put(lacking, bucket, stream, missing).await?;
                    if self.more {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// Raises replica `to`'s floor of a stream to `floor`.
    async fn trim(&self, to: usize, bucket: &str, stream: &str, floor: u64) -> Result<(), String> {
        let command = StreamCommand::Trim {
            bucket: bucket.into(),
            stream: stream.into(),
            floor,
        };
        let replica = &self.replicas[to];
        match self.ask(replica, command).await? {
            StreamReply::Trimmed { .. } => Ok(()),
            other => Err(unexpected(replica, &other)),
        }
    }

    /// The entries with these identities, from replica `from`.
    async fn get(
        &self,
        from: usize,
        bucket: &str,
        stream: &str,
        ids: &[EntryId],
    ) -> Result<Vec<Entry>, String> {
        let command = StreamCommand::Get {
            bucket: bucket.into(),
            stream: stream.into(),
            ids: ids.to_vec(),
        };
        let replica = &self.replicas[from];
        match self.ask(replica, command).await? {
            StreamReply::Entries(entries) => Ok(entries),
            other => Err(unexpected(replica, &other)),
        }
    }

    /// Stores entries on replica `to`, in one request, each merged by identity as every copy
    /// is.
    async fn put(
        &mut self,
        to: usize,
        bucket: &str,
        stream: &str,
        entries: Vec<Entry>,
    ) -> Result<(), String> {
        let command = StreamCommand::PutMany {
            bucket: bucket.into(),
            stream: stream.into(),
            entries,
        };
        let replica = &self.replicas[to];
        match self.ask(replica, command).await? {
            // Fewer than sent: a write or a read repair brought some meanwhile.
            StreamReply::StoredMany { new } => self.repaired += new,
            other => return Err(unexpected(replica, &other)),
        }
        Ok(())
    }

    /// Asks every replica at once; each answer or the reason it failed, in replica order.
    async fn ask_all(&self, command: StreamCommand) -> Vec<Result<StreamReply, String>> {
        let asks = self
            .replicas
            .iter()
            .map(|replica| self.ask(replica, command.clone()));
        futures_util::future::join_all(asks).await
    }

    /// Asks every replica at once; every answer, in replica order, or the first failure.
    async fn ask_each(&self, command: StreamCommand) -> Result<Vec<StreamReply>, String> {
        self.ask_all(command).await.into_iter().collect()
    }

    /// Asks one replica; a failure is described with the replica's name.
    async fn ask(
        &self,
        replica: &IndexNode,
        command: StreamCommand,
    ) -> Result<StreamReply, String> {
        match self.vnodes.sync_command(replica, command).await {
            Ok(StreamReply::Failed(reason)) => Err(describe(replica, &reason)),
            Ok(reply) => Ok(reply),
            Err(error) => Err(describe(replica, &error)),
        }
    }
}

/// Every entry that some replica lacks, grouped by the first replica that holds it (so each
/// is fetched once), in order.
fn lacking_by_holder(held: &[BTreeSet<EntryId>]) -> BTreeMap<usize, Vec<EntryId>> {
    let all: BTreeSet<EntryId> = held.iter().flatten().copied().collect();
    let mut wanted: BTreeMap<usize, Vec<EntryId>> = BTreeMap::new();
    for id in all {
        if held.iter().all(|ids| ids.contains(&id)) {
            continue;
        }
        let holder = held
            .iter()
            .position(|ids| ids.contains(&id))
            .expect("from a replica");
        wanted.entry(holder).or_default().push(id);
    }
    wanted
}

/// `partition 12 on dev2@127.0.0.1: why`
fn describe(replica: &IndexNode, why: &dyn std::fmt::Display) -> String {
    format!(
        "partition {} on {}: {why}",
        replica.partition.index(),
        replica.node
    )
}

fn unexpected(replica: &IndexNode, reply: &StreamReply) -> String {
    describe(replica, &format!("unexpected answer {reply:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Dot;

    fn id(seq: u64, actor: u64) -> EntryId {
        EntryId {
            seq,
            dot: Dot { actor, counter: 1 },
        }
    }

    #[test]
    fn what_a_replica_lacks_is_fetched_once_from_the_first_that_holds_it() {
        let (a, b, c, d) = (id(1, 1), id(2, 1), id(2, 2), id(3, 1));
        let held = [
            BTreeSet::from([a, b]),
            BTreeSet::from([a, c]),
            BTreeSet::from([a, b, d]),
        ];
        let wanted = lacking_by_holder(&held);
        assert_eq!(
            wanted,
            BTreeMap::from([(0, vec![b]), (1, vec![c]), (2, vec![d])]),
            "a, held everywhere, is not fetched; b is fetched from the first holder only"
        );
        assert!(lacking_by_holder(&[BTreeSet::from([a]), BTreeSet::from([a])]).is_empty());
    }
}
