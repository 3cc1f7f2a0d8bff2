//! A node's background work and its end: every task the node runs (the listener, gossip,
//! liveness, handoff, each vnode, an application's own) is spawned here, so that stopping the
//! node can tell them all to end and wait until they have.

use std::future::Future;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The tasks of one node and the signal that it is stopping. Cheap to clone: every clone is
/// the same node's.
#[derive(Clone, Default)]
pub struct Lifecycle {
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Lifecycle {
    pub fn new() -> Self {
        Lifecycle::default()
    }

    /// Runs a background task of the node. [`Lifecycle::wait`] waits for it, so the task must
    /// end once [`Lifecycle::stopping`] completes.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(task);
    }

    /// Completes once the node begins to stop.
    pub async fn stopping(&self) {
        self.shutdown.cancelled().await;
    }

    /// Whether the node has begun to stop.
    pub fn is_stopping(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// The stop signal, for loops that wait on it beside their work (`clock::next_round`).
    pub fn token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Tells every task to end: what [`Lifecycle::stopping`] waits for.
    pub fn begin_stop(&self) {
        self.shutdown.cancel();
    }

    /// Waits until every task has ended (after [`Lifecycle::begin_stop`]).
    pub async fn wait(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}
