//! The admin commands (riak_core_console / `riak-admin`): `member-status`, `ring-status`,
//! `transfers`, `cluster join|leave|force-remove|plan|commit|clear`, and `security …` (users
//! and grants, see [`security`]).
//!
//! [`run`] evaluates one command on a node and returns the text to print; the same function
//! serves the node's console, `admin` from the command line, and `attach`. The tables are laid
//! out by [`tables`], exactly as riak lays them out.

pub mod security;
pub mod tables;

use crate::error::Error;
use crate::net::host_ip;
use crate::net::wire::{ClaimantRequest, PeerAddr, Request, Response};
use crate::node::{Node, dev_cluster_port};
use crate::ring::membership::Plan;
use crate::ring::{MemberStatus, NodeName, Partition, Ring, StagedChange};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tables::{MemberRow, PendingTransfer, PlanView, RingStatusView, StagedAction, TransfersView};

/// The admin commands and their one line of help, for `help`.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "member-status",
        "the members, their state and their share of the ring",
    ),
    (
        "ring-status",
        "the claimant, pending ownership changes, unreachable nodes",
    ),
    (
        "transfers",
        "partitions waiting to be handed off, and transfers under way",
    ),
    (
        "cluster join NODE",
        "stage joining this node to NODE's cluster",
    ),
    (
        "cluster leave [NODE]",
        "stage NODE (default: this node) leaving the cluster",
    ),
    (
        "cluster force-remove NODE",
        "stage removing a node that is gone for good",
    ),
    ("cluster plan", "show what the staged changes would do"),
    ("cluster commit", "apply the plan shown by 'cluster plan'"),
    ("cluster clear", "drop the staged changes"),
    (
        "security …",
        "users and grants (add-user, del-user, grant, revoke, print-users …)",
    ),
];

/// Whether `command` is one of the admin commands.
pub fn is_admin_command(command: &str) -> bool {
    matches!(
        command,
        "member-status" | "ring-status" | "transfers" | "cluster" | "security"
    )
}

/// Runs one admin command on `node`. `Err` carries the message to print for a refused command.
pub async fn run(node: &Node, words: &[&str]) -> Result<String, Error> {
    // The tables end every line with a newline; the caller prints the last one.
    run_command(node, words)
        .await
        .map(|text| text.trim_end().to_string())
}

async fn run_command(node: &Node, words: &[&str]) -> Result<String, Error> {
    match words {
        ["member-status"] => Ok(member_status(node)),
        ["ring-status"] => Ok(ring_status(node).await),
        ["transfers"] => Ok(transfers(node).await),
        ["cluster", "join", target] => join(node, target).await,
        ["cluster", "leave"] => leave(node, node.name().clone()).await,
        ["cluster", "leave", target] => leave(node, resolve(node, target)?.0).await,
        ["cluster", "force-remove", target] => force_remove(node, resolve(node, target)?.0).await,
        ["cluster", "plan"] => plan(node).await,
        ["cluster", "commit"] => {
            node.claimant().call(ClaimantRequest::Commit).await?;
            Ok("Cluster changes committed".to_string())
        }
        ["cluster", "clear"] => {
            node.claimant().call(ClaimantRequest::Clear).await?;
            Ok("Cleared staged cluster changes".to_string())
        }
        ["security", rest @ ..] => security::run(node.access(), rest).await,
        _ => Err(Error::bad_request(usage())),
    }
}

fn usage() -> String {
    format!("Usage: one of\n{}", command_list())
}

/// The admin commands, one a line with its help, aligned: what a refused command answers,
/// and what `admin --help` lists.
pub fn command_list() -> String {
    let width = COMMANDS.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    let lines: Vec<String> = COMMANDS
        .iter()
        .map(|(command, help)| format!("  {command:width$}   {help}"))
        .collect();
    lines.join("\n")
}

fn percent(count: usize, ring: &Ring) -> f64 {
    100.0 * count as f64 / ring.size() as f64
}

/// The rows of member-status: every member with its share of the ring now and after the
/// pending transfers. Members that do not answer show as `down`.
fn member_rows(
    node: &Node,
    ring: &Ring,
    after: Option<&[NodeName]>,
    statuses: &BTreeMap<NodeName, MemberStatus>,
) -> Vec<MemberRow> {
    let pending = after
        .map(|owners| owners.to_vec())
        .or_else(|| (!ring.is_settled()).then(|| ring.future_owners()));
    statuses
        .iter()
        .map(|(member, status)| MemberRow {
            status: if node.is_up(member) {
                match status {
                    MemberStatus::Joining => tables::ShownStatus::Joining,
                    MemberStatus::Valid => tables::ShownStatus::Valid,
                    MemberStatus::Leaving => tables::ShownStatus::Leaving,
                }
            } else {
                tables::ShownStatus::Down
            },
            ring_pct: percent(ring.owned_by(member).count(), ring),
            pending_pct: pending
                .as_ref()
                .map(|owners| percent(owners.iter().filter(|o| *o == member).count(), ring)),
            node: member.to_string(),
        })
        .collect()
}

/// The rows of `member-status` for `ring` as this node sees it: every member, its status
/// (`down` when it does not answer) and its share now and once the pending transfers are done.
/// The ring page draws the same rows.
pub fn member_view(node: &Node, ring: &Ring) -> Vec<MemberRow> {
    member_rows(node, ring, None, ring.members())
}

fn member_status(node: &Node) -> String {
    tables::member_status(&member_view(node, &node.ring()))
}

async fn ring_status(node: &Node) -> String {
    let ring = node.ring();
    let vnode_types: Vec<String> = node
        .hosts()
        .all()
        .iter()
        .map(|h| h.vnode_type().to_string())
        .collect();
    let pending = ring
        .pending_transfers()
        .map(|(partition, owner, next)| PendingTransfer {
            partition_id: partition.id(),
            owner: owner.to_string(),
            next_owner: next.to_string(),
            waiting_for: vnode_types.clone(),
            complete: false,
        })
        .collect();
    let unreachable: Vec<String> = ring
        .members()
        .keys()
        .filter(|m| !node.is_up(m))
        .map(|m| m.to_string())
        .collect();
    RingStatusView {
        claimant: ring.claimant().to_string(),
        claimant_up: node.is_up(ring.claimant()),
        ring_ready: unreachable.is_empty() && all_have_ring(node, &ring).await,
        pending,
        unreachable,
    }
    .render()
}

impl RingStatusView {
    fn render(&self) -> String {
        tables::ring_status(self)
    }
}

/// Whether every other member holds the same ring version as this node.
async fn all_have_ring(node: &Node, ring: &Ring) -> bool {
    for member in ring.members().keys().filter(|m| *m != node.name()) {
        match node
            .context()
            .request(member, Request::Ping, Duration::from_secs(1))
            .await
        {
            Ok(Response::Pong { ring_version, .. }) if ring_version == ring.version() => {}
            _ => return false,
        }
    }
    true
}

async fn transfers(node: &Node) -> String {
    tables::transfers(&transfers_view(node, &node.ring()).await)
}

/// What `transfers` shows: the partitions of `ring` waiting to be handed off (every node's),
/// and the transfers every reachable member is sending now. The ring page shows the same.
pub async fn transfers_view(node: &Node, ring: &Ring) -> TransfersView {
    let mut waiting: BTreeMap<String, usize> = BTreeMap::new();
    for (_, owner, _) in ring.pending_transfers() {
        *waiting.entry(owner.to_string()).or_default() += 1;
    }
    let mut active = node.transfers();
    for member in ring
        .members()
        .keys()
        .filter(|m| *m != node.name() && node.is_up(m))
    {
        if let Ok(Response::Transfers(theirs)) = node
            .context()
            .request(member, Request::Transfers, Duration::from_secs(2))
            .await
        {
            active.extend(theirs);
        }
    }
    let active = active
        .into_iter()
        .map(|t| tables::ActiveTransfer {
            kind: t.kind,
            vnode_type: t.vnode_type,
            partition_id: Partition::new(t.partition, ring.size()).id(),
            source: t.source.to_string(),
            target: t.target.to_string(),
            objects_sent: t.objects_sent,
            objects_total: Some(t.objects_total),
            bytes_sent: t.bytes_sent,
            bytes_total: Some(t.bytes_total),
        })
        .collect();
    TransfersView {
        waiting: waiting.into_iter().collect(),
        active,
    }
}

async fn join(node: &Node, target: &str) -> Result<String, Error> {
    let (target, addr) = resolve(node, target)?;
    if target == *node.name() {
        return Err(Error::Refused(
            "Failed: This node cannot join itself in a cluster".into(),
        ));
    }
    if node.ring().members().len() > 1 {
        return Err(Error::Refused(
            "Failed: This node is already a member of a cluster".into(),
        ));
    }
    if let Some(addr) = addr {
        node.state().transport().learn(
            &target,
            PeerAddr {
                addr,
                incarnation: 0,
            },
        );
    }
    let wait = node.config().request_timeout;
    let Response::State(theirs) = node
        .context()
        .request(&target, Request::State, wait)
        .await
        .map_err(|e| Error::Refused(format!("Failed: cannot reach '{target}': {e}")))?
    else {
        return Err(Error::Refused(format!(
            "Failed: '{target}' gave an unexpected answer"
        )));
    };
    node.state().transport().learn_all(&theirs.addresses);
    let claimant = theirs.ring.claimant().clone();
    let answer = node
        .context()
        .request(
            &claimant,
            Request::Claimant(ClaimantRequest::Join(node.name().clone())),
            wait,
        )
        .await?;
    if let Response::State(state) = answer {
        node.state().adopt_cluster(state);
    }
    Ok(format!(
        "Success: staged join request for '{}' to '{target}'",
        node.name()
    ))
}

async fn leave(node: &Node, leaver: NodeName) -> Result<String, Error> {
    node.claimant()
        .call(ClaimantRequest::Leave(leaver.clone()))
        .await?;
    Ok(format!("Success: staged leave request for '{leaver}'"))
}

async fn force_remove(node: &Node, gone: NodeName) -> Result<String, Error> {
    node.claimant()
        .call(ClaimantRequest::ForceRemove(gone.clone()))
        .await?;
    Ok(format!("Success: staged remove request for '{gone}'"))
}

async fn plan(node: &Node) -> Result<String, Error> {
    let Response::Plan(plan) = node.claimant().call(ClaimantRequest::Plan).await? else {
        return Err(Error::internal("the claimant gave an unexpected answer"));
    };
    Ok(render_plan(node, &node.ring(), &plan))
}

fn render_plan(node: &Node, ring: &Ring, plan: &Plan) -> String {
    let actions = plan
        .changes
        .iter()
        .map(|change| match change {
            StagedChange::Join(n) => StagedAction::Join(n.to_string()),
            StagedChange::Leave(n) => StagedAction::Leave(n.to_string()),
            StagedChange::ForceRemove(n) => StagedAction::ForceRemove(n.to_string()),
        })
        .collect();
    tables::plan(&PlanView {
        actions,
        after: member_rows(node, ring, Some(&plan.owners_after), &plan.members_after),
        transfers: plan
            .transfers
            .iter()
            .map(|(from, to, n)| (from.to_string(), to.to_string(), *n))
            .collect(),
        warnings: plan.warnings.clone(),
    })
}

/// Reads a node argument: `'dev2@127.0.0.1'`, `dev2@127.0.0.1`, or with the port it listens
/// on, `dev2@127.0.0.1:10027`. Without a port, the address comes from what this node knows,
/// or, for a `devK` name, from the devrel numbering.
pub fn resolve(node: &Node, text: &str) -> Result<(NodeName, Option<SocketAddr>), Error> {
    let text = text.trim_matches(|c| c == '\'' || c == '"');
    let Some((short, host)) = text.split_once('@') else {
        return Err(Error::Refused(format!(
            "Failed: '{text}' is not a node name (like dev1@127.0.0.1)"
        )));
    };
    if let Some((host_only, port)) = host.rsplit_once(':')
        && let Ok(port) = port.parse::<u16>()
    {
        let name = NodeName::new(format!("{short}@{host_only}"));
        let addr = format!("{host_only}:{port}")
            .parse()
            .map_err(|_| Error::Refused(format!("Failed: '{text}' has no valid address")))?;
        return Ok((name, Some(addr)));
    }
    let name = NodeName::new(text);
    if let Some(addr) = node.state().transport().address_of(&name) {
        return Ok((name, Some(addr)));
    }
    let dev = short
        .strip_prefix("dev")
        .and_then(|k| k.parse::<u32>().ok())
        .filter(|k| (1..=99).contains(k));
    if let Some(k) = dev {
        let addr = format!("{host}:{}", dev_cluster_port(k)).parse().ok();
        return Ok((name, addr));
    }
    // Another host: the nodes of a cluster on several hosts listen on the same port, as
    // riak's do, so the node is at its host on this node's port.
    let addr = host_ip(host).map(|ip| SocketAddr::new(ip, node.addr().port()));
    Ok((name, addr))
}
