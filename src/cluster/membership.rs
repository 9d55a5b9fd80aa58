//! Membership: which node serves which show, as the engine asks it. The
//! `Store` keeps data; this trait answers the cluster's questions (under
//! which lease this node serves a show, who serves it otherwise, which
//! partitions it gained or lost, whether it sweeps). A store of one node
//! (sled) has the trivial answer, [`OneNode`]; PostgreSQL's nodes answer
//! from their leases ([`crate::cluster::PgMembership`]).

use super::database::DatabaseError;
use crate::domain::ShowId;
use futures_util::future::BoxFuture;

/// A question to the cluster's database in flight.
pub type Lookup<T> = BoxFuture<'static, Result<T, DatabaseError>>;

/// The cluster as the database records it (`Membership::view`).
#[derive(Clone, Debug)]
pub struct ClusterView {
    /// This node's id.
    pub node: String,
    pub nodes: Vec<ClusterNode>,
    pub partitions: Vec<PartitionLease>,
}

/// A node that has announced itself.
#[derive(Clone, Debug)]
pub struct ClusterNode {
    pub id: String,
    pub advertise: String,
    /// Its last heartbeat, ms since the epoch (the database's clock).
    pub heartbeat_at_ms: i64,
}

/// A partition's lease.
#[derive(Clone, Debug)]
pub struct PartitionLease {
    pub id: i32,
    /// The node holding it, if any holds it.
    pub owner: Option<String>,
    pub epoch: i64,
}

/// Under which lease a node serves a show (`Membership::fence_of`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShowFence {
    /// A store of one node (sled): nothing to check.
    Alone,
    /// This node holds the show's partition at this epoch.
    Held(i64),
    /// This node does not hold the show's partition: it cannot write.
    NotHeld,
}

impl ShowFence {
    /// The epoch a write set carries (`WriteSet::fence`).
    pub fn token(self) -> Option<i64> {
        match self {
            ShowFence::Alone => None,
            ShowFence::Held(epoch) => Some(epoch),
            ShowFence::NotHeld => Some(-1),
        }
    }
}

/// A change of the partitions this node holds (`Membership::take_partition_events`).
#[derive(Debug)]
pub enum PartitionEvent {
    /// Claimed at these epochs; the store uses them once `loaded` is
    /// answered (the engine has reloaded their shows from the store).
    Gained {
        partitions: Vec<(i32, i64)>,
        loaded: tokio::sync::oneshot::Sender<()>,
    },
    /// No longer held: drop their shows.
    Lost(Vec<i32>),
}

/// What the engine and the HTTP edge ask of the cluster.
pub trait Membership: Send + Sync + 'static {
    /// Whether nodes share the data (and so leases decide who serves
    /// what); false for a store of one node.
    fn is_shared(&self) -> bool;

    /// Under which lease this node serves `show` (`Alone` on one node).
    fn fence_of(&self, show: ShowId) -> ShowFence;

    /// The partition of `show` (`None` on one node).
    fn partition_of(&self, show: ShowId) -> Option<i32>;

    /// Changes of the partitions this node holds, for the engine (taken
    /// once; `None` on one node). Until taken, partitions are claimed only
    /// at start.
    fn take_partition_events(&self)
        -> Option<tokio::sync::mpsc::UnboundedReceiver<PartitionEvent>>;

    /// Whether this node sweeps the expired keys and sessions (among many
    /// nodes, one at a time does).
    fn sweeps_here(&self) -> bool;

    /// The URL of the node serving `show` now (`None`: nobody does, or one
    /// node).
    fn owner_of(&self, show: ShowId) -> Lookup<Option<String>>;

    /// Forgets what `owner_of` answered for `show` (the node it named
    /// refused or could not be reached): the next call asks again.
    fn forget_owner(&self, show: ShowId);

    /// The URL other nodes reach this one at, once it is known (after the
    /// server has bound its port).
    fn advertise(&self, url: &str);

    /// The cluster as the database records it (nodes and partition
    /// leases); `None` on one node.
    fn view(&self) -> Lookup<Option<ClusterView>>;
}

/// A store of one node (sled): it serves every show, alone.
pub struct OneNode;

impl Membership for OneNode {
    fn is_shared(&self) -> bool {
        false
    }

    fn fence_of(&self, _show: ShowId) -> ShowFence {
        ShowFence::Alone
    }

    fn partition_of(&self, _show: ShowId) -> Option<i32> {
        None
    }

    fn take_partition_events(
        &self,
    ) -> Option<tokio::sync::mpsc::UnboundedReceiver<PartitionEvent>> {
        None
    }

    fn sweeps_here(&self) -> bool {
        true
    }

    fn owner_of(&self, _show: ShowId) -> Lookup<Option<String>> {
        Box::pin(async { Ok(None) })
    }

    fn forget_owner(&self, _show: ShowId) {}

    fn advertise(&self, _url: &str) {}

    fn view(&self) -> Lookup<Option<ClusterView>> {
        Box::pin(async { Ok(None) })
    }
}
