//! The runtime's own merge of a listing: the names a coverage query gathered, each once.
//!
//! This is the finished answer to exercise 3's step 2 (`merge_stream_names`), kept apart from
//! the API that step uses ([`Listing`], [`CoverageResult`]) so that reading the API does not
//! give the answer away.

use super::service::{Listing, failed};
use super::vnode::StreamCoverageReply;
use crate::error::Error;
use crate::vnode::coverage::CoverageResult;

/// Merges the names of a coverage query: sorted, each once (replicas hold the same names).
pub(super) fn merge_names(result: CoverageResult<StreamCoverageReply>) -> Result<Listing, Error> {
    let partial = result.partial_note();
    let mut names = Vec::new();
    for (vnode, reply) in result.replies {
        match reply {
            StreamCoverageReply::Names(found) => names.extend(found),
            StreamCoverageReply::Failed(reason) => return Err(failed(&vnode, reason)),
            StreamCoverageReply::Stats(_) => {
                return Err(Error::internal("a vnode answered a listing with stats"));
            }
        }
    }
    names.sort();
    names.dedup();
    Ok(Listing { names, partial })
}
