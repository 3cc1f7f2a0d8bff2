//! Where the replies of asynchronous vnode requests arrive (riak's `Sender`): a [`ReplyTo`]
//! travels with each request, and the one who asked reads the answers from its
//! [`ReplyInbox`].
//!
//! A coordinator makes one inbox per request and throws it away a few microseconds later, so
//! an inbox is built to be cheap to make: a short queue behind a lock and a waker. (A tokio
//! channel would do, but it allocates room for 32 replies up front, several kilobytes that
//! the allocator then has to take back from another thread, on every single request.)

use crate::error::Error;
use crate::ring::IndexNode;
use futures_util::task::AtomicWaker;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

/// Identifies one request among the replies sent to a [`ReplyTo`].
pub type RequestId = u64;

/// One vnode's answer to a request sent with [`crate::VnodeMaster::command`].
#[derive(Debug)]
pub struct Reply<R> {
    pub request: RequestId,
    pub from: IndexNode,
    pub result: Result<R, Error>,
}

/// Where vnodes send the replies of asynchronous requests. Cloned into every request; the
/// inbox ends (its `recv` answers `None`) once every clone is gone and it is empty.
pub struct ReplyTo<R>(Arc<Shared<R>>);

/// The receiving end: the replies sent to its [`ReplyTo`], in the order they arrived.
pub struct ReplyInbox<R>(Arc<Shared<R>>);

struct Shared<R> {
    queue: Mutex<VecDeque<Reply<R>>>,
    /// The task waiting in `recv`, if any.
    waiting: AtomicWaker,
    /// Live `ReplyTo` clones.
    senders: AtomicUsize,
    /// Cleared when the inbox is dropped: later replies are dropped rather than queued.
    open: AtomicBool,
}

impl<R> Shared<R> {
    fn queue(&self) -> MutexGuard<'_, VecDeque<Reply<R>>> {
        // A panic while the lock is held cannot leave a VecDeque half-changed.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<R> ReplyTo<R> {
    /// A new reply address and the inbox its replies arrive in.
    pub fn channel() -> (ReplyTo<R>, ReplyInbox<R>) {
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            waiting: AtomicWaker::new(),
            senders: AtomicUsize::new(1),
            open: AtomicBool::new(true),
        });
        (ReplyTo(Arc::clone(&shared)), ReplyInbox(shared))
    }

    /// Delivers a reply. The asker may have stopped waiting (a quorum was reached, or it timed
    /// out): a reply nobody will read is simply dropped.
    pub fn send(&self, reply: Reply<R>) {
        if !self.0.open.load(Ordering::Acquire) {
            return;
        }
        self.0.queue().push_back(reply);
        self.0.waiting.wake();
    }
}

impl<R> Clone for ReplyTo<R> {
    fn clone(&self) -> Self {
        self.0.senders.fetch_add(1, Ordering::Relaxed);
        ReplyTo(Arc::clone(&self.0))
    }
}

impl<R> Drop for ReplyTo<R> {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last one: a `recv` waiting for more must learn that none will come.
            self.0.waiting.wake();
        }
    }
}

impl<R> ReplyInbox<R> {
    /// A reply that has already arrived, without waiting.
    pub fn try_recv(&mut self) -> Option<Reply<R>> {
        self.0.queue().pop_front()
    }

    /// The next reply; `None` once it is empty and every [`ReplyTo`] is gone.
    pub async fn recv(&mut self) -> Option<Reply<R>> {
        poll_fn(|cx| {
            if let Some(reply) = self.try_recv() {
                return Poll::Ready(Some(reply));
            }
            self.0.waiting.register(cx.waker());
            // Look again: a reply (or the last drop) may have come before the registration.
            if let Some(reply) = self.try_recv() {
                return Poll::Ready(Some(reply));
            }
            if self.0.senders.load(Ordering::Acquire) == 0 {
                // The last sender may have queued a reply just before it went away.
                return Poll::Ready(self.try_recv());
            }
            Poll::Pending
        })
        .await
    }
}

impl<R> Drop for ReplyInbox<R> {
    fn drop(&mut self) {
        self.0.open.store(false, Ordering::Release);
        // Replies already queued are dropped now rather than with the last sender.
        self.0.queue().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::Partition;
    use std::time::Duration;

    fn reply(request: RequestId) -> Reply<u32> {
        Reply {
            request,
            from: IndexNode {
                partition: Partition::new(0, 8),
                node: "dev1@127.0.0.1".into(),
            },
            result: Ok(request as u32),
        }
    }

    #[tokio::test]
    async fn replies_arrive_in_order_and_end_with_the_last_sender() {
        let (reply_to, mut inbox) = ReplyTo::channel();
        let other = reply_to.clone();
        reply_to.send(reply(1));
        other.send(reply(2));
        drop(reply_to);
        assert_eq!(inbox.recv().await.unwrap().request, 1);
        assert_eq!(inbox.try_recv().unwrap().request, 2);
        assert!(inbox.try_recv().is_none());
        drop(other);
        assert!(inbox.recv().await.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_receiver_is_woken_from_another_thread() {
        let (reply_to, mut inbox) = ReplyTo::channel();
        let senders: Vec<_> = (0..4)
            .map(|i| {
                let reply_to = reply_to.clone();
                tokio::spawn(async move {
                    for n in 0..250 {
                        reply_to.send(reply(i * 1000 + n));
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        drop(reply_to);
        let mut received = 0;
        let counting = async {
            while inbox.recv().await.is_some() {
                received += 1;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), counting)
            .await
            .expect("the inbox ends once every sender is gone");
        assert_eq!(received, 1000);
        for sender in senders {
            sender.await.unwrap();
        }
    }

    #[test]
    fn replies_to_a_dropped_inbox_are_dropped() {
        let (reply_to, inbox) = ReplyTo::channel();
        drop(inbox);
        reply_to.send(reply(1));
        assert!(reply_to.0.queue().is_empty());
    }
}
