//! The connection pool and the session settings of its connections: how
//! every connection the store uses is made, apart from what the store
//! does with it.

use super::options::PgOptions;
use crate::cluster::history::History;
use crate::store::contract::{StoreError, StoreResult};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::NoTls;

/// Session settings of every connection: a paused or cut-off node cannot
/// hold a row lock forever (a paused session keeps its locks),
/// a commit returns only once it is on disk, and the prepared statements
/// keep one generic plan (every statement here is a primary-key lookup or
/// an `unnest` write; re-planning each execution for its arrays cost
/// about 0.7 ms a statement, most of the database's time).
///
/// The idle-in-transaction limit is at most half a lease: a commit round
/// holds its partitions' rows `FOR SHARE` (the fence) until it ends, and
/// claims skip locked rows, so a node paused or cut off inside a round
/// kept its partitions from being taken over for as long as its
/// transaction lived (2 s, twice a 1000 ms lease: a cut node came back
/// before anyone could claim its show, seen in the link-down fault runs).
fn session_options(lease_ms: u64) -> String {
    let idle_ms = (lease_ms / 2).clamp(100, 2_000);
    format!(
        "-c synchronous_commit=on -c plan_cache_mode=force_generic_plan \
         -c statement_timeout=5000 \
         -c lock_timeout=2000 -c idle_in_transaction_session_timeout={idle_ms}"
    )
}

/// The connection pool. Every new connection first reads the database's
/// history (`history`): one on another history than before (a promoted
/// standby, a restore) lets go of every partition before it is used.
pub(super) fn pool(url: &str, options: &PgOptions, history: &Arc<History>) -> StoreResult<Pool> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Io(format!("the database URL: {e}")))?;
    config
        .options(session_options(options.lease_ms))
        .application_name("boxoffice")
        .connect_timeout(Duration::from_secs(5));
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let wait = Some(Duration::from_millis(options.pool_wait_ms));
    Pool::builder(manager)
        .max_size(options.pool_size.max(options.committers + 1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(wait)
        .create_timeout(Some(Duration::from_secs(5)))
        .post_create(on_connect(history.clone()))
        .build()
        .map_err(|e| StoreError::Io(format!("the connection pool: {e}")))
}

/// The pool's post-create hook: `History::on_connect`.
fn on_connect(history: Arc<History>) -> deadpool_postgres::Hook {
    deadpool_postgres::Hook::async_fn(move |client, _| {
        let history = history.clone();
        Box::pin(async move {
            history
                .on_connect(client)
                .await
                .map_err(|why| deadpool_postgres::HookError::Message(why.into()))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::session_options;

    /// A transaction left idle by a paused or cut-off node ends within half
    /// a lease (never more than 2 s), so its fence locks never outlive the
    /// lease that claims skip them for.
    #[test]
    fn an_idle_transaction_ends_within_half_a_lease() {
        assert!(session_options(1_000).contains("idle_in_transaction_session_timeout=500"));
        assert!(session_options(6_000).contains("idle_in_transaction_session_timeout=2000"));
        assert!(session_options(30).contains("idle_in_transaction_session_timeout=100"));
    }
}
