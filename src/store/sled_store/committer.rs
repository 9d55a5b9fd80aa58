//! The committer thread: everything submitted since its last round goes
//! into one sled transaction, each write set with its own key check.
//!
//! Write sets are encoded by their submitters (off this thread), and
//! encoded before the transaction because sled may run a transaction
//! closure more than once.

use crate::store::codec::*;
use crate::store::contract::{CommitOutcome, Mutation, StoreError, StoreResult, Ticket, WriteSet};
use crate::store::group_commit::GroupCommit;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

/// A write set waiting for the committer, and where its outcome goes.
pub(super) type Submitted = (EncodedSet, oneshot::Sender<StoreResult<CommitOutcome>>);

/// Most write sets applied in one transaction.
const MAX_BATCH: usize = 512;

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
pub(super) struct EncodedSet {
    key: Option<(Vec<u8>, Vec<u8>)>,
    writes: Vec<Encoded>,
}

impl EncodedSet {
    /// Records and key + value bytes this set writes when applied (issue
    /// 18's measure of what a booking costs the store).
    fn size(&self) -> (u64, u64) {
        let key = self
            .key
            .as_ref()
            .map_or((0, 0), |(k, v)| (1, (k.len() + v.len()) as u64));
        self.writes
            .iter()
            .fold(key, |(records, bytes), write| match write {
                Encoded::Put(k, v) => (records + 1, bytes + (k.len() + v.len()) as u64),
                Encoded::Delete(k) => (records + 1, bytes + k.len() as u64),
            })
    }

    pub(super) fn new(writes: &WriteSet) -> Self {
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
pub(super) fn apply_sets(
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

pub(super) fn outcome(taken: Option<sled::IVec>, ticket: Ticket) -> StoreResult<CommitOutcome> {
    match taken {
        None => Ok(CommitOutcome::Committed(ticket)),
        Some(existing) => Ok(CommitOutcome::KeyTaken(decode_reply(&existing)?)),
    }
}

/// The committer thread: one transaction for everything submitted since
/// its last round (at most `MAX_BATCH`), then every submitter is answered.
pub(super) fn committer(db: sled::Db, group: Arc<GroupCommit>, queue: mpsc::Receiver<Submitted>) {
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
                let (records, bytes) = sets
                    .iter()
                    .zip(&outcomes)
                    .filter(|(_, taken)| taken.is_none())
                    .map(|(set, _)| set.size())
                    .fold((0, 0), |(r, b), (sr, sb)| (r + sr, b + sb));
                crate::metrics::STORE_RECORDS.inc_by(records);
                crate::metrics::STORE_BYTES.inc_by(bytes);
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
