//! The ring (riak_core's `chash` and the ownership part of `riak_core_ring`).
//!
//! The 2^160 hash space is cut into `size` equal partitions (a power of two, 8–1024). Partition
//! `i` starts at `i × 2^160 / size` and is printed in decimal, as riak prints it, so the numbers
//! in the Erlang tutorials look the same here. A key belongs to the first partition boundary
//! strictly above its hash (wrapping to partition 0), and its preference list is that partition
//! followed by the next ones clockwise.
//!
//! Each partition has exactly one owner node. Who the owners are is decided by claim and
//! changed by membership; this module only answers "where does this key live".
//!
//! This room holds the rules of the ring, pure functions of their inputs with no I/O, each
//! tested alone: the key hash ([`hash`]), preference lists with fallbacks ([`apl`]), coverage
//! plans ([`coverage`]), staged membership changes ([`membership`]) and the claim that
//! assigns partitions ([`claim`]), and what a node does with a ring gossiped to it
//! ([`reconcile`]). The rooms above apply them.

pub mod apl;
pub mod claim;
pub mod coverage;
mod handoff;
pub mod hash;
pub mod membership;
pub mod reconcile;

pub use handoff::HandoffKind;

use hash::{KeyHash, u160_to_decimal};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// The ring size the workshop uses unless told otherwise (riak's `ring_creation_size`).
pub const DEFAULT_RING_SIZE: u32 = 64;
/// Smallest and largest ring sizes accepted.
pub const MIN_RING_SIZE: u32 = 8;
pub const MAX_RING_SIZE: u32 = 1024;

/// A node's name, such as `dev1@127.0.0.1`. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeName(Arc<str>);

impl NodeName {
    pub fn new(name: impl AsRef<str>) -> Self {
        NodeName(Arc::from(name.as_ref()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host part of the name, after the `@` (`127.0.0.1` in `dev1@127.0.0.1`): where
    /// the node runs, as riak's node names say it.
    pub fn host(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, host)| host)
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.0)
    }
}

impl From<&str> for NodeName {
    fn from(name: &str) -> Self {
        NodeName::new(name)
    }
}

/// One partition of a ring of a given size. Displays as riak's decimal partition id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Partition {
    index: u32,
    ring_size: u32,
}

impl Partition {
    /// Partition `index` of a ring of `ring_size` partitions.
    pub fn new(index: u32, ring_size: u32) -> Self {
        assert!(
            ring_size.is_power_of_two() && index < ring_size,
            "partition {index} does not exist on a ring of size {ring_size}"
        );
        Partition { index, ring_size }
    }

    /// Position in ring order, 0 ≤ index < ring size.
    pub fn index(&self) -> u32 {
        self.index
    }

    pub fn ring_size(&self) -> u32 {
        self.ring_size
    }

    /// The partition that follows this one clockwise.
    pub fn next(&self) -> Partition {
        Partition::new((self.index + 1) % self.ring_size, self.ring_size)
    }

    /// The start of the partition on the ring, as a 160-bit big-endian number.
    pub fn id_bytes(&self) -> [u8; 20] {
        let bits = self.ring_size.trailing_zeros();
        let mut bytes = [0u8; 20];
        if bits > 0 {
            bytes[..4].copy_from_slice(&(self.index << (32 - bits)).to_be_bytes());
        }
        bytes
    }

    /// The partition id as riak prints it, e.g. `1210306043414653979137426502093171875652569137152`.
    pub fn id(&self) -> String {
        u160_to_decimal(self.id_bytes())
    }

    /// Parses a decimal partition id back into a partition of a ring of `ring_size`.
    pub fn from_id(id: &str, ring_size: u32) -> Option<Partition> {
        (0..ring_size)
            .map(|index| Partition::new(index, ring_size))
            .find(|p| p.id() == id)
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.id())
    }
}

impl fmt::Debug for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Partition({}/{})", self.index, self.ring_size)
    }
}

/// A vnode's address: a partition and the node that hosts it (riak's `{Index, Node}`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IndexNode {
    pub partition: Partition,
    pub node: NodeName,
}

impl fmt::Debug for IndexNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}, {:?}}}", self.partition, self.node)
    }
}

/// Why a ring could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ring size {0} is not a power of two between {MIN_RING_SIZE} and {MAX_RING_SIZE}")]
pub struct RingSizeError(pub u32);

/// Checks that `size` is an acceptable ring size.
pub fn check_ring_size(size: u32) -> Result<(), RingSizeError> {
    if size.is_power_of_two() && (MIN_RING_SIZE..=MAX_RING_SIZE).contains(&size) {
        Ok(())
    } else {
        Err(RingSizeError(size))
    }
}

/// Which partition a hash belongs to on a ring of `ring_size`: the first boundary strictly
/// above the hash, wrapping to partition 0.
pub fn partition_for(hash: &KeyHash, ring_size: u32) -> Partition {
    let bits = ring_size.trailing_zeros();
    Partition::new((hash.top_bits(bits) + 1) % ring_size, ring_size)
}

/// A member's state in the cluster (riak_core_ring's member status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MemberStatus {
    /// Staged to join: in the ring, owns nothing yet.
    Joining,
    /// A full member.
    Valid,
    /// Committed to leave: hands its partitions over, then is removed.
    Leaving,
}

impl MemberStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            MemberStatus::Joining => "joining",
            MemberStatus::Valid => "valid",
            MemberStatus::Leaving => "leaving",
        }
    }
}

/// A cluster change waiting for `cluster plan` and `cluster commit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StagedChange {
    Join(NodeName),
    Leave(NodeName),
    ForceRemove(NodeName),
}

impl StagedChange {
    pub fn node(&self) -> &NodeName {
        match self {
            StagedChange::Join(n) | StagedChange::Leave(n) | StagedChange::ForceRemove(n) => n,
        }
    }
}

/// The ring (riak_core_ring): who owns every partition, who will own it once a transfer
/// completes, the members and their states, the claimant, and the staged changes.
///
/// Only the claimant changes the ring; every change increases `version`, and gossip keeps the
/// highest version. So every node ends up with the same ring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ring {
    owners: Vec<NodeName>,
    /// The owner-to-be of partitions being transferred (`None`: no transfer pending).
    next: Vec<Option<NodeName>>,
    members: BTreeMap<NodeName, MemberStatus>,
    claimant: NodeName,
    version: u64,
    staged: Vec<StagedChange>,
}

impl Ring {
    /// A ring of `size` partitions all owned by `node`: a fresh single-node cluster.
    pub fn new(size: u32, node: NodeName) -> Result<Self, RingSizeError> {
        Ring::from_owners(vec![node; size as usize])
    }

    /// A ring from an owner per partition, in ring order; every owner is a valid member and
    /// the first in name order is the claimant.
    pub fn from_owners(owners: Vec<NodeName>) -> Result<Self, RingSizeError> {
        check_ring_size(owners.len() as u32)?;
        let members: BTreeMap<NodeName, MemberStatus> = owners
            .iter()
            .map(|n| (n.clone(), MemberStatus::Valid))
            .collect();
        let claimant = members.keys().next().expect("a ring has owners").clone();
        Ok(Ring {
            next: vec![None; owners.len()],
            owners,
            members,
            claimant,
            version: 1,
            staged: Vec::new(),
        })
    }

    pub fn size(&self) -> u32 {
        self.owners.len() as u32
    }

    /// Whether a ring received from elsewhere is whole: a valid size and one owner-to-be slot
    /// per partition. (Indexing a ring that is not would panic.)
    pub fn is_well_formed(&self) -> bool {
        check_ring_size(self.size()).is_ok() && self.next.len() == self.owners.len()
    }

    pub fn owners(&self) -> &[NodeName] {
        &self.owners
    }

    pub fn owner(&self, partition: Partition) -> &NodeName {
        &self.owners[partition.index as usize]
    }

    /// The owner-to-be of a partition whose transfer is pending.
    pub fn next_owner(&self, partition: Partition) -> Option<&NodeName> {
        self.next[partition.index as usize].as_ref()
    }

    /// Every partition with a pending transfer: (partition, owner, next owner).
    pub fn pending_transfers(
        &self,
    ) -> impl Iterator<Item = (Partition, &NodeName, &NodeName)> + '_ {
        self.partitions()
            .filter_map(move |p| self.next_owner(p).map(|next| (p, self.owner(p), next)))
    }

    /// The owner of every partition once every pending transfer is done.
    pub fn future_owners(&self) -> Vec<NodeName> {
        self.partitions()
            .map(|p| self.next_owner(p).unwrap_or(self.owner(p)).clone())
            .collect()
    }

    pub fn members(&self) -> &BTreeMap<NodeName, MemberStatus> {
        &self.members
    }

    pub fn member_status(&self, node: &NodeName) -> Option<MemberStatus> {
        self.members.get(node).copied()
    }

    pub fn is_member(&self, node: &NodeName) -> bool {
        self.members.contains_key(node)
    }

    pub fn claimant(&self) -> &NodeName {
        &self.claimant
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn staged(&self) -> &[StagedChange] {
        &self.staged
    }

    /// Whether every partition is where claim wants it (no transfer pending).
    pub fn is_settled(&self) -> bool {
        self.next.iter().all(Option::is_none)
    }

    /// Every partition in ring order.
    pub fn partitions(&self) -> impl Iterator<Item = Partition> + '_ {
        let size = self.size();
        (0..size).map(move |i| Partition::new(i, size))
    }

    /// The partition a hash belongs to.
    pub fn partition_for(&self, hash: &KeyHash) -> Partition {
        partition_for(hash, self.size())
    }

    /// The `n` partitions that follow the hash clockwise, each with its owner: the key's
    /// primary preference list, before liveness is taken into account.
    pub fn preflist(&self, hash: &KeyHash, n: usize) -> Vec<IndexNode> {
        self.range_preflist(self.partition_for(hash), n)
    }

    /// The `n` partitions from `first` on, clockwise, each with its owner: the primary
    /// preference list shared by every key that belongs to `first` (its *key range*).
    pub fn range_preflist(&self, first: Partition, n: usize) -> Vec<IndexNode> {
        std::iter::successors(Some(first), |p| Some(p.next()))
            .take(n.min(self.owners.len()))
            .map(|partition| IndexNode {
                partition,
                node: self.owner(partition).clone(),
            })
            .collect()
    }

    /// Every member but `me`, in name order: whom `me` gossips with and watches.
    pub fn others<'a>(&'a self, me: &'a NodeName) -> impl Iterator<Item = &'a NodeName> + 'a {
        self.members.keys().filter(move |n| *n != me)
    }

    /// The partitions a node owns, in ring order.
    pub fn owned_by<'a>(&'a self, node: &'a NodeName) -> impl Iterator<Item = Partition> + 'a {
        self.partitions().filter(move |p| self.owner(*p) == node)
    }

    // The mutations below are the claimant's (see `membership`); each one is a new version.

    pub(crate) fn bump(&mut self) {
        self.version += 1;
    }

    pub(crate) fn set_owner(&mut self, partition: Partition, node: NodeName) {
        self.owners[partition.index as usize] = node;
    }

    pub(crate) fn set_next_owner(&mut self, partition: Partition, node: Option<NodeName>) {
        self.next[partition.index as usize] = node;
    }

    pub(crate) fn set_member(&mut self, node: NodeName, status: MemberStatus) {
        self.members.insert(node, status);
    }

    pub(crate) fn remove_member(&mut self, node: &NodeName) {
        self.members.remove(node);
    }

    pub(crate) fn set_claimant(&mut self, node: NodeName) {
        self.claimant = node;
    }

    pub(crate) fn staged_mut(&mut self) -> &mut Vec<StagedChange> {
        &mut self.staged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::hash::chash_key;

    fn hash_with_top(top: u32, rest: u8) -> KeyHash {
        let mut bytes = [rest; 20];
        bytes[..4].copy_from_slice(&top.to_be_bytes());
        KeyHash(bytes)
    }

    #[test]
    fn a_ring_with_missing_slots_is_not_well_formed() {
        let ring = Ring::new(8, NodeName::new("dev1@127.0.0.1")).unwrap();
        assert!(ring.is_well_formed());
        let mut short = ring.clone();
        short.next.pop();
        assert!(!short.is_well_formed());
        let mut odd = ring;
        odd.owners.pop();
        odd.next.pop();
        assert!(!odd.is_well_formed(), "7 partitions is not a ring size");
    }

    #[test]
    fn partition_ids_print_as_riak_prints_them() {
        assert_eq!(Partition::new(0, 64).id(), "0");
        assert_eq!(
            Partition::new(1, 64).id(),
            "22835963083295358096932575511191922182123945984"
        );
        assert_eq!(
            Partition::new(53, 64).id(),
            "1210306043414653979137426502093171875652569137152"
        );
        // The tutorial's other partition: 52 of 64.
        assert_eq!(
            Partition::new(52, 64).id(),
            "1187470080331358621040493926581979953470445191168"
        );
        assert_eq!(Partition::from_id("0", 64), Some(Partition::new(0, 64)));
        assert_eq!(
            Partition::from_id("1210306043414653979137426502093171875652569137152", 64),
            Some(Partition::new(53, 64))
        );
        assert_eq!(Partition::from_id("12", 64), None);
    }

    #[test]
    fn ids_scale_with_the_ring_size() {
        // Partition i of a ring of size s starts at i × 2^160 / s: half-way round is the same
        // number whatever the size.
        for size in [8, 16, 64, 256, 1024] {
            assert_eq!(
                Partition::new(size / 2, size).id(),
                "730750818665451459101842416358141509827966271488", // 2^159
                "ring size {size}"
            );
        }
    }

    #[test]
    fn a_hash_belongs_to_the_next_boundary_strictly_above_it() {
        let size = 64;
        // Exactly on boundary 5: the next boundary strictly above is 6.
        let on_boundary = hash_with_top(5 << 26, 0);
        assert_eq!(partition_for(&on_boundary, size).index(), 6);
        // Just above boundary 5, and just below boundary 6: both go to 6.
        assert_eq!(partition_for(&hash_with_top(5 << 26, 1), size).index(), 6);
        assert_eq!(
            partition_for(&hash_with_top((6 << 26) - 1, 0xff), size).index(),
            6
        );
        // Zero belongs to partition 1.
        assert_eq!(partition_for(&KeyHash([0; 20]), size).index(), 1);
    }

    #[test]
    fn the_top_of_the_ring_wraps_to_partition_zero() {
        for size in [8, 64, 1024] {
            assert_eq!(partition_for(&KeyHash([0xff; 20]), size).index(), 0);
            let last_boundary = hash_with_top((size - 1) << (32 - size.trailing_zeros()), 0);
            assert_eq!(partition_for(&last_boundary, size).index(), 0);
        }
    }

    #[test]
    fn the_same_key_always_lands_on_the_same_partition() {
        let ring = Ring::new(64, "dev1@127.0.0.1".into()).unwrap();
        let alice = chash_key(b"ping", b"alice");
        let first = ring.partition_for(&alice);
        for _ in 0..10 {
            assert_eq!(ring.partition_for(&chash_key(b"ping", b"alice")), first);
        }
        // Over many keys, every partition of a ring gets some.
        let mut seen = std::collections::HashSet::new();
        for i in 0..5000u32 {
            seen.insert(ring.partition_for(&chash_key(b"k", &i.to_be_bytes())));
        }
        assert_eq!(seen.len(), 64);
    }

    #[test]
    fn preflists_follow_the_ring_clockwise_and_wrap() {
        let node = NodeName::from("dev1@127.0.0.1");
        for size in [8u32, 16, 64, 1024] {
            let ring = Ring::new(size, node.clone()).unwrap();
            let near_top = hash_with_top(u32::MAX - 1, 0xff); // belongs to partition 0
            let list = ring.preflist(&near_top, 3);
            let indexes: Vec<u32> = list.iter().map(|e| e.partition.index()).collect();
            assert_eq!(indexes, vec![0, 1, 2], "size {size}");
            let below_last = hash_with_top((size - 2) << (32 - size.trailing_zeros()), 9);
            let indexes: Vec<u32> = ring
                .preflist(&below_last, 3)
                .iter()
                .map(|e| e.partition.index())
                .collect();
            assert_eq!(indexes, vec![size - 1, 0, 1], "size {size}");
            assert!(list.iter().all(|e| e.node == node));
        }
    }

    #[test]
    fn a_preflist_never_repeats_a_partition() {
        let ring = Ring::new(8, "dev1@127.0.0.1".into()).unwrap();
        assert_eq!(ring.preflist(&KeyHash([7; 20]), 20).len(), 8);
    }

    #[test]
    fn ring_sizes_must_be_powers_of_two_in_range() {
        for ok in [8, 16, 64, 512, 1024] {
            assert!(check_ring_size(ok).is_ok());
        }
        for bad in [0, 4, 63, 65, 2048, 100] {
            assert_eq!(check_ring_size(bad), Err(RingSizeError(bad)));
        }
        assert!(Ring::new(48, "n".into()).is_err());
        assert_eq!(
            RingSizeError(48).to_string(),
            "ring size 48 is not a power of two between 8 and 1024"
        );
    }
}
