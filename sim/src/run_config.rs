//! What a simulation run is asked to do.

use super::client::Faults;
use super::cluster::ClusterPlan;
use super::target::LocalEngines;
use super::workload::Scenario;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub scenario: Scenario,
    pub users: usize,
    pub seed: u64,
    /// Rows and seats per row of the show under test.
    pub rows: usize,
    pub seats_per_row: u32,
    /// Arrivals spread over this long; steady users keep going this long.
    pub duration: Duration,
    pub faults: Faults,
    /// Crash and restart the engine this often.
    pub crash_every: Option<Duration>,
    /// Starts the engine in this process that a run with no `targets` and
    /// no `cluster` drives.
    pub local_engine: Option<LocalEngines>,
    /// Running servers (`http://host:port`, one or the nodes of a
    /// cluster) instead of an in-process one.
    pub targets: Vec<String>,
    /// Nodes this run starts on PostgreSQL, and the faults it injects.
    pub cluster: Option<ClusterPlan>,
    pub admin_token: Option<String>,
    /// Command that starts the target server (so it can be killed with -9
    /// and restarted).
    pub server_cmd: Option<String>,
    pub hold_ttl_secs: u64,
    pub report: Option<PathBuf>,
    pub progress: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            scenario: Scenario::Premiere,
            users: 200,
            seed: 1,
            rows: 10,
            seats_per_row: 20,
            duration: Duration::from_secs(5),
            faults: Faults::default(),
            crash_every: None,
            local_engine: None,
            targets: Vec::new(),
            cluster: None,
            admin_token: None,
            server_cmd: None,
            hold_ttl_secs: 600,
            report: None,
            progress: false,
        }
    }
}
