//! The cluster's state lives in the PostgreSQL database the data lives in
//! (nodes, partition leases, epochs): what that database's failures mean.
//! The store classifies its own failures with the same rules
//! (`store::postgres::errors`), so a request is answered alike whichever
//! of the two met the failure.

use deadpool_postgres::PoolError;

/// Why a question to the database about the cluster got no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DatabaseError {
    /// Every pooled connection is in use (answered 503).
    #[error("the connection pool is exhausted")]
    Busy,
    /// The database is unreachable, went away, or refused for now
    /// (answered 503: nothing happened, a retry may work).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database answered with an error that a retry will not mend
    /// (answered 500).
    #[error("the database failed: {0}")]
    Failed(String),
}

/// A pool that gave no connection: exhausted, or the database unreachable.
pub fn pool_error(error: PoolError) -> DatabaseError {
    match error {
        PoolError::Timeout(_) => DatabaseError::Busy,
        // The server's own words where it refused the connection (the
        // pool's `Display` says only "db error" for those).
        PoolError::Backend(error) => {
            DatabaseError::Unavailable(format!("the database: {}", describe(&error)))
        }
        other => DatabaseError::Unavailable(format!("the database: {other}")),
    }
}

/// A statement's error: the database or the connection gone, or a
/// transient refusal, is `Unavailable`; anything else `Failed`.
pub fn db_error(error: tokio_postgres::Error) -> DatabaseError {
    let message = describe(&error);
    if is_transient(&error) {
        DatabaseError::Unavailable(message)
    } else {
        DatabaseError::Failed(message)
    }
}

/// The server's own words where it sent some (tokio-postgres's `Display`
/// says only "db error" for those).
pub fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        None => error.to_string(),
    }
}

/// Whether nothing happened and a retry may work.
pub fn is_transient(error: &tokio_postgres::Error) -> bool {
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
