//! How a sled store is opened (`SledOptions`), in a file of its own
//! because both the open (`mod.rs`) and the online export, which opens
//! its copy with a small cache (`dump.rs`), set it.

use crate::store::watchdog::WaitLimits;

/// Write sets waiting for the committer by default; beyond the capacity,
/// `submit` answers `StoreError::Busy` (503) at once rather than queueing
/// without bound.
pub const DEFAULT_COMMIT_QUEUE_CAPACITY: usize = 16 * 1024;

/// How a sled store is opened.
#[derive(Clone, Copy, Debug)]
pub struct SledOptions {
    /// Write sets waiting for the committer at most (at least one); one
    /// more is refused `Busy` (503).
    pub commit_queue_capacity: usize,
    /// How long a commit or flush may run (`store::watchdog`).
    pub wait_limits: WaitLimits,
    /// sled's page cache, bytes (`None`: sled's default, 1 GiB).
    pub cache_bytes: Option<u64>,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            commit_queue_capacity: DEFAULT_COMMIT_QUEUE_CAPACITY,
            wait_limits: WaitLimits::default(),
            cache_bytes: None,
        }
    }
}
