//! `boxoffice simulate --cluster N`: the crowd against N nodes on one
//! PostgreSQL while the owner of the show is killed, paused or cut off and
//! the database restarts (the fault table of docs/CLUSTER.md).
//!
//! Why the simulator runs the nodes itself: a fault must hit the node that
//! owns the show under test at that moment, and only the process that
//! started the nodes can `kill -9`, `SIGSTOP` and restart them. The checker
//! then judges the merged history of every node's answers and the final
//! state read back through any node, as in a one-node run.
//!
//! The parts, one job each: `plan`, the types a run is described and
//! recorded in; `nodes`, process control of the nodes; `inject`, the
//! faults schedule; `probes`, what is asked of the nodes over HTTP. The
//! judges of the fault records (`takeover`, `database-outage`) live with
//! the other invariants in `crate::checker`.

mod inject;
mod nodes;
mod plan;
mod probes;

pub use inject::inject;
pub use nodes::Cluster;
pub use plan::{ClusterPlan, FaultKind, FaultRecord};
pub use probes::{counter, node_counters, NodeCounters};
