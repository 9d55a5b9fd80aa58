//! Group commit on PostgreSQL: the write sets waiting when a round starts
//! (up to `max_batch`) go into one transaction, in two round trips.
//!
//! 1. `BEGIN`; the round's marker row (`commit_rounds`); every key record
//!    of the round inserted with `ON CONFLICT DO NOTHING` in one statement,
//!    in a stable order (user, key), so that concurrent rounds, on this
//!    node or another, never wait on each other in a cycle. A write set
//!    whose key record it inserted is applied; one whose key was there
//!    already (or claimed by an earlier write set of this round) gets that
//!    record (`KeyTaken`, read back in one more round trip, only then) and
//!    writes nothing.
//! 2. The effects of the applied write sets, in bulk (`unnest`: one
//!    statement per kind of record), then `COMMIT`, pipelined.
//!
//! A COMMIT whose connection broke has an unknown outcome: the round
//! inserts its own marker again on a new connection. That insert waits for
//! the round's transaction if it is still running, then conflicts if it
//! committed, or succeeds if it did not (and the round can then never
//! commit: its marker is taken). A transaction id cannot serve here: after
//! a crash PostgreSQL may hand out again an id whose transaction never
//! reached the WAL. If the database cannot be asked before the deadline,
//! the round says `OutcomeUnknown` (the engine stops: fail-stop).

use super::errors::{db_error, pool_error};
use super::seat_rows::SeatColumns;
use crate::cluster::history::History;
use crate::cluster::leases::Leases;
use crate::cluster::partitions::{partition_of, partition_of_shows, SpansPartitions};
use crate::domain::{IdempotencyKey, SeatState, StoredReply, UserId};
use crate::store::codec::{decode_reply, encode_booking, encode_cart, encode_reply, encode_show};
use crate::store::contract::{CommitOutcome, Mutation, StoreError, StoreResult, Ticket, WriteSet};
use crate::store::watchdog::Watchdog;
use deadpool_postgres::{Object, Pool};
use futures_util::future::{try_join_all, BoxFuture};
use futures_util::FutureExt;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// A write set waiting for a commit round, and where its outcome goes.
pub(super) struct Submitted {
    pub writes: WriteSet,
    pub reply: oneshot::Sender<StoreResult<CommitOutcome>>,
}

/// What every committer shares.
pub(super) struct Rounds {
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

/// One committer: takes what waits, commits it as one round, answers.
pub(super) async fn run(rounds: Arc<Rounds>, lane: usize) {
    loop {
        let batch = {
            let mut queue = rounds.queue.lock().await;
            let Some(first) = queue.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < rounds.max_batch {
                match queue.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            batch
        };
        crate::metrics::COMMIT_BATCH.observe(batch.len() as f64);
        let running = rounds.watchdog.running(lane);
        let outcome = round(&rounds, &batch).await;
        drop(running);
        match outcome {
            Ok(taken) => {
                let ticket = Ticket(rounds.tickets.fetch_add(1, Ordering::SeqCst) + 1);
                for (submitted, taken) in batch.into_iter().zip(taken) {
                    let answer = match taken {
                        None => Ok(CommitOutcome::Committed(ticket)),
                        Some(Ok(record)) => Ok(CommitOutcome::KeyTaken(record)),
                        Some(Err(error)) => Err(error),
                    };
                    let _ = submitted.reply.send(answer);
                }
            }
            Err(error) => {
                for submitted in batch {
                    let _ = submitted.reply.send(Err(clone_error(&error)));
                }
            }
        }
    }
}

fn clone_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Io(m) => StoreError::Io(m.clone()),
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Busy => StoreError::Busy,
        StoreError::Stalled(what) => StoreError::Stalled(what),
        StoreError::OutcomeUnknown(m) => StoreError::OutcomeUnknown(m.clone()),
    }
}

/// Per write set: `None` applied, `Some(Ok(record))` its key was taken,
/// `Some(Err(_))` its key record could not be read back.
type Taken = Option<StoreResult<StoredReply>>;

/// A key of the round: (user, key).
type KeyId = (Uuid, String);

async fn round(rounds: &Rounds, batch: &[Submitted]) -> StoreResult<Vec<Taken>> {
    let mut client = rounds.pool.get().await.map_err(pool_error)?;
    let mut fence = Fence::plan(batch, &rounds.leases);
    if fence.takes_seat_for_held && rounds.leases.take_stop_in_commit() {
        // The paused owner of docs/CLUSTER.md, at its worst moment: it has read
        // its epochs, and while it is stopped another node takes them over.
        tracing::warn!("stopping in a commit round, as asked by SIGUSR1 (a test setting)");
        // SAFETY: raise(3) only sends a signal to this process.
        unsafe {
            libc::raise(libc::SIGSTOP);
        }
    }
    let keys = KeyPlan::of(batch, &fence);
    let marker = Uuid::new_v4();
    let claimed = match claim_keys(&client, marker, &keys, &fence, &rounds.leases.node).await {
        Ok(claimed) => claimed,
        Err(error) => {
            rollback(&mut client).await;
            return Err(db_error(error));
        }
    };
    let (confirmed, inserted) = claimed;
    fence.apply(&confirmed, &rounds.leases);
    let records = match read_taken_keys(&client, &keys, &fence, &inserted).await {
        Ok(records) => records,
        Err(error) => {
            rollback(&mut client).await;
            return Err(db_error(error));
        }
    };
    let taken = keys.taken(batch, &fence, &inserted, &records);
    let effects = Effects::of(batch, &taken);
    match write_and_commit(&client, &effects).await {
        Ok(()) => {
            rounds.history.acknowledged(marker, batch.len());
            Ok(taken)
        }
        // Whatever failed (a refused statement rolls the transaction back;
        // a broken connection leaves it unknown), the marker says which:
        // asked on a new connection, which after a failover is one to the
        // new primary (a multi-host URL), on the history it has.
        Err(error) => {
            drop(client);
            let looked_up = resolve(rounds, marker).await;
            let outcome = match looked_up {
                Some(true) => "committed",
                Some(false) => "not_committed",
                None => "unknown",
            };
            crate::metrics::ROUNDS_LOOKED_UP
                .with_label_values(&[outcome])
                .inc();
            tracing::warn!(%marker, %error, outcome, "a commit round's connection failed: its outcome looked up by its marker");
            match looked_up {
                Some(true) => {
                    rounds.history.acknowledged(marker, batch.len());
                    Ok(taken)
                }
                Some(false) => Err(db_error(error)),
                None => Err(StoreError::OutcomeUnknown(format!(
                    "commit round {marker}: {error}"
                ))),
            }
        }
    }
}

/// The fence of a round: the partition each write set writes under and
/// the epoch this node holds it at, checked in the round's transaction.
struct Fence {
    /// Write set index -> (partition, epoch), for sets that write a show's
    /// records.
    of: Vec<Option<(i32, i64)>>,
    /// Write set index -> refused (this node does not hold the epoch).
    refused: Vec<bool>,
    /// The distinct (partition, epoch) pairs to check.
    partitions: Vec<i32>,
    epochs: Vec<i64>,
    /// Some write set takes a seat (holds or books it) in a partition this
    /// node holds (with the fence off too): a round whose late write would
    /// sell a seat twice.
    takes_seat_for_held: bool,
}

impl Fence {
    fn plan(batch: &[Submitted], leases: &Leases) -> Fence {
        let mut fence = Fence {
            of: Vec::with_capacity(batch.len()),
            refused: Vec::with_capacity(batch.len()),
            partitions: Vec::new(),
            epochs: Vec::new(),
            takes_seat_for_held: false,
        };
        let mut pairs = BTreeMap::new();
        for submitted in batch {
            // The partition its records name, else that of the show the
            // writer decided for (a release that empties a cart writes a
            // record of no show, on that show's seat state).
            let partition = match partition_of_writes(&submitted.writes) {
                Ok(None) => Ok(submitted.writes.fence.map(|(show, _)| partition_of(show))),
                other => other,
            };
            let loaded = submitted.writes.fence.map(|(_, epoch)| epoch);
            let (of, refused) = match partition {
                Ok(None) => (None, false),
                // The epoch the writer's state was loaded at, if it says,
                // else the one held now; either must be current.
                Ok(Some(partition)) => match (leases.epoch_of(partition), loaded) {
                    (Some(epoch), None) => {
                        pairs.insert(partition, epoch);
                        (Some((partition, epoch)), false)
                    }
                    (Some(epoch), Some(loaded)) if loaded == epoch => {
                        pairs.insert(partition, epoch);
                        (Some((partition, epoch)), false)
                    }
                    _ => (None, true),
                },
                Err(SpansPartitions) => (None, true),
            };
            fence.takes_seat_for_held |= of.is_some()
                && submitted.writes.mutations.iter().any(
                    |m| matches!(m, Mutation::Seat { state, .. } if *state != SeatState::Available),
                );
            // Unfenced (a test setting): the node's own belief decides,
            // and the database is not asked.
            let of = if leases.fenced_writes() { of } else { None };
            fence.of.push(of);
            fence.refused.push(refused);
        }
        if !leases.fenced_writes() {
            pairs.clear();
        }
        (fence.partitions, fence.epochs) = pairs.into_iter().unzip();
        fence
    }

    /// Refuses the write sets of partitions the database did not confirm,
    /// and forgets those partitions.
    fn apply(&mut self, confirmed: &HashSet<i32>, leases: &Leases) {
        let lost: Vec<i32> = self
            .partitions
            .iter()
            .filter(|p| !confirmed.contains(p))
            .copied()
            .collect();
        if !lost.is_empty() {
            leases.drop_partitions(&lost);
        }
        for (of, refused) in self.of.iter().zip(self.refused.iter_mut()) {
            if matches!(of, Some((partition, _)) if !confirmed.contains(partition)) {
                *refused = true;
            }
        }
        let fenced = self.refused.iter().filter(|r| **r).count() as u64;
        if fenced > 0 {
            leases
                .fenced
                .fetch_add(fenced, std::sync::atomic::Ordering::Relaxed);
            crate::metrics::FENCED.inc_by(fenced);
        }
    }
}

/// The key records of a round, in the stable order they are inserted in.
struct KeyPlan {
    /// Write set index -> its key, for keyed sets.
    key_of: Vec<Option<KeyId>>,
    /// The first write set of the round with each key: it may claim it.
    first_with: HashMap<KeyId, usize>,
    users: Vec<Uuid>,
    names: Vec<String>,
    created_at_ms: Vec<i64>,
    replies: Vec<Vec<u8>>,
    /// The partition and epoch each key's write set writes under (-1: none):
    /// a key record is inserted only if its write set passes the fence.
    partitions: Vec<i32>,
    epochs: Vec<i64>,
}

impl KeyPlan {
    fn of(batch: &[Submitted], fence: &Fence) -> KeyPlan {
        let key_of: Vec<Option<KeyId>> = batch
            .iter()
            .map(|s| s.writes.key.as_ref().map(|k| key_id(k.user, &k.key)))
            .collect();
        let mut first_with = HashMap::new();
        for (i, key) in key_of.iter().enumerate() {
            if let Some(key) = key {
                first_with.entry(key.clone()).or_insert(i);
            }
        }
        let mut ordered: BTreeMap<&KeyId, usize> = BTreeMap::new();
        for (key, i) in &first_with {
            ordered.insert(key, *i);
        }
        let mut plan = KeyPlan {
            key_of: Vec::new(),
            first_with: HashMap::new(),
            users: Vec::with_capacity(ordered.len()),
            names: Vec::with_capacity(ordered.len()),
            created_at_ms: Vec::with_capacity(ordered.len()),
            replies: Vec::with_capacity(ordered.len()),
            partitions: Vec::with_capacity(ordered.len()),
            epochs: Vec::with_capacity(ordered.len()),
        };
        for ((user, name), i) in ordered {
            let record = batch[i].writes.key.as_ref().expect("a keyed set");
            plan.users.push(*user);
            plan.names.push(name.clone());
            plan.created_at_ms.push(record.reply.created_at_ms as i64);
            plan.replies.push(encode_reply(&record.reply));
            let (partition, epoch) = match (fence.refused[i], fence.of[i]) {
                // A set refused already: a partition no node can hold.
                (true, _) => (i32::MAX, 0),
                (false, Some(pair)) => pair,
                (false, None) => (-1, 0),
            };
            plan.partitions.push(partition);
            plan.epochs.push(epoch);
        }
        plan.key_of = key_of;
        plan.first_with = first_with;
        plan
    }

    /// What each write set gets, from the keys this round inserted and
    /// every key record as read back.
    fn taken(
        &self,
        batch: &[Submitted],
        fence: &Fence,
        inserted: &HashSet<KeyId>,
        records: &HashMap<KeyId, Vec<u8>>,
    ) -> Vec<Taken> {
        (0..batch.len())
            .map(|i| {
                if fence.refused[i] {
                    return Some(Err(StoreError::Unavailable(
                        "this node no longer owns the show's partition (fenced)".into(),
                    )));
                }
                let key = self.key_of[i].as_ref()?;
                let first = *self.first_with.get(key).expect("every key has a first set");
                if inserted.contains(key) {
                    if first == i {
                        return None;
                    }
                    // An earlier write set of this round claimed the key:
                    // its record is the one this round wrote.
                    let record = batch[first].writes.key.as_ref().expect("a keyed set");
                    return Some(Ok(record.reply.clone()));
                }
                Some(match records.get(key) {
                    Some(reply) => decode_reply(reply),
                    None => Err(StoreError::Unavailable(
                        "a key record vanished during its commit".into(),
                    )),
                })
            })
            .collect()
    }
}

fn key_id(user: UserId, key: &IdempotencyKey) -> KeyId {
    (user.0, key.as_str().to_string())
}

/// Round trip 1, pipelined: `BEGIN`, the round's marker, the fence (the
/// epochs this node holds for the partitions of the round, confirmed and
/// locked `FOR SHARE`, so no claim can change them before this round
/// ends), and the key records of the write sets that pass it, inserted.
/// Returns the confirmed partitions and the keys inserted.
async fn claim_keys(
    client: &Object,
    marker: Uuid,
    keys: &KeyPlan,
    fence: &Fence,
    node: &str,
) -> Result<(HashSet<i32>, HashSet<KeyId>), tokio_postgres::Error> {
    const MARK: &str = "INSERT INTO commit_rounds (id) VALUES ($1)";
    const FENCE: &str = "SELECT k.p FROM unnest($1::int4[], $2::int8[]) AS k(p, e)
        CROSS JOIN LATERAL (
            SELECT 1 FROM partitions
            WHERE id = k.p AND epoch = k.e AND owner = $3 LIMIT 1 FOR SHARE) AS held";
    const INSERT: &str = "INSERT INTO idempotency_keys (user_id, key, created_at_ms, reply)
        SELECT k.u, k.n, k.c, k.r
        FROM unnest($1::uuid[], $2::text[], $3::int8[], $4::bytea[], $5::int4[], $6::int8[])
            AS k(u, n, c, r, p, e)
        WHERE k.p = -1 OR EXISTS (
            SELECT 1 FROM partitions WHERE id = k.p AND epoch = k.e AND owner = $7)
        ON CONFLICT DO NOTHING RETURNING user_id, key";
    let mark = client.prepare_cached(MARK).await?;
    let fencing = client.prepare_cached(FENCE).await?;
    let insert = client.prepare_cached(INSERT).await?;
    let begin = client.batch_execute("BEGIN");
    let mark_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&marker];
    let marking = client.execute(&mark, &mark_params);
    let node = node.to_string();
    let fence_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&fence.partitions, &fence.epochs, &node];
    let checking = client.query(&fencing, &fence_params);
    let insert_params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
        &keys.users,
        &keys.names,
        &keys.created_at_ms,
        &keys.replies,
        &keys.partitions,
        &keys.epochs,
        &node,
    ];
    let inserting = async {
        if keys.users.is_empty() {
            Ok(Vec::new())
        } else {
            client.query(&insert, &insert_params).await
        }
    };
    let (_, _, confirmed, inserted) = tokio::try_join!(begin, marking, checking, inserting)?;
    let confirmed = confirmed.iter().map(|row| row.get::<_, i32>(0)).collect();
    let inserted = inserted
        .iter()
        .map(|row| (row.get::<_, Uuid>(0), row.get::<_, String>(1)))
        .collect();
    Ok((confirmed, inserted))
}

/// The records of keys another request holds (one more round trip, rare:
/// the same key raced on two routes). Keys of fenced write sets are not
/// read: their requests write nothing and are refused.
async fn read_taken_keys(
    client: &Object,
    keys: &KeyPlan,
    fence: &Fence,
    inserted: &HashSet<KeyId>,
) -> Result<HashMap<KeyId, Vec<u8>>, tokio_postgres::Error> {
    const READ: &str = "SELECT k.u, k.n, r.reply
        FROM unnest($1::uuid[], $2::text[]) AS k(u, n)
        CROSS JOIN LATERAL (
            SELECT reply FROM idempotency_keys WHERE user_id = k.u AND key = k.n LIMIT 1) AS r";
    let mut records = HashMap::new();
    let (users, names): (Vec<Uuid>, Vec<String>) = keys
        .first_with
        .iter()
        .filter(|(key, first)| !fence.refused[**first] && !inserted.contains(*key))
        .map(|((user, name), _)| (*user, name.clone()))
        .unzip();
    if users.is_empty() {
        return Ok(records);
    }
    let read = client.prepare_cached(READ).await?;
    let read_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&users, &names];
    for row in client.query(&read, &read_params).await? {
        records.insert((row.get(0), row.get(1)), row.get::<_, Vec<u8>>(2));
    }
    Ok(records)
}

/// The records the applied write sets change, one list per table, each
/// record once (the last write of it in the round wins).
#[derive(Default)]
struct Effects {
    shows: BTreeMap<Uuid, Vec<u8>>,
    /// (show, seat) -> its state; `Available` deletes the row.
    seats: BTreeMap<(Uuid, i32), SeatState>,
    carts: BTreeMap<Uuid, (Uuid, Vec<u8>)>,
    bookings: BTreeMap<Uuid, (Uuid, i64, Vec<u8>)>,
    sessions: BTreeMap<Vec<u8>, (Uuid, i64)>,
}

impl Effects {
    fn of(batch: &[Submitted], taken: &[Taken]) -> Effects {
        let mut effects = Effects::default();
        for (submitted, taken) in batch.iter().zip(taken) {
            if taken.is_some() {
                continue;
            }
            for mutation in &submitted.writes.mutations {
                effects.add(mutation);
            }
        }
        effects
    }

    fn add(&mut self, mutation: &Mutation) {
        match mutation {
            Mutation::Show(show) => {
                self.shows.insert(show.id.0, encode_show(show));
            }
            Mutation::Seat { show, index, state } => {
                self.seats.insert((show.0, *index as i32), *state);
            }
            Mutation::Cart(cart) => {
                self.carts
                    .insert(cart.id.0, (cart.owner.0, encode_cart(cart)));
            }
            Mutation::Booking(booking) => {
                let row = (
                    booking.owner.0,
                    booking.created_at_ms as i64,
                    encode_booking(booking),
                );
                self.bookings.insert(booking.id.0, row);
            }
            Mutation::Session {
                token_hash,
                user,
                created_at_ms,
            } => {
                self.sessions
                    .insert(token_hash.to_vec(), (user.0, *created_at_ms as i64));
            }
        }
    }
}

/// Round trip 2: every table's changes in bulk, then COMMIT, pipelined.
async fn write_and_commit(client: &Object, effects: &Effects) -> Result<(), tokio_postgres::Error> {
    let statements = effect_statements(client, effects).await?;
    let writes = try_join_all(statements);
    let commit = client.batch_execute("COMMIT");
    let (written, committed) = tokio::join!(writes, commit);
    // A refused statement aborts the transaction, and PostgreSQL answers
    // its COMMIT with a rollback, not an error: check both.
    written?;
    committed
}

type Write<'a> = BoxFuture<'a, Result<u64, tokio_postgres::Error>>;

/// One statement per table that changes (none for a table that does not).
async fn effect_statements<'a>(
    client: &'a Object,
    effects: &'a Effects,
) -> Result<Vec<Write<'a>>, tokio_postgres::Error> {
    let mut writes: Vec<Write<'a>> = Vec::new();
    if !effects.shows.is_empty() {
        let statement = client
            .prepare_cached(
                "INSERT INTO shows (id, record)
                 SELECT * FROM unnest($1::uuid[], $2::bytea[]) ON CONFLICT (id) DO NOTHING",
            )
            .await?;
        let ids: Vec<Uuid> = effects.shows.keys().copied().collect();
        let records: Vec<&[u8]> = effects.shows.values().map(Vec::as_slice).collect();
        writes.push(async move { client.execute(&statement, &[&ids, &records]).await }.boxed());
    }
    writes.extend(seat_statements(client, effects).await?);
    if !effects.carts.is_empty() {
        let statement = client
            .prepare_cached(
                "INSERT INTO carts (id, owner_id, record)
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bytea[])
                 ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
            )
            .await?;
        let ids: Vec<Uuid> = effects.carts.keys().copied().collect();
        let owners: Vec<Uuid> = effects.carts.values().map(|c| c.0).collect();
        let records: Vec<&[u8]> = effects.carts.values().map(|c| c.1.as_slice()).collect();
        writes.push(
            async move { client.execute(&statement, &[&ids, &owners, &records]).await }.boxed(),
        );
    }
    if !effects.bookings.is_empty() {
        let statement = client
            .prepare_cached(
                "INSERT INTO bookings (id, owner_id, created_at_ms, record)
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::bytea[])
                 ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
            )
            .await?;
        let ids: Vec<Uuid> = effects.bookings.keys().copied().collect();
        let owners: Vec<Uuid> = effects.bookings.values().map(|b| b.0).collect();
        let created: Vec<i64> = effects.bookings.values().map(|b| b.1).collect();
        let records: Vec<&[u8]> = effects.bookings.values().map(|b| b.2.as_slice()).collect();
        writes.push(
            async move {
                client
                    .execute(&statement, &[&ids, &owners, &created, &records])
                    .await
            }
            .boxed(),
        );
    }
    if !effects.sessions.is_empty() {
        let statement = client
            .prepare_cached(
                "INSERT INTO sessions (token_hash, user_id, created_at_ms)
                 SELECT * FROM unnest($1::bytea[], $2::uuid[], $3::int8[])",
            )
            .await?;
        let hashes: Vec<&[u8]> = effects.sessions.keys().map(Vec::as_slice).collect();
        let users: Vec<Uuid> = effects.sessions.values().map(|s| s.0).collect();
        let created: Vec<i64> = effects.sessions.values().map(|s| s.1).collect();
        writes.push(
            async move {
                client
                    .execute(&statement, &[&hashes, &users, &created])
                    .await
            }
            .boxed(),
        );
    }
    Ok(writes)
}

/// Seats taken (upserted) and seats given back (their rows deleted).
async fn seat_statements<'a>(
    client: &'a Object,
    effects: &'a Effects,
) -> Result<Vec<Write<'a>>, tokio_postgres::Error> {
    let mut writes: Vec<Write<'a>> = Vec::new();
    let (freed, taken): (Vec<_>, Vec<_>) = effects
        .seats
        .iter()
        .partition(|(_, state)| **state == SeatState::Available);
    if !taken.is_empty() {
        let statement = client
            .prepare_cached(
                "INSERT INTO seats (show_id, seat_index, state, cart_id, until_ms, booking_id)
                 SELECT * FROM unnest($1::uuid[], $2::int4[], $3::int2[], $4::uuid[],
                                      $5::int8[], $6::uuid[])
                 ON CONFLICT (show_id, seat_index) DO UPDATE SET state = EXCLUDED.state,
                     cart_id = EXCLUDED.cart_id, until_ms = EXCLUDED.until_ms,
                     booking_id = EXCLUDED.booking_id",
            )
            .await?;
        let mut columns = SeatColumns::default();
        for ((show, index), state) in taken {
            columns.push(*show, *index, *state);
        }
        writes.push(
            async move {
                let c = &columns;
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
                    &c.shows,
                    &c.indexes,
                    &c.states,
                    &c.carts,
                    &c.until_ms,
                    &c.bookings,
                ];
                client.execute(&statement, &params).await
            }
            .boxed(),
        );
    }
    if !freed.is_empty() {
        let statement = client
            .prepare_cached(
                "DELETE FROM seats WHERE (show_id, seat_index) IN
                 (SELECT * FROM unnest($1::uuid[], $2::int4[]))",
            )
            .await?;
        let shows: Vec<Uuid> = freed.iter().map(|((show, _), _)| *show).collect();
        let indexes: Vec<i32> = freed.iter().map(|((_, index), _)| *index).collect();
        writes.push(async move { client.execute(&statement, &[&shows, &indexes]).await }.boxed());
    }
    Ok(writes)
}

async fn rollback(client: &mut Object) {
    if let Err(error) = client.batch_execute("ROLLBACK").await {
        tracing::debug!(%error, "rollback after a failed round");
    }
}

/// Whether the round of `marker` committed, asked on a new connection
/// until the database answers or `resolve_for` has passed: `Some`, or
/// `None` if it could not be learned.
async fn resolve(rounds: &Rounds, marker: Uuid) -> Option<bool> {
    let started = Instant::now();
    while started.elapsed() < rounds.resolve_for {
        match take_marker(&rounds.pool, marker).await {
            Ok(committed) => return Some(committed),
            Err(error) => tracing::warn!(%error, %marker, "cannot yet learn a commit's outcome"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Inserts the round's marker: it waits for the round's transaction if
/// that still runs. A conflict: the round committed. Inserted: it did not,
/// and now never will.
async fn take_marker(pool: &Pool, marker: Uuid) -> StoreResult<bool> {
    let client = pool.get().await.map_err(pool_error)?;
    let inserted = client
        .query(
            "INSERT INTO commit_rounds (id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id",
            &[&marker],
        )
        .await
        .map_err(db_error)?;
    Ok(inserted.is_empty())
}

/// The partition a write set writes under: that of the show whose records
/// it changes (`None`: no show's, e.g. a session or a new show).
fn partition_of_writes(writes: &WriteSet) -> Result<Option<i32>, SpansPartitions> {
    partition_of_shows(
        writes
            .mutations
            .iter()
            .filter_map(|mutation| match mutation {
                Mutation::Seat { show, .. } => Some(*show),
                Mutation::Booking(booking) => Some(booking.show),
                Mutation::Cart(cart) => cart.items.first().map(|item| item.show),
                Mutation::Show(_) | Mutation::Session { .. } => None,
            }),
    )
}
