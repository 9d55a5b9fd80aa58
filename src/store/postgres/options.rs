//! How a PostgreSQL store is set up (`PgOptions`), in a file of its own
//! because both the start-up (`mod.rs`) and the connection pool
//! (`pool.rs`) read it.

use crate::store::watchdog::WaitLimits;

/// How a PostgreSQL store is set up.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Connections to the database (reads and commit rounds together).
    pub pool_size: usize,
    /// Most write sets in one commit round (one transaction). 1 is the
    /// classic design: a transaction per request.
    pub max_batch: usize,
    /// Commit rounds in flight at once, each on its own connection.
    pub committers: usize,
    /// Write sets waiting for a round before new ones answer 503.
    pub commit_queue_capacity: usize,
    /// How long a commit round may run (`store::watchdog`).
    pub wait_limits: WaitLimits,
    /// How long a request waits for a free connection before 503.
    pub pool_wait_ms: u64,
    /// This node's id in the cluster (`None`: a random one per start; a
    /// node restarted with its old id takes its partitions back at once).
    pub node_id: Option<String>,
    /// The URL other nodes reach this one at.
    pub advertise: String,
    /// How long a node owns a partition without renewing (`lease_ms`).
    pub lease_ms: u64,
    /// Whether commit rounds check the epochs of their partitions. Off only
    /// in the fault runs that prove the check is needed (`unsafe_no_fence`).
    pub fence: bool,
    /// SIGUSR1 makes the next commit round that writes for a partition
    /// stop the process between its epoch read and the database
    /// (`test_sigusr1_stops_in_commit`, fault runs only).
    pub sigusr1_stops_in_commit: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            max_batch: 512,
            committers: 2,
            commit_queue_capacity: crate::store::DEFAULT_COMMIT_QUEUE_CAPACITY,
            wait_limits: WaitLimits::default(),
            pool_wait_ms: 1_000,
            node_id: None,
            advertise: String::new(),
            lease_ms: 6_000,
            fence: true,
            sigusr1_stops_in_commit: false,
        }
    }
}
