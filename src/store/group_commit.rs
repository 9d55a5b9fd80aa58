//! Group commit: one thread calls the blocking `flush()` for every commit
//! made since its last flush, and wakes everyone waiting on those commits.
//!
//! Why: a flush per request caps durable writes near one fsync each
//! (~4k/s here), and 64 concurrent `flush_async` calls hung sled
//! (DESIGN.md). One flusher makes fsyncs constant and batches grow with load.
//!
//! Waiters do not queue per request: they watch the durable watermark (the
//! highest commit known to be on disk). So waiting cannot fail for lack of
//! room, which matters: a commit has already happened when its caller
//! starts waiting, and a "503, no effect" at that point would be a lie.

use super::{StoreError, StoreResult, Ticket};
use futures_util::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::watch;

/// The flusher's doorbell: rung when someone waits for an unflushed commit.
#[derive(Default)]
struct Doorbell {
    /// (a waiter is waiting, the store is closing)
    state: Mutex<(bool, bool)>,
    ring: Condvar,
}

pub struct GroupCommit {
    /// Highest ticket handed out (commits are numbered after they apply).
    committed: Arc<AtomicU64>,
    /// Highest ticket known to be on disk.
    durable: watch::Receiver<u64>,
    doorbell: Arc<Doorbell>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        // Ends the flusher (after a last flush); joining it releases its
        // handle on the database, so the directory can be opened again.
        self.doorbell.state.lock().expect("doorbell").1 = true;
        self.doorbell.ring.notify_one();
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
        let (durable_tx, durable) = watch::channel(0);
        let doorbell = Arc::new(Doorbell::default());
        let (c, d) = (committed.clone(), doorbell.clone());
        let thread = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || flusher(c, d, durable_tx, flush))
            .expect("spawn group-commit thread");
        GroupCommit {
            committed,
            durable,
            doorbell,
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

    pub fn durable(&self, ticket: Ticket) -> BoxFuture<'static, StoreResult<()>> {
        if *self.durable.borrow() >= ticket.0 {
            return Box::pin(async { Ok(()) });
        }
        self.doorbell.state.lock().expect("doorbell").0 = true;
        self.doorbell.ring.notify_one();
        let mut durable = self.durable.clone();
        Box::pin(async move {
            durable
                .wait_for(|d| *d >= ticket.0)
                .await
                .map(|_| ())
                .map_err(|_| StoreError::Corrupt("the flusher stopped".into()))
        })
    }
}

fn flusher<F>(
    committed: Arc<AtomicU64>,
    doorbell: Arc<Doorbell>,
    durable: watch::Sender<u64>,
    flush: F,
) where
    F: Fn() -> StoreResult<()>,
{
    let mut flushed = 0u64;
    loop {
        let closing = {
            let mut state = doorbell.state.lock().expect("doorbell");
            while !state.0 && !state.1 {
                state = doorbell.ring.wait(state).expect("doorbell");
            }
            state.0 = false;
            state.1
        };
        // Every commit numbered up to `target` was applied before it was
        // numbered, so a flush that starts now makes all of them durable.
        let target = committed.load(Ordering::SeqCst);
        if target > flushed || closing {
            match flush() {
                Ok(()) => {
                    crate::metrics::FLUSHES.inc();
                    crate::metrics::FLUSH_BATCH.observe((target - flushed) as f64);
                    flushed = target;
                    durable.send_replace(target);
                }
                Err(error) => {
                    // The in-memory view now holds writes the disk may not:
                    // no reply can be trusted. Stop; restart recovers.
                    tracing::error!(%error, "flush failed; aborting so recovery starts from disk");
                    std::process::abort();
                }
            }
        }
        if closing {
            return;
        }
    }
}
