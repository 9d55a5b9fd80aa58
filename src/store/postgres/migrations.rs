//! The schema, as versioned migrations kept in the repository and applied
//! in order at start (`boxoffice migrate` does only that).
//!
//! Nodes that start together against one database must not both migrate:
//! the migrations run in one transaction that first takes an exclusive lock
//! on `schema_migrations`, so the second node waits, then finds every
//! version applied and does nothing. (No advisory lock: distributed SQL
//! engines that speak PostgreSQL's protocol lack them.)

use crate::store::codec::decode_booking;
use tokio_postgres::{Client, Transaction};
use uuid::Uuid;

/// Every migration, in the order it is applied: (version, name, SQL).
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (
        2,
        "commit_rounds",
        include_str!("migrations/0002_commit_rounds.sql"),
    ),
    (3, "cluster", include_str!("migrations/0003_cluster.sql")),
    (
        4,
        "show_bookings",
        include_str!("migrations/0004_show_bookings.sql"),
    ),
];

/// What a migration does after its SQL, in the same transaction: version
/// 4 fills `bookings.show_id` (`backfill_booking_shows`), then makes it
/// NOT NULL and indexes it.
async fn after_sql(version: i32, transaction: &Transaction<'_>) -> Result<(), MigrationError> {
    if version == 4 {
        let filled = backfill_booking_shows(transaction).await?;
        transaction
            .batch_execute(include_str!("migrations/0004_show_bookings_after.sql"))
            .await?;
        tracing::info!(bookings = filled, "gave every booking row its show");
    }
    Ok(())
}

/// Rows read and updated at a time by `backfill_booking_shows`.
const BACKFILL_PAGE: i64 = 5000;

/// Sets `show_id` of every booking row from its record. Why in Rust: the
/// show is inside `record`, a `bytea` in the engine's codec (binary, or
/// JSON before issue 18), which SQL cannot read. Why in the migration's
/// own transaction: all or nothing, like every migration (a database
/// never says version 4 with rows lacking their show, and an upgrade cut
/// short leaves version 3 as it was), at the price of holding the
/// migration's locks while every booking is read once. Pages by id
/// (keyset), so memory stays bounded whatever the table's size.
async fn backfill_booking_shows(transaction: &Transaction<'_>) -> Result<u64, MigrationError> {
    let page = transaction
        .prepare(
            "SELECT id, record FROM bookings WHERE $1::uuid IS NULL OR id > $1
             ORDER BY id LIMIT $2",
        )
        .await?;
    let update = transaction
        .prepare(
            "UPDATE bookings SET show_id = s.show_id
             FROM unnest($1::uuid[], $2::uuid[]) AS s(id, show_id) WHERE bookings.id = s.id",
        )
        .await?;
    let mut after: Option<Uuid> = None;
    let mut filled = 0;
    loop {
        let rows = transaction.query(&page, &[&after, &BACKFILL_PAGE]).await?;
        if rows.is_empty() {
            return Ok(filled);
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut shows = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: Uuid = row.get(0);
            let booking = decode_booking(row.get(1))
                .map_err(|error| MigrationError::Record(format!("booking {id}: {error}")))?;
            ids.push(id);
            shows.push(booking.show.0);
        }
        transaction.execute(&update, &[&ids, &shows]).await?;
        filled += ids.len() as u64;
        after = ids.last().copied();
    }
}

/// Why the schema could not be brought up to date.
#[derive(Debug)]
pub enum MigrationError {
    Db(tokio_postgres::Error),
    /// The database has a migration this build does not know: a newer
    /// build wrote it. Nothing was changed.
    Newer {
        found: i32,
        known: i32,
    },
    /// A record a migration reads could not be decoded: nothing was
    /// changed (the transaction is rolled back).
    Record(String),
}

impl From<tokio_postgres::Error> for MigrationError {
    fn from(error: tokio_postgres::Error) -> Self {
        MigrationError::Db(error)
    }
}

/// The newest schema version this build knows.
pub fn newest_known() -> i32 {
    MIGRATIONS.last().map_or(0, |(version, _, _)| *version)
}

/// Applies the migrations this database lacks; returns how many it applied.
/// A database with a version this build does not know is left as it is.
pub async fn migrate(client: &mut Client) -> Result<usize, MigrationError> {
    create_version_table(client).await?;
    let transaction = client.transaction().await?;
    transaction
        .batch_execute("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE")
        .await?;
    let applied: Vec<i32> = transaction
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if let Some(&found) = applied.iter().max().filter(|v| **v > newest_known()) {
        return Err(MigrationError::Newer {
            found,
            known: newest_known(),
        });
    }
    let mut count = 0;
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        transaction.batch_execute(sql).await?;
        after_sql(*version, &transaction).await?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[version, name],
            )
            .await?;
        tracing::info!(version, name, "applied a schema migration");
        count += 1;
    }
    transaction.commit().await?;
    Ok(count)
}

/// `CREATE TABLE IF NOT EXISTS` can still fail when two sessions create
/// the table at the same moment (a unique violation in the catalog, or
/// "type already exists" for the table's row type, seen in CI): the loser
/// tries again and finds it there.
async fn create_version_table(client: &Client) -> Result<(), tokio_postgres::Error> {
    const CREATE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )";
    match client.batch_execute(CREATE).await {
        Ok(()) => Ok(()),
        Err(error)
            if [
                tokio_postgres::error::SqlState::UNIQUE_VIOLATION,
                tokio_postgres::error::SqlState::DUPLICATE_OBJECT,
                tokio_postgres::error::SqlState::DUPLICATE_TABLE,
            ]
            .iter()
            .any(|state| error.code() == Some(state)) =>
        {
            client.batch_execute(CREATE).await
        }
        Err(error) => Err(error),
    }
}
