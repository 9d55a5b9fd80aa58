//! Group commit: one thread calls the blocking `flush()` for every waiter
//! queued since its last flush.
//!
//! Why: a flush per request caps durable writes near one fsync each
//! (~4k/s here), and 64 concurrent `flush_async` calls hung sled
//! (DESIGN.md). One flusher makes fsyncs constant and batches grow with load.

use super::{StoreError, StoreResult, Ticket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use tokio::sync::oneshot;

/// Most waiters that may queue for one flush; beyond it commits are refused
/// (answered 503) rather than queued without bound.
pub const MAX_FLUSH_WAITERS: usize = 65_536;

type Waiter = (Ticket, oneshot::Sender<StoreResult<()>>);

pub struct GroupCommit {
    /// Highest ticket handed out (commits are numbered after they apply).
    committed: Arc<AtomicU64>,
    /// Highest ticket known to be on disk.
    durable: Arc<AtomicU64>,
    /// `None` once dropped, which ends the flusher thread.
    waiters: Option<SyncSender<Waiter>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        // Closing the queue ends the flusher; joining it releases its handle
        // on the database, so the directory can be opened again at once.
        self.waiters = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl GroupCommit {
    /// Starts the flusher thread; `flush` is called with no lock held.
    pub fn start<F>(flush: F) -> Self
    where
        F: Fn() -> StoreResult<()> + Send + 'static,
    {
        let committed = Arc::new(AtomicU64::new(0));
        let durable = Arc::new(AtomicU64::new(0));
        let (tx, rx) = sync_channel(MAX_FLUSH_WAITERS);
        let (c, d) = (committed.clone(), durable.clone());
        let thread = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || flusher(rx, c, d, flush))
            .expect("spawn group-commit thread");
        GroupCommit {
            committed,
            durable,
            waiters: Some(tx),
            thread: Some(thread),
        }
    }

    /// Numbers a commit that has just been applied.
    pub fn next_ticket(&self) -> Ticket {
        Ticket(self.committed.fetch_add(1, Ordering::SeqCst) + 1)
    }

    pub fn last_ticket(&self) -> Ticket {
        Ticket(self.committed.load(Ordering::SeqCst))
    }

    pub fn durable(
        &self,
        ticket: Ticket,
    ) -> futures_util::future::BoxFuture<'static, StoreResult<()>> {
        if self.durable.load(Ordering::SeqCst) >= ticket.0 {
            return Box::pin(async { Ok(()) });
        }
        let (tx, rx) = oneshot::channel();
        let Some(waiters) = &self.waiters else {
            return Box::pin(async { Err(StoreError::Corrupt("flusher stopped".into())) });
        };
        match waiters.try_send((ticket, tx)) {
            Ok(()) => Box::pin(async move {
                rx.await
                    .unwrap_or_else(|_| Err(StoreError::Corrupt("flusher stopped".into())))
            }),
            Err(TrySendError::Full(_)) => Box::pin(async { Err(StoreError::Overloaded) }),
            Err(TrySendError::Disconnected(_)) => {
                Box::pin(async { Err(StoreError::Corrupt("flusher stopped".into())) })
            }
        }
    }
}

fn flusher<F>(rx: Receiver<Waiter>, committed: Arc<AtomicU64>, durable: Arc<AtomicU64>, flush: F)
where
    F: Fn() -> StoreResult<()>,
{
    let mut batch: Vec<Waiter> = Vec::new();
    // Blocks for the first waiter, then takes everyone else already queued.
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        // Every queued waiter's commit was applied before it queued, so a
        // flush that starts now covers all of them, and all up to `target`.
        let target = committed.load(Ordering::SeqCst);
        match flush() {
            Ok(()) => {
                durable.fetch_max(target, Ordering::SeqCst);
                metrics_flush(batch.len());
                for (_, waiter) in batch.drain(..) {
                    let _ = waiter.send(Ok(()));
                }
            }
            Err(error) => {
                // The in-memory view now holds writes the disk may not: no
                // reply can be trusted. Stop; restart recovers from disk.
                tracing::error!(%error, "flush failed; aborting so recovery starts from disk");
                std::process::abort();
            }
        }
    }
}

fn metrics_flush(waiters: usize) {
    crate::metrics::FLUSHES.inc();
    crate::metrics::FLUSH_BATCH.observe(waiters as f64);
}
