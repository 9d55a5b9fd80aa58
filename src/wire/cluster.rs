//! The cluster view (`GET /v1/cluster`): nodes, partitions and their
//! leases, as the admin endpoint answers them.

use serde::Serialize;
use utoipa::ToSchema;

/// A node of the cluster (`GET /v1/cluster`).
#[derive(Serialize, ToSchema)]
#[schema(as = ClusterNode)]
pub struct ClusterNodeOut {
    pub id: String,
    /// The URL other nodes reach it at.
    pub advertise: String,
    /// Its last heartbeat (RFC 3339 UTC).
    #[schema(format = DateTime)]
    pub heartbeat_at: String,
}

/// A partition's lease (`GET /v1/cluster`).
#[derive(Serialize, ToSchema)]
#[schema(as = PartitionLease)]
pub struct PartitionOut {
    pub id: i32,
    /// The node holding it; null while nobody does.
    pub owner: Option<String>,
    /// Raised by every claim; writes under an older epoch are refused.
    pub epoch: i64,
}

/// The cluster: this node, every node that announced itself, and every
/// partition's lease.
#[derive(Serialize, ToSchema)]
#[schema(as = Cluster)]
pub struct ClusterOut {
    /// The node that answered.
    pub node: String,
    pub nodes: Vec<ClusterNodeOut>,
    pub partitions: Vec<PartitionOut>,
}

/// One show's partition and its lease (`GET /v1/cluster?show_id=`).
#[derive(Serialize, ToSchema)]
#[schema(as = ShowPartition)]
pub struct ShowPartitionOut {
    pub partition: i32,
    pub owner: Option<String>,
    pub epoch: i64,
}

/// The answer of `GET /v1/cluster`: the whole cluster, or one show's
/// partition when `show_id` is given.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = ClusterAnswer)]
pub enum ClusterAnswerOut {
    Cluster(ClusterOut),
    Show(ShowPartitionOut),
}
