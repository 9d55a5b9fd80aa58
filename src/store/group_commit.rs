//! Group commit: one thread calls the blocking `flush()` for every commit
//! made since its last flush, and wakes everyone waiting on those commits.
//!
//! Why: a flush per request caps durable writes near one fsync each
//! (~4k/s here), and 64 concurrent `flush_async` calls hung sled on this
//! project's machine. One flusher makes fsyncs constant and batches grow with load.
//!
//! Waiters do not queue per request: they watch the durable watermark (the
//! highest commit known to be on disk). So waiting cannot fail for lack of
//! room, which matters: a commit has already happened when its caller
//! starts waiting, and a "503, no effect" at that point would be a lie.

use super::contract::{StoreError, StoreResult, Ticket};
use super::watchdog::{Activity, WaitLimits, Watchdog};

/// The watchdog lanes of a group commit.
const COMMIT_LANE: usize = 0;
const FLUSH_LANE: usize = 1;
use futures_util::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::watch;

/// The flusher's doorbell: rung when someone waits for an unflushed commit.
#[derive(Default)]
struct Doorbell {
    state: Mutex<Bell>,
    ring: Condvar,
}

/// What the doorbell says when the flusher wakes.
#[derive(Default)]
struct Bell {
    /// Someone waits for a commit that is not yet flushed.
    rung: bool,
    /// The store is closing: flush once more and stop.
    closing: bool,
}

/// Progress the flusher publishes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Flushed {
    /// Highest ticket known to be on disk.
    ticket: u64,
    /// Flushes completed.
    flushes: u64,
}

pub struct GroupCommit {
    /// Highest ticket handed out (commits are numbered after they apply).
    committed: Arc<AtomicU64>,
    /// Commits applied (visible to reads) but not yet numbered.
    applying: AtomicU64,
    /// Flushes started (a flush numbered n starts after this reads n - 1).
    started: Arc<AtomicU64>,
    durable: watch::Receiver<Flushed>,
    doorbell: Arc<Doorbell>,
    /// Times the flushes (and the store's commits): past its limits, new
    /// waits are refused and then the process stops.
    watchdog: Arc<Watchdog>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        // Ends the flusher (after a last flush); joining it releases its
        // handle on the database, so the directory can be opened again.
        self.doorbell.state.lock().expect("doorbell").closing = true;
        self.doorbell.ring.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl GroupCommit {
    /// Starts the flusher thread; `flush` is called with no lock held.
    /// Commits and flushes are timed against `limits`.
    pub fn start<F>(flush: F, limits: WaitLimits) -> Self
    where
        F: Fn() -> StoreResult<()> + Send + 'static,
    {
        let watchdog = Watchdog::start(limits, &[Activity::Commit, Activity::Flush]);
        let committed = Arc::new(AtomicU64::new(0));
        let started = Arc::new(AtomicU64::new(0));
        let (durable_tx, durable) = watch::channel(Flushed::default());
        let doorbell = Arc::new(Doorbell::default());
        let (c, s, d) = (committed.clone(), started.clone(), doorbell.clone());
        let dog = watchdog.clone();
        let thread = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || flusher(c, s, d, durable_tx, dog, flush))
            .expect("spawn group-commit thread");
        GroupCommit {
            committed,
            applying: AtomicU64::new(0),
            started,
            durable,
            doorbell,
            watchdog,
            thread: Some(thread),
        }
    }

    /// Runs `apply` (which makes a commit visible) and numbers the commit.
    /// While it runs, sync points know a visible commit may lack a number.
    /// The watchdog times it (one committer at a time is timed).
    pub fn commit<T>(&self, apply: impl FnOnce() -> T) -> (T, Ticket) {
        self.applying.fetch_add(1, Ordering::SeqCst);
        let committing = self.watchdog.running(COMMIT_LANE);
        let result = apply();
        drop(committing);
        let ticket = Ticket(self.committed.fetch_add(1, Ordering::SeqCst) + 1);
        self.applying.fetch_sub(1, Ordering::SeqCst);
        (result, ticket)
    }

    /// `Err(Stalled)` when a commit or flush has run past the stall limit:
    /// a new write set is refused rather than queued behind it.
    pub fn admit_write(&self) -> StoreResult<()> {
        match self.watchdog.stalled() {
            Some(activity) => Err(StoreError::Stalled(activity.as_str())),
            None => Ok(()),
        }
    }

    /// Asks for a flush without waiting for it (a committer that knows its
    /// submitters will wait starts the flush before they wake up).
    pub fn ring(&self) {
        self.doorbell.state.lock().expect("doorbell").rung = true;
        self.doorbell.ring.notify_one();
    }

    fn wait_until(
        &self,
        done: impl Fn(&Flushed) -> bool + Send + 'static,
    ) -> BoxFuture<'static, StoreResult<()>> {
        let mut durable = self.durable.clone();
        Box::pin(async move {
            durable
                .wait_for(done)
                .await
                .map(|_| ())
                .map_err(|_| StoreError::Unavailable("the flusher stopped".into()))
        })
    }

    /// The highest ticket known to be on disk.
    pub fn durable_ticket(&self) -> u64 {
        self.durable.borrow().ticket
    }

    pub fn durable(&self, ticket: Ticket) -> BoxFuture<'static, StoreResult<()>> {
        if self.durable.borrow().ticket >= ticket.0 {
            return Box::pin(async { Ok(()) });
        }
        self.ring();
        self.wait_until(move |d| d.ticket >= ticket.0)
    }

    /// Resolves once everything a reader could see before this call is on
    /// disk: free when nothing is unflushed, else one flush that starts
    /// after this call.
    /// A stalled store answers at once instead (`StoreError::Stalled`):
    /// nothing the caller does depends on a write of its own.
    pub fn sync_point(&self) -> BoxFuture<'static, StoreResult<()>> {
        if let Some(activity) = self.watchdog.stalled() {
            return Box::pin(async move { Err(StoreError::Stalled(activity.as_str())) });
        }
        let started = self.started.load(Ordering::SeqCst);
        let idle = self.applying.load(Ordering::SeqCst) == 0
            && self.durable.borrow().ticket >= self.committed.load(Ordering::SeqCst);
        if idle {
            return Box::pin(async { Ok(()) });
        }
        self.ring();
        self.wait_until(move |d| d.flushes > started)
    }
}

fn flusher<F>(
    committed: Arc<AtomicU64>,
    started: Arc<AtomicU64>,
    doorbell: Arc<Doorbell>,
    durable: watch::Sender<Flushed>,
    watchdog: Arc<Watchdog>,
    flush: F,
) where
    F: Fn() -> StoreResult<()>,
{
    let mut flushed = 0u64;
    let mut flushes = 0u64;
    loop {
        let closing = {
            let mut state = doorbell.state.lock().expect("doorbell");
            while !state.rung && !state.closing {
                state = doorbell.ring.wait(state).expect("doorbell");
            }
            state.rung = false;
            state.closing
        };
        // Every commit numbered up to `target` was applied before it was
        // numbered, so a flush that starts now makes all of them durable
        // (and everything any reader saw before the flush started).
        started.fetch_add(1, Ordering::SeqCst);
        let target = committed.load(Ordering::SeqCst);
        let flushing = watchdog.running(FLUSH_LANE);
        hang_here_in_tests();
        let flushed_now = flush();
        drop(flushing);
        match flushed_now {
            Ok(()) => {
                crate::metrics::FLUSHES.inc();
                crate::metrics::FLUSH_BATCH.observe((target - flushed) as f64);
                flushed = target;
                flushes += 1;
                durable.send_replace(Flushed {
                    ticket: target,
                    flushes,
                });
            }
            Err(error) => {
                // The in-memory view now holds writes the disk may not:
                // no reply can be trusted. Stop; restart recovers.
                tracing::error!(%error, "flush failed; aborting so recovery starts from disk");
                std::process::abort();
            }
        }
        if closing {
            return;
        }
    }
}

/// With the `failpoints` feature, `FAILPOINTS=store.flush=return(PATH)`
/// makes every flush hang while the file PATH exists: a test creates it to
/// hang the store at the moment it chooses.
fn hang_here_in_tests() {
    #[cfg(feature = "failpoints")]
    if let Some(Some(path)) = fail::eval("store.flush", |path| path) {
        while std::path::Path::new(&path).exists() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
