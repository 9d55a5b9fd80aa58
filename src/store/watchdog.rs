//! A deadline on every wait for the store.
//!
//! Requests wait on two things in the store: the committer's transaction
//! (a submit waits for it) and the flusher's fsync (a reply waits for it).
//! Either can hang: sled has hung flushes here (concurrent `flush_async` calls), a disk can
//! stall, a database can pause. The watchdog times each while it runs:
//! - past `stall_ms` the store is *stalled*: new write sets are refused at
//!   once (`StoreError::Stalled`, answered 503 with `Retry-After`, nothing
//!   written), and so are reads that would wait for a flush;
//! - past `deadline_ms` the process aborts (fail-stop). Writes that were
//!   applied may or may not reach the disk, so their requests can be
//!   answered neither yes nor no (a 5xx promises no effect); the restart
//!   recovers from the disk, as after a failed flush.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How long the store's work may take before it counts as stalled, and
/// before it stops the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitLimits {
    pub stall_ms: u64,
    pub deadline_ms: u64,
}

impl Default for WaitLimits {
    fn default() -> Self {
        WaitLimits {
            stall_ms: 1_000,
            deadline_ms: 10_000,
        }
    }
}

/// What the watchdog times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    /// A transaction of the committer.
    Commit,
    /// A flush (fsync) of the flusher.
    Flush,
}

impl Activity {
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Commit => "commit",
            Activity::Flush => "flush",
        }
    }
}

pub struct Watchdog {
    limits: WaitLimits,
    epoch: Instant,
    /// One lane per thing that may run at once (a flusher, each committer):
    /// what it does, and when it started (ms since `epoch` plus one; 0:
    /// idle).
    lanes: Vec<(Activity, AtomicU64)>,
}

impl Watchdog {
    /// A watchdog of `lanes` with its own thread, which lives as long as
    /// the watchdog.
    pub fn start(limits: WaitLimits, lanes: &[Activity]) -> Arc<Watchdog> {
        let limits = WaitLimits {
            stall_ms: limits.stall_ms.max(1),
            deadline_ms: limits.deadline_ms.max(limits.stall_ms).max(1),
        };
        let watchdog = Arc::new(Watchdog {
            limits,
            epoch: Instant::now(),
            lanes: lanes.iter().map(|a| (*a, AtomicU64::new(0))).collect(),
        });
        let every = Duration::from_millis((limits.stall_ms / 4).clamp(5, 250));
        let watched = Arc::downgrade(&watchdog);
        std::thread::Builder::new()
            .name("store-watchdog".into())
            .spawn(move || watch(watched, every))
            .expect("spawn the store watchdog");
        watchdog
    }

    /// Times the work of `lane` until the returned guard is dropped.
    pub fn running(&self, lane: usize) -> Running<'_> {
        let since = self.epoch.elapsed().as_millis() as u64 + 1;
        self.lanes[lane].1.store(since, Ordering::SeqCst);
        Running {
            watchdog: self,
            lane,
        }
    }

    /// The activity that has run longer than `stall_ms`, if one has.
    pub fn stalled(&self) -> Option<Activity> {
        self.longest()
            .filter(|(_, ms)| *ms >= self.limits.stall_ms)
            .map(|(activity, _)| activity)
    }

    /// The activity running longest, and for how many ms.
    fn longest(&self) -> Option<(Activity, u64)> {
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        self.lanes
            .iter()
            .filter_map(|(activity, since)| {
                let since = since.load(Ordering::SeqCst);
                (since != 0).then(|| (*activity, now.saturating_sub(since)))
            })
            .max_by_key(|(_, ms)| *ms)
    }

    /// Publishes whether the store is stalled, and aborts the process if
    /// an activity has run past the deadline.
    fn enforce(&self) {
        crate::metrics::STORE_STALLED.set(i64::from(self.stalled().is_some()));
        if let Some((activity, ms)) = self.longest() {
            if ms >= self.limits.deadline_ms {
                let message = format!(
                    "the store's {} has run {ms} ms (deadline {} ms): aborting, \
                     so that a restart recovers from what is on disk",
                    activity.as_str(),
                    self.limits.deadline_ms
                );
                tracing::error!("{message}");
                eprintln!("{message}");
                std::process::abort();
            }
        }
    }
}

/// Work being timed; it ends when this is dropped.
pub struct Running<'a> {
    watchdog: &'a Watchdog,
    lane: usize,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.watchdog.lanes[self.lane].1.store(0, Ordering::SeqCst);
    }
}

fn watch(watchdog: Weak<Watchdog>, every: Duration) {
    loop {
        std::thread::sleep(every);
        match watchdog.upgrade() {
            Some(watchdog) => watchdog.enforce(),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_activity_is_stalled_past_its_limit_and_idle_once_done() {
        let limits = WaitLimits {
            stall_ms: 200,
            deadline_ms: 60_000,
        };
        let watchdog = Watchdog::start(limits, &[Activity::Commit, Activity::Flush]);
        assert_eq!(watchdog.stalled(), None);
        {
            let _flush = watchdog.running(1);
            assert_eq!(watchdog.stalled(), None, "just started");
            std::thread::sleep(Duration::from_millis(250));
            assert_eq!(watchdog.stalled(), Some(Activity::Flush));
        }
        assert_eq!(watchdog.stalled(), None, "done");
    }
}
