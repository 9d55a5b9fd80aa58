//! Token guessing, slowed. An unknown bearer token is answered 401; from
//! one client address, more than `token_guesses_per_minute` of them in a
//! minute make that address answered 429 (with `Retry-After`) for as long
//! as its budget takes to come back, before any token it sends is even
//! looked up: a throttled address learns nothing about the tokens it
//! tries, and costs the store no lookup. Other addresses are not affected,
//! so the right token from anywhere else keeps working. (Behind a reverse
//! proxy, set `trusted_proxies`, or every client shares the proxy's
//! address and one guesser slows everyone.)
//!
//! Bounded: at most `LIMITER_CLIENTS_LIMIT` addresses are tracked, as by
//! every per-client limit here (`rate_limit`), and at most as many are
//! remembered as throttled.

use super::rate_limit::{RateLimiter, LIMITER_CLIENTS_LIMIT};
use dashmap::DashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The failed authentications each address may make, and who is throttled.
pub struct TokenGuesses {
    failures: RateLimiter<IpAddr>,
    /// Addresses answered 429 until the instant given.
    throttled: DashMap<IpAddr, Instant>,
    max_throttled: usize,
}

impl TokenGuesses {
    /// `per_minute` failed authentications per address, in bursts of as
    /// many; 0 is no limit.
    pub fn new(per_minute: u32) -> TokenGuesses {
        TokenGuesses {
            failures: RateLimiter::per_minute(per_minute),
            throttled: DashMap::new(),
            max_throttled: LIMITER_CLIENTS_LIMIT,
        }
    }

    /// Before a token from `address` is looked at: `Err(seconds)` while the
    /// address is throttled.
    pub fn admit(&self, address: IpAddr) -> Result<(), u32> {
        let now = Instant::now();
        let Some(until) = self.throttled.get(&address).map(|entry| *entry) else {
            return Ok(());
        };
        if until <= now {
            self.throttled.remove_if(&address, |_, until| *until <= now);
            return Ok(());
        }
        Err(seconds(until - now))
    }

    /// A token from `address` was unknown: `Err(seconds)` once the
    /// address's budget is spent (it is then throttled for that long).
    pub fn failed(&self, address: IpAddr) -> Result<(), u32> {
        let wait = self.failures.check(address).err();
        let Some(wait) = wait else {
            return Ok(());
        };
        let now = Instant::now();
        if self.throttled.len() >= self.max_throttled {
            self.throttled.retain(|_, until| *until > now);
        }
        if self.throttled.len() < self.max_throttled {
            self.throttled
                .insert(address, now + Duration::from_secs(u64::from(wait)));
        }
        Err(wait)
    }
}

fn seconds(wait: Duration) -> u32 {
    (wait.as_secs_f64().ceil() as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_that_spends_its_guesses_is_throttled_and_others_are_not() {
        let guesses = TokenGuesses::new(3);
        let guesser: IpAddr = "203.0.113.7".parse().unwrap();
        let other: IpAddr = "203.0.113.8".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(guesses.admit(guesser), Ok(()));
            assert_eq!(guesses.failed(guesser), Ok(()));
        }
        let wait = guesses.failed(guesser).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(
            guesses.admit(guesser).is_err(),
            "throttled before any lookup"
        );
        assert_eq!(guesses.admit(other), Ok(()));
        assert_eq!(guesses.failed(other), Ok(()));
    }

    #[test]
    fn no_limit_is_no_limit() {
        let guesses = TokenGuesses::new(0);
        let guesser: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..1000 {
            assert_eq!(guesses.failed(guesser), Ok(()));
            assert_eq!(guesses.admit(guesser), Ok(()));
        }
    }
}
