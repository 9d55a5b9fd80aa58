//! Which history of the database this node writes to, and what it does
//! when that changes under it.
//!
//! A failover to a standby, or a restore from a backup, hands the nodes a
//! database whose history is not the one they wrote to. PostgreSQL says so:
//! a promotion or a point-in-time restore starts a new timeline, another
//! cluster has another system identifier. Such a database may lack writes
//! this node acknowledged (a standby that lagged), and then what the node
//! holds in memory (seat maps, each show's seat states) shows seats the
//! database no longer has.
//!
//! So every new connection reads the history it is on, in the pool's
//! post-create hook, before anyone uses it. The first to find another
//! history makes the node let go of every partition it holds, in the same
//! step: the shows loaded from the old history are then not current, so
//! they answer nothing (503) and write nothing, and the leases loop claims
//! the partitions back at once, at new epochs, reloading their shows from
//! the new history first (`leases::keep`). Then the commit rounds this
//! node acknowledged lately are looked up by their markers: a marker
//! missing is an acknowledged write the database lost, logged and counted
//! (`boxoffice_store_lost_acknowledged_writes_total`), never served.

use super::leases::Leases;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A database history: the cluster and its timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `pg_control_system().system_identifier`: one per `initdb`, kept by
    /// standbys made from it.
    pub system: i64,
    /// The timeline WAL is written on now: raised by every promotion and
    /// point-in-time restore.
    pub timeline: u32,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "system {} timeline {}", self.system, self.timeline)
    }
}

/// Acknowledged rounds remembered, at most: enough for several seconds of
/// the fastest load measured, bounded whatever the load (40 bytes each).
const KEEP_ACKNOWLEDGED: usize = 65_536;

/// And for at most this long: the store removes markers an hour old
/// (`PgStore::sweep_keys`), so an older one missing proves nothing.
const KEEP_ACKNOWLEDGED_FOR: Duration = Duration::from_secs(50 * 60);

/// A commit round this node answered as committed.
#[derive(Clone, Copy, Debug)]
struct Acknowledged {
    marker: Uuid,
    write_sets: usize,
    at: Instant,
}

/// What changed, for the check that follows it.
#[derive(Debug)]
pub struct Change {
    pub before: Identity,
    pub after: Identity,
    acknowledged: Vec<Acknowledged>,
}

/// This node's view of the database's history.
pub struct History {
    inner: Mutex<Inner>,
    /// The leases to let go of on a change (attached once they exist; the
    /// connections made before, for the migrations, hold no partition).
    leases: OnceLock<Arc<Leases>>,
}

#[derive(Default)]
struct Inner {
    seen: Option<Identity>,
    acknowledged: VecDeque<Acknowledged>,
}

impl History {
    pub fn new() -> Arc<History> {
        Arc::new(History {
            inner: Mutex::new(Inner::default()),
            leases: OnceLock::new(),
        })
    }

    pub fn attach(&self, leases: Arc<Leases>) {
        let _ = self.leases.set(leases);
    }

    /// Remembers a round answered as committed, by its marker.
    pub fn acknowledged(&self, marker: Uuid, write_sets: usize) {
        let mut inner = self.inner.lock().expect("history");
        if inner.acknowledged.len() == KEEP_ACKNOWLEDGED {
            inner.acknowledged.pop_front();
        }
        inner.acknowledged.push_back(Acknowledged {
            marker,
            write_sets,
            at: Instant::now(),
        });
    }

    /// A new connection is on `identity`. If that is another history than
    /// the one seen before, every partition is let go of before this
    /// returns (so no connection of the new history serves a show loaded
    /// from the old one), and the rounds to look up are handed back.
    pub fn observe(&self, identity: Identity) -> Option<Change> {
        let mut inner = self.inner.lock().expect("history");
        let before = inner.seen.replace(identity);
        let before = before.filter(|before| *before != identity)?;
        crate::metrics::DATABASE_HISTORY_CHANGES.inc();
        tracing::error!(
            %before, after = %identity,
            "the database is on another history (a promoted standby, or a restore): \
             dropping every show held in memory and reloading it from the database"
        );
        if let Some(leases) = self.leases.get() {
            leases.let_go_for_new_history();
        }
        let acknowledged = std::mem::take(&mut inner.acknowledged)
            .into_iter()
            .filter(|round| round.at.elapsed() < KEEP_ACKNOWLEDGED_FOR)
            .collect();
        Some(Change {
            before,
            after: identity,
            acknowledged,
        })
    }

    /// The post-create hook: reads the new connection's history and, if it
    /// changed, lets go of the partitions and looks up what was
    /// acknowledged. An error refuses the connection (a standby in
    /// recovery has no WAL insert position: not a database to write to).
    pub async fn on_connect(&self, client: &tokio_postgres::Client) -> Result<(), String> {
        let identity = identity_of(client).await?;
        if let Some(change) = self.observe(identity) {
            look_up_acknowledged(client, change).await;
        }
        Ok(())
    }
}

/// The history `client` is on.
async fn identity_of(client: &tokio_postgres::Client) -> Result<Identity, String> {
    let row = client
        .query_one(
            "SELECT (SELECT system_identifier FROM pg_control_system()),
                    pg_walfile_name(pg_current_wal_insert_lsn())",
            &[],
        )
        .await
        .map_err(|e| super::database::describe(&e))?;
    let system: i64 = row.get(0);
    let wal_file: String = row.get(1);
    Ok(Identity {
        system,
        timeline: timeline_of(&wal_file)?,
    })
}

/// A WAL file's name starts with its timeline, eight hex digits.
fn timeline_of(wal_file: &str) -> Result<u32, String> {
    wal_file
        .get(..8)
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or_else(|| format!("a WAL file name without a timeline: {wal_file:?}"))
}

/// Looks up the markers of the rounds acknowledged on the old history; a
/// missing one is reported as lost. A failed look-up is reported as such
/// (the loss is then unknown, not absent).
async fn look_up_acknowledged(client: &tokio_postgres::Client, change: Change) {
    if change.acknowledged.is_empty() {
        return;
    }
    let markers: Vec<Uuid> = change.acknowledged.iter().map(|r| r.marker).collect();
    let found = match client
        .query(
            "SELECT id FROM commit_rounds WHERE id = ANY($1)",
            &[&markers],
        )
        .await
    {
        Ok(rows) => rows
            .iter()
            .map(|row| row.get::<_, Uuid>(0))
            .collect::<std::collections::HashSet<_>>(),
        Err(error) => {
            tracing::error!(
                error = %super::database::describe(&error), rounds = markers.len(),
                "could not look up the rounds acknowledged before the database's history \
                 changed: whether any was lost is unknown"
            );
            return;
        }
    };
    let lost: Vec<&Acknowledged> = change
        .acknowledged
        .iter()
        .filter(|round| !found.contains(&round.marker))
        .collect();
    if lost.is_empty() {
        tracing::info!(
            rounds = markers.len(), before = %change.before, after = %change.after,
            "every round acknowledged lately is in the database on its new history"
        );
        return;
    }
    let write_sets: usize = lost.iter().map(|round| round.write_sets).sum();
    crate::metrics::LOST_ACKNOWLEDGED_WRITES.inc_by(write_sets as u64);
    tracing::error!(
        rounds = lost.len(), write_sets, before = %change.before, after = %change.after,
        first = %lost[0].marker,
        "ACKNOWLEDGED WRITES LOST: the database on its new history lacks commit rounds this \
         node answered as committed (a standby that lagged was promoted); their bookings, \
         carts and keys are gone and are not served"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: Identity = Identity {
        system: 7,
        timeline: 1,
    };

    #[test]
    fn the_first_history_is_no_change_and_the_same_one_again_neither() {
        let history = History::new();
        assert!(history.observe(ONE).is_none());
        assert!(history.observe(ONE).is_none());
    }

    #[test]
    fn a_new_timeline_or_system_is_a_change_that_hands_over_what_was_acknowledged() {
        let history = History::new();
        history.observe(ONE);
        let marker = Uuid::new_v4();
        history.acknowledged(marker, 3);
        let promoted = Identity { timeline: 2, ..ONE };
        let change = history.observe(promoted).expect("a promotion is a change");
        assert_eq!((change.before, change.after), (ONE, promoted));
        assert_eq!(change.acknowledged.len(), 1);
        assert_eq!(change.acknowledged[0].marker, marker);
        // Handed over once: the next change has nothing of the old history.
        let restored = Identity {
            system: 8,
            timeline: 1,
        };
        let change = history
            .observe(restored)
            .expect("another cluster is a change");
        assert!(change.acknowledged.is_empty());
    }

    #[test]
    fn acknowledged_rounds_are_bounded() {
        let history = History::new();
        history.observe(ONE);
        for _ in 0..KEEP_ACKNOWLEDGED + 10 {
            history.acknowledged(Uuid::new_v4(), 1);
        }
        let change = history.observe(Identity { timeline: 2, ..ONE }).unwrap();
        assert_eq!(change.acknowledged.len(), KEEP_ACKNOWLEDGED);
    }

    #[test]
    fn timelines_are_read_from_wal_file_names() {
        assert_eq!(timeline_of("000000010000000000000001"), Ok(1));
        assert_eq!(timeline_of("0000001A0000000000000001"), Ok(26));
        assert!(timeline_of("short").is_err());
    }
}
