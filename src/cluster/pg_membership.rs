//! Membership among nodes on one PostgreSQL database: the answers come
//! from this node's leases (`leases`) and, for questions about other
//! nodes, from the database's `nodes` and `partitions` tables. Every query
//! runs on the store's runtime, where the pool's connections live.

use super::database::{db_error, pool_error};
use super::leases::Leases;
use super::membership::{
    ClusterNode, ClusterView, Lookup, Membership, PartitionEvent, PartitionLease, ShowFence,
};
use super::owners::OwnerCache;
use super::partitions::partition_of;
use crate::domain::ShowId;
use deadpool_postgres::Pool;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedReceiver;

/// A node's membership on PostgreSQL.
pub struct PgMembership {
    pool: Pool,
    /// The store's runtime.
    handle: tokio::runtime::Handle,
    leases: Arc<Leases>,
    /// Gains and losses of partitions, until the engine takes them.
    events: Mutex<Option<UnboundedReceiver<PartitionEvent>>>,
    /// Who owns each partition, as last read (`owner_of`).
    owners: Arc<OwnerCache>,
}

impl PgMembership {
    pub fn new(
        pool: Pool,
        handle: tokio::runtime::Handle,
        leases: Arc<Leases>,
        events: UnboundedReceiver<PartitionEvent>,
    ) -> PgMembership {
        PgMembership {
            pool,
            handle,
            owners: Arc::new(OwnerCache::new(leases.lease_ms)),
            leases,
            events: Mutex::new(Some(events)),
        }
    }

    /// This node's leases (for tests).
    pub fn leases(&self) -> &Arc<Leases> {
        &self.leases
    }

    /// Runs `work` on the store's runtime.
    fn spawn<T, F>(&self, work: F) -> Lookup<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, super::database::DatabaseError>> + Send + 'static,
    {
        let task = self.handle.spawn(work);
        Box::pin(async move {
            task.await.unwrap_or_else(|e| {
                Err(super::database::DatabaseError::Unavailable(format!(
                    "a store task: {e}"
                )))
            })
        })
    }
}

impl Membership for PgMembership {
    fn is_shared(&self) -> bool {
        true
    }

    fn fence_of(&self, show: ShowId) -> ShowFence {
        match self.leases.epoch_of(partition_of(show)) {
            Some(epoch) => ShowFence::Held(epoch),
            None => ShowFence::NotHeld,
        }
    }

    fn partition_of(&self, show: ShowId) -> Option<i32> {
        Some(partition_of(show))
    }

    fn take_partition_events(&self) -> Option<UnboundedReceiver<PartitionEvent>> {
        let taken = self.events.lock().expect("events").take();
        if taken.is_some() {
            self.leases.listening.store(true, Ordering::SeqCst);
        }
        taken
    }

    /// The node holding partition 0 sweeps: a lease every node already
    /// keeps, so sweeps move with it when that node stops or dies.
    fn sweeps_here(&self) -> bool {
        self.leases.epoch_of(0).is_some()
    }

    fn owner_of(&self, show: ShowId) -> Lookup<Option<String>> {
        let (pool, partition) = (self.pool.clone(), partition_of(show));
        if let Some(owner) = self.owners.get(partition) {
            return Box::pin(async move { Ok(Some(owner)) });
        }
        let owners = self.owners.clone();
        self.spawn(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let row = client
                .query_opt(
                    "SELECT n.advertise FROM partitions p JOIN nodes n ON n.id = p.owner
                     WHERE p.id = $1 AND p.lapse_at > now()",
                    &[&partition],
                )
                .await
                .map_err(db_error)?;
            let owner: Option<String> = row.map(|row| row.get(0));
            // "Nobody" lasts only until a takeover: not kept.
            if let Some(owner) = &owner {
                owners.put(partition, owner.clone());
            }
            Ok(owner)
        })
    }

    fn forget_owner(&self, show: ShowId) {
        self.owners.forget(partition_of(show));
    }

    fn advertise(&self, url: &str) {
        self.leases.set_advertise(url);
    }

    fn view(&self) -> Lookup<Option<ClusterView>> {
        let (pool, node) = (self.pool.clone(), self.leases.node.clone());
        self.spawn(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let nodes = client
                .query(
                    "SELECT id, advertise,
                        (extract(epoch FROM heartbeat_at) * 1000)::int8
                     FROM nodes ORDER BY id",
                    &[],
                )
                .await
                .map_err(db_error)?
                .iter()
                .map(|row| ClusterNode {
                    id: row.get(0),
                    advertise: row.get(1),
                    heartbeat_at_ms: row.get(2),
                })
                .collect();
            let partitions = client
                .query("SELECT id, owner, epoch FROM partitions ORDER BY id", &[])
                .await
                .map_err(db_error)?
                .iter()
                .map(|row| PartitionLease {
                    id: row.get(0),
                    owner: row.get(1),
                    epoch: row.get(2),
                })
                .collect();
            Ok(Some(ClusterView {
                node,
                nodes,
                partitions,
            }))
        })
    }
}
