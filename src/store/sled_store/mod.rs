//! The embedded store: one sled tree, binary keys (see `codec`), and
//! durability through group commit. A commit applies an effect and its
//! idempotency record together or not at all.
//!
//! Why commits are batched too: each write handed to sled on its own
//! costs a buffer roll and an I/O thread's write however small it is.
//! `submit` queues a write set for the committer thread, which applies
//! everything queued since its last round as one atomic round
//! (`committer::apply_round`: a redo record, then plain inserts; each write
//! set still checks its own idempotency record), so rounds per second stay
//! about constant while write sets per round grow with load, as flushes do
//! in `group_commit`. The key check and a fresh key's look-up mostly skip
//! sled through `key_filter`.

mod committer;
mod directory;
mod dump;
pub mod format;
mod indexes;
mod key_filter;
mod options;
mod upgrade;

pub use options::{SledOptions, DEFAULT_COMMIT_QUEUE_CAPACITY};

use super::codec::{self, *};
use super::contract::{
    CommitOutcome, Store, StoreError, StoreFuture, StoreResult, Ticket, WriteSet,
};
use super::group_commit::GroupCommit;
use crate::domain::{
    Booking, BookingId, Cart, CartId, IdempotencyKey, SeatState, Show, ShowId, StoredBody,
    StoredReply, UserId,
};
use committer::{committer, recover, EncodedSet, Submitted};
use directory::{create_dir_durably, open_error, verify_every_record, Released};
use key_filter::KeyFilter;
use std::path::Path;
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

pub struct SledStore {
    db: sled::Db,
    /// Which keys each user has on record, to skip reads (`KeyFilter`).
    keys: Arc<KeyFilter>,
    group: Arc<GroupCommit>,
    submit: Option<mpsc::SyncSender<Submitted>>,
    committer: Option<std::thread::JoinHandle<()>>,
    /// Held by every writer of the tree (the committer, for a round; a
    /// sweep) and by an export while it copies the directory: a copy taken
    /// under it holds whole rounds only.
    gate: Arc<std::sync::Mutex<()>>,
    /// The data directory.
    dir: std::path::PathBuf,
    /// Last, so dropped after the database: waits for sled to let go.
    _released: Released,
}

impl Drop for SledStore {
    fn drop(&mut self) {
        // Ends the committer after what it has queued, before the group
        // commit's last flush.
        drop(self.submit.take());
        if let Some(thread) = self.committer.take() {
            let _ = thread.join();
        }
        // Every round is applied: once that is on disk, their redo records
        // serve no more (the group commit's last flush makes the removal
        // durable; if it is lost, the next open applies them again).
        if self.db.flush().is_ok() {
            for name in self.db.scan_prefix([codec::KIND_REDO]).keys().flatten() {
                let _ = self.db.remove(name);
            }
        }
    }
}

impl SledStore {
    pub fn open(dir: &Path) -> StoreResult<Self> {
        Self::open_with(dir, SledOptions::default())
    }

    /// Opens the store in `dir`, made (and its name made durable) if it
    /// is missing.
    pub fn open_with(dir: &Path, options: SledOptions) -> StoreResult<Self> {
        create_dir_durably(dir)?;
        let found = format::read(dir)?;
        format::refuse_newer(dir, found)?;
        // Declared before the database: dropped after it, on every path.
        let released = Released {
            log: dir.join("db"),
        };
        let mut config = sled::Config::new()
            .path(dir)
            // Durability comes from our group commit, not a timer.
            .flush_every_ms(None);
        if let Some(bytes) = options.cache_bytes {
            config = config.cache_capacity(bytes);
        }
        let db = config.open().map_err(|error| open_error(dir, error))?;
        verify_every_record(dir, &db)?;
        let first_round = recover(&db)?;
        if let Some(old) = found.filter(|found| *found < 2) {
            // Format 2: every booking in its show's index and its owner's,
            // durably, before the format file says so (cut short, it is
            // done again next open).
            let indexed = upgrade::index_every_booking(&db)?;
            tracing::info!(from = old, bookings = indexed, "indexed every booking");
        }
        if found != Some(format::FORMAT) {
            // A new store, or one from before versions were recorded (its
            // layout is read as it is): it is now of the current format.
            format::write(dir)?;
            if let Some(old) = found {
                tracing::info!(
                    from = old,
                    to = format::FORMAT,
                    "upgraded the store's format"
                );
            }
        }
        let flushed = db.clone();
        let synced = std::sync::atomic::AtomicU64::new(db.log_syncs());
        let group = Arc::new(GroupCommit::start(
            move || {
                flushed.flush()?;
                let now = flushed.log_syncs();
                let before = synced.swap(now, std::sync::atomic::Ordering::Relaxed);
                crate::metrics::STORE_SYNCS.inc_by(now.saturating_sub(before));
                Ok(())
            },
            options.wait_limits,
        ));
        let (submit, queue) = mpsc::sync_channel(options.commit_queue_capacity.max(1));
        let keys = Arc::new(KeyFilter::default());
        let (committer_db, committer_keys) = (db.clone(), keys.clone());
        let committer_group = group.clone();
        let gate = Arc::new(std::sync::Mutex::new(()));
        let committer_gate = gate.clone();
        let committer = std::thread::Builder::new()
            .name("committer".into())
            .spawn(move || {
                committer(
                    committer_db,
                    committer_keys,
                    committer_group,
                    queue,
                    first_round,
                    committer_gate,
                )
            })
            .expect("spawn committer thread");
        Ok(SledStore {
            db,
            keys,
            group,
            submit: Some(submit),
            committer: Some(committer),
            gate,
            dir: dir.to_path_buf(),
            _released: released,
        })
    }

    /// True when the store holds no show and was never seeded.
    pub fn is_empty(&self) -> bool {
        self.db.is_empty()
    }

    fn get(&self, key: &[u8]) -> StoreResult<Option<sled::IVec>> {
        Ok(self.db.get(key)?)
    }

    /// Removes up to `limit` records of one kind created before
    /// `created_before_ms` in one batch; returns how many.
    fn sweep(
        &self,
        kind: u8,
        created_before_ms: u64,
        limit: usize,
        created_ms: impl Fn(&[u8]) -> StoreResult<u64>,
    ) -> StoreResult<usize> {
        let _gate = self.gate.lock().expect("the write gate");
        let mut expired = sled::Batch::default();
        let mut count = 0;
        for entry in self.db.scan_prefix([kind]) {
            let (key, value) = entry?;
            if created_ms(&value)? < created_before_ms {
                expired.remove(key);
                count += 1;
                if count == limit {
                    break;
                }
            }
        }
        if count > 0 {
            self.db.apply_batch(expired)?;
        }
        Ok(count)
    }
}

/// The store's reads and a commit, synchronous: sled answers from memory
/// or its page cache without waiting on anything, so the `Store` methods
/// wrap these in ready futures.
impl SledStore {
    pub fn load_show(&self, id: ShowId) -> StoreResult<Option<Show>> {
        self.get(&show_key(id))?
            .map(|v| decode_show(&v))
            .transpose()
    }

    pub fn list_shows(&self) -> StoreResult<Vec<Show>> {
        self.db
            .scan_prefix([codec::KIND_SHOW])
            .map(|entry| decode_show(&entry?.1))
            .collect()
    }

    pub fn load_taken_seats(&self, show: ShowId) -> StoreResult<Vec<(u32, SeatState)>> {
        self.db
            .scan_prefix(seat_prefix(show))
            .map(|entry| {
                let (key, value) = entry?;
                let index = key
                    .get(17..21)
                    .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
                    .ok_or_else(|| StoreError::Corrupt("seat key".into()))?;
                Ok((index, decode_seat(&value)?))
            })
            .collect()
    }

    pub fn load_seat(&self, show: ShowId, index: u32) -> StoreResult<SeatState> {
        match self.get(&seat_key(show, index))? {
            Some(value) => decode_seat(&value),
            None => Ok(SeatState::Available),
        }
    }

    pub fn load_cart(&self, id: CartId) -> StoreResult<Option<Cart>> {
        self.get(&cart_key(id))?
            .map(|v| decode_cart(&v))
            .transpose()
    }

    /// Under its owner; or, never changed since it was made, inside the
    /// key record that answered it (`EncodedSet::new`); or (written before
    /// issue 18) under its id alone.
    pub fn load_booking(&self, owner: UserId, id: BookingId) -> StoreResult<Option<Booking>> {
        let record = match self.get(&owned_booking_key(owner, id))? {
            Some(record) => record,
            None => match self.get(&booking_key(id))? {
                Some(record) => record,
                // Inside the key record that made it: its owner entry
                // names its show entry, which names that key record (store
                // format 2 gives every booking both; issue 18's scan of the
                // owner's keys cost a read per key, thousands for a busy
                // user, on every cancel).
                None => return self.load_booking_by_index(owner, id),
            },
        };
        Ok(Some(decode_booking(&record)?).filter(|b: &Booking| b.owner == owner))
    }

    fn load_booking_by_index(&self, owner: UserId, id: BookingId) -> StoreResult<Option<Booking>> {
        let Some(value) = self.get(&booking_owner_key(id))? else {
            return Ok(None);
        };
        let (indexed_owner, show, created_at_ms) = decode_booking_owner(&value)?;
        if indexed_owner != owner {
            return Ok(None);
        }
        let Some(entry) = self.get(&show_booking_key(show, created_at_ms, id))? else {
            return Err(StoreError::Corrupt(format!(
                "booking {} has an owner entry and no show entry",
                id.0
            )));
        };
        let (_, place) = decode_show_booking(&entry)?;
        self.booking_at(owner, id, &place).map(Some)
    }

    /// The bookings `user`'s key records hold, as made: a scan of that
    /// user's keys (at most `max_keys_per_user`).
    fn bookings_in_keys(&self, user: UserId) -> impl Iterator<Item = StoreResult<Booking>> {
        self.db
            .scan_prefix(user_key_prefix(user))
            .filter_map(move |entry| match entry {
                Ok((_, value)) => booking_in_key_record(&value)
                    .transpose()
                    .filter(|made| !matches!(made, Ok(b) if b.owner != user)),
                Err(error) => Some(Err(error.into())),
            })
    }

    pub fn list_bookings(&self, user: UserId) -> StoreResult<Vec<Booking>> {
        let mut bookings = Vec::new();
        for entry in self.db.scan_prefix(owned_booking_prefix(user)) {
            bookings.push(decode_booking(&entry?.1)?);
        }
        // Those never changed since they were made: in their key records
        // (a booking with a record of its own has changed since).
        let changed: std::collections::HashSet<BookingId> = bookings.iter().map(|b| b.id).collect();
        for made in self.bookings_in_keys(user) {
            let made = made?;
            if !changed.contains(&made.id) {
                bookings.push(made);
            }
        }
        // Bookings written before issue 18: the owner index names them.
        for entry in self.db.scan_prefix(user_booking_prefix(user)) {
            let (key, _) = entry?;
            let id = BookingId(uuid_at(&key, 17)?);
            if let Some(record) = self.get(&booking_key(id))? {
                bookings.push(decode_booking(&record)?);
            }
        }
        bookings.sort_by_key(|b| (b.created_at_ms, b.id));
        Ok(bookings)
    }

    pub fn load_session(&self, token_hash: &[u8; 32]) -> StoreResult<Option<(UserId, u64)>> {
        match self.get(&session_key(token_hash))? {
            Some(value) => {
                let created = session_created_ms(&value)
                    .ok_or_else(|| StoreError::Corrupt("session".into()))?;
                Ok(Some((UserId(uuid_at(&value, 0)?), created)))
            }
            None => Ok(None),
        }
    }

    pub fn load_key(&self, user: UserId, key: &IdempotencyKey) -> StoreResult<Option<StoredReply>> {
        let record_key = key_record_key(user, key);
        if self.keys.surely_absent(user, &record_key) {
            return Ok(None);
        }
        self.get(&record_key)?.map(|v| decode_reply(&v)).transpose()
    }

    /// A key record that holds a booking (`EncodedSet::new`) gives it a
    /// record of its own first, unless a cancel already wrote one (a
    /// compare-and-swap from nothing, so it never undoes the cancel), and
    /// points its index entries there. Those inserts precede the removal
    /// in sled's log, so no crash keeps the removal without them.
    pub fn sweep_keys(&self, created_before_ms: u64, limit: usize) -> StoreResult<usize> {
        let swept = self.sweep(codec::KIND_KEY, created_before_ms, limit, |value| {
            let reply = decode_reply(value)?;
            if let StoredBody::CreatedBookingAsMade(booking) = &reply.body {
                if reply.created_at_ms < created_before_ms {
                    let key = owned_booking_key(booking.owner, booking.id);
                    let none: Option<&[u8]> = None;
                    // Err inside: a record of its own is there already.
                    let _ = self
                        .db
                        .compare_and_swap(key, none, Some(encode_booking(booking)))?;
                    for (key, value) in booking_index_entries(booking, &BookingPlace::Own) {
                        self.db.insert(key, value)?;
                    }
                }
            }
            Ok(reply.created_at_ms)
        })?;
        if swept > 0 {
            self.keys.forget_all();
        }
        Ok(swept)
    }

    /// Counts `user`'s key records, up to `limit`; a count that met them
    /// all also fills the user's `KeyFilter` set.
    pub fn count_keys(&self, user: UserId, limit: usize) -> StoreResult<usize> {
        let mut scan = self.keys.begin(user);
        let mut count = 0;
        for key in self.db.scan_prefix(user_key_prefix(user)).keys() {
            scan.found(&key?);
            count += 1;
            if count >= limit {
                return Ok(count);
            }
        }
        self.keys.complete(scan);
        Ok(count)
    }

    pub fn sweep_sessions(&self, created_before_ms: u64, limit: usize) -> StoreResult<usize> {
        self.sweep(codec::KIND_SESSION, created_before_ms, limit, |value| {
            Ok(session_created_ms(value).unwrap_or(0))
        })
    }
}

impl Store for SledStore {
    fn submit(&self, writes: WriteSet) -> StoreFuture<CommitOutcome> {
        let (reply, answer) = oneshot::channel();
        let sent = self.group.admit_write().and_then(|()| match &self.submit {
            Some(queue) => queue
                .try_send((EncodedSet::new(&writes), reply))
                .map_err(|e| match e {
                    mpsc::TrySendError::Full(_) => StoreError::Busy,
                    mpsc::TrySendError::Disconnected(_) => {
                        StoreError::Unavailable("the committer stopped".into())
                    }
                }),
            None => Err(StoreError::Unavailable("the store is closing".into())),
        });
        Box::pin(async move {
            sent?;
            answer
                .await
                .unwrap_or_else(|_| Err(StoreError::Unavailable("the committer stopped".into())))
        })
    }

    fn durable(&self, ticket: Ticket) -> StoreFuture<()> {
        self.group.durable(ticket)
    }

    fn sync_point(&self) -> StoreFuture<()> {
        self.group.sync_point()
    }

    fn is_empty(&self) -> StoreFuture<bool> {
        ready(Ok(SledStore::is_empty(self)))
    }

    fn load_show(&self, id: ShowId) -> StoreFuture<Option<Show>> {
        ready(SledStore::load_show(self, id))
    }

    fn list_shows(&self) -> StoreFuture<Vec<Show>> {
        ready(SledStore::list_shows(self))
    }

    fn load_taken_seats(&self, show: ShowId) -> StoreFuture<Vec<(u32, SeatState)>> {
        ready(SledStore::load_taken_seats(self, show))
    }

    fn load_seat(&self, show: ShowId, index: u32) -> StoreFuture<SeatState> {
        ready(SledStore::load_seat(self, show, index))
    }

    fn load_cart(&self, id: CartId) -> StoreFuture<Option<Cart>> {
        ready(SledStore::load_cart(self, id))
    }

    fn load_booking(&self, owner: UserId, id: BookingId) -> StoreFuture<Option<Booking>> {
        ready(SledStore::load_booking(self, owner, id))
    }

    fn list_bookings(&self, user: UserId) -> StoreFuture<Vec<Booking>> {
        ready(SledStore::list_bookings(self, user))
    }

    fn booking_owner(&self, id: BookingId) -> StoreFuture<Option<UserId>> {
        ready(SledStore::booking_owner(self, id))
    }

    fn list_show_bookings(
        &self,
        show: ShowId,
        after: Option<(u64, BookingId)>,
        limit: usize,
    ) -> StoreFuture<Vec<Booking>> {
        ready(SledStore::list_show_bookings(self, show, after, limit))
    }

    fn load_session(&self, token_hash: [u8; 32]) -> StoreFuture<Option<(UserId, u64)>> {
        ready(SledStore::load_session(self, &token_hash))
    }

    fn load_key(&self, user: UserId, key: &IdempotencyKey) -> StoreFuture<Option<StoredReply>> {
        ready(SledStore::load_key(self, user, key))
    }

    fn sweep_keys(&self, created_before_ms: u64, limit: usize) -> StoreFuture<usize> {
        ready(SledStore::sweep_keys(self, created_before_ms, limit))
    }

    fn count_keys(&self, user: UserId, limit: usize) -> StoreFuture<usize> {
        ready(SledStore::count_keys(self, user, limit))
    }

    fn sweep_sessions(&self, created_before_ms: u64, limit: usize) -> StoreFuture<usize> {
        ready(SledStore::sweep_sessions(self, created_before_ms, limit))
    }

    fn flush(&self) -> StoreResult<()> {
        self.db.flush()?;
        Ok(())
    }

    fn kind_name(&self) -> &'static str {
        "sled"
    }

    fn export_snapshot(
        &self,
        sink: &mut dyn FnMut(crate::store::dump::Record) -> StoreResult<()>,
    ) -> StoreResult<()> {
        SledStore::export_snapshot(self, sink)
    }
}

/// A result already at hand, as a store future.
fn ready<T: Send + 'static>(result: StoreResult<T>) -> StoreFuture<T> {
    Box::pin(std::future::ready(result))
}

impl From<sled::Error> for StoreError {
    fn from(error: sled::Error) -> Self {
        StoreError::Io(error.to_string())
    }
}

#[cfg(test)]
mod damage_tests;
#[cfg(test)]
mod index_tests;
#[cfg(test)]
mod recovery_tests;
#[cfg(test)]
mod tests;
