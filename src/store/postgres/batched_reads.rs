//! Point reads batched the way commits are: the lookups of one kind that
//! wait when a reader is free go to the database as one statement.
//!
//! Why: a booking reads its key record, its booking id and its seat before
//! it commits. One statement per read costs the database a round of
//! parsing-free but still per-statement work and the client a round trip
//! each; with many requests in flight, the same work for a batch is one
//! statement whose cost grows with the rows, not with the callers.

use super::errors::{db_error, pool_error};
use crate::store::contract::{StoreError, StoreFuture, StoreResult};
use deadpool_postgres::{Object, Pool};
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Lookups waiting per kind before new ones answer 503.
const WAITING_LIMIT: usize = 16 * 1024;
/// Most lookups in one statement.
const MAX_BATCH: usize = 256;

/// The rows found for a batch of keys (a key with no row is absent).
pub(super) type Fetched<K, V> = BoxFuture<'static, StoreResult<Vec<(K, V)>>>;

/// Reads a batch of keys.
pub(super) type Fetch<K, V> = Arc<dyn Fn(Object, Vec<K>) -> Fetched<K, V> + Send + Sync>;

struct Lookup<K, V> {
    key: K,
    reply: oneshot::Sender<StoreResult<Option<V>>>,
}

/// The lookups of one kind, and the readers that batch them.
pub(super) struct Batched<K, V> {
    queue: mpsc::Sender<Lookup<K, V>>,
}

impl<K, V> Batched<K, V>
where
    K: Clone + Eq + Hash + Send + 'static,
    V: Clone + Send + 'static,
{
    /// Starts `readers` readers of this kind on `runtime`.
    pub fn start(
        runtime: &tokio::runtime::Handle,
        pool: Pool,
        readers: usize,
        fetch: Fetch<K, V>,
    ) -> Self {
        let (queue, waiting) = mpsc::channel(WAITING_LIMIT);
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..readers.max(1) {
            runtime.spawn(read(pool.clone(), waiting.clone(), fetch.clone()));
        }
        Batched { queue }
    }

    pub fn get(&self, key: K) -> StoreFuture<Option<V>> {
        let (reply, answer) = oneshot::channel();
        let queued = self.queue.try_send(Lookup { key, reply });
        Box::pin(async move {
            queued.map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Busy,
                mpsc::error::TrySendError::Closed(_) => {
                    StoreError::Unavailable("the readers stopped".into())
                }
            })?;
            answer
                .await
                .unwrap_or_else(|_| Err(StoreError::Unavailable("the readers stopped".into())))
        })
    }
}

/// One reader: takes what waits, reads it in one statement, answers.
async fn read<K, V>(
    pool: Pool,
    waiting: Arc<Mutex<mpsc::Receiver<Lookup<K, V>>>>,
    fetch: Fetch<K, V>,
) where
    K: Clone + Eq + Hash + Send + 'static,
    V: Clone + Send + 'static,
{
    loop {
        let batch = {
            let mut waiting = waiting.lock().await;
            let Some(first) = waiting.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match waiting.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            batch
        };
        let mut keys: Vec<K> = Vec::with_capacity(batch.len());
        for lookup in &batch {
            if !keys.contains(&lookup.key) {
                keys.push(lookup.key.clone());
            }
        }
        let found = match pool.get().await.map_err(pool_error) {
            Ok(client) => fetch(client, keys).await,
            Err(error) => Err(error),
        };
        match found {
            Ok(rows) => {
                let rows: HashMap<K, V> = rows.into_iter().collect();
                for lookup in batch {
                    let _ = lookup.reply.send(Ok(rows.get(&lookup.key).cloned()));
                }
            }
            Err(error) => {
                let message = error.to_string();
                let transient = matches!(error, StoreError::Busy | StoreError::Unavailable(_));
                for lookup in batch {
                    let error = if transient {
                        StoreError::Unavailable(message.clone())
                    } else {
                        StoreError::Io(message.clone())
                    };
                    let _ = lookup.reply.send(Err(error));
                }
            }
        }
    }
}

/// Runs one prepared statement on `client` and maps its rows.
pub(super) async fn query<T>(
    client: &Object,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    row: impl Fn(&tokio_postgres::Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let statement = client.prepare_cached(sql).await.map_err(db_error)?;
    let rows = client.query(&statement, params).await.map_err(db_error)?;
    rows.iter().map(row).collect()
}
