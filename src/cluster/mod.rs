//! Cluster mode: many nodes on one PostgreSQL database, every show served
//! by one node at a time (docs/CLUSTER.md). Every rule of it has its home
//! here, but two that must sit where the work happens:
//!
//! - [`partitions`]: shows to partitions, the unit a node leases.
//! - [`leases`]: a node's leases and epochs; claiming, renewing, letting go
//!   (all in the database, on its clock).
//! - [`membership`]: the [`Membership`] trait the engine asks (under which
//!   lease it serves a show, who serves it otherwise, gains and losses),
//!   and [`OneNode`], the answer of a store of one node (sled);
//!   [`pg_membership`]: PostgreSQL's nodes' answers.
//! - [`owners`]: discovery, who serves a partition, kept a moment.
//! - [`history`]: the database's history (a promoted standby, a restore):
//!   a change makes the node let go of everything and claim it back.
//! - [`node_identity`]: a node's id kept with its data, the same on every
//!   start.
//! - [`database`]: what the database's failures mean.
//! - [`forward`]: a request for a show another node serves is sent on to
//!   it; the HTTP edge (`http::forward`) passes the request and answer.
//!
//! The two elsewhere: the **fence** is checked inside each commit round's
//! transaction (`store::postgres::committer::fence`, `Fence`), because
//! only the write itself can be refused atomically with its effect; and a
//! node drops or reloads shows as partitions come and go in the engine
//! (`engine::partitions`), which owns the shows.

pub mod database;
pub mod forward;
pub mod history;
pub mod leases;
pub mod membership;
pub mod node_identity;
pub mod owners;
pub mod partitions;
pub mod pg_membership;

pub use database::DatabaseError;
pub use membership::{
    ClusterNode, ClusterView, Lookup, Membership, OneNode, PartitionEvent, PartitionLease,
    ShowFence,
};
pub use partitions::{partition_of, PARTITIONS};
pub use pg_membership::PgMembership;
