//! PostgreSQL's side of a dump: its records read from one snapshot
//! (`export`: a repeatable-read, read-only transaction, so nodes may go on
//! serving; rows fetched in pages through a portal, so memory stays
//! bounded), and a dump's records written into an empty database in one
//! transaction (`import`: all or nothing). A serving store's export runs
//! on a thread and a connection of its own (`export_online`).

use super::errors::{db_error, describe};
use super::seat_rows::{seat_state, SeatColumns};
use crate::domain::{IdempotencyKey, ShowId, StoredBody, UserId};
use crate::store::codec::{
    decode_booking, decode_cart, decode_reply, decode_show, encode_booking, encode_cart,
    encode_reply, encode_show,
};
use crate::store::dump::Record;
use crate::store::{KeyRecord, StoreError, StoreResult};
use tokio_postgres::{Client, NoTls, Row};
use uuid::Uuid;

/// Rows fetched at a time while exporting.
const PAGE_ROWS: i32 = 1000;
/// Records inserted by one statement while importing.
const BATCH: usize = 1000;

/// The tables, each with the query that reads it in key order.
const TABLES: [&str; 6] = [
    "SELECT id, record FROM shows ORDER BY id",
    "SELECT show_id, seat_index, state, cart_id, until_ms, booking_id FROM seats \
     ORDER BY show_id, seat_index",
    "SELECT record FROM carts ORDER BY id",
    "SELECT record FROM bookings ORDER BY id",
    "SELECT token_hash, user_id, created_at_ms FROM sessions ORDER BY token_hash",
    "SELECT user_id, key, reply FROM idempotency_keys ORDER BY user_id, key",
];

/// Connects to `url` (a plain connection: no pool, no cluster membership).
pub async fn connect(url: &str) -> StoreResult<Client> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Io(format!("the database URL: {e}")))?;
    let (client, connection) = config.connect(NoTls).await.map_err(db_error)?;
    tokio::spawn(connection);
    Ok(client)
}

/// Every record of the database, from one snapshot, handed to `sink` in
/// table order (shows, seats, carts, bookings, sessions, keys).
pub async fn export(
    client: &mut Client,
    mut sink: impl FnMut(Record) -> StoreResult<()>,
) -> StoreResult<()> {
    let transaction = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db_error)?;
    let migrated: bool = transaction
        .query_one("SELECT to_regclass('shows') IS NOT NULL", &[])
        .await
        .map_err(db_error)?
        .get(0);
    if !migrated {
        return Err(StoreError::Io(
            "the database holds no boxoffice store (no schema: `boxoffice migrate` makes one)"
                .into(),
        ));
    }
    for (table, sql) in TABLES.iter().enumerate() {
        let statement = transaction.prepare(sql).await.map_err(db_error)?;
        let portal = transaction.bind(&statement, &[]).await.map_err(db_error)?;
        loop {
            let rows = transaction
                .query_portal(&portal, PAGE_ROWS)
                .await
                .map_err(db_error)?;
            for row in &rows {
                let (record, made) = record_of(table, row)?.split_made_booking();
                sink(record)?;
                if let Some(made) = made {
                    sink(made)?;
                }
            }
            if rows.len() < PAGE_ROWS as usize {
                break;
            }
        }
    }
    transaction.commit().await.map_err(db_error)
}

fn record_of(table: usize, row: &Row) -> StoreResult<Record> {
    Ok(match table {
        0 => Record::Show(decode_show(row.get("record"))?),
        1 => {
            let (index, state) = seat_state(row)?;
            Record::Seat {
                show: ShowId(row.get("show_id")),
                index,
                state,
            }
        }
        2 => Record::Cart(decode_cart(row.get("record"))?),
        3 => Record::Booking(decode_booking(row.get("record"))?),
        4 => {
            let hash: &[u8] = row.get("token_hash");
            Record::Session {
                token_hash: hash
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("a session's token hash".into()))?,
                user: UserId(row.get("user_id")),
                created_at_ms: row.get::<_, i64>("created_at_ms") as u64,
            }
        }
        _ => {
            let key: &str = row.get("key");
            Record::Key(KeyRecord {
                user: UserId(row.get("user_id")),
                key: IdempotencyKey::parse(key.as_bytes())
                    .map_err(|_| StoreError::Corrupt(format!("key {key:?}")))?,
                reply: decode_reply(row.get("reply"))?,
            })
        }
    })
}

/// Writes `records` into the database (migrated, and holding no record)
/// in one transaction: all of them, or on any failure none. Returns how
/// many were written.
pub async fn import<E: std::fmt::Display>(
    client: &mut Client,
    records: impl Iterator<Item = Result<Record, E>>,
) -> StoreResult<u64> {
    let transaction = client.transaction().await.map_err(db_error)?;
    let holding: bool = transaction
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM shows) OR EXISTS (SELECT 1 FROM seats)
                 OR EXISTS (SELECT 1 FROM carts) OR EXISTS (SELECT 1 FROM bookings)
                 OR EXISTS (SELECT 1 FROM sessions) OR EXISTS (SELECT 1 FROM idempotency_keys)",
            &[],
        )
        .await
        .map_err(db_error)?
        .get(0);
    if holding {
        return Err(StoreError::Io(
            "the database is not empty; import writes into an empty store only".into(),
        ));
    }
    let mut batch = Batch::default();
    let mut written = 0u64;
    for record in records {
        batch.add(record.map_err(|e| StoreError::Io(e.to_string()))?);
        written += 1;
        if batch.len >= BATCH {
            batch.insert(&transaction).await?;
        }
    }
    batch.insert(&transaction).await?;
    transaction
        .commit()
        .await
        .map_err(|e| StoreError::Io(describe(&e)))?;
    Ok(written)
}

/// Bookings' columns: id, owner_id, show_id, created_at_ms, record.
type BookingColumns = (Vec<Uuid>, Vec<Uuid>, Vec<Uuid>, Vec<i64>, Vec<Vec<u8>>);

/// Records waiting to be inserted, by table, as the columns' arrays.
#[derive(Default)]
struct Batch {
    len: usize,
    shows: (Vec<Uuid>, Vec<Vec<u8>>),
    seats: SeatColumns,
    carts: (Vec<Uuid>, Vec<Uuid>, Vec<Vec<u8>>),
    bookings: BookingColumns,
    sessions: (Vec<Vec<u8>>, Vec<Uuid>, Vec<i64>),
    keys: (Vec<Uuid>, Vec<String>, Vec<i64>, Vec<Vec<u8>>),
}

impl Batch {
    fn add(&mut self, record: Record) {
        self.len += 1;
        match record {
            Record::Show(show) => {
                self.shows.0.push(show.id.0);
                self.shows.1.push(encode_show(&show));
            }
            Record::Seat { show, index, state } => {
                self.seats.push(show.0, index as i32, state);
            }
            Record::Cart(cart) => {
                self.carts.0.push(cart.id.0);
                self.carts.1.push(cart.owner.0);
                self.carts.2.push(encode_cart(&cart));
            }
            Record::Booking(booking) => {
                self.bookings.0.push(booking.id.0);
                self.bookings.1.push(booking.owner.0);
                self.bookings.2.push(booking.show.0);
                self.bookings.3.push(booking.created_at_ms as i64);
                self.bookings.4.push(encode_booking(&booking));
            }
            Record::Session {
                token_hash,
                user,
                created_at_ms,
            } => {
                self.sessions.0.push(token_hash.to_vec());
                self.sessions.1.push(user.0);
                self.sessions.2.push(created_at_ms as i64);
            }
            Record::Key(key) => {
                let mut reply = key.reply;
                if let StoredBody::CreatedBookingAsMade(booking) = &reply.body {
                    reply.body = StoredBody::CreatedBooking(booking.id);
                }
                self.keys.0.push(key.user.0);
                self.keys.1.push(key.key.as_str().to_string());
                self.keys.2.push(reply.created_at_ms as i64);
                self.keys.3.push(encode_reply(&reply));
            }
        }
    }

    async fn insert(&mut self, transaction: &tokio_postgres::Transaction<'_>) -> StoreResult<()> {
        let run = |sql: &'static str| sql;
        if self.len == 0 {
            return Ok(());
        }
        let batch = std::mem::take(self);
        let statements: [(&str, Vec<&(dyn tokio_postgres::types::ToSql + Sync)>); 6] = [
            (
                run("INSERT INTO shows (id, record) SELECT * FROM unnest($1::uuid[], $2::bytea[])"),
                vec![&batch.shows.0, &batch.shows.1],
            ),
            (
                run(
                    "INSERT INTO seats (show_id, seat_index, state, cart_id, until_ms, booking_id)
                     SELECT * FROM unnest($1::uuid[], $2::int4[], $3::int2[], $4::uuid[],
                                          $5::int8[], $6::uuid[])",
                ),
                vec![
                    &batch.seats.shows,
                    &batch.seats.indexes,
                    &batch.seats.states,
                    &batch.seats.carts,
                    &batch.seats.until_ms,
                    &batch.seats.bookings,
                ],
            ),
            (
                run("INSERT INTO carts (id, owner_id, record)
                     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bytea[])"),
                vec![&batch.carts.0, &batch.carts.1, &batch.carts.2],
            ),
            (
                run(
                    "INSERT INTO bookings (id, owner_id, show_id, created_at_ms, record)
                     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int8[],
                                          $5::bytea[])",
                ),
                vec![
                    &batch.bookings.0,
                    &batch.bookings.1,
                    &batch.bookings.2,
                    &batch.bookings.3,
                    &batch.bookings.4,
                ],
            ),
            (
                run("INSERT INTO sessions (token_hash, user_id, created_at_ms)
                     SELECT * FROM unnest($1::bytea[], $2::uuid[], $3::int8[])"),
                vec![&batch.sessions.0, &batch.sessions.1, &batch.sessions.2],
            ),
            (
                run(
                    "INSERT INTO idempotency_keys (user_id, key, created_at_ms, reply)
                     SELECT * FROM unnest($1::uuid[], $2::text[], $3::int8[], $4::bytea[])",
                ),
                vec![&batch.keys.0, &batch.keys.1, &batch.keys.2, &batch.keys.3],
            ),
        ];
        for (sql, params) in statements {
            transaction
                .execute(sql, &params)
                .await
                .map_err(|e| StoreError::Io(describe(&e)))?;
        }
        Ok(())
    }
}

/// `f` on a runtime of its own (the command line's export and import).
pub fn blocking<T>(f: impl std::future::Future<Output = StoreResult<T>>) -> StoreResult<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Io(e.to_string()))?
        .block_on(f)
}

/// A snapshot of a serving store (`Store::export_snapshot`): on a thread
/// of its own with a connection of its own (the pool's carry timeouts a
/// long snapshot must not be bound by), handing pages of records to this
/// thread, which calls `sink` outside any runtime (it may block until the
/// reader takes them).
pub(super) fn export_online(
    url: &str,
    sink: &mut dyn FnMut(Record) -> StoreResult<()>,
) -> StoreResult<()> {
    const PAGE: usize = 1000;
    let (pages, received) = std::sync::mpsc::sync_channel::<StoreResult<Vec<Record>>>(4);
    let url = url.to_string();
    std::thread::Builder::new()
        .name("export".into())
        .spawn(move || {
            let mut page = Vec::with_capacity(PAGE);
            let exported = blocking(async {
                let mut client = connect(&url).await?;
                export(&mut client, |record| {
                    page.push(record);
                    if page.len() >= PAGE {
                        let full = std::mem::replace(&mut page, Vec::with_capacity(PAGE));
                        pages
                            .send(Ok(full))
                            .map_err(|_| StoreError::Io("the export's reader stopped".into()))?;
                    }
                    Ok(())
                })
                .await
            });
            let _ = pages.send(exported.map(|()| page));
        })
        .map_err(|e| StoreError::Io(format!("the export's thread: {e}")))?;
    for page in received {
        for record in page? {
            sink(record)?;
        }
    }
    Ok(())
}
