//! A simulated client: speaks the contract over HTTP, records every attempt
//! in the shared history, and injects the faults it is told to.

use super::history::{Answer, Event, History, Op};
use crate::engine_facts::now_ms;
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Fault rates, each a probability per state-changing request.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// The answer is dropped on the way back: the client retries its key.
    pub lost_response: f64,
    /// The request is sent twice, one after the other.
    pub duplicate: f64,
    /// The request is sent twice at the same time.
    pub concurrent_duplicate: f64,
    /// The user dawdles past the hold TTL before checking out.
    pub slow_client: f64,
}

/// Attempts per operation before the client gives up (each retry uses the
/// same key).
const MAX_ATTEMPTS: u32 = 12;

/// Counters shown live and in the summary.
#[derive(Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub replays: AtomicU64,
    pub conflicts: AtomicU64,
    pub overloaded: AtomicU64,
    pub no_answer: AtomicU64,
}

/// What every client shares.
pub struct Shared {
    /// The servers' base URLs: one, or every node of a cluster (each
    /// attempt goes to the next, so a retry usually reaches another node).
    pub bases: Vec<String>,
    next_base: AtomicU64,
    pub http: reqwest::Client,
    pub history: Mutex<History>,
    pub latency_us: Mutex<Histogram<u64>>,
    pub stats: Stats,
    pub started: Instant,
    pub faults: Faults,
    next_seq: AtomicU64,
}

impl Shared {
    /// `users`: how many simulated users share the client; each may keep
    /// an idle connection, as each browser would.
    pub fn new(bases: Vec<String>, faults: Faults, hold_ttl_ms: u64, users: usize) -> Arc<Shared> {
        assert!(!bases.is_empty(), "a server to send requests to");
        Arc::new(Shared {
            bases,
            next_base: AtomicU64::new(0),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                // A node cut off the network drops the connection attempt:
                // give up on it soon and try the next node, as a load
                // balancer's health check would.
                .connect_timeout(Duration::from_secs(1))
                .pool_max_idle_per_host(users.max(256))
                .build()
                .expect("http client"),
            history: Mutex::new(History {
                events: Vec::new(),
                hold_ttl_ms,
            }),
            latency_us: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds")),
            stats: Stats::default(),
            started: Instant::now(),
            faults,
            next_seq: AtomicU64::new(0),
        })
    }

    /// The base URL for the next attempt.
    pub fn base(&self) -> &str {
        let next = self.next_base.fetch_add(1, Ordering::Relaxed) as usize;
        &self.bases[next % self.bases.len()]
    }

    fn record(&self, event: Event) {
        self.history.lock().expect("history").events.push(event);
    }
}

/// The HTTP shape of an operation.
pub struct Call {
    pub method: reqwest::Method,
    pub path: String,
    pub body: Option<serde_json::Value>,
}

/// One user of the simulation.
pub struct Client {
    pub user: usize,
    pub token: String,
    pub shared: Arc<Shared>,
    pub rng: StdRng,
}

impl Client {
    /// One attempt; `None` when no answer arrived.
    async fn attempt(&self, call: &Call, key: Option<&str>) -> Option<Answer> {
        let mut request = self
            .shared
            .http
            .request(
                call.method.clone(),
                format!("{}{}", self.shared.base(), call.path),
            )
            .bearer_auth(&self.token);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true");
        let body = response.text().await.ok()?;
        Some(Answer {
            status,
            body,
            replayed,
        })
    }

    async fn timed_attempt(&self, op: &Op, call: &Call, key: Option<&str>) -> Option<Answer> {
        let stats = &self.shared.stats;
        stats.requests.fetch_add(1, Ordering::Relaxed);
        let start_ms = now_ms();
        let started = Instant::now();
        let answer = self.attempt(call, key).await;
        let micros = started.elapsed().as_micros().max(1) as u64;
        let _ = self
            .shared
            .latency_us
            .lock()
            .expect("histogram")
            .record(micros);
        match &answer {
            None => {
                stats.no_answer.fetch_add(1, Ordering::Relaxed);
            }
            Some(a) => {
                if a.replayed {
                    stats.replays.fetch_add(1, Ordering::Relaxed);
                }
                if a.status == 503 || a.status == 429 {
                    stats.overloaded.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.shared.record(Event {
            seq: self.shared.next_seq.fetch_add(1, Ordering::Relaxed) as usize,
            user: self.user,
            op: op.clone(),
            key: key.map(String::from),
            start_ms,
            end_ms: now_ms(),
            answer: answer.clone(),
        });
        answer
    }

    /// Runs an operation to a final answer: retries with the same key on no
    /// answer, 503, 429 and 409 request-in-progress, and injects faults.
    /// `None` if it never got a final answer.
    pub async fn run(&mut self, op: Op, call: Call) -> Option<Answer> {
        let keyed = call.method == reqwest::Method::POST;
        let key = keyed.then(|| format!("sim-{}-{}", self.user, self.rng.gen::<u64>()));
        let faults = self.shared.faults;
        let lose = self.rng.gen_bool(faults.lost_response);
        let duplicate = self.rng.gen_bool(faults.duplicate);
        let concurrent = self.rng.gen_bool(faults.concurrent_duplicate);
        let mut lost_once = false;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                self.shared.stats.retries.fetch_add(1, Ordering::Relaxed);
                let backoff = 20u64 << attempt.min(6);
                let jitter = self.rng.gen_range(0..=backoff / 2);
                tokio::time::sleep(Duration::from_millis(backoff + jitter)).await;
            }
            let answer = if concurrent && attempt == 0 {
                let (a, b) = tokio::join!(
                    self.timed_attempt(&op, &call, key.as_deref()),
                    self.timed_attempt(&op, &call, key.as_deref())
                );
                // Keep the one that is not "in progress", if any.
                match (a, b) {
                    (Some(a), b) if !retryable(&a) => {
                        let _ = b;
                        Some(a)
                    }
                    (a, Some(b)) if !retryable(&b) => {
                        let _ = a;
                        Some(b)
                    }
                    (a, b) => a.or(b),
                }
            } else {
                self.timed_attempt(&op, &call, key.as_deref()).await
            };
            let Some(answer) = answer else { continue };
            if retryable(&answer) {
                continue;
            }
            if lose && !lost_once && keyed {
                lost_once = true; // pretend it never arrived: retry the key
                continue;
            }
            if duplicate && keyed {
                let _ = self.timed_attempt(&op, &call, key.as_deref()).await;
            }
            if answer.code().as_deref() == Some("seat-unavailable")
                || answer.code().as_deref() == Some("hold-expired")
            {
                self.shared.stats.conflicts.fetch_add(1, Ordering::Relaxed);
            }
            return Some(answer);
        }
        None
    }

    pub async fn get(&self, path: &str) -> Option<serde_json::Value> {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(20u64 << attempt.min(6))).await;
            }
            let response = self
                .shared
                .http
                .get(format!("{}{}", self.shared.base(), path))
                .bearer_auth(&self.token)
                .send()
                .await;
            if let Ok(response) = response {
                if response.status().is_success() {
                    if let Ok(value) = response.json().await {
                        return Some(value);
                    }
                } else if response.status().is_client_error()
                    && response.status() != reqwest::StatusCode::TOO_MANY_REQUESTS
                {
                    // An answer, not a failure to get one (a cart the
                    // database lost is 404 however often it is asked).
                    return None;
                }
            }
        }
        None
    }
}

fn retryable(answer: &Answer) -> bool {
    answer.status == 503
        || answer.status == 429
        || answer.status >= 500
        || answer.code().as_deref() == Some("request-in-progress")
}
