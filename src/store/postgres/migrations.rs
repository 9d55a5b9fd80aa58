//! The schema, as versioned migrations kept in the repository and applied
//! in order at start (`boxoffice migrate` does only that).
//!
//! Nodes that start together against one database must not both migrate:
//! the migrations run in one transaction that first takes an exclusive lock
//! on `schema_migrations`, so the second node waits, then finds every
//! version applied and does nothing. (No advisory lock: distributed SQL
//! engines that speak PostgreSQL's protocol lack them.)

use tokio_postgres::Client;

/// Every migration, in the order it is applied: (version, name, SQL).
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (
        2,
        "commit_rounds",
        include_str!("migrations/0002_commit_rounds.sql"),
    ),
    (3, "cluster", include_str!("migrations/0003_cluster.sql")),
];

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
