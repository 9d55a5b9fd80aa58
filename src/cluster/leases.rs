//! Partition leases and epochs: which node may write which shows
//! (docs/CLUSTER.md).
//!
//! Shows map to one of `PARTITIONS` partitions by their id. A node holds a
//! partition's lease while it renews it (every third of `lease_ms`); a
//! lease that lapsed is claimed by raising its epoch. The node keeps the
//! epoch of each partition it holds (`Leases::epoch_of`), and every commit
//! round checks those epochs in its own transaction (`committer::fence`):
//! a node that lost a partition while paused or cut off writes nothing
//! for it, whatever it still believes.
//!
//! Why the database and not a lock service: a lock alone cannot stop a
//! paused holder from writing after its lock lapsed; the write itself must
//! be refused, in the same transaction as the effect (the fencing token).
//!
//! Time is the database's (`now()` in every statement), so nodes' clocks
//! do not matter for who owns what; a node's own view of its leases only
//! decides when it renews.

use super::database::describe;
use super::membership::PartitionEvent;
use super::partitions::PARTITIONS;
use deadpool_postgres::Pool;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// Milliseconds since the Unix epoch (the cluster sits below `runtime`).
fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How long a SIGUSR1 ask to stop in a commit round stands
/// (`Leases::request_stop_in_commit`).
pub const STOP_IN_COMMIT_WITHIN_MS: u64 = 2_000;

/// This node's identity and leases.
pub struct Leases {
    pub node: String,
    advertise: RwLock<String>,
    pub lease_ms: u64,
    /// Partition -> the epoch this node claimed it at.
    held: RwLock<BTreeMap<i32, i64>>,
    /// Write sets refused by the fence since start.
    pub fenced: AtomicU64,
    stopping: AtomicBool,
    /// Where gains and losses go once the engine listens
    /// (`Membership::take_partition_events`); until then, partitions are
    /// claimed only at start.
    events: mpsc::UnboundedSender<PartitionEvent>,
    pub(super) listening: AtomicBool,
    /// Commit rounds skip the epoch check (`unsafe_no_fence`, tests only).
    unfenced: AtomicBool,
    /// A test asked the next commit round that writes for a partition to
    /// stop the process after its epoch read (`test_sigusr1_stops_in_commit`):
    /// until when (wall clock, ms; 0: not asked).
    stop_in_commit_until_ms: AtomicU64,
    /// Wakes the leases loop to claim at once (after letting go of every
    /// partition for a new database history).
    reclaim: tokio::sync::Notify,
    /// The partitions let go of for a new history, to claim back whole at
    /// the next claim (not only an even share: they are this node's in the
    /// database, and another node could take them only once they lapse).
    let_go: std::sync::Mutex<Vec<i32>>,
}

impl Leases {
    pub fn new(
        node: String,
        advertise: String,
        lease_ms: u64,
    ) -> (Arc<Leases>, mpsc::UnboundedReceiver<PartitionEvent>) {
        let (events, receiver) = mpsc::unbounded_channel();
        let leases = Arc::new(Leases {
            node,
            advertise: RwLock::new(advertise),
            lease_ms: lease_ms.max(30),
            held: RwLock::new(BTreeMap::new()),
            fenced: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            events,
            listening: AtomicBool::new(false),
            unfenced: AtomicBool::new(false),
            stop_in_commit_until_ms: AtomicU64::new(0),
            reclaim: tokio::sync::Notify::new(),
            let_go: std::sync::Mutex::new(Vec::new()),
        });
        (leases, receiver)
    }

    /// Turns the commit rounds' epoch check off (`unsafe_no_fence`: the
    /// fault runs that must find a violation without it).
    pub fn fence_off(&self) {
        self.unfenced.store(true, Ordering::SeqCst);
    }

    /// Whether commit rounds check epochs (always, but in those runs).
    pub fn fenced_writes(&self) -> bool {
        !self.unfenced.load(Ordering::SeqCst)
    }

    /// Asks the next commit round that writes for a partition, within
    /// `STOP_IN_COMMIT_WITHIN_MS`, to stop the process (SIGUSR1 under
    /// `test_sigusr1_stops_in_commit`). The ask lapses so that a node that
    /// lost the show meanwhile does not stop at some later, unwatched moment.
    pub fn request_stop_in_commit(&self) {
        let until = wall_ms() + STOP_IN_COMMIT_WITHIN_MS;
        self.stop_in_commit_until_ms.store(until, Ordering::SeqCst);
    }

    /// Whether this commit round must stop the process now (once per
    /// ask; asked by `store::postgres`'s commit rounds).
    pub fn take_stop_in_commit(&self) -> bool {
        let until = self.stop_in_commit_until_ms.swap(0, Ordering::SeqCst);
        until != 0 && wall_ms() <= until
    }

    /// The URL other nodes reach this one at.
    pub fn advertise(&self) -> String {
        self.advertise.read().expect("leases").clone()
    }

    /// Sets the URL other nodes reach this one at (sent with the next
    /// heartbeat).
    pub fn set_advertise(&self, url: &str) {
        *self.advertise.write().expect("leases") = url.to_string();
    }

    /// The epoch this node holds `partition` at, if it holds it.
    pub fn epoch_of(&self, partition: i32) -> Option<i64> {
        self.held.read().expect("leases").get(&partition).copied()
    }

    /// Partitions held now, with their epochs.
    pub fn held(&self) -> BTreeMap<i32, i64> {
        self.held.read().expect("leases").clone()
    }

    /// Forgets `partitions` (lost to another node, or fenced).
    pub fn drop_partitions(&self, partitions: &[i32]) {
        self.forget(partitions, false);
    }

    /// Lets go of every partition held, because the database is on
    /// another history (`history`): the shows loaded from the old one stop
    /// being current at once, and the leases loop is woken to claim the
    /// partitions back, at new epochs, reloading their shows first.
    pub fn let_go_for_new_history(&self) {
        let held: Vec<i32> = self.held().into_keys().collect();
        tracing::warn!(node = %self.node, partitions = held.len(), "letting go of every partition, to reload it from the database's new history");
        self.forget(&held, true);
        self.let_go.lock().expect("leases").extend(held);
        self.reclaim.notify_one();
    }

    /// Forgets `partitions`; `handed_over`: let go on purpose (a stop),
    /// else lost to another node.
    fn forget(&self, partitions: &[i32], handed_over: bool) {
        let mut lost = Vec::new();
        {
            let mut held = self.held.write().expect("leases");
            for partition in partitions {
                if held.remove(partition).is_some() {
                    lost.push(*partition);
                }
            }
            crate::metrics::PARTITIONS_OWNED.set(held.len() as i64);
        }
        if lost.is_empty() {
            return;
        }
        if handed_over {
            tracing::info!(node = %self.node, partitions = lost.len(), "handed partitions over");
        } else {
            tracing::warn!(node = %self.node, partitions = ?lost, "lost partitions to another node");
        }
        if self.listening.load(Ordering::SeqCst) {
            let _ = self.events.send(PartitionEvent::Lost(lost));
        }
    }

    fn add(&self, claimed: &[(i32, i64)]) {
        let mut held = self.held.write().expect("leases");
        for (partition, epoch) in claimed {
            held.insert(*partition, *epoch);
        }
        crate::metrics::PARTITIONS_OWNED.set(held.len() as i64);
    }

    fn lease_interval(&self) -> String {
        format!("{} milliseconds", self.lease_ms)
    }
}

/// Heartbeat and renewal: renews what this node holds; what is not
/// renewed was taken by another node and is forgotten. A lease that lapsed
/// but that nobody claimed is still this node's (owner unchanged, epoch
/// unchanged: nobody else wrote) and is renewed. Returns the live nodes.
pub async fn renew(pool: &Pool, leases: &Leases) -> Result<i64, String> {
    let client = pool.get().await.map_err(|e| e.to_string())?;
    let lease = leases.lease_interval();
    client
        .execute(
            "INSERT INTO nodes (id, advertise, heartbeat_at) VALUES ($1, $2, now())
             ON CONFLICT (id) DO UPDATE SET advertise = $2, heartbeat_at = now()",
            &[&leases.node, &leases.advertise()],
        )
        .await
        .map_err(|e| describe(&e))?;
    let held: Vec<i32> = leases.held().into_keys().collect();
    let renewed: Vec<i32> = client
        .query(
            "UPDATE partitions SET lapse_at = now() + $3::text::interval
             WHERE id = ANY($1) AND owner = $2 RETURNING id",
            &[&held, &leases.node, &lease],
        )
        .await
        .map_err(|e| describe(&e))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let lost: Vec<i32> = held.into_iter().filter(|p| !renewed.contains(p)).collect();
    leases.drop_partitions(&lost);
    let live: i64 = client
        .query_one(
            "SELECT count(*) FROM nodes WHERE heartbeat_at > now() - $1::text::interval",
            &[&lease],
        )
        .await
        .map_err(|e| describe(&e))?
        .get(0);
    Ok(live)
}

/// Claims partitions: every lapsed one (its owner stopped renewing: it is
/// adopted whatever the shares say, so that no show waits for a rebalance
/// to be served again), and free ones up to an even share of the live
/// nodes' (never owned, handed over, or left by an earlier run of this
/// node: same id, not running any more, or if it is, the raised epoch
/// fences it). A survivor may so end up with more than its share; it hands
/// the excess over gradually (`keep`). Returns the partitions claimed,
/// with their new epochs (not yet added: the caller adds them once their
/// shows are loaded).
pub async fn claim(pool: &Pool, leases: &Leases, live: i64) -> Result<Vec<(i32, i64)>, String> {
    let client = pool.get().await.map_err(|e| e.to_string())?;
    let share = (PARTITIONS as i64 + live.max(1) - 1) / live.max(1);
    let held: Vec<i32> = leases.held().into_keys().collect();
    let wanted = (share - held.len() as i64).max(0);
    // Those let go of for a new history: this node's still, claimed back
    // whole (taken now: if this claim fails, they lapse like any other).
    let let_go: Vec<i32> = std::mem::take(&mut *leases.let_go.lock().expect("leases"));
    let claimed: Vec<(i32, i64)> = client
        .query(
            "WITH lapsed AS (SELECT id FROM partitions
                             WHERE owner IS NOT NULL AND owner <> $1 AND lapse_at < now()
                             FOR UPDATE SKIP LOCKED),
                  free AS (SELECT id FROM partitions
                           WHERE (owner IS NULL OR owner = $1) AND NOT (id = ANY($4))
                           ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED),
                  mine AS (SELECT id FROM partitions
                           WHERE owner = $1 AND id = ANY($5) AND NOT (id = ANY($4))
                           FOR UPDATE SKIP LOCKED)
             UPDATE partitions p SET owner = $1, epoch = p.epoch + 1,
                 lapse_at = now() + $2::text::interval
             WHERE p.id IN (SELECT id FROM lapsed UNION SELECT id FROM free
                            UNION SELECT id FROM mine)
             RETURNING p.id, p.epoch",
            &[
                &leases.node,
                &leases.lease_interval(),
                &wanted,
                &held,
                &let_go,
            ],
        )
        .await
        .map_err(|e| describe(&e))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    if !claimed.is_empty() {
        crate::metrics::TAKEOVERS.inc_by(claimed.len() as u64);
        tracing::info!(node = %leases.node, partitions = claimed.len(), "claimed partitions");
    }
    Ok(claimed)
}

/// At start, before anything is loaded: claims this node's share, waiting
/// (at most a little over one lease) for the leases of a node that is
/// gone to lapse.
pub async fn claim_at_start(pool: &Pool, leases: &Leases) -> Result<(), String> {
    let started = std::time::Instant::now();
    let give_up = Duration::from_millis(leases.lease_ms + leases.lease_ms / 2);
    loop {
        let live = renew(pool, leases).await?;
        let share = (PARTITIONS as i64 + live.max(1) - 1) / live.max(1);
        let claimed = claim(pool, leases, live).await?;
        leases.add(&claimed);
        let held = leases.held().len();
        // Wait only for leases that will lapse: those of nodes whose
        // heartbeat stopped (an earlier run of this one, crashed). Live
        // nodes hand partitions over gradually instead (`keep`).
        let lapsing = lapsing(pool, leases).await?;
        if held as i64 >= share || lapsing == 0 || started.elapsed() >= give_up {
            tracing::info!(node = %leases.node, partitions = held, live, "leases at start");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(leases.lease_ms / 6)).await;
    }
}

/// Partitions still leased to nodes whose heartbeat stopped.
async fn lapsing(pool: &Pool, leases: &Leases) -> Result<i64, String> {
    let client = pool.get().await.map_err(|e| e.to_string())?;
    let row = client
        .query_one(
            "SELECT count(*) FROM partitions p
             WHERE p.lapse_at > now() AND p.owner IS NOT NULL AND p.owner <> $1
               AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = p.owner
                               AND n.heartbeat_at > now() - $2::text::interval)",
            &[&leases.node, &leases.lease_interval()],
        )
        .await
        .map_err(|e| describe(&e))?;
    Ok(row.get(0))
}

/// Partitions a node gives away in one renewal when it holds more than
/// its share: load moves gradually, never in a storm.
const HANDOVER_PER_RENEWAL: usize = 16;

/// Renewals with the same number of live nodes before a node gives
/// partitions away (a node that just started or stopped is not chased).
const STABLE_RENEWALS: u32 = 3;

/// Lets `partitions` go at once (a stop, or a hand-over to a node that
/// joined): stops writing for them first, then marks them free. A commit
/// round already past its fence holds the rows `FOR SHARE`, so this waits
/// for it: the next owner reloads what it wrote.
async fn release(
    client: &deadpool_postgres::Object,
    leases: &Leases,
    partitions: &[i32],
) -> Result<(), String> {
    leases.forget(partitions, true);
    client
        .execute(
            "UPDATE partitions SET owner = NULL, lapse_at = '-infinity'
             WHERE id = ANY($1) AND owner = $2",
            &[&partitions, &leases.node],
        )
        .await
        .map_err(|e| describe(&e))?;
    Ok(())
}

/// Renews every third of `lease_ms` until `stop`, and once the engine
/// listens, claims lapsed partitions up to an even share (a takeover):
/// the engine reloads their shows from the database first, and only then
/// does this node write under them.
pub async fn keep(pool: Pool, leases: Arc<Leases>) {
    let every = Duration::from_millis(leases.lease_ms / 3);
    let (mut last_live, mut stable_for) = (0, 0);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = leases.reclaim.notified() => {}
        }
        if leases.stopping.load(Ordering::SeqCst) {
            return;
        }
        let live = match renew(&pool, &leases).await {
            Ok(live) => live,
            Err(error) => {
                tracing::warn!(%error, "could not renew the leases");
                continue;
            }
        };
        if !leases.listening.load(Ordering::SeqCst) {
            continue;
        }
        stable_for = if live == last_live { stable_for + 1 } else { 0 };
        last_live = live;
        let share = (PARTITIONS as usize).div_ceil(live.max(1) as usize);
        let held = leases.held();
        let excess = held.len().saturating_sub(share);
        if excess > 0 && stable_for >= STABLE_RENEWALS {
            // More than an even share while the membership is stable: a
            // node joined. Give a few away (the highest), for it to claim.
            let give: Vec<i32> = held
                .into_keys()
                .rev()
                .take(excess.min(HANDOVER_PER_RENEWAL))
                .collect();
            match pool.get().await {
                Ok(client) => {
                    if let Err(error) = release(&client, &leases, &give).await {
                        tracing::warn!(%error, "could not hand partitions over");
                    }
                }
                Err(error) => tracing::warn!(%error, "could not hand partitions over"),
            }
            continue;
        }
        match claim(&pool, &leases, live).await {
            Ok(claimed) if !claimed.is_empty() => {
                let started = std::time::Instant::now();
                let (loaded, reloading) = tokio::sync::oneshot::channel();
                let event = PartitionEvent::Gained {
                    partitions: claimed.clone(),
                    loaded,
                };
                // Bounded, so that the renewals of what is held go on: a
                // reload that takes longer leaves the partitions to be
                // claimed again (a new epoch, a new reload).
                let waited = tokio::time::timeout(every * 2, reloading);
                if leases.events.send(event).is_ok() && matches!(waited.await, Ok(Ok(()))) {
                    leases.add(&claimed);
                    crate::metrics::TAKEOVER_SECONDS.observe(started.elapsed().as_secs_f64());
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not claim partitions"),
        }
    }
}

/// Hands every partition over (a graceful stop).
pub async fn stop(pool: &Pool, leases: &Leases) {
    leases.stopping.store(true, Ordering::SeqCst);
    let held: Vec<i32> = leases.held().into_keys().collect();
    match pool.get().await {
        Ok(client) => {
            if let Err(error) = release(&client, leases, &held).await {
                tracing::warn!(%error, "could not hand the partitions over");
            }
            let _ = client
                .execute("DELETE FROM nodes WHERE id = $1", &[&leases.node])
                .await;
        }
        Err(error) => tracing::warn!(%error, "could not hand the partitions over"),
    }
}
