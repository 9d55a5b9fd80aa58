//! What the committers and the parts of a round all name: a write set
//! waiting for a round (`Submitted`), what every committer shares
//! (`Rounds`), a round's keys (`KeyId`) and what each write set gets
//! (`Taken`). A leaf: the round (`mod.rs`) and its parts (`fence`, `keys`,
//! `writes`, `outcome`) all import it, and no part imports the round.

use crate::cluster::history::History;
use crate::cluster::leases::Leases;
use crate::domain::StoredReply;
use crate::store::contract::{CommitOutcome, StoreResult, WriteSet};
use crate::store::watchdog::Watchdog;
use deadpool_postgres::Pool;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// A write set waiting for a commit round, and where its outcome goes.
pub(crate) struct Submitted {
    pub writes: WriteSet,
    pub reply: oneshot::Sender<StoreResult<CommitOutcome>>,
}

/// What every committer shares.
pub(crate) struct Rounds {
    pub pool: Pool,
    pub queue: tokio::sync::Mutex<mpsc::Receiver<Submitted>>,
    pub max_batch: usize,
    pub watchdog: Arc<Watchdog>,
    pub tickets: AtomicU64,
    /// How long a round tries to learn the outcome of a broken COMMIT.
    pub resolve_for: Duration,
    /// This node's partition leases: every round is fenced by them.
    pub leases: Arc<Leases>,
    /// The database's history: every round answered as committed is
    /// remembered there, to be looked up if the history changes.
    pub history: Arc<History>,
}

/// Per write set: `None` applied, `Some(Ok(record))` its key was taken,
/// `Some(Err(_))` its key record could not be read back.
pub(super) type Taken = Option<StoreResult<StoredReply>>;

/// A key of the round: (user, key).
pub(super) type KeyId = (Uuid, String);
