//! The committer thread: everything submitted since its last round is
//! applied as one atomic round (`apply_round`), each write set with its own
//! key check.
//!
//! Write sets are encoded by their submitters (off this thread), once:
//! the same bytes go into the round's redo record and its inserts.

use super::key_filter::KeyFilter;
use crate::domain::{BookingId, BookingStatus, StoredBody, UserId};
use crate::store::codec::*;
use crate::store::contract::{CommitOutcome, Mutation, StoreError, StoreResult, Ticket, WriteSet};
use crate::store::group_commit::GroupCommit;
use std::collections::{HashMap, VecDeque};
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

impl Encoded {
    fn as_redo(&self) -> RedoRecord<'_> {
        match self {
            Encoded::Put(k, v) => (k.as_slice(), Some(v.as_slice())),
            Encoded::Delete(k) => (k.as_slice(), None),
        }
    }
}

fn encode<'a>(mutations: impl Iterator<Item = &'a Mutation>) -> Vec<Encoded> {
    let mut out = Vec::with_capacity(mutations.size_hint().0 + 1);
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
                    owned_booking_key(booking.owner, booking.id),
                    encode_booking(booking),
                ));
                // A booking is written again only when cancelled; one of
                // the layout before issue 18 moves to the new key then.
                if booking.status == crate::domain::BookingStatus::Cancelled {
                    out.push(Encoded::Delete(booking_key(booking.id)));
                    out.push(Encoded::Delete(user_booking_key(booking.owner, booking.id)));
                }
            }
            Mutation::Session {
                token_hash,
                user,
                created_at_ms,
            } => {
                let value = encode_session(*user, *created_at_ms);
                out.push(Encoded::Put(session_key(token_hash), value));
            }
        }
    }
    out
}

/// A write set encoded ahead of the transaction: its idempotency record
/// (key, value), its mutations, and the index entries of its bookings
/// (`codec::indexes`), applied last: a reader that finds an entry finds
/// the record it names.
pub(super) struct EncodedSet {
    key: Option<KeyPut>,
    writes: Vec<Encoded>,
    indexes: Vec<Encoded>,
}

/// An idempotency record to insert: whose it is, its key and its value.
struct KeyPut {
    owner: UserId,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl EncodedSet {
    /// Records and key + value bytes this set writes when applied (issue
    /// 18's measure of what a booking costs the store).
    fn size(&self) -> (u64, u64) {
        let key = self
            .key
            .as_ref()
            .map_or((0, 0), |put| (1, (put.key.len() + put.value.len()) as u64));
        self.writes
            .iter()
            .chain(&self.indexes)
            .fold(key, |(records, bytes), write| match write {
                Encoded::Put(k, v) => (records + 1, bytes + (k.len() + v.len()) as u64),
                Encoded::Delete(k) => (records + 1, bytes + k.len() as u64),
            })
    }

    /// A new booking whose answer is this set's key record goes inside
    /// that record instead of a record of its own (issue 18: a one-shot
    /// booking writes its seat and its key record, nothing else). The
    /// store's reads find it there (`SledStore::load_booking`,
    /// `list_bookings`); a cancel writes it on its own, and so does the
    /// sweep before it removes the key.
    pub(super) fn new(writes: &WriteSet) -> Self {
        let made = writes
            .key
            .as_ref()
            .and_then(|record| match record.reply.body {
                StoredBody::CreatedBooking(id) => writes.mutations.iter().find_map(|m| match m {
                    // The owner's key record: its show index entry finds
                    // it there (`index_entries`).
                    Mutation::Booking(b)
                        if b.id == id
                            && b.status == BookingStatus::Confirmed
                            && b.owner == record.user =>
                    {
                        Some(b)
                    }
                    _ => None,
                }),
                _ => None,
            });
        let key = writes.key.as_ref().map(|record| KeyPut {
            owner: record.user,
            key: key_record_key(record.user, &record.key),
            value: encode_reply_holding(&record.reply, made),
        });
        let made_id = made.map(|booking| booking.id);
        let rest = writes
            .mutations
            .iter()
            .filter(|m| !matches!(m, Mutation::Booking(b) if Some(b.id) == made_id));
        EncodedSet {
            key,
            writes: encode(rest),
            indexes: index_entries(writes, made_id),
        }
    }
}

/// The index entries (`codec::indexes`) of every booking `writes` holds:
/// a show's bookings and a booking's owner, naming the key record for the
/// booking `made` kept there, a record of its own for any other (a cancel
/// rewrites both entries with the same keys, so they follow the booking).
fn index_entries(writes: &WriteSet, made: Option<BookingId>) -> Vec<Encoded> {
    let mut out = Vec::new();
    for mutation in &writes.mutations {
        if let Mutation::Booking(booking) = mutation {
            let place = match &writes.key {
                Some(record) if Some(booking.id) == made => {
                    BookingPlace::InKeyRecord(record.key.as_str().as_bytes())
                }
                _ => BookingPlace::Own,
            };
            for (key, value) in booking_index_entries(booking, &place) {
                out.push(Encoded::Put(key, value));
            }
        }
    }
    out
}

/// Applies a commit round's write sets in order. A set whose idempotency
/// record is already there (stored before, or by an earlier set of this
/// round) writes nothing and gets `Some(existing record)`.
///
/// Why not a sled transaction (issue 18): every sled transaction or batch
/// rolls sled's I/O buffer twice, and each roll is a write and a
/// `sync_file_range` on sled's I/O threads: about a quarter of the
/// server's CPU at peak. A round is instead made atomic by one record, its
/// redo record (`redo_key(round)`: every record the round writes, in
/// order), inserted before the round's own records with plain inserts. A
/// single insert is atomic, and sled recovers a prefix of its log, so
/// after a crash either the redo record is there (and `recover` applies it
/// again, completing a round cut short) or nothing of the round is. The
/// committer is the only writer of these records, so a key checked here
/// cannot be taken before its set is applied. Within a set the key record
/// goes last: a reader that finds it finds the records its answer names.
///
/// `keys` answers most checks without a read (`KeyFilter`); each key
/// record inserted is told to it, after its insert.
pub(super) fn apply_round(
    db: &sled::Db,
    keys: &KeyFilter,
    round: u64,
    sets: &[EncodedSet],
) -> Result<Applied, sled::Error> {
    let mut outcomes = Vec::with_capacity(sets.len());
    let mut claimed: HashMap<&[u8], &[u8]> = HashMap::new();
    let mut redo = Vec::new();
    for set in sets {
        if let Some(KeyPut { owner, key, value }) = &set.key {
            let existing = if keys.surely_absent(*owner, key) {
                None
            } else {
                db.get(key)?
            };
            if let Some(existing) = existing {
                outcomes.push(Some(existing));
                continue;
            }
            if let Some(earlier) = claimed.get(key.as_slice()) {
                outcomes.push(Some(sled::IVec::from(*earlier)));
                continue;
            }
            claimed.insert(key, value);
        }
        set.write_redo(&mut redo);
        outcomes.push(None);
    }
    if redo.is_empty() {
        return Ok(Applied {
            outcomes,
            redo_bytes: 0,
        });
    }
    let redo_bytes = (redo_key(round).len() + redo.len()) as u64;
    db.insert(redo_key(round), redo)?;
    for (set, taken) in sets.iter().zip(&outcomes) {
        if taken.is_none() {
            set.apply(db)?;
            if let Some(put) = &set.key {
                keys.recorded(put.owner, &put.key);
            }
        }
    }
    Ok(Applied {
        outcomes,
        redo_bytes,
    })
}

/// What a round did: each set's outcome (`Some`: its key was taken) and
/// the size of its redo record (0: it wrote nothing).
pub(super) struct Applied {
    pub outcomes: Vec<Option<sled::IVec>>,
    pub redo_bytes: u64,
}

/// The redo record of commit round `round` (rounds sort in order).
pub(super) fn redo_key(round: u64) -> [u8; 9] {
    let mut key = [KIND_REDO; 9];
    key[1..].copy_from_slice(&round.to_be_bytes());
    key
}

const REDO_PUT: u8 = 1;
const REDO_DELETE: u8 = 2;

impl EncodedSet {
    /// Its records in the order they are applied: mutations, the key,
    /// then the index entries.
    fn writes_in_order(&self) -> impl Iterator<Item = RedoRecord<'_>> {
        let key = self
            .key
            .iter()
            .map(|put| (put.key.as_slice(), Some(put.value.as_slice())));
        self.writes
            .iter()
            .map(Encoded::as_redo)
            .chain(key)
            .chain(self.indexes.iter().map(Encoded::as_redo))
    }

    fn apply(&self, db: &sled::Db) -> Result<(), sled::Error> {
        for (key, value) in self.writes_in_order() {
            match value {
                Some(value) => db.insert(key, value)?,
                None => db.remove(key)?,
            };
        }
        Ok(())
    }

    /// Appends its records to a redo record: per record a tag (put or
    /// delete), the key's length (2 bytes) and the key, and for a put the
    /// value's length (4 bytes) and the value.
    pub(super) fn write_redo(&self, redo: &mut Vec<u8>) {
        for (key, value) in self.writes_in_order() {
            redo.push(if value.is_some() {
                REDO_PUT
            } else {
                REDO_DELETE
            });
            redo.extend_from_slice(&(key.len() as u16).to_be_bytes());
            redo.extend_from_slice(key);
            if let Some(value) = value {
                redo.extend_from_slice(&(value.len() as u32).to_be_bytes());
                redo.extend_from_slice(value);
            }
        }
    }
}

/// A record a round writes: its key, and its value (`None`: a delete).
pub(super) type RedoRecord<'a> = (&'a [u8], Option<&'a [u8]>);

/// The records of a redo record, in order.
pub(super) fn read_redo(mut redo: &[u8]) -> StoreResult<Vec<RedoRecord<'_>>> {
    let bad = || StoreError::Corrupt("redo record".into());
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> StoreResult<&'a [u8]> {
        let (taken, rest) = bytes
            .split_at_checked(n)
            .ok_or_else(|| StoreError::Corrupt("redo record cut short".into()))?;
        *bytes = rest;
        Ok(taken)
    }
    let mut records = Vec::new();
    while !redo.is_empty() {
        let tag = take(&mut redo, 1)?[0];
        let key_len = u16::from_be_bytes(take(&mut redo, 2)?.try_into().expect("2 bytes"));
        let key = take(&mut redo, key_len as usize)?;
        match tag {
            REDO_PUT => {
                let len = u32::from_be_bytes(take(&mut redo, 4)?.try_into().expect("4 bytes"));
                records.push((key, Some(take(&mut redo, len as usize)?)));
            }
            REDO_DELETE => records.push((key, None)),
            _ => return Err(bad()),
        }
    }
    Ok(records)
}

/// At open, before anything is written: applies every redo record left by
/// a crash again, in round order (completing the rounds it cut short;
/// applying a finished round again rewrites the same values in the same
/// order), makes that durable, then removes them. Returns the next round's
/// number.
pub(super) fn recover(db: &sled::Db) -> StoreResult<u64> {
    let mut next = 0;
    let mut redone = Vec::new();
    for entry in db.scan_prefix([KIND_REDO]) {
        let (key, redo) = entry?;
        for (key, value) in read_redo(&redo)? {
            match value {
                Some(value) => db.insert(key, value)?,
                None => db.remove(key)?,
            };
        }
        let round = key
            .get(1..9)
            .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| StoreError::Corrupt("redo record key".into()))?;
        next = next.max(round + 1);
        redone.push(key);
    }
    if !redone.is_empty() {
        tracing::info!(
            rounds = redone.len(),
            "applied commit rounds left by a crash again"
        );
        db.flush()?;
        for key in redone {
            db.remove(key)?;
        }
        db.flush()?;
    }
    Ok(next)
}

pub(super) fn outcome(taken: Option<sled::IVec>, ticket: Ticket) -> StoreResult<CommitOutcome> {
    match taken {
        None => Ok(CommitOutcome::Committed(ticket)),
        Some(existing) => Ok(CommitOutcome::KeyTaken(decode_reply(&existing)?)),
    }
}

/// The committer thread: one transaction for everything submitted since
/// its last round (at most `MAX_BATCH`), then every submitter is answered.
pub(super) fn committer(
    db: sled::Db,
    keys: Arc<KeyFilter>,
    group: Arc<GroupCommit>,
    queue: mpsc::Receiver<Submitted>,
    first_round: u64,
    gate: Arc<std::sync::Mutex<()>>,
) {
    let mut round = first_round;
    // Rounds whose redo records are still there, oldest first, with the
    // ticket that makes each durable: removed once it is, in order (so a
    // crash never keeps an older redo record than one it lost).
    let mut redo_kept: VecDeque<(u64, Ticket)> = VecDeque::new();
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
        // A round writes under the gate (an export copies between rounds).
        let _gate = gate.lock().expect("the write gate");
        let durable = group.durable_ticket();
        while let Some(&(done, _)) = redo_kept.front().filter(|(_, t)| t.0 <= durable) {
            if let Err(error) = db.remove(redo_key(done)) {
                fail_stop(&error);
            }
            redo_kept.pop_front();
        }
        let (result, ticket) = group.commit(|| apply_round(&db, &keys, round, &sets));
        crate::metrics::COMMIT_BATCH.observe(sets.len() as f64);
        match result {
            Ok(Applied {
                outcomes,
                redo_bytes,
            }) => {
                if redo_bytes > 0 {
                    redo_kept.push_back((round, ticket));
                    round += 1;
                }
                // Every submitter waits for durability next: start the
                // flush now rather than when the first of them wakes.
                group.ring();
                let (records, bytes) = sets
                    .iter()
                    .zip(&outcomes)
                    .filter(|(_, taken)| taken.is_none())
                    .map(|(set, _)| set.size())
                    .fold((0, 0), |(r, b), (sr, sb)| (r + sr, b + sb));
                // The redo record is written too (and removed once durable).
                let redo_records = u64::from(redo_bytes > 0);
                crate::metrics::STORE_RECORDS.inc_by(records + redo_records);
                crate::metrics::STORE_BYTES.inc_by(bytes + redo_bytes);
                for (reply, taken) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome(taken, ticket));
                }
            }
            // Part of the round may be applied in memory and none of it
            // is answered: only a restart (which completes or drops the
            // round from disk) gives a state every answer agrees with.
            Err(error) => fail_stop(&error),
        }
    }
}

fn fail_stop(error: &sled::Error) -> ! {
    tracing::error!(%error, "a commit round failed; aborting so recovery starts from disk");
    std::process::abort();
}
