//! Per-client rate limits (a user, or an address): token buckets.

use crate::domain::UserId;
use dashmap::DashMap;
use std::time::Instant;

/// Clients tracked by a rate limiter before stale entries are dropped.
const LIMITER_CLIENTS_LIMIT: usize = 100_000;

/// A token bucket per client (a user, or an address): `rate` per second,
/// bursts of `burst`.
pub struct RateLimiter<K = UserId> {
    rate: f64,
    burst: f64,
    buckets: DashMap<K, (f64, Instant)>,
}

impl<K: std::hash::Hash + Eq> RateLimiter<K> {
    /// `rate` per second with bursts of `burst_factor * rate`; 0 is off.
    pub fn new(rate: u32, burst_factor: u32) -> Self {
        RateLimiter {
            rate: rate as f64,
            burst: (rate as f64 * burst_factor as f64).max(1.0),
            buckets: DashMap::new(),
        }
    }

    /// Takes one token; `Err(seconds)` to wait when there is none.
    pub fn check(&self, client: K) -> Result<(), u32> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        if self.buckets.len() > LIMITER_CLIENTS_LIMIT {
            self.buckets
                .retain(|_, (_, last)| now.duration_since(*last).as_secs() < 10);
        }
        let burst = self.burst;
        let mut bucket = self.buckets.entry(client).or_insert((burst, now));
        let (tokens, last) = &mut *bucket;
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u32)
        }
    }
}
