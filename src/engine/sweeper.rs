//! Forgets completed idempotency keys and sessions past their TTL, on a
//! thread of its own that holds the core only while it sweeps (so a
//! stopped engine releases its data directory). It waits on the store's
//! futures with a small runtime of its own.

use crate::ops::session::Sessions;
use crate::ops::Core;
use crate::runtime::clock::now_ms;
use crate::store::StoreFuture;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Records forgotten per store call.
const SWEEP_BATCH: usize = 10_000;

pub(super) fn start(core: &Arc<Core>, sessions: &Arc<Sessions>) {
    let config = &core.config;
    let ttl_ms = config.idempotency_ttl_ms.min(config.session_ttl_ms);
    let every = Duration::from_millis((ttl_ms / 4).clamp(100, 60_000));
    let (core, sessions) = (Arc::downgrade(core), Arc::downgrade(sessions));
    let spawned = std::thread::Builder::new()
        .name("key-sweeper".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the sweeper");
            loop {
                std::thread::sleep(every);
                if !runtime.block_on(sweep_once(&core, &sessions)) {
                    return;
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "could not start the key sweeper");
    }
}

/// One sweep; false once the engine is gone.
async fn sweep_once(core: &Weak<Core>, sessions: &Weak<Sessions>) -> bool {
    let (Some(core), Some(sessions)) = (core.upgrade(), sessions.upgrade()) else {
        return false;
    };
    let now = now_ms();
    let keys_before = now.saturating_sub(core.config.idempotency_ttl_ms);
    let sessions_before = now.saturating_sub(core.config.session_ttl_ms);
    // On a store of many nodes one of them sweeps the shared records.
    if core.membership.sweeps_here() {
        crate::metrics::SWEEPS.inc();
        let swept = sweep_all(|| core.store.sweep_keys(keys_before, SWEEP_BATCH)).await;
        crate::metrics::KEYS_EXPIRED.inc_by(swept as u64);
        if swept > 0 {
            core.keys.recount();
        }
        sweep_all(|| core.store.sweep_sessions(sessions_before, SWEEP_BATCH)).await;
    }
    sessions.forget_before(sessions_before);
    true
}

/// Calls `sweep` until it forgets less than a batch; the total forgotten.
async fn sweep_all(mut sweep: impl FnMut() -> StoreFuture<usize>) -> usize {
    let mut total = 0;
    loop {
        match sweep().await {
            Ok(swept) => {
                total += swept;
                if swept < SWEEP_BATCH {
                    return total;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "sweep failed");
                return total;
            }
        }
    }
}
