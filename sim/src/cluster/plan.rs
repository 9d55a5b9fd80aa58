//! The types a cluster run is described in, shared by its parts and read
//! by the rest of the simulator: what the run is asked to do
//! (`ClusterPlan`, the `FaultKind`s it injects, which `boxoffice simulate`
//! takes from its command line) and what each injected fault did
//! (`FaultRecord`, which the checker judges and the summary and report
//! show). A leaf, so the process control and the fault injection beside it
//! import these from here rather than from `cluster`.

use std::time::Duration;

/// A fault the simulator injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FaultKind {
    /// `kill -9` of the show's owner; restarted (same node id) three
    /// leases later, by when another node serves the show.
    Kill,
    /// `SIGSTOP` of the show's owner for two leases, then `SIGCONT`.
    Pause,
    /// The same, but the owner stops itself inside a commit round, after
    /// reading its epochs and before the database sees them (SIGUSR1 to a
    /// node run with `test_sigusr1_stops_in_commit`): the moment docs/CLUSTER.md
    /// warns of, every time, where a plain SIGSTOP finds it now and then.
    PauseInCommit,
    /// The database stopped (`--db-stop-cmd`, e.g. `pg_ctl -m immediate
    /// stop`) for two leases, then started again (`--db-start-cmd`).
    DbRestart,
    /// The show's owner cut off the database and the other nodes for two
    /// leases, its clients still reaching it (`sim::netns`), then healed.
    /// Every node then runs in a network namespace of its own (root only).
    Cut,
    /// The show's owner's only link down for two leases (nobody reaches it,
    /// it reaches nobody), then up; namespaces as for `Cut`.
    LinkDown,
    /// The primary database lost (`--db-stop-cmd`, e.g. `pg_ctl -m
    /// immediate stop`) and a standby promoted `--promote-after-ms` later
    /// (`--db-promote-cmd`), as an orchestrator would; the nodes reach
    /// whichever accepts writes through a multi-host `--database-url`
    /// (`target_session_attrs=read-write`). Once per run: the promoted
    /// standby has no standby of its own.
    Failover,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill -9",
            FaultKind::Pause => "pause",
            FaultKind::PauseInCommit => "pause in a commit round",
            FaultKind::DbRestart => "database restart",
            FaultKind::Cut => "network cut",
            FaultKind::LinkDown => "link down",
            FaultKind::Failover => "database failover",
        }
    }
}

/// What a cluster run is asked to do.
#[derive(Clone, Debug)]
pub struct ClusterPlan {
    pub nodes: usize,
    pub database_url: String,
    pub lease_ms: u64,
    /// Injected in turn, one every `fault_every`.
    pub faults: Vec<FaultKind>,
    pub fault_every: Duration,
    /// Shell commands that stop the database (as a crash) and start it
    /// again (for `db-restart`).
    pub db_stop_cmd: Option<String>,
    pub db_start_cmd: Option<String>,
    /// Shell command that promotes a standby (for `failover`), and how
    /// long after the primary's loss it is run (an orchestrator's time to
    /// notice and decide).
    pub db_promote_cmd: Option<String>,
    pub promote_after: Duration,
    /// Nodes run with `unsafe_no_fence` (the runs that must find a
    /// violation).
    pub unsafe_no_fence: bool,
}

/// One injected fault, as the report and the summary show it.
#[derive(Clone, Debug)]
pub struct FaultRecord {
    pub kind: FaultKind,
    /// The node it hit (the show's owner then; none for the database).
    pub node: Option<String>,
    /// When it began and when it was healed (wall clock, ms).
    pub at_ms: u64,
    pub healed_ms: u64,
    /// From the fault's start until a node other than the one it hit
    /// serves the show (for a database restart: until writes work again).
    pub served_again_ms: Option<u64>,
    /// A database fault: from when the stop command returned until the
    /// start command was run (wall clock, ms): the database was down.
    pub outage_ms: Option<(u64, u64)>,
}

impl FaultRecord {
    /// One line: what, where, how long, when the show was served again.
    pub fn describe(&self) -> String {
        let served = self
            .served_again_ms
            .map_or("not served again".to_string(), |ms| {
                format!("served again after {:.2} s", ms as f64 / 1000.0)
            });
        format!(
            "fault: {}{} | lasted {:.2} s, {served}",
            self.kind.name(),
            self.node
                .as_ref()
                .map_or(String::new(), |n| format!(" of {n}")),
            self.healed_ms.saturating_sub(self.at_ms) as f64 / 1000.0,
        )
    }
}
