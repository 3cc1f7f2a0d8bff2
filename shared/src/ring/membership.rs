//! Cluster membership changes, as the claimant makes them (riak_core_claimant).
//!
//! Changes are *staged* first (`cluster join/leave/force-remove`), then `cluster plan` shows
//! what they would do, and `cluster commit` applies exactly that plan. Committing never moves
//! data by itself: it records the next owner of each partition that changes hands, and a
//! partition changes owner only when its transfer completes ([`complete_transfer`]). A
//! leaving node is removed once it owns nothing.
//!
//! Every function here is a pure change of a [`Ring`]; the node runs them on the claimant and
//! gossips the result.

use crate::ring::claim;
use crate::ring::{MemberStatus, NodeName, Partition, Ring, StagedChange};
use std::collections::BTreeMap;

/// Why a membership request was refused. Prints riak's messages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
pub enum MembershipError {
    #[error("Failed: '{0}' is not a member of the cluster.")]
    NotMember(NodeName),
    #[error("Failed: '{0}' is the only member.")]
    OnlyMember(NodeName),
    #[error("Failed: '{0}' is already a member of a cluster.")]
    AlreadyMember(NodeName),
    #[error("There are no staged changes")]
    NoStagedChanges,
    #[error("You must verify the plan with 'cluster plan' before committing")]
    MustPlanFirst,
    #[error("The plan has changed. Verify with 'cluster plan' before committing")]
    PlanChanged,
    #[error("Failed: no valid member would be left to own the ring.")]
    NobodyLeft,
}

/// What committing the staged changes would do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    pub changes: Vec<StagedChange>,
    /// Members and their states after the transition.
    pub members_after: BTreeMap<NodeName, MemberStatus>,
    /// The owner of every partition once the transfers are done.
    pub owners_after: Vec<NodeName>,
    /// Ownership transfers: (from, to, number of partitions), sorted.
    pub transfers: Vec<(NodeName, NodeName, usize)>,
    /// Warnings, without riak's `WARNING: ` prefix.
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn transfer_count(&self) -> usize {
        self.transfers.iter().map(|(_, _, n)| n).sum()
    }
}

/// Stages `node` joining the cluster; it appears as `joining` at once.
pub fn stage_join(ring: &mut Ring, node: NodeName) -> Result<(), MembershipError> {
    if ring.is_member(&node) {
        return Err(MembershipError::AlreadyMember(node));
    }
    ring.set_member(node.clone(), MemberStatus::Joining);
    ring.staged_mut().push(StagedChange::Join(node));
    ring.bump();
    Ok(())
}

/// Stages `node` leaving: it will hand its partitions over, then be removed.
pub fn stage_leave(ring: &mut Ring, node: NodeName) -> Result<(), MembershipError> {
    check_removable(ring, &node)?;
    replace_staged(ring, StagedChange::Leave(node));
    Ok(())
}

/// Stages `node` being removed without handing anything over (it is gone for good).
pub fn stage_force_remove(ring: &mut Ring, node: NodeName) -> Result<(), MembershipError> {
    check_removable(ring, &node)?;
    replace_staged(ring, StagedChange::ForceRemove(node));
    Ok(())
}

/// Drops every staged change; nodes staged to join are no longer members.
pub fn clear(ring: &mut Ring) -> Result<(), MembershipError> {
    if ring.staged().is_empty() {
        return Err(MembershipError::NoStagedChanges);
    }
    let staged = std::mem::take(ring.staged_mut());
    for change in staged {
        if let StagedChange::Join(node) = change {
            ring.remove_member(&node);
        }
    }
    ring.bump();
    Ok(())
}

fn check_removable(ring: &Ring, node: &NodeName) -> Result<(), MembershipError> {
    match ring.member_status(node) {
        None => Err(MembershipError::NotMember(node.clone())),
        Some(_) if ring.members().len() == 1 => Err(MembershipError::OnlyMember(node.clone())),
        Some(_) => Ok(()),
    }
}

fn replace_staged(ring: &mut Ring, change: StagedChange) {
    let node = change.node().clone();
    ring.staged_mut()
        .retain(|c| c.node() != &node || matches!(c, StagedChange::Join(_)));
    ring.staged_mut().push(change);
    ring.bump();
}

/// Computes what committing the staged changes would do.
pub fn plan(ring: &Ring) -> Result<Plan, MembershipError> {
    if ring.staged().is_empty() {
        return Err(MembershipError::NoStagedChanges);
    }
    let mut members_after = ring.members().clone();
    let mut removed = Vec::new();
    for change in ring.staged() {
        match change {
            StagedChange::Join(n) => {
                members_after.insert(n.clone(), MemberStatus::Valid);
            }
            StagedChange::Leave(n) => {
                members_after.insert(n.clone(), MemberStatus::Leaving);
            }
            StagedChange::ForceRemove(n) => {
                members_after.remove(n);
                removed.push(n.clone());
            }
        }
    }
    let owning: Vec<String> = members_after
        .iter()
        .filter(|(_, s)| **s == MemberStatus::Valid)
        .map(|(n, _)| n.to_string())
        .collect();
    if owning.is_empty() {
        return Err(MembershipError::NobodyLeft);
    }
    // Claim starts from where partitions are heading already, so that a plan made while
    // transfers are pending does not undo them.
    let basis: Vec<String> = ring.future_owners().iter().map(|n| n.to_string()).collect();
    let owners_after: Vec<NodeName> = claim::claim(&basis, &owning, claim::DEFAULT_TARGET_N)
        .into_iter()
        .map(NodeName::new)
        .collect();
    let mut transfers: BTreeMap<(NodeName, NodeName), usize> = BTreeMap::new();
    for p in ring.partitions() {
        let (from, to) = (ring.owner(p), &owners_after[p.index() as usize]);
        // A force-removed node hands nothing over: its partitions just get a new owner.
        if from != to && !removed.contains(from) {
            *transfers.entry((from.clone(), to.clone())).or_default() += 1;
        }
    }
    let mut warnings = Vec::new();
    let names: Vec<String> = owners_after.iter().map(|n| n.to_string()).collect();
    if owning.len() > 1 && claim::spread_violations(&names, claim::DEFAULT_TARGET_N) > 0 {
        warnings.push("Not all replicas will be on distinct nodes".to_string());
    }
    Ok(Plan {
        changes: ring.staged().to_vec(),
        members_after,
        owners_after,
        transfers: transfers
            .into_iter()
            .map(|((from, to), n)| (from, to, n))
            .collect(),
        warnings,
    })
}

/// Applies a plan: member states change now, partitions get their next owners, and the
/// staged changes are cleared. Returns the nodes that left the cluster with this commit.
pub fn commit(ring: &mut Ring, plan: &Plan) -> Vec<NodeName> {
    let mut gone = Vec::new();
    for change in &plan.changes {
        match change {
            StagedChange::Join(n) => ring.set_member(n.clone(), MemberStatus::Valid),
            StagedChange::Leave(n) => ring.set_member(n.clone(), MemberStatus::Leaving),
            StagedChange::ForceRemove(n) => {
                ring.remove_member(n);
                gone.push(n.clone());
            }
        }
    }
    let partitions: Vec<Partition> = ring.partitions().collect();
    for p in partitions {
        let to = plan.owners_after[p.index() as usize].clone();
        if gone.contains(ring.owner(p)) {
            ring.set_owner(p, to);
            ring.set_next_owner(p, None);
        } else if *ring.owner(p) == to {
            ring.set_next_owner(p, None);
        } else {
            ring.set_next_owner(p, Some(to));
        }
    }
    ring.staged_mut().clear();
    gone.extend(settle(ring));
    ring.bump();
    gone
}

/// Records that `partition` was handed from `from` to `to`. Returns the nodes that left the
/// cluster because of it (a leaving node that owns nothing any more), or `None` when the ring
/// did not expect that transfer.
pub fn complete_transfer(
    ring: &mut Ring,
    partition: Partition,
    from: &NodeName,
    to: &NodeName,
) -> Option<Vec<NodeName>> {
    if ring.owner(partition) != from || ring.next_owner(partition) != Some(to) {
        return None;
    }
    ring.set_owner(partition, to.clone());
    ring.set_next_owner(partition, None);
    let gone = settle(ring);
    ring.bump();
    Some(gone)
}

/// Removes leaving members that own nothing and are owed nothing, and moves the claimant
/// role off a node that is not valid any more.
fn settle(ring: &mut Ring) -> Vec<NodeName> {
    let done: Vec<NodeName> = ring
        .members()
        .iter()
        .filter(|(_, s)| **s == MemberStatus::Leaving)
        .map(|(n, _)| n.clone())
        .filter(|n| ring.owned_by(n).next().is_none())
        .collect();
    for node in &done {
        ring.remove_member(node);
    }
    if ring.member_status(ring.claimant()) != Some(MemberStatus::Valid) {
        let valid = ring
            .members()
            .iter()
            .find(|(_, s)| **s == MemberStatus::Valid)
            .map(|(n, _)| n.clone());
        if let Some(new_claimant) = valid {
            ring.set_claimant(new_claimant);
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(k: u32) -> NodeName {
        NodeName::new(format!("dev{k}@127.0.0.1"))
    }

    fn settle_all(ring: &mut Ring) -> Vec<NodeName> {
        let pending: Vec<(Partition, NodeName, NodeName)> = ring
            .pending_transfers()
            .map(|(p, a, b)| (p, a.clone(), b.clone()))
            .collect();
        let mut gone = Vec::new();
        for (p, from, to) in pending {
            gone.extend(complete_transfer(ring, p, &from, &to).expect("expected transfer"));
        }
        gone
    }

    #[test]
    fn joining_three_nodes_to_one_plans_48_transfers() {
        let mut ring = Ring::new(64, n(1)).unwrap();
        for k in 2..=4 {
            stage_join(&mut ring, n(k)).unwrap();
            assert_eq!(ring.member_status(&n(k)), Some(MemberStatus::Joining));
        }
        let plan = plan(&ring).unwrap();
        assert_eq!(plan.transfer_count(), 48);
        assert_eq!(
            plan.transfers,
            vec![(n(1), n(2), 16), (n(1), n(3), 16), (n(1), n(4), 16)]
        );
        assert!(plan.warnings.is_empty());
        let version = ring.version();
        commit(&mut ring, &plan);
        assert!(ring.version() > version);
        assert!(ring.staged().is_empty());
        assert_eq!(ring.pending_transfers().count(), 48);
        // Nothing moves until transfers complete.
        assert_eq!(ring.owned_by(&n(1)).count(), 64);
        settle_all(&mut ring);
        for k in 1..=4 {
            assert_eq!(ring.owned_by(&n(k)).count(), 16);
            assert_eq!(ring.member_status(&n(k)), Some(MemberStatus::Valid));
        }
        assert!(ring.is_settled());
    }

    #[test]
    fn a_leaving_node_hands_everything_over_then_is_removed() {
        let mut ring = Ring::new(64, n(1)).unwrap();
        for k in 2..=4 {
            stage_join(&mut ring, n(k)).unwrap();
        }
        let p = plan(&ring).unwrap();
        commit(&mut ring, &p);
        settle_all(&mut ring);
        stage_leave(&mut ring, n(3)).unwrap();
        let p = plan(&ring).unwrap();
        assert_eq!(p.members_after[&n(3)], MemberStatus::Leaving);
        // Every one of the leaver's 16 partitions moves. (Going down to three nodes, claim
        // also reshuffles others so that any three neighbouring partitions sit on three
        // distinct nodes wherever the ring allows: see `claim`.)
        let from_leaver: usize = p
            .transfers
            .iter()
            .filter(|(from, _, _)| *from == n(3))
            .map(|(_, _, c)| c)
            .sum();
        assert_eq!(from_leaver, 16);
        assert!(p.owners_after.iter().all(|o| *o != n(3)));
        assert!(commit(&mut ring, &p).is_empty());
        assert_eq!(ring.member_status(&n(3)), Some(MemberStatus::Leaving));
        let gone = settle_all(&mut ring);
        assert_eq!(gone, vec![n(3)]);
        assert!(!ring.is_member(&n(3)));
        assert_eq!(ring.owned_by(&n(3)).count(), 0);
    }

    #[test]
    fn the_claimant_role_moves_when_the_claimant_leaves() {
        let mut ring = Ring::new(16, n(1)).unwrap();
        stage_join(&mut ring, n(2)).unwrap();
        let p = plan(&ring).unwrap();
        commit(&mut ring, &p);
        settle_all(&mut ring);
        stage_leave(&mut ring, n(1)).unwrap();
        let p = plan(&ring).unwrap();
        commit(&mut ring, &p);
        assert_eq!(ring.claimant(), &n(2));
        settle_all(&mut ring);
        assert_eq!(
            ring.members().keys().cloned().collect::<Vec<_>>(),
            vec![n(2)]
        );
    }

    #[test]
    fn force_remove_reassigns_without_transfers() {
        let mut ring = Ring::new(16, n(1)).unwrap();
        stage_join(&mut ring, n(2)).unwrap();
        let p = plan(&ring).unwrap();
        commit(&mut ring, &p);
        settle_all(&mut ring);
        stage_force_remove(&mut ring, n(2)).unwrap();
        let p = plan(&ring).unwrap();
        assert_eq!(p.transfer_count(), 0);
        assert_eq!(commit(&mut ring, &p), vec![n(2)]);
        assert!(ring.is_settled());
        assert_eq!(ring.owned_by(&n(1)).count(), 16);
    }

    #[test]
    fn refusals_say_why_in_riaks_words() {
        let mut ring = Ring::new(16, n(1)).unwrap();
        assert_eq!(
            stage_leave(&mut ring, n(1)).unwrap_err().to_string(),
            "Failed: 'dev1@127.0.0.1' is the only member."
        );
        assert_eq!(
            stage_leave(&mut ring, n(7)).unwrap_err().to_string(),
            "Failed: 'dev7@127.0.0.1' is not a member of the cluster."
        );
        assert_eq!(
            plan(&ring).unwrap_err().to_string(),
            "There are no staged changes"
        );
        assert_eq!(
            clear(&mut ring).unwrap_err(),
            MembershipError::NoStagedChanges
        );
        stage_join(&mut ring, n(2)).unwrap();
        assert_eq!(
            stage_join(&mut ring, n(2)).unwrap_err(),
            MembershipError::AlreadyMember(n(2))
        );
        clear(&mut ring).unwrap();
        assert!(!ring.is_member(&n(2)));
        assert!(ring.staged().is_empty());
    }

    #[test]
    fn three_nodes_on_64_partitions_warn_about_spread() {
        let mut ring = Ring::new(64, n(1)).unwrap();
        stage_join(&mut ring, n(2)).unwrap();
        stage_join(&mut ring, n(3)).unwrap();
        let p = plan(&ring).unwrap();
        assert_eq!(
            p.warnings,
            vec!["Not all replicas will be on distinct nodes".to_string()]
        );
    }

    #[test]
    fn an_unexpected_transfer_is_ignored() {
        let mut ring = Ring::new(16, n(1)).unwrap();
        let p0 = Partition::new(0, 16);
        assert!(complete_transfer(&mut ring, p0, &n(1), &n(2)).is_none());
    }

    /// riak's sentences, byte for byte: `cluster` commands print them as they are.
    #[test]
    fn refusals_print_riaks_messages() {
        let cases = [
            (
                MembershipError::NotMember(n(2)),
                "Failed: 'dev2@127.0.0.1' is not a member of the cluster.",
            ),
            (
                MembershipError::OnlyMember(n(1)),
                "Failed: 'dev1@127.0.0.1' is the only member.",
            ),
            (
                MembershipError::AlreadyMember(n(3)),
                "Failed: 'dev3@127.0.0.1' is already a member of a cluster.",
            ),
            (
                MembershipError::NoStagedChanges,
                "There are no staged changes",
            ),
            (
                MembershipError::MustPlanFirst,
                "You must verify the plan with 'cluster plan' before committing",
            ),
            (
                MembershipError::PlanChanged,
                "The plan has changed. Verify with 'cluster plan' before committing",
            ),
            (
                MembershipError::NobodyLeft,
                "Failed: no valid member would be left to own the ring.",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }
}
