//! The replicated stream database of this exercise: ringcore's stream service, waiting for
//! quorums with your coordinator, and listing streams with your merge (step 2).

use crate::coordinator::YourQuorum;
use ringcore::streams::{
    Listing, Nwr, ReadResult, StreamCoverage, StreamCoverageReply, Streams, Written,
};
use ringcore::{CoverageResult, Error, IndexNode, Node};

/// The bucket of the workshop's key/value commands (`store`, `fetch`).
pub use ringcore::streams::commands::KV_BUCKET;

#[derive(Clone)]
pub struct Db {
    streams: Streams<YourQuorum>,
}

impl Db {
    pub fn start(node: &Node) -> Self {
        Db {
            streams: Streams::start(node).with_quorum(YourQuorum),
        }
    }

    /// The database, waiting for quorums with your coordinator.
    pub fn streams(&self) -> &Streams<YourQuorum> {
        &self.streams
    }

    /// Appends VALUE to the stream of KEY.
    pub async fn store(&self, key: &str, value: &str, nwr: Nwr) -> Result<Written, Error> {
        self.post(KV_BUCKET, key, value, nwr).await
    }

    /// The newest value of KEY.
    pub async fn fetch(&self, key: &str, nwr: Nwr) -> Result<ReadResult, Error> {
        self.streams.last(KV_BUCKET, key, 1, nwr).await
    }

    pub async fn post(
        &self,
        bucket: &str,
        stream: &str,
        text: &str,
        nwr: Nwr,
    ) -> Result<Written, Error> {
        self.streams
            .post(bucket, stream, text.as_bytes().to_vec(), nwr)
            .await
    }

    /// Every stream of a bucket, each once.
    pub async fn list_streams(&self, bucket: &str, nwr: Nwr) -> Result<Listing, Error> {
        let request = StreamCoverage::ListStreams {
            bucket: bucket.into(),
        };
        let result = self.streams.coverage(request, nwr.n).await;
        merge_stream_names(result)
    }

    /// Every bucket, each once.
    pub async fn list_buckets(&self, nwr: Nwr) -> Result<Listing, Error> {
        self.streams.list_buckets(nwr).await
    }

    /// What each vnode did and holds.
    pub async fn stats(&self) -> Result<Vec<(IndexNode, ringcore::streams::VnodeStats)>, Error> {
        self.streams.stats().await
    }
}

/// Step 2: merges the answers of a coverage query for stream names.
///
/// Each vnode of the covering set answers `StreamCoverageReply::Names(names)`. Replicas hold
/// copies, so the same name comes from several vnodes: return each name once, sorted. A
/// partial result (some vnodes did not answer) is still returned, with its note.
pub fn merge_stream_names(result: CoverageResult<StreamCoverageReply>) -> Result<Listing, Error> {
    let _ = result;
    Err(Error::not_implemented(
        "write merge_stream_names in src/service.rs: each name once, sorted (README step 2)",
    ))
}
