//! The gossip merge rule: what a node does with a ring another member sent it. Pure, so that
//! every case is a unit test; [`crate::cluster::RingState`] applies the answer.
//!
//! Rings are ordered by version: the claimant, the only node that changes ownership, bumps it
//! with every change, so a higher version knows everything a lower one does. A node takes a
//! newer ring unless it cannot use it (another size, a malformed table) or it is not a member
//! of it: then it is a ring of another cluster, or one that removed this node.

use crate::ring::{NodeName, Ring};

/// What to do with a ring received from gossip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Take it: it is newer, and lists this node.
    Adopt,
    /// Keep ours: theirs is not newer, or belongs to a cluster we are not in.
    Keep,
    /// Keep ours: theirs cannot be used here (another ring size, or not well formed). Peers are
    /// trusted, but a ring like that would make every task that reads it panic.
    Malformed,
    /// A newer ring of our own cluster that no longer lists us: we were removed (we left, or
    /// were force-removed). Start afresh as a cluster of one, at version 1, so that our ring
    /// never looks newer than the cluster's.
    Removed,
}

/// Decides what node `me`, holding `current`, does with `theirs`.
pub fn reconcile(me: &NodeName, current: &Ring, theirs: &Ring) -> Verdict {
    if theirs.version() <= current.version() {
        return Verdict::Keep;
    }
    if theirs.size() != current.size() || !theirs.is_well_formed() {
        return Verdict::Malformed;
    }
    // Ours when its claimant is one of our members.
    let ours = current.is_member(theirs.claimant());
    if ours && current.is_member(me) && !theirs.is_member(me) && current.members().len() > 1 {
        return Verdict::Removed;
    }
    if !theirs.is_member(me) {
        return Verdict::Keep;
    }
    Verdict::Adopt
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::membership;

    fn name(k: u32) -> NodeName {
        NodeName::new(format!("dev{k}@127.0.0.1"))
    }

    /// A ring of dev1…devN, committed by dev1 (the claimant).
    fn cluster(members: u32) -> Ring {
        let mut ring = Ring::new(8, name(1)).unwrap();
        for k in 2..=members {
            membership::stage_join(&mut ring, name(k)).unwrap();
        }
        if members > 1 {
            let plan = membership::plan(&ring).unwrap();
            membership::commit(&mut ring, &plan);
        }
        ring
    }

    #[test]
    fn a_newer_ring_that_lists_us_is_adopted() {
        let older = Ring::new(8, name(2)).unwrap();
        let newer = cluster(3);
        assert!(newer.version() > older.version());
        assert_eq!(reconcile(&name(2), &older, &newer), Verdict::Adopt);
    }

    #[test]
    fn an_older_or_equal_ring_is_kept_out() {
        let ring = cluster(3);
        assert_eq!(reconcile(&name(2), &ring, &ring), Verdict::Keep);
        let older = Ring::new(8, name(2)).unwrap();
        assert_eq!(reconcile(&name(2), &ring, &older), Verdict::Keep);
    }

    #[test]
    fn a_ring_of_another_size_is_malformed() {
        let mine = Ring::new(8, name(2)).unwrap();
        let mut theirs = Ring::new(16, name(1)).unwrap();
        membership::stage_join(&mut theirs, name(2)).unwrap();
        let plan = membership::plan(&theirs).unwrap();
        membership::commit(&mut theirs, &plan);
        assert_eq!(reconcile(&name(2), &mine, &theirs), Verdict::Malformed);
    }

    #[test]
    fn a_newer_ring_of_another_cluster_without_us_is_kept_out() {
        let mine = Ring::new(8, name(5)).unwrap();
        let theirs = cluster(3);
        assert_eq!(reconcile(&name(5), &mine, &theirs), Verdict::Keep);
    }

    #[test]
    fn a_newer_ring_of_our_cluster_without_us_means_we_were_removed() {
        let mine = cluster(3);
        let mut theirs = mine.clone();
        membership::stage_force_remove(&mut theirs, name(3)).unwrap();
        let plan = membership::plan(&theirs).unwrap();
        membership::commit(&mut theirs, &plan);
        assert!(!theirs.is_member(&name(3)));
        assert_eq!(reconcile(&name(3), &mine, &theirs), Verdict::Removed);
        assert_eq!(reconcile(&name(2), &mine, &theirs), Verdict::Adopt);
    }
}
