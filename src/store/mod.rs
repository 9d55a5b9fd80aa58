//! Durable storage behind a trait: the embedded sled store (the default)
//! and PostgreSQL (`postgres`), with the same contract.
//!
//! The contract every implementation keeps:
//! - `submit` applies a `WriteSet` atomically: all mutations and the
//!   idempotency record, or nothing. If the record's key is already taken,
//!   nothing is written and the existing record is returned.
//! - a commit is visible to reads once `submit`'s future resolves, but
//!   durable only when the future from `durable(ticket)` resolves; callers
//!   reply only after that.
//! - durability is shared: many write sets go into one commit round, and
//!   one sync (sled: the flusher's `fdatasync`; PostgreSQL: the round's
//!   COMMIT) serves every waiter of that round (group commit), so syncs per
//!   second stay bounded while commits per sync grow with load.
//! - `export_snapshot` hands every record, from one consistent snapshot,
//!   to a sink while the store serves (the online export).

pub mod check;
pub mod codec;
mod contract;
pub mod dump;
mod group_commit;
mod key_record;
pub mod postgres;
mod sled_store;
mod storage;
pub mod watchdog;

pub use contract::{
    CommitOutcome, KeyRecord, Mutation, Store, StoreError, StoreFuture, StoreResult, Ticket,
    WriteSet,
};
pub use postgres::{PgOptions, PgStore};
pub use sled_store::{SledOptions, SledStore, DEFAULT_COMMIT_QUEUE_CAPACITY};
pub use storage::{Storage, StorageConfig};
pub use watchdog::WaitLimits;
