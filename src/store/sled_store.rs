//! The embedded store: one sled tree, binary keys (see `codec`), commits as
//! single-tree transactions so the effect and its idempotency record are
//! applied together or not at all, and durability through group commit.
//!
//! Why commits are batched too: every sled transaction rolls sled's I/O
//! buffer twice and holds sled's global write lock, so each one costs a
//! buffer write handed to an I/O thread (about 70 us here) however small it
//! is. `submit` queues a write set for the committer thread, which applies
//! everything queued since its last round in *one* transaction (each write
//! set still checks its own idempotency record, and the batch is atomic as
//! a whole), so transactions per second stay constant while write sets per
//! transaction grow with load, as flushes do in `group_commit`.

use super::codec::{self, *};
use super::group_commit::GroupCommit;
use super::{CommitOutcome, Mutation, Store, StoreError, StoreResult, Ticket, WriteSet};
use crate::domain::{
    Booking, BookingId, Cart, CartId, CartStatus, IdempotencyKey, SeatState, Show, ShowId,
    StoredReply, UserId,
};
use futures_util::future::BoxFuture;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::path::Path;
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

/// Write sets waiting for the committer by default; beyond the capacity,
/// `submit` answers `StoreError::Busy` (503) at once rather than queueing
/// without bound.
pub const DEFAULT_COMMIT_QUEUE_CAPACITY: usize = 16 * 1024;
/// Most write sets applied in one transaction.
const MAX_BATCH: usize = 512;

/// A write set, encoded by its submitter (off the committer thread).
type Submitted = (EncodedSet, oneshot::Sender<StoreResult<CommitOutcome>>);

pub struct SledStore {
    db: sled::Db,
    group: Arc<GroupCommit>,
    submit: Option<mpsc::SyncSender<Submitted>>,
    committer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SledStore {
    fn drop(&mut self) {
        // Ends the committer after what it has queued, before the group
        // commit's last flush.
        drop(self.submit.take());
        if let Some(thread) = self.committer.take() {
            let _ = thread.join();
        }
    }
}

impl SledStore {
    pub fn open(dir: &Path) -> StoreResult<Self> {
        Self::open_with(dir, DEFAULT_COMMIT_QUEUE_CAPACITY)
    }

    /// Opens with `queue_capacity` write sets waiting for the committer at
    /// most (at least one).
    pub fn open_with(dir: &Path, queue_capacity: usize) -> StoreResult<Self> {
        let db = sled::Config::new()
            .path(dir)
            // Durability comes from our group commit, not a timer.
            .flush_every_ms(None)
            .open()?;
        let flushed = db.clone();
        let group = Arc::new(GroupCommit::start(move || {
            flushed.flush().map(|_| ()).map_err(Into::into)
        }));
        let (submit, queue) = mpsc::sync_channel(queue_capacity.max(1));
        let (committer_db, committer_group) = (db.clone(), group.clone());
        let committer = std::thread::Builder::new()
            .name("committer".into())
            .spawn(move || committer(committer_db, committer_group, queue))
            .expect("spawn committer thread");
        Ok(SledStore {
            db,
            group,
            submit: Some(submit),
            committer: Some(committer),
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

/// When a session record (user id, then creation time) was created.
fn session_created_ms(value: &[u8]) -> Option<u64> {
    value
        .get(16..24)
        .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
}

/// A mutation encoded ahead of the transaction (closures may rerun).
enum Encoded {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

fn encode(mutations: &[Mutation]) -> Vec<Encoded> {
    let mut out = Vec::with_capacity(mutations.len() + 1);
    for mutation in mutations {
        match mutation {
            Mutation::Show(show) => out.push(Encoded::Put(show_key(show.id), encode_show(show))),
            Mutation::Seat { show, index, state } => {
                let key = seat_key(*show, *index);
                out.push(match encode_seat(*state) {
                    Some(value) => Encoded::Put(key, value),
                    None => Encoded::Delete(key),
                });
            }
            Mutation::Cart(cart) => out.push(Encoded::Put(cart_key(cart.id), encode_cart(cart))),
            Mutation::Booking(booking) => {
                out.push(Encoded::Put(
                    booking_key(booking.id),
                    encode_booking(booking),
                ));
                out.push(Encoded::Put(
                    user_booking_key(booking.owner, booking.id),
                    Vec::new(),
                ));
            }
            Mutation::Session {
                token_hash,
                user,
                created_at_ms,
            } => {
                let mut value = user.0.as_bytes().to_vec();
                value.extend_from_slice(&created_at_ms.to_be_bytes());
                out.push(Encoded::Put(session_key(token_hash), value));
            }
        }
    }
    out
}

/// A write set encoded ahead of the transaction: its idempotency record
/// (key, value) and its mutations.
struct EncodedSet {
    key: Option<(Vec<u8>, Vec<u8>)>,
    writes: Vec<Encoded>,
}

impl EncodedSet {
    fn new(writes: &WriteSet) -> Self {
        EncodedSet {
            key: writes.key.as_ref().map(|record| {
                (
                    key_record_key(record.user, &record.key),
                    encode_reply(&record.reply),
                )
            }),
            writes: encode(&writes.mutations),
        }
    }
}

/// Applies write sets in order in one transaction. A set whose idempotency
/// record is already there (stored before, or by an earlier set of this
/// batch) writes nothing and gets `Some(existing record)`.
fn apply_sets(
    db: &sled::Db,
    sets: &[EncodedSet],
) -> Result<Vec<Option<sled::IVec>>, TransactionError> {
    db.transaction(|tx| {
        let mut outcomes = Vec::with_capacity(sets.len());
        for set in sets {
            if let Some((key, value)) = &set.key {
                if let Some(existing) = tx.get(key)? {
                    outcomes.push(Some(existing));
                    continue;
                }
                tx.insert(key.as_slice(), value.as_slice())?;
            }
            for write in &set.writes {
                match write {
                    Encoded::Put(k, v) => {
                        tx.insert(k.as_slice(), v.as_slice())?;
                    }
                    Encoded::Delete(k) => {
                        tx.remove(k.as_slice())?;
                    }
                }
            }
            outcomes.push(None);
        }
        Ok::<_, ConflictableTransactionError>(outcomes)
    })
}

fn outcome(taken: Option<sled::IVec>, ticket: Ticket) -> StoreResult<CommitOutcome> {
    match taken {
        None => Ok(CommitOutcome::Committed(ticket)),
        Some(existing) => Ok(CommitOutcome::KeyTaken(decode_reply(&existing)?)),
    }
}

/// The committer thread: one transaction for everything submitted since
/// its last round (at most `MAX_BATCH`), then every submitter is answered.
fn committer(db: sled::Db, group: Arc<GroupCommit>, queue: mpsc::Receiver<Submitted>) {
    loop {
        // Lets a test stall the committer (`pause`) to fill its queue.
        #[cfg(feature = "failpoints")]
        fail::fail_point!("store.committer-round");
        let Ok(first) = queue.recv() else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (sets, replies): (Vec<EncodedSet>, Vec<_>) = batch.into_iter().unzip();
        let (result, ticket) = group.commit(|| apply_sets(&db, &sets));
        crate::metrics::COMMIT_BATCH.observe(sets.len() as f64);
        match result {
            Ok(outcomes) => {
                // Every submitter waits for durability next: start the
                // flush now rather than when the first of them wakes.
                group.ring();
                for (reply, taken) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome(taken, ticket));
                }
            }
            Err(error) => {
                let message = error.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Unavailable(message.clone())));
                }
            }
        }
    }
}

impl Store for SledStore {
    fn commit(&self, writes: WriteSet) -> StoreResult<CommitOutcome> {
        let sets = [EncodedSet::new(&writes)];
        let (result, ticket) = self.group.commit(|| apply_sets(&self.db, &sets));
        match result {
            Ok(mut outcomes) => outcome(outcomes.pop().flatten(), ticket),
            Err(TransactionError::Abort(e) | TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    fn submit(&self, writes: WriteSet) -> BoxFuture<'static, StoreResult<CommitOutcome>> {
        let (reply, answer) = oneshot::channel();
        let sent = match &self.submit {
            Some(queue) => queue
                .try_send((EncodedSet::new(&writes), reply))
                .map_err(|e| match e {
                    mpsc::TrySendError::Full(_) => StoreError::Busy,
                    mpsc::TrySendError::Disconnected(_) => {
                        StoreError::Unavailable("the committer stopped".into())
                    }
                }),
            None => Err(StoreError::Unavailable("the store is closing".into())),
        };
        Box::pin(async move {
            sent?;
            answer
                .await
                .unwrap_or_else(|_| Err(StoreError::Unavailable("the committer stopped".into())))
        })
    }

    fn durable(&self, ticket: Ticket) -> BoxFuture<'static, StoreResult<()>> {
        self.group.durable(ticket)
    }

    fn sync_point(&self) -> BoxFuture<'static, StoreResult<()>> {
        self.group.sync_point()
    }

    fn load_show(&self, id: ShowId) -> StoreResult<Option<Show>> {
        self.get(&show_key(id))?
            .map(|v| decode_show(&v))
            .transpose()
    }

    fn list_shows(&self) -> StoreResult<Vec<Show>> {
        self.db
            .scan_prefix([codec::KIND_SHOW])
            .map(|entry| decode_show(&entry?.1))
            .collect()
    }

    fn load_taken_seats(&self, show: ShowId) -> StoreResult<Vec<(u32, SeatState)>> {
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

    fn load_seat(&self, show: ShowId, index: u32) -> StoreResult<SeatState> {
        match self.get(&seat_key(show, index))? {
            Some(value) => decode_seat(&value),
            None => Ok(SeatState::Available),
        }
    }

    fn load_cart(&self, id: CartId) -> StoreResult<Option<Cart>> {
        self.get(&cart_key(id))?
            .map(|v| decode_cart(&v))
            .transpose()
    }

    fn list_open_carts(&self) -> StoreResult<Vec<Cart>> {
        let mut carts = Vec::new();
        for entry in self.db.scan_prefix([codec::KIND_CART]) {
            let cart = decode_cart(&entry?.1)?;
            if cart.status == CartStatus::Open && !cart.items.is_empty() {
                carts.push(cart);
            }
        }
        Ok(carts)
    }

    fn load_booking(&self, id: BookingId) -> StoreResult<Option<Booking>> {
        self.get(&booking_key(id))?
            .map(|v| decode_booking(&v))
            .transpose()
    }

    fn list_bookings(&self, user: UserId) -> StoreResult<Vec<Booking>> {
        let mut bookings = Vec::new();
        for entry in self.db.scan_prefix(user_booking_prefix(user)) {
            let (key, _) = entry?;
            let id = BookingId(uuid_at(&key, 17)?);
            if let Some(booking) = self.load_booking(id)? {
                bookings.push(booking);
            }
        }
        bookings.sort_by_key(|b| (b.created_at_ms, b.id));
        Ok(bookings)
    }

    fn load_session(&self, token_hash: &[u8; 32]) -> StoreResult<Option<(UserId, u64)>> {
        match self.get(&session_key(token_hash))? {
            Some(value) => {
                let created = session_created_ms(&value)
                    .ok_or_else(|| StoreError::Corrupt("session".into()))?;
                Ok(Some((UserId(uuid_at(&value, 0)?), created)))
            }
            None => Ok(None),
        }
    }

    fn load_key(&self, user: UserId, key: &IdempotencyKey) -> StoreResult<Option<StoredReply>> {
        self.get(&key_record_key(user, key))?
            .map(|v| decode_reply(&v))
            .transpose()
    }

    fn sweep_keys(&self, created_before_ms: u64, limit: usize) -> StoreResult<usize> {
        self.sweep(codec::KIND_KEY, created_before_ms, limit, |value| {
            Ok(decode_reply(value)?.created_at_ms)
        })
    }

    fn count_keys(&self, user: UserId, limit: usize) -> StoreResult<usize> {
        let mut prefix = vec![codec::KIND_KEY];
        prefix.extend_from_slice(user.0.as_bytes());
        let mut count = 0;
        for entry in self.db.scan_prefix(prefix) {
            entry?;
            count += 1;
            if count >= limit {
                break;
            }
        }
        Ok(count)
    }

    fn sweep_sessions(&self, created_before_ms: u64, limit: usize) -> StoreResult<usize> {
        self.sweep(codec::KIND_SESSION, created_before_ms, limit, |value| {
            Ok(session_created_ms(value).unwrap_or(0))
        })
    }

    fn flush(&self) -> StoreResult<()> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Fingerprint, Row};
    use crate::store::KeyRecord;
    use bytes::Bytes;
    use uuid::Uuid;

    fn reply(fp: u8) -> StoredReply {
        StoredReply {
            fingerprint: Fingerprint([fp; 32]),
            status: 201,
            body: crate::domain::StoredBody::Bytes(Bytes::from_static(b"{}")),
            created_at_ms: 1,
        }
    }

    #[tokio::test]
    async fn effect_and_key_commit_together_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let user = UserId(Uuid::new_v4());
        let key = IdempotencyKey::parse(b"k1").unwrap();
        let show = Show::new(
            ShowId(Uuid::new_v4()),
            "T".into(),
            0,
            vec![Row {
                label: "A".into(),
                seats: 2,
            }],
        )
        .unwrap();
        let booked = SeatState::Booked {
            booking: BookingId(Uuid::new_v4()),
        };
        let first = WriteSet {
            key: Some(KeyRecord {
                user,
                key: key.clone(),
                reply: reply(1),
            }),
            mutations: vec![
                Mutation::Show(show.clone()),
                Mutation::Seat {
                    show: show.id,
                    index: 1,
                    state: booked,
                },
            ],
        };
        let ticket = match store.commit(first).unwrap() {
            CommitOutcome::Committed(t) => t,
            other => panic!("{other:?}"),
        };
        store.durable(ticket).await.unwrap();
        // The same key again: nothing written, the first record returned.
        let second = WriteSet {
            key: Some(KeyRecord {
                user,
                key: key.clone(),
                reply: reply(2),
            }),
            mutations: vec![Mutation::Seat {
                show: show.id,
                index: 0,
                state: booked,
            }],
        };
        match store.commit(second).unwrap() {
            CommitOutcome::KeyTaken(existing) => assert_eq!(existing, reply(1)),
            other => panic!("{other:?}"),
        }
        assert_eq!(store.load_seat(show.id, 0).unwrap(), SeatState::Available);
        assert_eq!(store.load_taken_seats(show.id).unwrap(), vec![(1, booked)]);
        assert_eq!(store.load_key(user, &key).unwrap(), Some(reply(1)));
        drop(store);
        let reopened = SledStore::open(dir.path()).unwrap();
        assert_eq!(reopened.load_show(show.id).unwrap().unwrap().title, "T");
        assert_eq!(reopened.load_seat(show.id, 1).unwrap(), booked);
    }

    /// Many write sets submitted at once (so batches form; how large is
    /// timing, shown by the load runs' metric, not asserted): a write set
    /// whose key an earlier one used, in its batch or before, writes
    /// nothing and gets the earlier record.
    #[tokio::test]
    async fn submitted_write_sets_share_transactions_and_keys_stay_unique() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let user = UserId(Uuid::new_v4());
        let show = ShowId(Uuid::new_v4());
        let booked = || SeatState::Booked {
            booking: BookingId(Uuid::new_v4()),
        };
        // 200 write sets over 20 keys: key k is first used by set k.
        let submitted: Vec<_> = (0..200u32)
            .map(|i| {
                let key = IdempotencyKey::parse(format!("k{}", i % 20).as_bytes()).unwrap();
                store.submit(WriteSet {
                    key: Some(KeyRecord {
                        user,
                        key,
                        reply: reply((i % 256) as u8),
                    }),
                    mutations: vec![Mutation::Seat {
                        show,
                        index: i,
                        state: booked(),
                    }],
                })
            })
            .collect();
        let outcomes = futures_util::future::join_all(submitted).await;
        let mut last_ticket = Ticket(0);
        for (i, outcome) in outcomes.into_iter().enumerate() {
            match outcome.unwrap() {
                CommitOutcome::Committed(ticket) => {
                    assert!(i < 20, "set {i} reused a key yet committed");
                    last_ticket = last_ticket.max(ticket);
                }
                CommitOutcome::KeyTaken(existing) => {
                    assert!(i >= 20, "set {i} was the first with its key");
                    assert_eq!(existing, reply((i % 20) as u8), "set {i}");
                }
            }
        }
        store.durable(last_ticket).await.unwrap();
        let taken: Vec<u32> = store
            .load_taken_seats(show)
            .unwrap()
            .into_iter()
            .map(|(index, _)| index)
            .collect();
        assert_eq!(
            taken,
            (0..20).collect::<Vec<_>>(),
            "only the first 20 wrote"
        );
    }

    /// With the committer stalled, the queue takes exactly its capacity;
    /// one more write set is refused `Busy` at once and never written.
    /// `cargo test --features failpoints --lib full_commit_queue`
    #[cfg(feature = "failpoints")]
    #[tokio::test]
    async fn a_full_commit_queue_answers_busy_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        fail::cfg("store.committer-round", "pause").unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let show = ShowId(Uuid::new_v4());
        let write = |index: u32| WriteSet {
            key: None,
            mutations: vec![Mutation::Seat {
                show,
                index,
                state: SeatState::Booked {
                    booking: BookingId(Uuid::new_v4()),
                },
            }],
        };
        let capacity = DEFAULT_COMMIT_QUEUE_CAPACITY as u32;
        let queued: Vec<_> = (0..capacity).map(|i| store.submit(write(i))).collect();
        let refused = store.submit(write(capacity)).await;
        fail::remove("store.committer-round");
        assert!(matches!(refused, Err(StoreError::Busy)), "{refused:?}");
        let mut last = Ticket(0);
        for outcome in futures_util::future::join_all(queued).await {
            match outcome.unwrap() {
                CommitOutcome::Committed(ticket) => last = last.max(ticket),
                other => panic!("{other:?}"),
            }
        }
        store.durable(last).await.unwrap();
        let taken = store.load_taken_seats(show).unwrap();
        assert_eq!(taken.len(), DEFAULT_COMMIT_QUEUE_CAPACITY);
        assert!(taken.iter().all(|(index, _)| *index < capacity));
    }

    #[tokio::test]
    async fn many_waiters_share_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
        let mut waits = Vec::new();
        for i in 0..200u32 {
            let ticket = match store
                .commit(WriteSet {
                    key: None,
                    mutations: vec![Mutation::Seat {
                        show: ShowId(Uuid::nil()),
                        index: i,
                        state: SeatState::Booked {
                            booking: BookingId(Uuid::new_v4()),
                        },
                    }],
                })
                .unwrap()
            {
                CommitOutcome::Committed(t) => t,
                other => panic!("{other:?}"),
            };
            waits.push(store.durable(ticket));
        }
        for wait in waits {
            wait.await.unwrap();
        }
        assert_eq!(
            store.load_taken_seats(ShowId(Uuid::nil())).unwrap().len(),
            200
        );
    }
}
