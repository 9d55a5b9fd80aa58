//! boxoffice's change 5 (VENDORED.md): the log is made durable with
//! `fdatasync`, shared among the I/O buffers written at the same time.
//!
//! sled 0.34.7 followed each buffer's `pwrite` with `sync_file_range`,
//! which writes the pages back but persists no metadata (a grown file's
//! size, newly allocated blocks) and flushes no device cache: after a
//! power cut, "stable" data could be gone. `fdatasync` persists the data
//! and whatever metadata is needed to read it back.
//!
//! Several buffers can be written at once (one thread each); one
//! `fdatasync` that *starts* after a write has completed covers it. So a
//! writer that finds a sync running waits for the next one instead of
//! starting its own, and one sync serves every write completed before it
//! began: syncs stay about constant while writes per sync grow with load.
//!
//! A failed sync is final. After an `fdatasync` error the kernel may have
//! dropped the dirty pages and a second sync can succeed without them
//! ("fsyncgate"), so every later call reports the first error.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Condvar, Mutex};

/// Makes completed writes of one file durable, one `fdatasync` for all
/// the writes completed before it starts.
#[derive(Default)]
pub(crate) struct SharedSync {
    /// Writes completed (each counted after its `pwrite` returned).
    written: AtomicU64,
    state: Mutex<SyncState>,
    done: Condvar,
    /// Syncs performed (for the caller's metrics).
    syncs: AtomicU64,
}

#[derive(Default)]
struct SyncState {
    /// Every write numbered up to this one is durable.
    durable: u64,
    /// A sync is running now.
    running: bool,
    /// The first sync error, kept: nothing is durable after it.
    failed: Option<(io::ErrorKind, String)>,
}

impl SharedSync {
    /// Call after a write to `file` has completed: returns once it is
    /// durable (an `fdatasync` started after it has returned), or the
    /// sync's error.
    pub(crate) fn after_write(&self, file: &File) -> io::Result<()> {
        self.after_write_with(|| file.sync_data())
    }

    /// `after_write` with the sync given (tests count and pace it).
    pub(crate) fn after_write_with(
        &self,
        sync: impl Fn() -> io::Result<()>,
    ) -> io::Result<()> {
        let mine = self.written.fetch_add(1, SeqCst) + 1;
        let mut state = self.state.lock().expect("shared sync state");
        loop {
            if let Some((kind, message)) = &state.failed {
                return Err(io::Error::new(*kind, message.clone()));
            }
            if state.durable >= mine {
                return Ok(());
            }
            if state.running {
                state = self.done.wait(state).expect("shared sync state");
                continue;
            }
            // Every write counted by now has completed: the sync that
            // starts after this read covers them all, this one included.
            let covers = self.written.load(SeqCst);
            state.running = true;
            drop(state);
            let result = sync();
            self.syncs.fetch_add(1, SeqCst);
            state = self.state.lock().expect("shared sync state");
            state.running = false;
            match &result {
                Ok(()) => state.durable = state.durable.max(covers),
                Err(error) => {
                    state.failed = Some((error.kind(), error.to_string()))
                }
            }
            self.done.notify_all();
        }
    }

    /// Syncs performed so far.
    pub(crate) fn syncs(&self) -> u64 {
        self.syncs.load(SeqCst)
    }
}

/// `fsync` of a directory: makes the entries created, renamed or
/// removed in it durable (a new file's name is not durable with the
/// file's own sync on every file system).
#[cfg(unix)]
pub(crate) fn sync_dir(dir: &std::path::Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows cannot open a directory as a file; NTFS journals its entries.
#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &std::path::Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Barrier};

    #[test]
    fn one_write_is_durable_after_one_sync() {
        let shared = SharedSync::default();
        shared.after_write_with(|| Ok(())).unwrap();
        assert_eq!(shared.syncs(), 1);
    }

    #[test]
    fn writes_that_wait_for_a_running_sync_share_the_next_one() {
        // Eight writers; the first sync to run holds until all eight have
        // completed their writes. Whatever it covered, one more sync
        // covers every other writer: two in all, never one per write.
        let shared = Arc::new(SharedSync::default());
        let in_sync = Arc::new(AtomicBool::new(false));
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (shared, in_sync, barrier) =
                    (shared.clone(), in_sync.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let counter = shared.clone();
                    shared
                        .after_write_with(|| {
                            assert!(
                                !in_sync.swap(true, SeqCst),
                                "two syncs at once"
                            );
                            while counter.written.load(SeqCst) < 8 {
                                std::thread::yield_now();
                            }
                            in_sync.store(false, SeqCst);
                            Ok(())
                        })
                        .unwrap();
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(shared.syncs() <= 2, "{} syncs for 8 writes", shared.syncs());
    }

    #[test]
    fn a_write_after_a_sync_started_is_not_covered_by_it() {
        // The sync of write 1 is running when write 2 completes: write 2
        // must wait for a sync of its own.
        let shared = Arc::new(SharedSync::default());
        let started = Arc::new(Barrier::new(2));
        let release = Arc::new(Barrier::new(2));
        let first = {
            let (shared, started, release) =
                (shared.clone(), started.clone(), release.clone());
            std::thread::spawn(move || {
                let calls = AtomicU64::new(0);
                shared
                    .after_write_with(|| {
                        if calls.fetch_add(1, SeqCst) == 0 {
                            started.wait();
                            release.wait();
                        }
                        Ok(())
                    })
                    .unwrap();
            })
        };
        started.wait();
        let second = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                shared.after_write_with(|| Ok(())).unwrap();
            })
        };
        // The second writer has counted itself (or will, before it can
        // return); it cannot return while the first sync is held.
        while shared.written.load(SeqCst) < 2 {
            std::thread::yield_now();
        }
        release.wait();
        first.join().unwrap();
        second.join().unwrap();
        assert_eq!(shared.syncs(), 2);
    }

    #[test]
    fn a_failed_sync_fails_every_later_one() {
        let shared = SharedSync::default();
        let error = shared
            .after_write_with(|| Err(io::Error::new(io::ErrorKind::Other, "EIO")))
            .unwrap_err();
        assert_eq!(error.to_string(), "EIO");
        let later = shared.after_write_with(|| Ok(())).unwrap_err();
        assert_eq!(later.to_string(), "EIO");
    }
}
