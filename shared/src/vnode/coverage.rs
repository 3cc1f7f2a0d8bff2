//! Gathering a coverage request's answers (riak_core's `riak_core_coverage_fsm`): every vnode
//! of a [`crate::ring::coverage::CoveragePlan`] is asked, and the answers are taken as they
//! come, on [`Replies`], until all have answered or the deadline passed. Vnodes that did not
//! answer are listed, so that a caller can say its result is partial.

use crate::error::Error;
use crate::ring::IndexNode;
use crate::vnode::coordinator::Replies;
use std::fmt;
use std::time::Duration;

/// What a coverage query gathered: every answer, and every vnode that did not answer. A result
/// with missing vnodes is *partial*: it may not include every key.
#[derive(Debug)]
pub struct CoverageResult<R> {
    pub replies: Vec<(IndexNode, R)>,
    pub missing: Vec<(IndexNode, Error)>,
}

impl<R> CoverageResult<R> {
    pub fn is_partial(&self) -> bool {
        !self.missing.is_empty()
    }

    /// A one-line note for a partial result, e.g. `partial result: 2 of 64 vnodes did not answer (…)`.
    pub fn partial_note(&self) -> Option<String> {
        if !self.is_partial() {
            return None;
        }
        let asked = self.replies.len() + self.missing.len();
        let first = &self.missing[0];
        Some(format!(
            "partial result: {} of {asked} vnodes did not answer (first: partition {} on {}: {})",
            self.missing.len(),
            first.0.partition,
            first.0.node,
            first.1
        ))
    }
}

impl<R: fmt::Debug> fmt::Display for CoverageResult<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (vnode, reply) in &self.replies {
            writeln!(f, "{} on {}: {reply:?}", vnode.partition, vnode.node)?;
        }
        if let Some(note) = self.partial_note() {
            writeln!(f, "{note}")?;
        }
        Ok(())
    }
}

/// Takes the replies of a coverage request sent to `asked`, until all have answered or the
/// deadline of `replies` (`wait` from now) passed; `unavailable` are the vnodes that could
/// not be asked.
pub(crate) async fn gather<R>(
    mut replies: Replies<R>,
    asked: Vec<IndexNode>,
    unavailable: Vec<IndexNode>,
    wait: Duration,
) -> CoverageResult<R> {
    let mut waiting = asked;
    let mut result = CoverageResult {
        replies: Vec::with_capacity(waiting.len()),
        missing: unavailable
            .into_iter()
            .map(|vnode| {
                let error = Error::Unreachable(vnode.node.clone());
                (vnode, error)
            })
            .collect(),
    };
    while let Some(reply) = replies.next().await {
        waiting.retain(|v| *v != reply.from);
        match reply.result {
            Ok(answer) => result.replies.push((reply.from, answer)),
            Err(error) => result.missing.push((reply.from, error)),
        }
    }
    let asked = result.replies.len() + result.missing.len() + waiting.len();
    for vnode in waiting {
        let error = Error::timeout("coverage", result.replies.len(), asked, wait);
        result.missing.push((vnode, error));
    }
    result.replies.sort_by_key(|(v, _)| v.partition);
    result
}
