//! Per-client rate limits (a user, or an address), by `governor`'s keyed
//! GCRA limiter: a well-kept implementation of the same token-bucket
//! behaviour (a rate, and bursts), lock-free per key.
//!
//! Bounded: the limiter keeps one small state per client it has seen.
//! When it tracks `max_clients`, it forgets the clients whose state is
//! back to full (at most once a second: the sweep visits every entry); if
//! that does not bring it under the bound, every client is answered 429
//! until it does (a flood of distinct clients is refused, not stored).

use crate::domain::UserId;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Clients a rate limiter tracks at most.
pub const LIMITER_CLIENTS_LIMIT: usize = 100_000;

/// A rate per client (a user, or an address), with bursts.
pub struct RateLimiter<K: Hash + Eq + Clone = UserId> {
    /// `None`: no limit.
    limiter: Option<DefaultKeyedRateLimiter<K>>,
    max_clients: usize,
    started: Instant,
    /// When the last sweep ran (ms since `started`).
    swept_at_ms: AtomicU64,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `rate` per second with bursts of `burst_factor * rate`; 0 is off.
    pub fn new(rate: u32, burst_factor: u32) -> Self {
        Self::bounded(rate, burst_factor, LIMITER_CLIENTS_LIMIT)
    }

    /// `per_minute` per client, in bursts of as many; 0 is off.
    pub fn per_minute(per_minute: u32) -> Self {
        RateLimiter {
            limiter: NonZeroU32::new(per_minute)
                .map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_minute(n))),
            max_clients: LIMITER_CLIENTS_LIMIT,
            started: Instant::now(),
            swept_at_ms: AtomicU64::new(0),
        }
    }

    /// `new`, tracking at most `max_clients`.
    pub fn bounded(rate: u32, burst_factor: u32, max_clients: usize) -> Self {
        let limiter = NonZeroU32::new(rate).map(|per_second| {
            let burst = NonZeroU32::new(rate.saturating_mul(burst_factor)).unwrap_or(per_second);
            DefaultKeyedRateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        RateLimiter {
            limiter,
            max_clients,
            started: Instant::now(),
            swept_at_ms: AtomicU64::new(0),
        }
    }

    /// Takes one request's worth; `Err(seconds)` to wait when there is none.
    pub fn check(&self, client: K) -> Result<(), u32> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if limiter.len() >= self.max_clients {
            self.sweep(limiter);
            if limiter.len() >= self.max_clients {
                return Err(1);
            }
        }
        limiter.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(limiter.clock().now());
            (wait.as_secs_f64().ceil() as u32).max(1)
        })
    }

    /// Clients tracked now.
    pub fn clients(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }

    /// Forgets the clients back to a full allowance, at most once a second.
    fn sweep(&self, limiter: &DefaultKeyedRateLimiter<K>) {
        let now_ms = self.started.elapsed().as_millis() as u64;
        let last = self.swept_at_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < 1000 && last != 0 {
            return;
        }
        if self
            .swept_at_ms
            .compare_exchange(last, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_waits() {
        let limiter: RateLimiter<u32> = RateLimiter::new(5, 2);
        for _ in 0..10 {
            assert_eq!(limiter.check(1), Ok(()));
        }
        assert_eq!(limiter.check(1), Err(1), "the 11th within the burst");
        // Another client is not affected.
        assert_eq!(limiter.check(2), Ok(()));
    }

    #[test]
    fn a_zero_rate_is_no_limit() {
        let limiter: RateLimiter<u32> = RateLimiter::new(0, 2);
        for _ in 0..1000 {
            assert_eq!(limiter.check(1), Ok(()));
        }
        assert_eq!(limiter.clients(), 0);
    }

    #[test]
    fn the_clients_tracked_are_bounded() {
        let limiter: RateLimiter<u32> = RateLimiter::bounded(1, 1, 100);
        let mut refused = 0;
        for client in 0..1000 {
            if limiter.check(client).is_err() {
                refused += 1;
            }
        }
        // Every client used its one request just now: none can be
        // forgotten, so the limiter stops at its bound and refuses the rest.
        assert!(limiter.clients() <= 100, "{} clients", limiter.clients());
        assert_eq!(refused, 900);
    }

    #[test]
    fn clients_back_to_full_allowance_are_forgotten_to_make_room() {
        let limiter: RateLimiter<u32> = RateLimiter::bounded(1000, 1, 100);
        for client in 0..100 {
            assert_eq!(limiter.check(client), Ok(()));
        }
        // At 1,000 a second, one request's worth is back after 1 ms: the
        // time that passes is the subject here.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(limiter.check(1000), Ok(()), "room was made");
        assert!(limiter.clients() <= 2, "{} clients", limiter.clients());
    }
}
