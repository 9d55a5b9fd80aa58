//! The outcome of a commit round whose COMMIT failed, learned by taking
//! the round's marker on a new connection (the committer's docs, in
//! `mod.rs`, say why a marker and not a transaction id). Its own file: the
//! look-up after a failure, apart from the round itself.

use super::common::Rounds;
use crate::store::contract::StoreResult;
use crate::store::postgres::errors::{db_error, pool_error};
use deadpool_postgres::Pool;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Whether the round of `marker` committed, asked on a new connection
/// until the database answers or `resolve_for` has passed: `Some`, or
/// `None` if it could not be learned.
pub(super) async fn resolve(rounds: &Rounds, marker: Uuid) -> Option<bool> {
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
