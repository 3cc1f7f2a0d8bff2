//! Text tables for the admin console.
//!
//! Attendees compare our console with riak's `riak-admin`, so every layout here follows
//! riak_core_console (`member_status/1`, `print_plan/3`, `ring_status/1`, `transfers/1`), down
//! to column widths and blank lines. (The handoff's own log line is the handoff's:
//! `handoff::report`.) The
//! functions are pure: they take plain view structs that the caller fills from the ring and
//! the handoff manager, and return a `String` in which every line ends with `\n`.
//!
//! Deliberate differences from riak, all in the direction of a stable, readable output:
//! - no output ends with a blank line (riak often prints a trailing `~n`);
//! - long Erlang lists and long node names are never wrapped or truncated;
//! - `transfers` has no wall-clock columns (`started`, `last update`) and no rates;
//! - a plan always shows exactly one cluster transition.

use crate::handoff::report::human_bytes;
use crate::ring::HandoffKind;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Width of every banner and rule line, as in riak_core_console.
const WIDTH: usize = 79;

/// Inner width of the transfer progress bar: riak's 50 columns minus the 7 fixed characters
/// (`|`, `|`, a space, three digits of percent and `%`).
const BAR_WIDTH: usize = 43;

/// Width riak centres each node name in, on the `src =======> target` line.
const NODE_FIELD: usize = 25;

/// riak's `?ARROW` printed with `~10s`: right-justified, so one leading space.
const ARROW: &str = " =======> ";

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// A banner: the title with one space each side, centred in '=' to 79 columns (left side gets
/// the floor: " Membership " → 33 '=' left, 34 right). Without trailing newline.
pub fn banner(title: &str) -> String {
    let label = format!(" {title} ");
    let fill = WIDTH.saturating_sub(label.chars().count());
    let left = fill / 2;
    format!("{}{label}{}", "=".repeat(left), "=".repeat(fill - left))
}

/// A full-width line of `ch`, with its newline (riak's `~79..-s~n`).
pub(crate) fn rule(ch: char) -> String {
    let mut line: String = std::iter::repeat_n(ch, WIDTH).collect();
    line.push('\n');
    line
}

/// A node as Erlang's `~p` prints a node atom: node names contain `@` and `.`, so they are
/// always quoted.
fn quoted(node: &str) -> String {
    format!("'{node}'")
}

/// A list as Erlang's `~p` prints it: `[a,b]`, no spaces.
fn erlang_list<S: AsRef<str>>(items: &[S]) -> String {
    let joined: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("[{}]", joined.join(","))
}

/// Centres `text` in `width` like Erlang's `string:centre/2`, which gives the extra space of
/// an odd padding to the left. Unlike Erlang, text wider than `width` is kept whole.
fn centre(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len >= width {
        return text.to_string();
    }
    let right = (width - len) / 2;
    let left = width - len - right;
    format!("{}{text}{}", " ".repeat(left), " ".repeat(right))
}

/// A line for the output: `text` with trailing spaces removed and a newline added, so padded
/// fields never leave invisible trailing whitespace.
fn line(text: &str) -> String {
    let mut out = text.trim_end().to_string();
    out.push('\n');
    out
}

// ---------------------------------------------------------------------------------------------
// member-status
// ---------------------------------------------------------------------------------------------

/// What `member-status` shows in its Status column: the member's status in the ring (riak's
/// joining, valid, leaving, exiting), or `down` when it does not answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ShownStatus {
    Joining,
    Valid,
    Leaving,
    Exiting,
    Down,
}

impl ShownStatus {
    /// The status as riak prints it (the atom's name).
    pub fn as_str(&self) -> &'static str {
        match self {
            ShownStatus::Joining => "joining",
            ShownStatus::Valid => "valid",
            ShownStatus::Leaving => "leaving",
            ShownStatus::Exiting => "exiting",
            ShownStatus::Down => "down",
        }
    }
}

/// One row of `member-status`.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    pub status: ShownStatus,
    /// Share of the ring the node owns now, in percent.
    pub ring_pct: f64,
    /// Share it will own once pending transfers finish; `None` prints `--`.
    pub pending_pct: Option<f64>,
    pub node: String,
}

/// `member-status`. Rows sorted by status name (alphabetically, as riak sorts status atoms:
/// down, exiting, joining, leaving, valid), then node.
///
/// Node names are printed unquoted, as in REFERENCE.md (riak's `~p` would quote them).
pub fn member_status(rows: &[MemberRow]) -> String {
    let mut sorted: Vec<&MemberRow> = rows.iter().collect();
    // riak keysorts on the status atom, and atoms compare by name.
    sorted.sort_by(|a, b| {
        (a.status.as_str(), a.node.as_str()).cmp(&(b.status.as_str(), b.node.as_str()))
    });

    let mut out = banner("Membership");
    out.push('\n');
    out.push_str("Status     Ring    Pending    Node\n");
    out.push_str(&rule('-'));
    for row in sorted {
        out.push_str(&member_line(row));
    }
    out.push_str(&rule('-'));
    out.push_str(&member_counts(rows));
    out
}

/// riak's `~-8s  ~5.1f%    ~5.1f%    ~p~n`, or `~-8s  ~5.1f%      --      ~p~n` when nothing
/// is pending.
fn member_line(row: &MemberRow) -> String {
    let pending = match row.pending_pct {
        Some(pct) => format!("    {}    ", percent(pct)),
        None => "      --      ".to_string(),
    };
    format!(
        "{:<8}  {}{pending}{}\n",
        row.status.as_str(),
        percent(row.ring_pct),
        row.node
    )
}

/// `~5.1f%`.
fn percent(pct: f64) -> String {
    format!("{pct:5.1}%")
}

/// The footer line; riak's order is Valid, Leaving, Exiting, Joining, Down.
fn member_counts(rows: &[MemberRow]) -> String {
    let count = |status: ShownStatus| rows.iter().filter(|r| r.status == status).count();
    format!(
        "Valid:{} / Leaving:{} / Exiting:{} / Joining:{} / Down:{}\n",
        count(ShownStatus::Valid),
        count(ShownStatus::Leaving),
        count(ShownStatus::Exiting),
        count(ShownStatus::Joining),
        count(ShownStatus::Down)
    )
}

// ---------------------------------------------------------------------------------------------
// cluster plan
// ---------------------------------------------------------------------------------------------

/// A staged membership change; each carries the node's name.
#[derive(Debug, Clone, PartialEq)]
pub enum StagedAction {
    Join(String),
    Leave(String),
    ForceRemove(String),
}

/// What `cluster plan` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanView {
    /// Staged changes, printed in this order (riak prints the claimant's list as it is).
    pub actions: Vec<StagedAction>,
    /// The membership after the transition (same layout as member-status, embedded).
    pub after: Vec<MemberRow>,
    /// (from, to, count) ownership transfers that the plan causes.
    pub transfers: Vec<(String, String, usize)>,
    /// Warning lines (without "WARNING: " prefix), e.g. "Not all replicas will be on distinct
    /// nodes". These are the transition's warnings, printed after its member-status as riak
    /// does. The `All of 'n' replicas will be lost` warning of a force-remove is derived from
    /// `actions` (riak prints it under the staged changes), so it does not belong here.
    pub warnings: Vec<String>,
}

/// `cluster plan`. With no actions: "There are no staged changes\n".
///
/// Layout (riak's `print_plan/3` and `output/2`): staged changes, a blank line, the
/// force-remove warnings, a blank line, the NOTE, the transition header, the member-status
/// after the transition, then each warning after a blank line, then the transfers after a
/// blank line. riak omits the transfers section when nothing moves, and so do we. Transfers
/// are merged per (from, to) and sorted, because riak's tally comes out of a `dict` in no
/// useful order.
pub fn plan(view: &PlanView) -> String {
    if view.actions.is_empty() {
        return "There are no staged changes\n".to_string();
    }
    let mut out = staged_changes(&view.actions);
    out.push('\n');
    out.push_str(&lost_replica_warnings(&view.actions));
    out.push('\n');
    out.push_str("NOTE: Applying these changes will result in 1 cluster transition\n\n");
    out.push_str(&transition_header(1, 1));
    out.push_str(&member_status(&view.after));
    for warning in &view.warnings {
        let _ = write!(out, "\nWARNING: {warning}\n");
    }
    out.push_str(&plan_transfers(&view.transfers));
    out
}

/// The "Staged Changes" table.
fn staged_changes(actions: &[StagedAction]) -> String {
    let mut out = banner("Staged Changes");
    out.push('\n');
    out.push_str("Action         Details(s)\n");
    out.push_str(&rule('-'));
    for action in actions {
        let (name, node) = match action {
            StagedAction::Join(node) => ("join", node),
            StagedAction::Leave(node) => ("leave", node),
            StagedAction::ForceRemove(node) => ("force-remove", node),
        };
        let _ = writeln!(out, "{name:<15}{}", quoted(node));
    }
    out.push_str(&rule('-'));
    out
}

/// riak warns for every force-removed node, right under the staged changes.
fn lost_replica_warnings(actions: &[StagedAction]) -> String {
    actions
        .iter()
        .filter_map(|action| match action {
            StagedAction::ForceRemove(node) => Some(format!(
                "WARNING: All of {} replicas will be lost\n",
                quoted(node)
            )),
            _ => None,
        })
        .collect()
}

/// The `#` block announcing transition `index` of `total`, followed by its blank line.
fn transition_header(index: usize, total: usize) -> String {
    let mut out = rule('#');
    // riak: `~24.. s After cluster transition ~b/~b~n`, i.e. 25 spaces before "After".
    let _ = writeln!(out, "{:24} After cluster transition {index}/{total}", "");
    out.push_str(&rule('#'));
    out.push('\n');
    out
}

/// "Transfers resulting from cluster changes", with its leading blank line, or nothing when
/// no partition moves.
fn plan_transfers(transfers: &[(String, String, usize)]) -> String {
    let mut tally: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (from, to, count) in transfers {
        *tally.entry((from.as_str(), to.as_str())).or_default() += count;
    }
    tally.retain(|_, count| *count > 0);
    let total: usize = tally.values().sum();
    if total == 0 {
        return String::new();
    }
    let mut out = format!("\nTransfers resulting from cluster changes: {total}\n");
    for ((from, to), count) in tally {
        let _ = writeln!(
            out,
            "  {count} transfers from {} to {}",
            quoted(from),
            quoted(to)
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// ring-status
// ---------------------------------------------------------------------------------------------

/// One partition waiting for an ownership change.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingTransfer {
    /// The partition index, in decimal.
    pub partition_id: String,
    pub owner: String,
    pub next_owner: String,
    /// Vnode types concerned, e.g. `["kv_vnode"]`.
    pub waiting_for: Vec<String>,
    /// Whether these vnode types have finished handing off.
    pub complete: bool,
}

/// What `ring-status` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct RingStatusView {
    pub claimant: String,
    pub claimant_up: bool,
    pub ring_ready: bool,
    pub pending: Vec<PendingTransfer>,
    pub unreachable: Vec<String>,
}

/// `ring-status`: Claimant, Ownership Handoff and Unreachable Nodes sections.
///
/// As in riak: a down claimant makes ring readiness `unknown` (it could not be asked);
/// pending transfers are grouped by (owner, next owner) in sorted order, each group closed
/// by a dashed line; and a group whose owner or next owner is unreachable gets riak's
/// `!!! node is DOWN !!!` lines and a bare list of indexes instead of the per-vnode detail.
pub fn ring_status(view: &RingStatusView) -> String {
    let mut out = claimant_section(view);
    out.push('\n');
    out.push_str(&ownership_section(&view.pending, &view.unreachable));
    out.push('\n');
    out.push_str(&unreachable_section(&view.unreachable));
    out
}

fn claimant_section(view: &RingStatusView) -> String {
    let mut out = banner("Claimant");
    out.push('\n');
    let _ = writeln!(out, "Claimant:  {}", quoted(&view.claimant));
    if view.claimant_up {
        let _ = writeln!(out, "Status:     up\nRing Ready: {}", view.ring_ready);
    } else {
        out.push_str("Status:     down\nRing Ready: unknown\n");
    }
    out
}

fn ownership_section(pending: &[PendingTransfer], unreachable: &[String]) -> String {
    let mut out = banner("Ownership Handoff");
    out.push('\n');
    if pending.is_empty() {
        out.push_str("No pending changes.\n");
        return out;
    }
    // riak folds over an orddict keyed by {Owner, NextOwner}: groups come out sorted.
    let mut groups: BTreeMap<(&str, &str), Vec<&PendingTransfer>> = BTreeMap::new();
    for transfer in pending {
        groups
            .entry((transfer.owner.as_str(), transfer.next_owner.as_str()))
            .or_default()
            .push(transfer);
    }
    for ((owner, next_owner), transfers) in groups {
        out.push_str(&ownership_group(owner, next_owner, &transfers, unreachable));
    }
    out
}

/// One (owner, next owner) group, closed by riak's blank line and dashed rule.
fn ownership_group(
    owner: &str,
    next_owner: &str,
    transfers: &[&PendingTransfer],
    unreachable: &[String],
) -> String {
    let mut out = format!("Owner:      {owner}\nNext Owner: {next_owner}\n");
    let down: Vec<&str> = [owner, next_owner]
        .into_iter()
        .filter(|node| unreachable.iter().any(|u| u == node))
        .collect();
    if down.is_empty() {
        for transfer in transfers {
            out.push_str(&transfer_detail(transfer));
        }
    } else {
        // Nothing useful can be said about handoffs involving a down node: riak only names
        // the node and lists the indexes.
        out.push('\n');
        for node in down {
            let _ = writeln!(out, "!!! {node} is DOWN !!!");
        }
        out.push('\n');
        for transfer in transfers {
            let _ = writeln!(out, "Index: {}", transfer.partition_id);
        }
    }
    out.push('\n');
    out.push_str(&rule('-'));
    out
}

/// riak's `print_transfer_status/1`: a blank line, the index, then what it waits on.
fn transfer_detail(transfer: &PendingTransfer) -> String {
    let label = if transfer.complete {
        "Complete:  "
    } else {
        "Waiting on:"
    };
    format!(
        "\nIndex: {}\n  {label} {}\n",
        transfer.partition_id,
        erlang_list(&transfer.waiting_for)
    )
}

fn unreachable_section(unreachable: &[String]) -> String {
    let mut out = banner("Unreachable Nodes");
    out.push('\n');
    if unreachable.is_empty() {
        out.push_str("All nodes are up and reachable\n");
        return out;
    }
    let nodes: Vec<String> = unreachable.iter().map(|n| quoted(n)).collect();
    let _ = writeln!(
        out,
        "The following nodes are unreachable: {}",
        erlang_list(&nodes)
    );
    out.push_str(concat!(
        "\n",
        "WARNING: The cluster state will not converge until all nodes\n",
        "are up. Once the above nodes come back online, convergence\n",
        "will continue. If the outages are long-term or permanent, you\n",
        "can forcibly remove the nodes from the cluster (admin cluster\n",
        "force-remove NODE, then cluster plan and cluster commit) to\n",
        "allow the remaining nodes to settle.\n",
    ));
    out
}

// ---------------------------------------------------------------------------------------------
// transfers
// ---------------------------------------------------------------------------------------------

/// A handoff in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveTransfer {
    pub kind: HandoffKind,
    pub vnode_type: String,
    pub partition_id: String,
    pub source: String,
    pub target: String,
    pub objects_sent: u64,
    pub objects_total: Option<u64>,
    pub bytes_sent: u64,
    pub bytes_total: Option<u64>,
}

impl ActiveTransfer {
    /// The objects sent, as `transfers` prints them: `120 of 400`, or `120`.
    pub fn objects_shown(&self) -> String {
        match self.objects_total {
            Some(total) => format!("{} of {total}", self.objects_sent),
            None => self.objects_sent.to_string(),
        }
    }

    /// The bytes sent, as `transfers` prints them: `3.75 KB of 12.50 KB`, or `3.75 KB`.
    pub fn bytes_shown(&self) -> String {
        match self.bytes_total {
            Some(total) => format!("{} of {}", human_bytes(self.bytes_sent), human_bytes(total)),
            None => human_bytes(self.bytes_sent),
        }
    }

    /// How far along it is, in whole percent, as its progress bar says (truncated: 100 only
    /// once everything is sent); `None` when neither total is known.
    pub fn percent(&self) -> Option<u64> {
        progress(self).map(|(sent, total)| whole_percent(sent, total))
    }
}

/// What `transfers` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct TransfersView {
    /// (node, partitions waiting to hand off) — only nodes with > 0.
    pub waiting: Vec<(String, usize)>,
    pub active: Vec<ActiveTransfer>,
}

/// `transfers`.
///
/// One line per node with partitions waiting, then (only when some are running) the
/// `Active Transfers:` section with one block per transfer, blocks separated by a blank line.
/// `No transfers active` is printed only when nothing waits and nothing runs (riak prints it
/// whenever nothing waits, even above a list of active transfers, which reads oddly).
pub fn transfers(view: &TransfersView) -> String {
    let mut out = String::new();
    for (node, count) in &view.waiting {
        let noun = if *count == 1 {
            "partition"
        } else {
            "partitions"
        };
        let _ = writeln!(out, "{} waiting to handoff {count} {noun}", quoted(node));
    }
    if view.active.is_empty() {
        if out.is_empty() {
            out.push_str("No transfers active\n");
        }
        return out;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str("Active Transfers:\n");
    for transfer in &view.active {
        out.push('\n');
        out.push_str(&active_transfer(transfer));
    }
    out
}

/// One transfer: riak's header lines, then its arrow box (nodes, then the progress bar).
fn active_transfer(t: &ActiveTransfer) -> String {
    let (objects, bytes) = (t.objects_shown(), t.bytes_shown());
    let mut out = String::new();
    let _ = writeln!(out, "transfer type: {}", t.kind);
    let _ = writeln!(out, "vnode type: {}", t.vnode_type);
    let _ = writeln!(out, "partition: {}", t.partition_id);
    let _ = writeln!(out, "objects transferred: {objects}");
    let _ = writeln!(out, "bytes transferred: {bytes}");
    out.push('\n');
    out.push_str(&arrow_box(t));
    out
}

/// riak's `print_arrowbox/5` without the rate lines: the two nodes centred in 25 columns
/// around the arrow, and under them the progress bar centred in the same width.
fn arrow_box(t: &ActiveTransfer) -> String {
    let nodes = format!(
        "{} {ARROW} {}",
        centre(&t.source, NODE_FIELD),
        centre(&t.target, NODE_FIELD)
    );
    let width = 2 * NODE_FIELD + ARROW.len() + 2;
    let progress = match progress(t) {
        // riak prefixes five spaces so the bar sits a little right of centre.
        Some((sent, total)) => format!("     {}", progress_bar(sent, total)),
        None => "unknown".to_string(),
    };
    let mut out = line(&nodes);
    out.push_str(&line(&centre(&progress, width)));
    out
}

/// (done, total) to measure progress by: bytes when their total is known, else objects,
/// else nothing.
fn progress(t: &ActiveTransfer) -> Option<(u64, u64)> {
    match (t.bytes_total, t.objects_total) {
        (Some(total), _) => Some((t.bytes_sent, total)),
        (None, Some(total)) => Some((t.objects_sent, total)),
        (None, None) => None,
    }
}

/// riak's 50-column bar, `|====      |  30%`. Percent and bar length are truncated, not
/// rounded, so 100% only shows once everything is sent. A zero total means nothing to send,
/// which is complete.
fn progress_bar(sent: u64, total: u64) -> String {
    let pct = whole_percent(sent, total);
    let (done, total) = done_of(sent, total);
    let filled = (done * BAR_WIDTH as u128 / total) as usize;
    format!(
        "|{}{}| {pct:>3}%",
        "=".repeat(filled),
        " ".repeat(BAR_WIDTH - filled)
    )
}

/// `sent` of `total` in whole percent, truncated, as the bar prints it.
fn whole_percent(sent: u64, total: u64) -> u64 {
    let (done, total) = done_of(sent, total);
    (done * 100 / total) as u64
}

/// (done, total) for the bar: at most the total, and a zero total (nothing to send) done.
fn done_of(sent: u64, total: u64) -> (u128, u128) {
    if total == 0 {
        (1, 1)
    } else {
        (u128::from(sent.min(total)), u128::from(total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P1: &str = "22835963083295358096932575511191922182123945984";
    const P2: &str = "45671926166590716193865151022383844364247891968";
    const P3: &str = "68507889249886074290797726533575766546371837952";
    const P10: &str = "228359630832953580969325755111919221821239459840";
    const P53: &str = "1210306043414653979137426502093171875652569137152";

    /// Snapshot names without the module path, so the snapshots stay valid when this module
    /// moves to another crate (only the `snapshots/` folder next to it has to follow).
    macro_rules! snap {
        ($name:expr, $value:expr) => {
            insta::with_settings!({ prepend_module_to_snapshot => false }, {
                insta::assert_snapshot!(concat!("tables_", $name), $value);
            })
        };
    }

    fn dev(n: u32) -> String {
        format!("dev{n}@127.0.0.1")
    }

    fn row(status: ShownStatus, ring: f64, pending: Option<f64>, n: u32) -> MemberRow {
        MemberRow {
            status,
            ring_pct: ring,
            pending_pct: pending,
            node: dev(n),
        }
    }

    /// Every line of `text` is newline-terminated: no stray text after the last `\n`.
    fn assert_lines_terminated(text: &str) {
        assert!(text.ends_with('\n'), "missing final newline: {text:?}");
    }

    // -- banner ----------------------------------------------------------------------------

    #[test]
    fn banners_are_79_columns_with_floor_on_the_left() {
        for title in [
            "Membership",
            "Staged Changes",
            "Claimant",
            "Ownership Handoff",
            "Unreachable Nodes",
            "Transfer Limit",
            "X",
            "",
        ] {
            let b = banner(title);
            assert_eq!(b.chars().count(), 79, "{title:?}: {b:?}");
            let left = b.chars().take_while(|&c| c == '=').count();
            let right = b.chars().rev().take_while(|&c| c == '=').count();
            assert!(right == left || right == left + 1, "{title:?}: {b:?}");
        }
        // The widths riak hard-codes in riak_core_console.
        assert!(banner("Membership").starts_with(&format!("{} M", "=".repeat(33))));
        assert!(banner("Membership").ends_with(&format!("p {}", "=".repeat(34))));
        assert!(banner("Claimant").starts_with(&format!("{} C", "=".repeat(34))));
        assert!(banner("Staged Changes").starts_with(&format!("{} S", "=".repeat(31))));
        assert!(banner("Ownership Handoff").starts_with(&format!("{} O", "=".repeat(30))));
        assert!(banner("Unreachable Nodes").ends_with(&format!("s {}", "=".repeat(30))));
    }

    #[test]
    fn banner_of_a_too_long_title_is_just_the_title() {
        let title = "T".repeat(90);
        assert_eq!(banner(&title), format!(" {title} "));
    }

    #[test]
    fn every_banner_and_rule_line_in_the_outputs_is_79_columns() {
        let outputs = [
            member_status(&four_nodes()),
            plan(&join_plan()),
            plan(&leave_plan()),
            ring_status(&pending_ring()),
            ring_status(&unreachable_ring()),
        ];
        for out in outputs {
            assert_lines_terminated(&out);
            for l in out.lines() {
                if l.starts_with("===") || l.starts_with("---") || l.starts_with("###") {
                    assert_eq!(l.chars().count(), 79, "{l:?}");
                }
                assert_eq!(l, l.trim_end(), "trailing whitespace in {l:?}");
            }
        }
    }

    // -- member-status ---------------------------------------------------------------------

    fn four_nodes() -> Vec<MemberRow> {
        (1..=4)
            .map(|n| row(ShownStatus::Valid, 25.0, None, n))
            .collect()
    }

    #[test]
    fn member_status_one_node() {
        let out = member_status(&[row(ShownStatus::Valid, 100.0, None, 1)]);
        snap!("member_status_one_node", out);
    }

    #[test]
    fn member_status_four_nodes() {
        let out = member_status(&four_nodes());
        assert!(out.contains("\nvalid      25.0%      --      dev1@127.0.0.1\n"));
        snap!("member_status_four_nodes", out);
    }

    #[test]
    fn member_status_with_pending() {
        // Three nodes joined a one-node ring of 64: 22/21/21 partitions.
        let out = member_status(&[
            row(ShownStatus::Valid, 75.0, Some(34.375), 1),
            row(ShownStatus::Valid, 12.5, Some(32.8125), 2),
            row(ShownStatus::Valid, 12.5, Some(32.8125), 3),
        ]);
        assert!(out.contains("\nvalid      75.0%     34.4%    dev1@127.0.0.1\n"));
        snap!("member_status_with_pending", out);
    }

    #[test]
    fn member_status_with_down_node() {
        let out = member_status(&[
            row(ShownStatus::Valid, 34.375, None, 1),
            row(ShownStatus::Down, 32.8125, None, 2),
            row(ShownStatus::Valid, 32.8125, None, 3),
        ]);
        snap!("member_status_with_down_node", out);
    }

    #[test]
    fn member_status_sorts_unsorted_input_by_status_then_node() {
        let out = member_status(&[
            row(ShownStatus::Valid, 50.0, Some(33.3), 4),
            row(ShownStatus::Joining, 0.0, Some(33.3), 6),
            row(ShownStatus::Valid, 50.0, Some(33.4), 1),
            row(ShownStatus::Leaving, 0.0, Some(0.0), 3),
            row(ShownStatus::Exiting, 0.0, Some(0.0), 5),
            row(ShownStatus::Down, 0.0, Some(0.0), 2),
            row(ShownStatus::Joining, 0.0, Some(0.0), 0),
        ]);
        let order: Vec<&str> = out
            .lines()
            .filter(|l| l.contains('@'))
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(
            order,
            [
                "down", "exiting", "joining", "joining", "leaving", "valid", "valid"
            ]
        );
        snap!("member_status_unsorted_input", out);
    }

    #[test]
    fn member_status_of_no_rows_still_has_header_and_footer() {
        snap!("member_status_empty", member_status(&[]));
    }

    #[test]
    fn status_names_are_riak_atoms() {
        let names: Vec<&str> = [
            ShownStatus::Joining,
            ShownStatus::Valid,
            ShownStatus::Leaving,
            ShownStatus::Exiting,
            ShownStatus::Down,
        ]
        .iter()
        .map(ShownStatus::as_str)
        .collect();
        assert_eq!(names, ["joining", "valid", "leaving", "exiting", "down"]);
    }

    // -- cluster plan ----------------------------------------------------------------------

    fn join_plan() -> PlanView {
        PlanView {
            actions: (2..=4).map(|n| StagedAction::Join(dev(n))).collect(),
            after: vec![
                row(ShownStatus::Valid, 100.0, Some(25.0), 1),
                row(ShownStatus::Valid, 0.0, Some(25.0), 2),
                row(ShownStatus::Valid, 0.0, Some(25.0), 3),
                row(ShownStatus::Valid, 0.0, Some(25.0), 4),
            ],
            // Given out of order, as a tally from a hash map would be.
            transfers: vec![
                (dev(1), dev(4), 16),
                (dev(1), dev(2), 16),
                (dev(1), dev(3), 16),
            ],
            warnings: vec![],
        }
    }

    fn leave_plan() -> PlanView {
        PlanView {
            actions: vec![StagedAction::Leave(dev(2))],
            after: vec![
                row(ShownStatus::Leaving, 32.8125, Some(0.0), 2),
                row(ShownStatus::Valid, 34.375, Some(50.0), 1),
                row(ShownStatus::Valid, 32.8125, Some(50.0), 3),
            ],
            transfers: vec![
                (dev(1), dev(3), 6),
                (dev(3), dev(1), 11),
                (dev(2), dev(1), 5),
                (dev(2), dev(3), 16),
            ],
            warnings: vec!["Not all replicas will be on distinct nodes".to_string()],
        }
    }

    /// Copied from REFERENCE.md ("cluster plan (1 → 4 nodes, ring 64)").
    const REFERENCE_JOIN_PLAN: &str = "\
=============================== Staged Changes ================================
Action         Details(s)
-------------------------------------------------------------------------------
join           'dev2@127.0.0.1'
join           'dev3@127.0.0.1'
join           'dev4@127.0.0.1'
-------------------------------------------------------------------------------


NOTE: Applying these changes will result in 1 cluster transition

###############################################################################
                         After cluster transition 1/1
###############################################################################

================================= Membership ==================================
Status     Ring    Pending    Node
-------------------------------------------------------------------------------
valid     100.0%     25.0%    dev1@127.0.0.1
valid       0.0%     25.0%    dev2@127.0.0.1
valid       0.0%     25.0%    dev3@127.0.0.1
valid       0.0%     25.0%    dev4@127.0.0.1
-------------------------------------------------------------------------------
Valid:4 / Leaving:0 / Exiting:0 / Joining:0 / Down:0

Transfers resulting from cluster changes: 48
  16 transfers from 'dev1@127.0.0.1' to 'dev2@127.0.0.1'
  16 transfers from 'dev1@127.0.0.1' to 'dev3@127.0.0.1'
  16 transfers from 'dev1@127.0.0.1' to 'dev4@127.0.0.1'
";

    #[test]
    fn plan_one_to_four_nodes_matches_reference() {
        let out = plan(&join_plan());
        assert_eq!(out, REFERENCE_JOIN_PLAN);
        snap!("plan_join_one_to_four", out);
    }

    #[test]
    fn plan_leave_with_warning() {
        let out = plan(&leave_plan());
        snap!("plan_leave_with_warning", out);
    }

    #[test]
    fn plan_force_remove_warns_under_the_staged_changes() {
        let view = PlanView {
            actions: vec![StagedAction::ForceRemove(dev(3))],
            after: vec![
                row(ShownStatus::Valid, 50.0, None, 1),
                row(ShownStatus::Valid, 50.0, None, 2),
            ],
            transfers: vec![],
            warnings: vec![],
        };
        let out = plan(&view);
        // No transfers: riak leaves the section out.
        assert!(!out.contains("Transfers resulting"));
        snap!("plan_force_remove", out);
    }

    #[test]
    fn plan_merges_transfer_tallies_and_skips_zero_counts() {
        let mut view = join_plan();
        view.transfers = vec![
            (dev(1), dev(2), 10),
            (dev(1), dev(3), 0),
            (dev(1), dev(2), 6),
        ];
        let out = plan(&view);
        assert!(out.ends_with(
            "Transfers resulting from cluster changes: 16\n  \
             16 transfers from 'dev1@127.0.0.1' to 'dev2@127.0.0.1'\n"
        ));
    }

    #[test]
    fn empty_plan() {
        let view = PlanView {
            actions: vec![],
            after: four_nodes(),
            transfers: vec![],
            warnings: vec![],
        };
        assert_eq!(plan(&view), "There are no staged changes\n");
    }

    // -- ring-status -----------------------------------------------------------------------

    fn calm_ring() -> RingStatusView {
        RingStatusView {
            claimant: dev(1),
            claimant_up: true,
            ring_ready: true,
            pending: vec![],
            unreachable: vec![],
        }
    }

    fn pending(id: &str, owner: u32, next: u32, complete: bool) -> PendingTransfer {
        PendingTransfer {
            partition_id: id.to_string(),
            owner: dev(owner),
            next_owner: dev(next),
            waiting_for: vec!["kv_vnode".to_string()],
            complete,
        }
    }

    fn pending_ring() -> RingStatusView {
        RingStatusView {
            ring_ready: false,
            // Given interleaved: the groups must still come out whole and sorted.
            pending: vec![
                pending(P2, 1, 3, false),
                pending(P1, 1, 2, true),
                pending(P10, 1, 2, false),
                pending(P53, 1, 3, false),
            ],
            ..calm_ring()
        }
    }

    fn unreachable_ring() -> RingStatusView {
        RingStatusView {
            pending: vec![pending(P3, 1, 3, false), pending(P1, 1, 2, false)],
            unreachable: vec![dev(3), dev(4)],
            ..calm_ring()
        }
    }

    /// Copied from REFERENCE.md ("ring-status").
    const REFERENCE_RING_STATUS: &str = "\
================================== Claimant ===================================
Claimant:  'dev1@127.0.0.1'
Status:     up
Ring Ready: true

============================== Ownership Handoff ==============================
No pending changes.

============================== Unreachable Nodes ==============================
All nodes are up and reachable
";

    #[test]
    fn ring_status_calm_matches_reference() {
        let out = ring_status(&calm_ring());
        assert_eq!(out, REFERENCE_RING_STATUS);
        snap!("ring_status_calm", out);
    }

    #[test]
    fn ring_status_with_pending_in_two_groups() {
        snap!("ring_status_pending", ring_status(&pending_ring()));
    }

    #[test]
    fn ring_status_with_unreachable_nodes() {
        snap!("ring_status_unreachable", ring_status(&unreachable_ring()));
    }

    #[test]
    fn ring_status_with_claimant_down() {
        let view = RingStatusView {
            claimant_up: false,
            ..calm_ring()
        };
        let out = ring_status(&view);
        assert!(out.contains("\nStatus:     down\nRing Ready: unknown\n"));
    }

    #[test]
    fn waiting_lists_print_as_erlang_lists() {
        let mut transfer = pending(P1, 1, 2, false);
        transfer.waiting_for = vec!["kv_vnode".to_string(), "chat_vnode".to_string()];
        assert_eq!(
            transfer_detail(&transfer),
            format!("\nIndex: {P1}\n  Waiting on: [kv_vnode,chat_vnode]\n")
        );
    }

    // -- transfers -------------------------------------------------------------------------

    fn active(
        kind: HandoffKind,
        objects: (u64, Option<u64>),
        bytes: (u64, Option<u64>),
    ) -> ActiveTransfer {
        ActiveTransfer {
            kind,
            vnode_type: "kv_vnode".to_string(),
            partition_id: P10.to_string(),
            source: dev(1),
            target: dev(2),
            objects_sent: objects.0,
            objects_total: objects.1,
            bytes_sent: bytes.0,
            bytes_total: bytes.1,
        }
    }

    #[test]
    fn transfers_none() {
        let view = TransfersView {
            waiting: vec![],
            active: vec![],
        };
        assert_eq!(transfers(&view), "No transfers active\n");
    }

    #[test]
    fn transfers_waiting_only() {
        let view = TransfersView {
            waiting: vec![(dev(1), 5), (dev(3), 1)],
            active: vec![],
        };
        snap!("transfers_waiting_only", transfers(&view));
    }

    #[test]
    fn transfers_active_with_totals() {
        let view = TransfersView {
            waiting: vec![(dev(1), 47)],
            active: vec![
                // 30% by bytes, although objects say otherwise: bytes win.
                active(
                    HandoffKind::Ownership,
                    (120, Some(400)),
                    (3840, Some(12800)),
                ),
                // Only an object total: 50% by objects.
                active(HandoffKind::Hinted, (5, Some(10)), (640, None)),
            ],
        };
        snap!("transfers_active_with_totals", transfers(&view));
    }

    #[test]
    fn transfers_active_without_totals() {
        let view = TransfersView {
            waiting: vec![],
            active: vec![active(HandoffKind::Hinted, (7, None), (900, None))],
        };
        snap!("transfers_active_without_totals", transfers(&view));
    }

    #[test]
    fn progress_bar_is_50_columns_and_truncates() {
        for (sent, total, pct) in [
            (0, 10, "  0%"),
            (3, 10, " 30%"),
            (999, 1000, " 99%"),
            (10, 10, "100%"),
            (0, 0, "100%"),
            (20, 10, "100%"),
        ] {
            let bar = progress_bar(sent, total);
            assert_eq!(bar.chars().count(), 50, "{bar:?}");
            assert!(bar.ends_with(pct), "{bar:?}");
        }
        assert_eq!(progress_bar(10, 10), format!("|{}| 100%", "=".repeat(43)));
        assert_eq!(progress_bar(0, 10), format!("|{}|   0%", " ".repeat(43)));
    }

    #[test]
    fn a_transfer_shows_the_numbers_of_its_table() {
        let t = active(
            HandoffKind::Ownership,
            (120, Some(400)),
            (3840, Some(12800)),
        );
        assert_eq!(t.objects_shown(), "120 of 400");
        assert_eq!(
            t.bytes_shown(),
            format!("{} of {}", human_bytes(3840), human_bytes(12800))
        );
        assert_eq!(t.percent(), Some(30));
        assert!(active_transfer(&t).contains(&format!("bytes transferred: {}\n", t.bytes_shown())));
        let unknown = active(HandoffKind::Hinted, (7, None), (900, None));
        assert_eq!(
            (unknown.objects_shown(), unknown.percent()),
            ("7".to_string(), None)
        );
        assert_eq!(
            active(HandoffKind::Hinted, (0, Some(0)), (0, None)).percent(),
            Some(100)
        );
    }

    #[test]
    fn centre_gives_the_odd_space_to_the_left_like_erlang() {
        assert_eq!(centre("ab", 5), "  ab ");
        assert_eq!(centre("abc", 5), " abc ");
        assert_eq!(centre("toolong", 3), "toolong");
    }
}
