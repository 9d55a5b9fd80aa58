//! The engine's settings, in the units it uses (milliseconds, counts).
//! `config::Settings` (layered file, environment, flags) converts into it.

/// Settings the engine needs (see `config/default.toml`).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub hold_ttl_ms: u64,
    pub max_holds_per_user: usize,
    /// Queued requests one seat actor accepts before answering overloaded.
    pub seat_mailbox_capacity: usize,
    /// Same for one cart or booking actor.
    pub mailbox_capacity: usize,
    /// An actor with nothing to do for this long stops (passivation).
    pub actor_idle_ms: u64,
    /// Threads that run actors.
    pub actor_threads: usize,
    /// Completed idempotency keys are kept at least this long.
    pub idempotency_ttl_ms: u64,
    /// Stored keys one user may have; beyond it new keys answer 429.
    pub max_keys_per_user: usize,
    /// A session (bearer token) is valid this long after it was created.
    pub session_ttl_ms: u64,
    /// Test hook: abort the process at this named step (crash tests).
    pub crash_point: Option<String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            hold_ttl_ms: 600_000,
            max_holds_per_user: 10,
            seat_mailbox_capacity: 4096,
            mailbox_capacity: 64,
            actor_idle_ms: 30_000,
            actor_threads: 2,
            idempotency_ttl_ms: 86_400_000,
            max_keys_per_user: 100_000,
            session_ttl_ms: 30 * 86_400_000,
            crash_point: None,
        }
    }
}
