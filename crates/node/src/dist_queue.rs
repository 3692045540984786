//! The bookkeeping of a connection's outgoing queue: how many bytes wait
//! for the writer (senders wait while that is over the busy limit, as
//! BEAM suspends a process on a busy distribution port), and recycled
//! buffers for big frames (a fresh multi-megabyte allocation per message
//! costs a page fault per 4 KiB before a byte is encoded). Answers to
//! `dist_buf_busy_limit` (`+zdbbl`) in `erl`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::node::lock;

/// Buffers kept per connection.
const KEEP: usize = 4;
/// The largest buffer kept.
const MAX_KEPT: usize = 16 << 20;

/// A connection's queued byte count and spare buffers.
#[derive(Default)]
pub(crate) struct Outgoing {
    spare: Mutex<Vec<Vec<u8>>>,
    queued: AtomicUsize,
    closed: AtomicBool,
    drained: tokio::sync::Notify,
}

impl Outgoing {
    /// An empty buffer with room for `len` bytes, recycled when one is
    /// spare.
    pub(crate) fn take(&self, len: usize) -> Vec<u8> {
        let mut spare = lock(&self.spare);
        match spare.iter().position(|b| b.capacity() >= len) {
            Some(i) => spare.swap_remove(i),
            None => {
                drop(spare);
                Vec::with_capacity(len)
            }
        }
    }

    /// Hands a written buffer back.
    pub(crate) fn give(&self, mut buf: Vec<u8>) {
        if buf.capacity() > MAX_KEPT {
            return;
        }
        let mut spare = lock(&self.spare);
        if spare.len() < KEEP {
            buf.clear();
            spare.push(buf);
        }
    }

    /// `n` more bytes were queued.
    pub(crate) fn queued(&self, n: usize) {
        self.queued.fetch_add(n, Ordering::Relaxed);
    }

    /// The writer wrote `n` queued bytes.
    pub(crate) fn written(&self, n: usize) {
        self.queued.fetch_sub(n, Ordering::Relaxed);
        self.drained.notify_waiters();
    }

    /// The writer is gone: nobody waits for it any more.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.drained.notify_waiters();
    }

    /// More than `limit` bytes are queued and the writer is there.
    pub(crate) fn is_above(&self, limit: usize) -> bool {
        self.queued.load(Ordering::Relaxed) > limit && !self.closed.load(Ordering::Relaxed)
    }

    /// Waits until at most `limit` bytes are queued, or the writer is
    /// gone.
    pub(crate) async fn below(&self, limit: usize) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.queued.load(Ordering::Relaxed) <= limit || self.closed.load(Ordering::Relaxed) {
                return;
            }
            drained.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_again_empty_and_the_pool_is_bounded() {
        let q = Outgoing::default();
        let mut v = q.take(1 << 20);
        v.extend_from_slice(&[7; 100]);
        let ptr = v.as_ptr();
        q.give(v);
        let again = q.take(1000);
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.is_empty());
        for _ in 0..10 {
            q.give(Vec::with_capacity(10));
        }
        assert_eq!(lock(&q.spare).len(), KEEP);
        q.give(Vec::with_capacity(MAX_KEPT + 1));
        assert!(lock(&q.spare).iter().all(|v| v.capacity() <= MAX_KEPT));
    }

    #[tokio::test]
    async fn a_sender_waits_until_the_writer_brings_the_queue_below_the_limit() {
        let q = std::sync::Arc::new(Outgoing::default());
        q.queued(100);
        q.below(100).await;
        q.queued(50);
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.below(100).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "150 queued bytes are over the limit");
        q.written(60);
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .expect("the sender goes on once 90 bytes are queued")
            .expect("no panic");
    }

    #[tokio::test]
    async fn a_closed_queue_lets_its_senders_go() {
        let q = std::sync::Arc::new(Outgoing::default());
        q.queued(1000);
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.below(100).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        q.close();
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .expect("a sender does not wait for a writer that is gone")
            .expect("no panic");
    }
}
