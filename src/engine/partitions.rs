//! Follows the partitions this node holds, on a store of many nodes
//! (PostgreSQL, docs/CLUSTER.md).
//!
//! - A partition claimed while running (a takeover): every show of it is
//!   loaded again from the store, into a unit that writes under the new
//!   epoch, before the store writes under it (`PartitionEvent::Gained`
//!   waits for `loaded`). The old unit, if any, stops: its state may be
//!   stale, since another node wrote meanwhile. (Cart and booking actors
//!   need nothing here: on a shared store they read their record with
//!   every request.)
//! - A partition lost: nothing to do here. Its units keep the epoch they
//!   were loaded at, so each of their writes is refused (503) by the
//!   store's fence; a takeover later replaces them.
//! - Shows created on another node: found by looking at the store's list
//!   every few seconds, and served (under the lease this node holds for
//!   them, if any; else read-only: their writes are refused).
//!
//! On a thread of its own with a small runtime, holding the core only
//! while it works, like the sweeper.

use crate::cluster::{PartitionEvent, ShowFence};
use crate::domain::SeatStatus;
use crate::ops::Core;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// How often shows created on other nodes are looked for.
const DISCOVER_EVERY: Duration = Duration::from_secs(2);

pub(super) fn start(core: &Arc<Core>, mut events: UnboundedReceiver<PartitionEvent>) {
    let core = Arc::downgrade(core);
    let spawned = std::thread::Builder::new()
        .name("partitions".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the partitions");
            runtime.block_on(async move {
                loop {
                    let event = tokio::select! {
                        event = events.recv() => match event {
                            Some(event) => Some(event),
                            None => return,
                        },
                        _ = tokio::time::sleep(DISCOVER_EVERY) => None,
                    };
                    let Some(core) = core.upgrade() else { return };
                    match event {
                        Some(PartitionEvent::Gained { partitions, loaded }) => {
                            if reload(&core, &partitions.into_iter().collect()).await {
                                let _ = loaded.send(());
                            }
                        }
                        Some(PartitionEvent::Lost(_)) => {}
                        None => discover(&core).await,
                    }
                }
            });
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "could not start following the partitions");
    }
}

/// Loads every show of `partitions` again, under their new epochs.
/// Returns false if one could not be loaded (then the partitions are not
/// taken: they lapse and are claimed again later).
async fn reload(core: &Core, partitions: &HashMap<i32, i64>) -> bool {
    let shows = match core.store.list_shows().await {
        Ok(shows) => shows,
        Err(error) => {
            tracing::warn!(%error, "cannot list the shows of claimed partitions");
            return false;
        }
    };
    for show in shows {
        let Some(partition) = core.membership.partition_of(show.id) else {
            continue;
        };
        let Some(epoch) = partitions.get(&partition) else {
            continue;
        };
        let id = show.id;
        if let Err(error) = core
            .shows
            .load_at(show, ShowFence::Held(*epoch), true)
            .await
        {
            tracing::warn!(%error, show = %id, "cannot load a show taken over");
            core.shows.unload(id);
            return false;
        }
    }
    true
}

/// Serves the shows other nodes created since the last look, and brings
/// the seat maps of shows other nodes own up to date (the show list's
/// counts come from them; their seat maps and events are asked of the
/// owner).
async fn discover(core: &Core) {
    let Ok(shows) = core.store.list_shows().await else {
        return;
    };
    for show in shows {
        let id = show.id;
        match core.shows.get(id) {
            None => {
                if let Err(error) = core.shows.load(show).await {
                    tracing::warn!(%error, show = %id, "cannot load a show created elsewhere");
                }
            }
            Some(unit) if !unit.lease_is_current() => {
                let Ok(taken) = core.store.load_taken_seats(id).await else {
                    continue;
                };
                let now = crate::runtime::clock::now_ms();
                let mut statuses =
                    vec![SeatStatus::Available; unit.show().layout.capacity() as usize];
                for (index, state) in taken {
                    if let Some(status) = statuses.get_mut(index as usize) {
                        *status = state.at(now).status();
                    }
                }
                for (index, status) in statuses.into_iter().enumerate() {
                    if unit.map().status(index as u32) != status {
                        unit.map().set(index as u32, status);
                    }
                }
            }
            Some(_) => {}
        }
    }
}
