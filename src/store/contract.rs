//! The contract every store keeps (see the module docs of `store`): the
//! `Store` trait and the values that cross it.

pub use super::key_record::KeyRecord;
use crate::domain::{
    Booking, BookingId, Cart, CartId, IdempotencyKey, SeatState, Show, ShowId, StoredReply, UserId,
};
use futures_util::future::BoxFuture;

/// A position in the commit order; durable once the flusher has passed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(pub u64);

/// One record to write.
#[derive(Clone, Debug)]
pub enum Mutation {
    Show(Show),
    /// A seat's state; `Available` deletes the record.
    Seat {
        show: ShowId,
        index: u32,
        state: SeatState,
    },
    Cart(Cart),
    /// A booking, also indexed under its owner.
    Booking(Booking),
    /// A session: the SHA-256 of its bearer token names the user.
    Session {
        token_hash: [u8; 32],
        user: UserId,
        created_at_ms: u64,
    },
}

/// Everything one request changes, applied atomically.
#[derive(Clone, Debug, Default)]
pub struct WriteSet {
    pub key: Option<KeyRecord>,
    pub mutations: Vec<Mutation>,
    /// On a store of many nodes: the show the writer decided for and the
    /// epoch of its partition that the writer's state was loaded at
    /// (`cluster::ShowFence::Held`); the write is refused unless it is still
    /// current, even if its records name no show (a cart emptied by a
    /// release, decided on that show's seat state). `None`: no such
    /// requirement (sled; records of no show).
    pub fence: Option<(ShowId, i64)>,
}

#[derive(Debug)]
pub enum CommitOutcome {
    Committed(Ticket),
    /// The idempotency key already had this record; nothing was written.
    KeyTaken(StoredReply),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine failed (its own message).
    #[error("storage error: {0}")]
    Io(String),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The storage failed, stopped or cannot be reached: nothing was
    /// written (answered 503). Carries a message rather than the error
    /// itself, because every write set of a failed batch gets it.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The commit queue is full: nothing was written (answered 503).
    #[error("the commit queue is full")]
    Busy,
    /// The store's commit or flush has run too long (`store::watchdog`):
    /// nothing was written, or nothing waited for (answered 503).
    #[error("the store's {0} is stalled")]
    Stalled(&'static str),
    /// The connection broke while a commit was being made and the store
    /// could not find out whether it took effect. Never answered as a
    /// success or a failure: the engine stops (fail-stop) and its restart
    /// reads what is there.
    #[error("the outcome of a commit is unknown: {0}")]
    OutcomeUnknown(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A store operation in flight.
pub type StoreFuture<T> = BoxFuture<'static, StoreResult<T>>;

/// What the engine needs from durable storage. Every read and write is a
/// future: a remote store answers over the network, and no actor thread
/// may block on it.
pub trait Store: Send + Sync + 'static {
    /// Applies a write set atomically (all its mutations and its key
    /// record, or nothing; a key record already there: nothing, and that
    /// record back), resolving once it is applied (visible). A store may
    /// batch submitted write sets into shared commits. `Busy` and
    /// `Stalled` mean nothing was written.
    fn submit(&self, writes: WriteSet) -> StoreFuture<CommitOutcome>;
    /// Resolves once every commit up to `ticket` is durable.
    fn durable(&self, ticket: Ticket) -> StoreFuture<()>;
    /// Resolves once everything a reader could have seen before the call
    /// is durable (for replays and reads of committed state).
    fn sync_point(&self) -> StoreFuture<()>;

    /// True on a first start: nothing was ever stored (demo shows are
    /// seeded then).
    fn is_empty(&self) -> StoreFuture<bool>;

    fn load_show(&self, id: ShowId) -> StoreFuture<Option<Show>>;
    fn list_shows(&self) -> StoreFuture<Vec<Show>>;
    /// Every seat of a show whose state is not `Available`.
    fn load_taken_seats(&self, show: ShowId) -> StoreFuture<Vec<(u32, SeatState)>>;
    fn load_seat(&self, show: ShowId, index: u32) -> StoreFuture<SeatState>;
    fn load_cart(&self, id: CartId) -> StoreFuture<Option<Cart>>;
    /// `owner`'s booking `id` (another user's is `None`: bookings are kept
    /// under their owner).
    fn load_booking(&self, owner: UserId, id: BookingId) -> StoreFuture<Option<Booking>>;
    fn list_bookings(&self, user: UserId) -> StoreFuture<Vec<Booking>>;
    /// Who owns booking `id`, whoever it is (v1.2: the box office reads
    /// and cancels any booking by its id alone); `None` for no such booking.
    fn booking_owner(&self, id: BookingId) -> StoreFuture<Option<UserId>>;
    /// Bookings of `show`, every user's, confirmed and cancelled, oldest
    /// first by `(created_at_ms, id)`, those strictly after `after`, at most
    /// `limit` (v1.2: the staff list, its CSV, and a show's sales figures
    /// counted once when its unit loads). Each booking as it is now.
    fn list_show_bookings(
        &self,
        show: ShowId,
        after: Option<(u64, BookingId)>,
        limit: usize,
    ) -> StoreFuture<Vec<Booking>>;
    /// The user of a session and when it was created (ms since the epoch).
    fn load_session(&self, token_hash: [u8; 32]) -> StoreFuture<Option<(UserId, u64)>>;
    fn load_key(&self, user: UserId, key: &IdempotencyKey) -> StoreFuture<Option<StoredReply>>;

    /// Forgets up to `limit` completed idempotency records created before
    /// `created_before_ms`; returns how many. Not made durable on its own:
    /// a forgotten key that comes back after a crash is still within the
    /// contract (keys are kept *at least* their TTL).
    fn sweep_keys(&self, created_before_ms: u64, limit: usize) -> StoreFuture<usize>;

    /// Counts a user's stored idempotency records, stopping at `limit`.
    fn count_keys(&self, user: UserId, limit: usize) -> StoreFuture<usize>;

    /// Forgets up to `limit` sessions created before `created_before_ms`.
    fn sweep_sessions(&self, created_before_ms: u64, limit: usize) -> StoreFuture<usize>;

    /// Makes everything durable now (shutdown).
    fn flush(&self) -> StoreResult<()>;

    /// The store's kind, as a dump names its source: `sled`, `postgres`.
    fn kind_name(&self) -> &'static str;

    /// Every record, from one consistent snapshot taken now, handed to
    /// `sink` one at a time (`GET /v1/admin/export`): every write
    /// acknowledged before the call, and no half of one. The store goes on
    /// serving meanwhile. Blocking: call it on a thread that may block.
    fn export_snapshot(
        &self,
        sink: &mut dyn FnMut(crate::store::dump::Record) -> StoreResult<()>,
    ) -> StoreResult<()>;
}
