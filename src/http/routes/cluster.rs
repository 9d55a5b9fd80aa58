//! `GET /v1/cluster` (admin): the nodes sharing a PostgreSQL database and
//! each partition's lease, or one show's partition. The cluster's
//! membership knows the leases; this file only asks it and writes the
//! answer.

use super::answers::{answer, State};
use crate::http::doc_parts;
use crate::http::extract;
use crate::http::requests::ClusterQuery;
use crate::replies::{self, not_found, EngineError};
use crate::wire::{self, ProblemBody as Problem, Reply};
use actix_web::{HttpRequest, HttpResponse};

#[utoipa::path(
    get, path = "/v1/cluster", tag = "operations", operation_id = "getCluster",
    security(("bearer" = [])),
    params(ClusterQuery),
    responses(
        (status = 200, description = "The nodes and every partition's lease; with `show_id`, that show's partition, owner and epoch.", body = wire::ClusterAnswerOut),
        (status = 400, description = "`invalid-request`: an unknown or repeated query parameter, or a `show_id` that is not a show id.", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = doc_parts::Unauthorized),
        (status = 403, response = doc_parts::Forbidden),
        (status = 404, description = "`not-found`: an unknown show, or a server on the embedded sled store (a cluster of one node, with no leases).", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = doc_parts::RateLimited),
        (status = 503, response = doc_parts::Overloaded),
    ),
)]
/// The cluster (admin)
///
/// Admin only. On PostgreSQL, every node started with the same database is
/// one cluster: shows are spread over 256 partitions, each leased by one
/// node at an epoch (docs/CLUSTER.md).
pub(crate) async fn cluster(state: State, req: HttpRequest) -> HttpResponse {
    answer(
        async {
            extract::admin(&state, &req).await?;
            let query = ClusterQuery::parse(req.query_string())?;
            let view = match state.engine.membership().view().await {
                Ok(Some(view)) => view,
                Ok(None) => return Err(replies::no_cluster()),
                Err(error) => return Err(EngineError::from(error).reply()),
            };
            let answer = match query.show()? {
                Some(show) => {
                    if state.engine.find_show(show).await?.is_none() {
                        return Err(not_found("show"));
                    }
                    let partition = crate::cluster::partition_of(show);
                    let lease = view.partitions.iter().find(|p| p.id == partition);
                    wire::ClusterAnswerOut::Show(wire::ShowPartitionOut {
                        partition,
                        owner: lease.and_then(|l| l.owner.clone()),
                        epoch: lease.map_or(0, |l| l.epoch),
                    })
                }
                None => wire::ClusterAnswerOut::Cluster(wire::ClusterOut {
                    node: view.node,
                    nodes: view
                        .nodes
                        .into_iter()
                        .map(|n| wire::ClusterNodeOut {
                            id: n.id,
                            advertise: n.advertise,
                            heartbeat_at: wire::rfc3339(n.heartbeat_at_ms),
                        })
                        .collect(),
                    partitions: view
                        .partitions
                        .into_iter()
                        .map(|p| wire::PartitionOut {
                            id: p.id,
                            owner: p.owner,
                            epoch: p.epoch,
                        })
                        .collect(),
                }),
            };
            Ok(Reply::json(200, &answer))
        }
        .await,
    )
}
