//! Settings, layered: built-in defaults < `config/default.toml` (or the file
//! given with `--config`) < `BOXOFFICE_*` environment variables < flags.

use crate::runtime::EngineConfig;
use crate::store::{PgOptions, SledOptions, WaitLimits};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub bind: String,
    /// Directory of the embedded sled store.
    pub data_dir: PathBuf,
    /// Keep everything in this PostgreSQL database instead of sled.
    pub database_url: Option<String>,
    /// PostgreSQL: connections in the pool (reads and commit rounds).
    pub postgres_pool_size: usize,
    /// PostgreSQL: most write sets in one commit round (one transaction);
    /// 1 is one transaction per request.
    pub postgres_max_batch: usize,
    /// PostgreSQL: commit rounds in flight at once.
    pub postgres_committers: usize,
    /// PostgreSQL: how long a request waits for a free connection before
    /// it is answered 503.
    pub postgres_pool_wait_ms: u64,
    /// PostgreSQL: this node's id in the cluster (unset: a random one per
    /// start; a node restarted with the same id takes its partitions back
    /// at once, without waiting for their leases to lapse).
    pub node_id: Option<String>,
    /// PostgreSQL: the URL other nodes reach this one at (unset:
    /// `http://` + `bind`).
    pub advertise: Option<String>,
    /// PostgreSQL: how long a node owns a partition without renewing it;
    /// nodes renew every third of it.
    pub lease_ms: u64,
    /// TEST ONLY, never in production: commit rounds skip the epoch check,
    /// so a node that lost its partitions while paused or cut off still
    /// writes for them. It exists so the cluster fault runs can show that
    /// without the fence they find double bookings (scripts/cluster-faults.sh).
    pub unsafe_no_fence: bool,
    /// TEST ONLY: on SIGUSR1, the next commit round that writes for a
    /// partition stops the whole process (SIGSTOP to itself) right after
    /// reading its epochs and before the database sees them: the paused
    /// owner of docs/CLUSTER.md at its worst moment, on demand, so the fault
    /// runs can show the fence refusing its late writes every time.
    pub test_sigusr1_stops_in_commit: bool,
    /// Bearer token of the admin; unset means admin endpoints answer 403.
    pub admin_token: Option<String>,
    pub hold_ttl_secs: u64,
    pub idempotency_ttl_secs: u64,
    /// Stored Idempotency-Keys per user before new ones answer 429.
    pub max_keys_per_user: usize,
    /// How long a session token stays valid.
    pub session_ttl_secs: u64,
    /// Requests per second per user (burst twice that); 0 turns it off.
    pub user_rate_limit: u32,
    /// New sessions per second per client address; 0 turns it off.
    pub session_rate_limit: u32,
    /// The burst of new sessions allowed, as a multiple of the rate.
    pub session_burst_factor: u32,
    /// Unknown bearer tokens per minute from one client address before
    /// that address is answered 429 (token guessing); 0 turns it off.
    pub token_guesses_per_minute: u32,
    /// The reverse proxies (addresses or networks, `10.0.0.0/8`) whose
    /// `X-Forwarded-For` names the client for the per-address limits;
    /// from any other peer the header is ignored.
    pub trusted_proxies: Vec<String>,
    pub max_holds_per_user: usize,
    pub max_seats_per_booking: usize,
    pub seat_mailbox_capacity: usize,
    pub mailbox_capacity: usize,
    /// Write sets waiting for the store's committer before new ones
    /// answer 503 overloaded.
    pub commit_queue_capacity: usize,
    /// A store commit or flush running this long makes new writes (and
    /// reads that wait for a flush) answer 503 at once.
    pub store_stall_ms: u64,
    /// A store commit or flush running this long stops the process
    /// (fail-stop: its outcome is unknown; a restart recovers from disk).
    pub store_deadline_ms: u64,
    pub actor_idle_secs: u64,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// Actor threads (0: one per two cores, at least one). Fewer than the
    /// HTTP workers: a booking's messages between its coordinator and its
    /// seats stay on one thread more often, and a cross-thread hop (a futex
    /// wake and a context switch) costs more than the actors' own work
    /// (docs/PERFORMANCE.md: 1 actor thread did 12k bookings/s on two
    /// cores where 2 did 8.4k).
    pub actor_threads: usize,
    /// Open connections per worker before new ones wait in the backlog.
    pub max_connections: usize,
    /// Seconds a client may take to send its request head.
    pub client_request_timeout_secs: u64,
    /// Seed demo shows on first start with an empty data directory.
    pub demo: bool,
    /// Test hook: abort at this step (e.g. `booking.written`).
    pub crash_point: Option<String>,
}

/// Every settings key, for the environment filter.
const KEYS: &[&str] = &[
    "bind",
    "data_dir",
    "database_url",
    "postgres_pool_size",
    "postgres_max_batch",
    "postgres_committers",
    "postgres_pool_wait_ms",
    "node_id",
    "advertise",
    "lease_ms",
    "unsafe_no_fence",
    "test_sigusr1_stops_in_commit",
    "admin_token",
    "hold_ttl_secs",
    "idempotency_ttl_secs",
    "max_keys_per_user",
    "session_ttl_secs",
    "user_rate_limit",
    "session_rate_limit",
    "session_burst_factor",
    "token_guesses_per_minute",
    "trusted_proxies",
    "max_holds_per_user",
    "max_seats_per_booking",
    "seat_mailbox_capacity",
    "mailbox_capacity",
    "commit_queue_capacity",
    "store_stall_ms",
    "store_deadline_ms",
    "actor_idle_secs",
    "workers",
    "actor_threads",
    "max_connections",
    "client_request_timeout_secs",
    "demo",
    "crash_point",
];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            postgres_pool_size: PgOptions::default().pool_size,
            postgres_max_batch: PgOptions::default().max_batch,
            postgres_committers: PgOptions::default().committers,
            postgres_pool_wait_ms: PgOptions::default().pool_wait_ms,
            node_id: None,
            advertise: None,
            lease_ms: PgOptions::default().lease_ms,
            unsafe_no_fence: false,
            test_sigusr1_stops_in_commit: false,
            admin_token: None,
            hold_ttl_secs: 600,
            idempotency_ttl_secs: 86_400,
            max_keys_per_user: 100_000,
            session_ttl_secs: 30 * 86_400,
            user_rate_limit: 20,
            session_rate_limit: 100,
            session_burst_factor: 100,
            token_guesses_per_minute: 30,
            trusted_proxies: Vec::new(),
            max_holds_per_user: 10,
            max_seats_per_booking: 10,
            seat_mailbox_capacity: 4096,
            mailbox_capacity: 64,
            commit_queue_capacity: crate::store::DEFAULT_COMMIT_QUEUE_CAPACITY,
            store_stall_ms: WaitLimits::default().stall_ms,
            store_deadline_ms: WaitLimits::default().deadline_ms,
            actor_idle_secs: 30,
            workers: 0,
            actor_threads: 0,
            max_connections: 25_000,
            client_request_timeout_secs: 5,
            demo: true,
            crash_point: None,
        }
    }
}

impl Settings {
    /// Defaults, then the TOML file (if it exists), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, Box<figment::Error>> {
        let file = file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("config/default.toml"));
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file))
            // Only known keys: other BOXOFFICE_* variables (a test harness's,
            // a wrapper script's) are not ours to reject.
            .merge(Env::prefixed("BOXOFFICE_").only(KEYS))
            .extract()
            .map_err(Box::new)
    }

    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            hold_ttl_ms: self.hold_ttl_secs.saturating_mul(1000),
            max_holds_per_user: self.max_holds_per_user,
            seat_mailbox_capacity: self.seat_mailbox_capacity.max(1),
            mailbox_capacity: self.mailbox_capacity.max(1),
            actor_idle_ms: self.actor_idle_secs.max(1).saturating_mul(1000),
            actor_threads: actor_threads(self.actor_threads),
            idempotency_ttl_ms: self.idempotency_ttl_secs.max(1).saturating_mul(1000),
            max_keys_per_user: self.max_keys_per_user.max(1),
            session_ttl_ms: self.session_ttl_secs.max(1).saturating_mul(1000),
            crash_point: self.crash_point.clone(),
        }
    }

    /// How the sled store is opened.
    /// What the engine opens: PostgreSQL when `database_url` is set, else
    /// sled in `data_dir`.
    pub fn storage(&self) -> crate::store::StorageConfig {
        crate::store::StorageConfig {
            database_url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            pg: self.pg_options(),
            sled: self.sled_options(),
        }
    }

    pub fn sled_options(&self) -> SledOptions {
        SledOptions {
            commit_queue_capacity: self.commit_queue_capacity,
            wait_limits: WaitLimits {
                stall_ms: self.store_stall_ms,
                deadline_ms: self.store_deadline_ms,
            },
            cache_bytes: None,
        }
    }

    /// How the PostgreSQL store is set up.
    pub fn pg_options(&self) -> PgOptions {
        let sled = self.sled_options();
        PgOptions {
            pool_size: self.postgres_pool_size.max(2),
            max_batch: self.postgres_max_batch.max(1),
            committers: self.postgres_committers.max(1),
            commit_queue_capacity: sled.commit_queue_capacity,
            wait_limits: sled.wait_limits,
            pool_wait_ms: self.postgres_pool_wait_ms,
            node_id: self.node_id.clone(),
            advertise: self
                .advertise
                .clone()
                .unwrap_or_else(|| format!("http://{}", self.bind)),
            lease_ms: self.lease_ms,
            fence: !self.unsafe_no_fence,
            sigusr1_stops_in_commit: self.test_sigusr1_stops_in_commit,
        }
    }

    pub fn http_workers(&self) -> usize {
        threads(self.workers)
    }
}

fn actor_threads(configured: usize) -> usize {
    if configured > 0 {
        configured
    } else {
        (threads(0) / 2).max(1)
    }
}

fn threads(configured: usize) -> usize {
    if configured > 0 {
        configured
    } else {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API
    fn file_and_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("boxoffice.toml", "hold_ttl_secs = 30\nuser_rate_limit = 5")?;
            jail.set_env("BOXOFFICE_USER_RATE_LIMIT", "7");
            jail.set_env("BOXOFFICE_ADMIN_TOKEN", "secret");
            jail.set_env("BOXOFFICE_SOMETHING_ELSE", "ignored");
            let settings = Settings::load(Some(Path::new("boxoffice.toml"))).unwrap();
            assert_eq!(settings.hold_ttl_secs, 30);
            assert_eq!(settings.user_rate_limit, 7);
            assert_eq!(settings.admin_token.as_deref(), Some("secret"));
            assert_eq!(settings.max_holds_per_user, 10);
            // Every field is reachable from the environment.
            let fields = serde_json::to_value(Settings::default()).unwrap();
            assert_eq!(fields.as_object().unwrap().len(), KEYS.len());
            for key in KEYS {
                assert!(fields.get(*key).is_some(), "{key} is not a field");
            }
            jail.create_file("typo.toml", "hold_ttl_sec = 30")?;
            assert!(Settings::load(Some(Path::new("typo.toml"))).is_err());
            Ok(())
        });
    }
}
