//! What a commit round writes for its applied write sets: each record
//! once (`Effects`), one bulk statement per table that changes, then
//! `COMMIT`, pipelined (`write_and_commit`, the round's second round
//! trip). Its own file: the writes of each kind of record, apart from how
//! the round decides which write sets apply.

use super::common::{Submitted, Taken};
use crate::domain::SeatState;
use crate::store::codec::{encode_booking, encode_cart, encode_show};
use crate::store::contract::Mutation;
use crate::store::postgres::seat_rows::SeatColumns;
use deadpool_postgres::Object;
use futures_util::future::{try_join_all, BoxFuture};
use futures_util::FutureExt;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The records the applied write sets change, one list per table, each
/// record once (the last write of it in the round wins).
#[derive(Default)]
pub(super) struct Effects {
    shows: BTreeMap<Uuid, Vec<u8>>,
    /// (show, seat) -> its state; `Available` deletes the row.
    seats: BTreeMap<(Uuid, i32), SeatState>,
    carts: BTreeMap<Uuid, (Uuid, Vec<u8>)>,
    /// id -> (owner, show, created_at_ms, record).
    bookings: BTreeMap<Uuid, (Uuid, Uuid, i64, Vec<u8>)>,
    sessions: BTreeMap<Vec<u8>, (Uuid, i64)>,
}

impl Effects {
    pub(super) fn of(batch: &[Submitted], taken: &[Taken]) -> Effects {
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
                    booking.show.0,
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
pub(super) async fn write_and_commit(
    client: &Object,
    effects: &Effects,
) -> Result<(), tokio_postgres::Error> {
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
                "INSERT INTO bookings (id, owner_id, show_id, created_at_ms, record)
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int8[], $5::bytea[])
                 ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
            )
            .await?;
        let ids: Vec<Uuid> = effects.bookings.keys().copied().collect();
        let owners: Vec<Uuid> = effects.bookings.values().map(|b| b.0).collect();
        let shows: Vec<Uuid> = effects.bookings.values().map(|b| b.1).collect();
        let created: Vec<i64> = effects.bookings.values().map(|b| b.2).collect();
        let records: Vec<&[u8]> = effects.bookings.values().map(|b| b.3.as_slice()).collect();
        writes.push(
            async move {
                client
                    .execute(&statement, &[&ids, &owners, &shows, &created, &records])
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
