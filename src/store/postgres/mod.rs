//! The PostgreSQL store: the whole `Store` contract in one PostgreSQL
//! database, for operators who need a database they already back up,
//! replicate and monitor, or more than one node (docs/CLUSTER.md).
//!
//! Why these parts: `tokio-postgres` speaks the protocol (pipelined
//! requests on one connection), `deadpool-postgres` pools connections with
//! a bounded wait (an exhausted pool answers 503, not a queue). sqlx was
//! not taken: its checked query macros need offline metadata in the build,
//! and its runtime checks give nothing the few statements here need.
//!
//! The store runs its own small tokio runtime: the pool and each
//! connection's driver live there, and every read and commit is a task on
//! it, so callers on any thread (actix arbiters, the sweeper) await it
//! without a runtime of their own and without blocking.
//!
//! Writes are group-committed (`committer`): many requests' write sets go
//! into one transaction per round. A reply waits for COMMIT, which returns
//! only once the commit is on disk (`synchronous_commit = on`), so a
//! commit is durable as soon as it is applied.

mod batched_reads;
mod committer;
pub mod dump;
mod errors;
pub mod migrations;
mod options;
mod point_reads;
mod pool;
mod seat_rows;

pub use options::PgOptions;

use super::codec::{decode_booking, decode_show};
use super::contract::{
    CommitOutcome, Store, StoreError, StoreFuture, StoreResult, Ticket, WriteSet,
};
use super::watchdog::{Activity, Watchdog};
use crate::cluster::history::History;
use crate::cluster::leases::{self, Leases};
use crate::cluster::{Membership, PartitionEvent, PgMembership};
use crate::domain::{
    Booking, BookingId, Cart, CartId, IdempotencyKey, SeatState, Show, ShowId, StoredReply, UserId,
};
use batched_reads::Batched;
use committer::Submitted;
use deadpool_postgres::Pool;
use errors::{db_error, migration_error, pool_error};
use point_reads::{fetch_bookings, fetch_carts, fetch_keys, fetch_seats};
use pool::pool;
use seat_rows::seat_state;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::NoTls;
use uuid::Uuid;

pub struct PgStore {
    /// The store's own runtime (taken, and shut down without blocking, on
    /// drop: the store may be dropped on a runtime's thread).
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: Pool,
    queue: mpsc::Sender<Submitted>,
    watchdog: Arc<Watchdog>,
    /// The point reads of a request's path, batched (`batched_reads`).
    keys: Batched<(Uuid, String), StoredReply>,
    seats: Batched<(Uuid, i32), SeatState>,
    bookings: Batched<Uuid, Booking>,
    carts: Batched<Uuid, Cart>,
    /// This node's partition leases (`cluster::leases`): the commit
    /// rounds fence by them.
    leases: Arc<Leases>,
    /// Gains and losses of partitions, until `membership` takes them.
    events: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<PartitionEvent>>>,
    /// The database, for an export's connection of its own (the pool's
    /// carry timeouts a long snapshot must not be bound by).
    url: String,
    /// This node's id and its lock, when the id is the one kept with the
    /// node's data (`node_identity`): held as long as the store.
    identity: Option<crate::cluster::node_identity::NodeIdentity>,
}

/// Readers per kind of batched read.
const READERS: usize = 2;

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl PgStore {
    /// Connects to `url`, applies the migrations the database lacks, and
    /// starts the commit rounds.
    pub async fn connect(url: &str, options: PgOptions) -> StoreResult<PgStore> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Io(format!("the store's runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let history = History::new();
        let migrated = async {
            let pool = pool(url, &options, &history)?;
            let migrating = pool.clone();
            handle
                .spawn(async move {
                    let mut client = migrating.get().await.map_err(pool_error)?;
                    migrations::migrate(&mut client)
                        .await
                        .map_err(migration_error)
                })
                .await
                .map_err(|e| StoreError::Unavailable(format!("migrating: {e}")))??;
            Ok(pool)
        };
        let pool = match migrated.await {
            Ok(pool) => pool,
            Err(error) => {
                // Dropped here, in the caller's runtime, it would panic.
                runtime.shutdown_background();
                return Err(error);
            }
        };
        let node = options
            .node_id
            .clone()
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        let (leases, events) = Leases::new(node, options.advertise.clone(), options.lease_ms);
        history.attach(leases.clone());
        if !options.fence {
            tracing::error!("unsafe_no_fence is set: a node that lost a partition still writes for it (a test setting, never for production)");
            leases.fence_off();
        }
        if options.sigusr1_stops_in_commit {
            tracing::warn!("test_sigusr1_stops_in_commit is set: SIGUSR1 stops this process inside its next commit round (a test setting)");
            let leases = leases.clone();
            let listening = handle.spawn(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let mut user1 = signal(SignalKind::user_defined1())?;
                Ok::<_, std::io::Error>(async move {
                    while user1.recv().await.is_some() {
                        leases.request_stop_in_commit();
                    }
                })
            });
            match listening.await {
                Ok(Ok(waiting)) => {
                    handle.spawn(waiting);
                }
                _ => {
                    runtime.shutdown_background();
                    return Err(StoreError::Unavailable(
                        "cannot listen for SIGUSR1".to_string(),
                    ));
                }
            }
        }
        let claiming = {
            let (pool, leases) = (pool.clone(), leases.clone());
            handle.spawn(async move { leases::claim_at_start(&pool, &leases).await })
        };
        match claiming.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                runtime.shutdown_background();
                return Err(StoreError::Unavailable(format!(
                    "claiming partitions: {error}"
                )));
            }
            Err(error) => {
                runtime.shutdown_background();
                return Err(StoreError::Unavailable(format!(
                    "claiming partitions: {error}"
                )));
            }
        }
        handle.spawn(leases::keep(pool.clone(), leases.clone()));
        let lanes = vec![Activity::Commit; options.committers.max(1)];
        let watchdog = Watchdog::start(options.wait_limits, &lanes);
        let (queue, receiver) = mpsc::channel(options.commit_queue_capacity.max(1));
        let rounds = Arc::new(committer::Rounds {
            pool: pool.clone(),
            queue: tokio::sync::Mutex::new(receiver),
            max_batch: options.max_batch.max(1),
            watchdog: watchdog.clone(),
            tickets: AtomicU64::new(0),
            resolve_for: Duration::from_millis(options.wait_limits.deadline_ms),
            leases: leases.clone(),
            history: history.clone(),
        });
        for lane in 0..lanes.len() {
            handle.spawn(committer::run(rounds.clone(), lane));
        }
        Ok(PgStore {
            url: url.to_string(),
            identity: None,
            keys: Batched::start(&handle, pool.clone(), READERS, Arc::new(fetch_keys)),
            seats: Batched::start(&handle, pool.clone(), READERS, Arc::new(fetch_seats)),
            bookings: Batched::start(&handle, pool.clone(), READERS, Arc::new(fetch_bookings)),
            carts: Batched::start(&handle, pool.clone(), READERS, Arc::new(fetch_carts)),
            runtime: Some(runtime),
            handle,
            pool,
            queue,
            watchdog,
            leases,
            events: std::sync::Mutex::new(Some(events)),
        })
    }

    /// Keeps `identity` (the lock on the node's id) as long as the store.
    pub fn keep_identity(&mut self, identity: crate::cluster::node_identity::NodeIdentity) {
        self.identity = Some(identity);
    }

    /// This node's leases (for tests).
    pub fn leases(&self) -> &Arc<Leases> {
        &self.leases
    }

    /// This node's membership in the cluster: its leases and what the
    /// database says of the other nodes. The partition events go to the
    /// first caller (the engine).
    pub fn membership(&self) -> Arc<dyn Membership> {
        let events = self
            .events
            .lock()
            .expect("events")
            .take()
            .unwrap_or_else(|| {
                // Taken already: a second membership hears no events.
                tokio::sync::mpsc::unbounded_channel().1
            });
        Arc::new(PgMembership::new(
            self.pool.clone(),
            self.handle.clone(),
            self.leases.clone(),
            events,
        ))
    }

    /// Runs `work` on the store's runtime.
    fn spawn<T, F>(&self, work: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: Future<Output = StoreResult<T>> + Send + 'static,
    {
        let task = self.handle.spawn(work);
        Box::pin(async move {
            task.await
                .unwrap_or_else(|e| Err(StoreError::Unavailable(format!("a store task: {e}"))))
        })
    }

    /// One statement's rows, read on a pooled connection.
    fn rows<T, F>(&self, sql: &'static str, params: Params, read: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(Vec<tokio_postgres::Row>) -> StoreResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        self.spawn(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let statement = client.prepare_cached(sql).await.map_err(db_error)?;
            let refs = params.refs();
            let rows = client.query(&statement, &refs).await.map_err(db_error)?;
            read(rows)
        })
    }
}

/// Owned statement parameters (a task outlives the caller's borrows).
struct Params(Vec<Box<dyn tokio_postgres::types::ToSql + Send + Sync>>);

impl Params {
    fn refs(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        self.0
            .iter()
            .map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect()
    }
}

macro_rules! params {
    ($($value:expr),* $(,)?) => {
        Params(vec![$(Box::new($value)),*])
    };
}

fn first<T>(
    rows: Vec<tokio_postgres::Row>,
    decode: impl FnOnce(&tokio_postgres::Row) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    rows.first().map(decode).transpose()
}

const SEAT_COLUMNS: &str = "seat_index, state, cart_id, until_ms, booking_id";

impl Store for PgStore {
    fn submit(&self, writes: WriteSet) -> StoreFuture<CommitOutcome> {
        if let Some(activity) = self.watchdog.stalled() {
            return Box::pin(async move { Err(StoreError::Stalled(activity.as_str())) });
        }
        let (reply, answer) = oneshot::channel();
        let sent = self
            .queue
            .try_send(Submitted { writes, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Busy,
                mpsc::error::TrySendError::Closed(_) => {
                    StoreError::Unavailable("the committers stopped".into())
                }
            });
        Box::pin(async move {
            sent?;
            answer
                .await
                .unwrap_or_else(|_| Err(StoreError::Unavailable("the committers stopped".into())))
        })
    }

    /// A commit is durable once applied (COMMIT returns after the flush).
    fn durable(&self, _ticket: Ticket) -> StoreFuture<()> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// Everything a reader can see is committed, hence durable; a stalled
    /// store answers at once instead.
    fn sync_point(&self) -> StoreFuture<()> {
        let result = match self.watchdog.stalled() {
            Some(activity) => Err(StoreError::Stalled(activity.as_str())),
            None => Ok(()),
        };
        Box::pin(std::future::ready(result))
    }

    fn is_empty(&self) -> StoreFuture<bool> {
        self.rows(
            "SELECT NOT EXISTS (SELECT 1 FROM shows) AND NOT EXISTS (SELECT 1 FROM idempotency_keys)",
            params![],
            |rows| Ok(rows.first().is_none_or(|row| row.get(0))),
        )
    }

    fn load_show(&self, id: ShowId) -> StoreFuture<Option<Show>> {
        self.rows(
            "SELECT record FROM shows WHERE id = $1",
            params![id.0],
            |rows| first(rows, |row| decode_show(row.get(0))),
        )
    }

    fn list_shows(&self) -> StoreFuture<Vec<Show>> {
        self.rows("SELECT record FROM shows", params![], |rows| {
            rows.iter().map(|row| decode_show(row.get(0))).collect()
        })
    }

    fn load_taken_seats(&self, show: ShowId) -> StoreFuture<Vec<(u32, SeatState)>> {
        const SQL: &str = "SELECT seat_index, state, cart_id, until_ms, booking_id \
                           FROM seats WHERE show_id = $1";
        debug_assert!(SQL.contains(SEAT_COLUMNS));
        self.rows(SQL, params![show.0], |rows| {
            rows.iter().map(seat_state).collect()
        })
    }

    fn load_seat(&self, show: ShowId, index: u32) -> StoreFuture<SeatState> {
        let found = self.seats.get((show.0, index as i32));
        Box::pin(async move { Ok(found.await?.unwrap_or(SeatState::Available)) })
    }

    fn load_cart(&self, id: CartId) -> StoreFuture<Option<Cart>> {
        self.carts.get(id.0)
    }

    fn load_booking(&self, owner: UserId, id: BookingId) -> StoreFuture<Option<Booking>> {
        let found = self.bookings.get(id.0);
        Box::pin(async move { Ok(found.await?.filter(|booking| booking.owner == owner)) })
    }

    fn list_bookings(&self, user: UserId) -> StoreFuture<Vec<Booking>> {
        const SQL: &str =
            "SELECT record FROM bookings WHERE owner_id = $1 ORDER BY created_at_ms, id";
        self.rows(SQL, params![user.0], |rows| {
            rows.iter().map(|row| decode_booking(row.get(0))).collect()
        })
    }

    /// Through the batched point reads of bookings, like `load_booking`:
    /// under load a statement of its own per cancel on behalf made those
    /// cost 0.8 x the owner's cancels.
    fn booking_owner(&self, id: BookingId) -> StoreFuture<Option<UserId>> {
        let found = self.bookings.get(id.0);
        Box::pin(async move { Ok(found.await?.map(|booking| booking.owner)) })
    }

    /// A keyset page of the index `bookings_by_show` (migration 4).
    fn list_show_bookings(
        &self,
        show: ShowId,
        after: Option<(u64, BookingId)>,
        limit: usize,
    ) -> StoreFuture<Vec<Booking>> {
        const SQL: &str = "SELECT record FROM bookings
            WHERE show_id = $1 AND (created_at_ms, id) > ($2, $3)
            ORDER BY created_at_ms, id LIMIT $4";
        // No `after`: from before the first (created_at_ms is never negative).
        let (created, id) = match after {
            Some((created, id)) => (i64::try_from(created).unwrap_or(i64::MAX), id.0),
            None => (i64::MIN, Uuid::nil()),
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.rows(SQL, params![show.0, created, id, limit], |rows| {
            rows.iter().map(|row| decode_booking(row.get(0))).collect()
        })
    }

    fn load_session(&self, token_hash: [u8; 32]) -> StoreFuture<Option<(UserId, u64)>> {
        const SQL: &str = "SELECT user_id, created_at_ms FROM sessions WHERE token_hash = $1";
        self.rows(SQL, params![token_hash.to_vec()], |rows| {
            first(rows, |row| {
                Ok((UserId(row.get(0)), row.get::<_, i64>(1) as u64))
            })
        })
    }

    fn load_key(&self, user: UserId, key: &IdempotencyKey) -> StoreFuture<Option<StoredReply>> {
        self.keys.get((user.0, key.as_str().to_string()))
    }

    /// Also forgets commit-round markers older than an hour (a broken
    /// COMMIT is resolved within `store_deadline_ms`).
    fn sweep_keys(&self, created_before_ms: u64, limit: usize) -> StoreFuture<usize> {
        const SQL: &str = "WITH gone AS (
                DELETE FROM idempotency_keys WHERE ctid IN (
                    SELECT ctid FROM idempotency_keys WHERE created_at_ms < $1 LIMIT $2)
                RETURNING 1),
            old_rounds AS (
                DELETE FROM commit_rounds WHERE ctid IN (
                    SELECT ctid FROM commit_rounds WHERE at < now() - interval '1 hour' LIMIT $2))
            SELECT count(*) FROM gone";
        self.rows(SQL, params![created_before_ms as i64, limit as i64], count)
    }

    fn count_keys(&self, user: UserId, limit: usize) -> StoreFuture<usize> {
        const SQL: &str = "SELECT count(*) FROM (
                SELECT 1 FROM idempotency_keys WHERE user_id = $1 LIMIT $2) AS mine";
        self.rows(SQL, params![user.0, limit as i64], count)
    }

    fn sweep_sessions(&self, created_before_ms: u64, limit: usize) -> StoreFuture<usize> {
        const SQL: &str = "WITH gone AS (
                DELETE FROM sessions WHERE ctid IN (
                    SELECT ctid FROM sessions WHERE created_at_ms < $1 LIMIT $2)
                RETURNING 1)
            SELECT count(*) FROM gone";
        self.rows(SQL, params![created_before_ms as i64, limit as i64], count)
    }

    fn kind_name(&self) -> &'static str {
        "postgres"
    }

    /// `dump::export_online`: pages of records from a snapshot read on a
    /// connection of the export's own.
    fn export_snapshot(
        &self,
        sink: &mut dyn FnMut(crate::store::dump::Record) -> StoreResult<()>,
    ) -> StoreResult<()> {
        dump::export_online(&self.url, sink)
    }

    /// Commits are durable when they return; at shutdown this hands the
    /// node's partitions over at once, so another node need not wait for
    /// the leases to lapse.
    fn flush(&self) -> StoreResult<()> {
        let (pool, leases, handle) = (self.pool.clone(), self.leases.clone(), self.handle.clone());
        // Off any runtime's thread: the caller may be on one.
        let handing_over = std::thread::spawn(move || {
            handle.block_on(async move { leases::stop(&pool, &leases).await })
        });
        let _ = handing_over.join();
        Ok(())
    }
}

fn count(rows: Vec<tokio_postgres::Row>) -> StoreResult<usize> {
    Ok(rows.first().map_or(0, |row| row.get::<_, i64>(0) as usize))
}

/// Applies the migrations `url`'s database lacks, and nothing else
/// (`boxoffice migrate`); returns how many it applied.
pub fn migrate_only(url: &str) -> StoreResult<usize> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Io(e.to_string()))?;
    runtime.block_on(async {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Io(format!("the database URL: {e}")))?;
        let (mut client, connection) = config.connect(NoTls).await.map_err(db_error)?;
        let driver = tokio::spawn(connection);
        let applied = migrations::migrate(&mut client)
            .await
            .map_err(migration_error);
        drop(client);
        let _ = driver.await;
        applied
    })
}
