//! What a PostgreSQL failure means for a request: 503 when nothing
//! happened and a retry may work, 500 when the store itself failed. The
//! rules are the cluster's (`cluster::database`), shared: the store and the
//! cluster's questions meet the same database.

use crate::cluster::database::{self, DatabaseError};
use crate::store::contract::StoreError;
use deadpool_postgres::PoolError;

pub(super) use crate::cluster::database::describe;

impl From<DatabaseError> for StoreError {
    fn from(error: DatabaseError) -> StoreError {
        match error {
            DatabaseError::Busy => StoreError::Busy,
            DatabaseError::Unavailable(message) => StoreError::Unavailable(message),
            DatabaseError::Failed(message) => StoreError::Io(message),
        }
    }
}

/// A pool that gave no connection: exhausted (503, `Busy`) or the
/// database unreachable (503, `Unavailable`).
pub(super) fn pool_error(error: PoolError) -> StoreError {
    database::pool_error(error).into()
}

/// A statement's error: the database or the connection gone, or a
/// transient refusal, is `Unavailable` (503, nothing happened); anything
/// else is a failure of the store (500).
pub(super) fn db_error(error: tokio_postgres::Error) -> StoreError {
    database::db_error(error).into()
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
        super::migrations::MigrationError::Record(what) => StoreError::Corrupt(format!(
            "migrating the schema: {what} (nothing was changed)"
        )),
    }
}
