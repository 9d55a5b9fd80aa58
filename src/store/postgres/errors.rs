//! What a PostgreSQL failure means for a request: 503 when nothing
//! happened and a retry may work, 500 when the store itself failed.

use crate::store::contract::StoreError;
use deadpool_postgres::PoolError;

/// A pool that gave no connection: exhausted (503, `Busy`) or the
/// database unreachable (503, `Unavailable`).
pub(super) fn pool_error(error: PoolError) -> StoreError {
    match error {
        PoolError::Timeout(_) => StoreError::Busy,
        // The server's own words where it refused the connection (the
        // pool's `Display` says only "db error" for those).
        PoolError::Backend(error) => {
            StoreError::Unavailable(format!("the database: {}", describe(&error)))
        }
        other => StoreError::Unavailable(format!("the database: {other}")),
    }
}

/// A statement's error: the database or the connection gone, or a
/// transient refusal, is `Unavailable` (503, nothing happened); anything
/// else is a failure of the store (500).
pub(super) fn db_error(error: tokio_postgres::Error) -> StoreError {
    let message = describe(&error);
    if is_transient(&error) {
        StoreError::Unavailable(message)
    } else {
        StoreError::Io(message)
    }
}

/// The server's own words where it sent some (tokio-postgres's `Display`
/// says only "db error" for those).
pub(super) fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        None => error.to_string(),
    }
}

pub(super) fn is_transient(error: &tokio_postgres::Error) -> bool {
    match error.code() {
        // No SQL state: the connection broke or was closed.
        None => true,
        Some(code) => {
            let class = &code.code()[..2];
            // connection exception, insufficient resources, operator
            // intervention (shutdown, canceled statement), lock not
            // available, transaction rollback (serialization, deadlock);
            // and a transaction the server ended for idling (a node that
            // was paused or cut off inside it): rolled back, nothing done.
            matches!(class, "08" | "53" | "57" | "55" | "40") || code.code() == "25P03"
        }
    }
}

/// A schema migration's failure: the server's words, or a database a newer
/// build migrated (refused, and left as it is).
pub(super) fn migration_error(error: super::migrations::MigrationError) -> StoreError {
    match error {
        super::migrations::MigrationError::Db(error) => db_error(error),
        super::migrations::MigrationError::Newer { found, known } => StoreError::Io(format!(
            "the database's schema is version {found}, written by a newer build; this build \
             knows versions up to {known}: run a build at least as new (nothing was changed)"
        )),
    }
}
