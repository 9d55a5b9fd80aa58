//! What every handler shares.

use super::client_address::TrustedProxies;
use super::rate_limit::RateLimiter;
use super::token_guesses::TokenGuesses;
use crate::engine::Engine;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler shares.
pub struct AppState {
    pub engine: Engine,
    /// The client that sends requests on to other nodes (`forward`).
    pub peers: reqwest::Client,
    /// The same for event streams: no limit on a response's length.
    pub streams: reqwest::Client,
    /// How long a forwarded request whose outcome is unknown is sent
    /// again before the answer is 409 `request-in-progress`: a takeover's
    /// time (3 × `lease_ms`).
    pub forward_patience: Duration,
    /// SHA-256 of the admin token: compared in constant time, and the
    /// token itself is not kept.
    pub admin_token_sha256: Option<[u8; 32]>,
    pub limiter: RateLimiter,
    pub session_limiter: RateLimiter<std::net::IpAddr>,
    /// Unknown tokens per client address (`token_guesses`).
    pub token_guesses: TokenGuesses,
    /// Whose `X-Forwarded-For` names the client (`client_address`).
    pub trusted_proxies: TrustedProxies,
    pub max_seats_per_booking: usize,
    /// How long a request body may take to arrive (the head has its own
    /// timeout, `client_request_timeout_secs`; the body gets the same).
    pub body_timeout: Duration,
    /// One `GET /v1/admin/export` at a time (each copies or reads the
    /// whole store).
    pub exports: Arc<tokio::sync::Semaphore>,
    /// Flips to true on shutdown: event streams end.
    pub shutdown: watch::Receiver<bool>,
}
