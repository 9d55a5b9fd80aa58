//! The engine: the one entry point that HTTP and the simulator call.
//!
//! It owns the store, the actor registries and the seat-map projections,
//! routes each request to the actor that owns what it changes, and holds
//! the shared steps of the idempotency protocol (admit, commit with the key
//! record, wait for durability, replay).

pub mod quota;
pub mod view;

use crate::actors::booking::{BookingActor, BookingMsg, BookingOp};
use crate::actors::cart::{CartActor, CartMsg, CartOp};
use crate::actors::registry::{Depth, Mailbox, Registry, SendFailure};
use crate::actors::seat::{Prepare, Resolve, SeatActor};
use crate::domain::{
    Admission, BookingId, CartId, Claim, Fingerprint, IdempotencyKey, IdempotencyLedger, Row,
    SeatLabel, SeatRefusal, SeatState, SeatStatus, Show, ShowId, StoredBody, StoredReply, TxnId,
    UserId,
};
use crate::store::{CommitOutcome, KeyRecord, Mutation, Store, StoreError, StoreResult, WriteSet};
use crate::wire::{self, Code, Reply};
use actix::{Actor, Arbiter, ArbiterHandle};
use dashmap::DashMap;
use futures_util::future::BoxFuture;
use quota::HoldQuota;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;
use uuid::Uuid;
use view::ShowView;

/// Namespaces for ids derived from (user, key): a retry lands in the same
/// actor, which already knows the key.
const CART_NS: Uuid = Uuid::from_u128(0x6b0f_1c3e_9a57_4d2b_8e61_2f0a_c4d9_7e01);
const BOOKING_NS: Uuid = Uuid::from_u128(0x6b0f_1c3e_9a57_4d2b_8e61_2f0a_c4d9_7e02);
const SHOW_NS: Uuid = Uuid::from_u128(0x6b0f_1c3e_9a57_4d2b_8e61_2f0a_c4d9_7e03);
const CHECKOUT_NS: Uuid = Uuid::from_u128(0x6b0f_1c3e_9a57_4d2b_8e61_2f0a_c4d9_7e04);
/// The admin token acts as this one user.
pub const ADMIN_USER: UserId = UserId(Uuid::from_u128(0xad));
/// Sessions kept in the token cache before it is cleared.
const SESSION_CACHE_LIMIT: usize = 100_000;

/// Settings the engine needs (see `config/default.toml`).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub hold_ttl_ms: u64,
    pub max_holds_per_user: usize,
    pub max_seats_per_booking: usize,
    /// Queued requests one seat actor accepts before answering overloaded.
    pub seat_mailbox_capacity: usize,
    /// Same for one cart or booking actor.
    pub mailbox_capacity: usize,
    /// An actor with nothing to do for this long stops (passivation).
    pub actor_idle_ms: u64,
    /// Threads that run actors.
    pub arbiters: usize,
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
            max_seats_per_booking: 10,
            seat_mailbox_capacity: 4096,
            mailbox_capacity: 64,
            actor_idle_ms: 30_000,
            arbiters: 2,
            idempotency_ttl_ms: 86_400_000,
            max_keys_per_user: 100_000,
            session_ttl_ms: 30 * 86_400_000,
            crash_point: None,
        }
    }
}

/// What preparing a set of seats found.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Seats that refused (then every prepared seat was aborted).
    pub refused: Vec<(SeatLabel, SeatRefusal)>,
    /// Seats now reserved for the txn, whose change must be written and
    /// then committed (empty if any refused). A release of a seat the
    /// holder no longer has changes nothing and is not listed.
    pub changed: Vec<u32>,
}

/// Who sent a keyed request, its key, and what it was.
#[derive(Clone, Debug)]
pub struct Request {
    pub user: UserId,
    pub key: IdempotencyKey,
    pub fingerprint: Fingerprint,
}

/// A new show as the admin asked for it (already parsed).
#[derive(Clone, Debug)]
pub struct NewShow {
    pub title: String,
    pub starts_at_ms: i64,
    pub rows: Vec<Row>,
}

/// Why the engine could not run a request at all (nothing happened).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("overloaded")]
    Overloaded,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EngineError {
    pub fn reply(&self) -> Reply {
        match self {
            EngineError::Overloaded => {
                wire::problem(Code::Overloaded, "the engine is busy; retry shortly")
            }
            EngineError::Store(StoreError::Busy) => {
                wire::problem(Code::Overloaded, "the engine is busy; retry shortly")
            }
            EngineError::Store(error) => {
                tracing::error!(%error, "store failure");
                wire::problem(Code::Internal, "storage failure; the request had no effect")
            }
        }
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Cheap to clone; every clone is the same engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub struct Inner {
    pub config: EngineConfig,
    pub store: Arc<dyn Store>,
    views: DashMap<ShowId, Arc<ShowView>>,
    pub seats: Registry<(ShowId, u32), SeatActor>,
    pub carts: Registry<CartId, CartActor>,
    pub bookings: Registry<BookingId, BookingActor>,
    pub holds: HoldQuota,
    /// Token hash -> (user, created at), a cache of the session records.
    sessions: DashMap<[u8; 32], (UserId, u64)>,
    /// Stored keys per user, counted from the store on first need and
    /// recounted after each sweep (an approximate cap: a few concurrent
    /// first uses may pass together).
    key_counts: DashMap<UserId, usize>,
    arbiters: Vec<ArbiterHandle>,
    /// The actor threads themselves, taken by `stop_actors` to join them.
    arbiter_threads: std::sync::Mutex<Vec<Arbiter>>,
}

impl std::ops::Deref for Engine {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl Engine {
    /// Loads shows and live holds from the store and starts the actor
    /// threads. Must run inside an actix `System`.
    pub fn start(config: EngineConfig, store: Arc<dyn Store>) -> Result<Engine, StoreError> {
        crate::metrics::init();
        let threads: Vec<Arbiter> = (0..config.arbiters.max(1))
            .map(|_| Arbiter::new())
            .collect();
        let arbiters = threads.iter().map(Arbiter::handle).collect();
        let engine = Engine {
            inner: Arc::new(Inner {
                config,
                store,
                views: DashMap::new(),
                seats: Registry::new("seat"),
                carts: Registry::new("cart"),
                bookings: Registry::new("booking"),
                holds: HoldQuota::default(),
                sessions: DashMap::new(),
                key_counts: DashMap::new(),
                arbiters,
                arbiter_threads: std::sync::Mutex::new(threads),
            }),
        };
        engine.recover()?;
        engine.start_key_sweeper();
        Ok(engine)
    }

    /// Forgets completed idempotency keys older than their TTL, on a thread
    /// of its own that holds the store only while it sweeps (so a stopped
    /// engine releases its data directory).
    fn start_key_sweeper(&self) {
        /// Records forgotten per store call.
        const SWEEP_BATCH: usize = 10_000;
        let ttl_ms = self
            .config
            .idempotency_ttl_ms
            .min(self.config.session_ttl_ms);
        let every = Duration::from_millis((ttl_ms / 4).clamp(100, 60_000));
        let engine = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("key-sweeper".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                let now = now_ms();
                let keys_before = now.saturating_sub(engine.config.idempotency_ttl_ms);
                let sessions_before = now.saturating_sub(engine.config.session_ttl_ms);
                let swept = sweep_all(|| engine.store.sweep_keys(keys_before, SWEEP_BATCH));
                crate::metrics::KEYS_EXPIRED.inc_by(swept as u64);
                if swept > 0 {
                    engine.key_counts.clear();
                }
                sweep_all(|| engine.store.sweep_sessions(sessions_before, SWEEP_BATCH));
                engine
                    .sessions
                    .retain(|_, (_, created)| *created >= sessions_before);
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "could not start the key sweeper");
        }

        fn sweep_all(mut sweep: impl FnMut() -> StoreResult<usize>) -> usize {
            let mut total = 0;
            loop {
                match sweep() {
                    Ok(swept) => {
                        total += swept;
                        if swept < SWEEP_BATCH {
                            return total;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "sweep failed");
                        return total;
                    }
                }
            }
        }
    }

    /// Rebuilds the in-memory projections from the store. Nothing to repair:
    /// every multi-record change was one atomic write, and in-flight keys
    /// were never persisted. Held seats get their actor back so their
    /// expiry timers run.
    fn recover(&self) -> Result<(), StoreError> {
        let now = now_ms();
        let mut live_holds = Vec::new();
        for show in self.store.list_shows()? {
            let view = ShowView::new(show);
            for (index, state) in self.store.load_taken_seats(view.show.id)? {
                if index >= view.show.layout.capacity() {
                    return Err(StoreError::Corrupt(format!(
                        "seat {index} outside show {}",
                        view.show.id
                    )));
                }
                let state = state.at(now);
                view.set(index, state.status());
                if matches!(state, SeatState::Held { .. }) {
                    live_holds.push((view.show.id, index));
                }
            }
            self.views.insert(view.show.id, Arc::new(view));
        }
        for cart in self.store.list_open_carts()? {
            for item in cart.items.iter().filter(|item| item.is_live(now)) {
                let hold = quota::Hold {
                    cart: cart.id,
                    seat: item.seat_index,
                    until_ms: item.until_ms,
                };
                self.holds
                    .try_reserve(cart.owner, item.show, hold, now, usize::MAX);
            }
        }
        for (show, index) in live_holds {
            if let Err(error) = self.seat_mailbox(show, index) {
                tracing::warn!(?error, "could not activate held seat");
            }
        }
        Ok(())
    }

    /// Stops every actor thread and waits for it: actors and their
    /// in-memory state are dropped (what a crash does to them). Used by
    /// the simulator's in-process crash-and-restart; the store is released
    /// once the caller drops its last engine handle.
    pub fn stop_actors(&self) {
        let threads = std::mem::take(&mut *self.arbiter_threads.lock().expect("not poisoned"));
        for arbiter in threads {
            arbiter.stop();
            let _ = arbiter.join();
        }
    }

    /// Aborts the process at step `step` of operation `op` when configured
    /// to (`crash_point = "booking.written"`): the crash tests' hook.
    pub fn crash_at(&self, op: &str, step: &str) {
        #[cfg(feature = "failpoints")]
        {
            let name = format!("{op}.{step}");
            fail::fail_point!(&name, |_| {
                eprintln!("failpoint {name}: aborting");
                std::process::abort()
            });
        }
        if let Some(point) = &self.config.crash_point {
            if point
                .strip_prefix(op)
                .and_then(|rest| rest.strip_prefix('.'))
                == Some(step)
            {
                eprintln!("crash point {point}: aborting");
                std::process::abort();
            }
        }
    }

    pub fn arbiter_for(&self, hash: u64) -> &ArbiterHandle {
        &self.arbiters[(hash % self.arbiters.len() as u64) as usize]
    }

    pub fn view(&self, show: ShowId) -> Option<Arc<ShowView>> {
        self.views.get(&show).map(|v| v.clone())
    }

    pub fn shows(&self) -> Vec<Arc<ShowView>> {
        let mut shows: Vec<_> = self.views.iter().map(|v| v.clone()).collect();
        shows.sort_by_key(|v| (v.show.starts_at_ms, v.show.title.clone(), v.show.id));
        shows
    }

    // ---- seats ----

    fn seat_mailbox(&self, show: ShowId, index: u32) -> Result<Mailbox<SeatActor>, EngineError> {
        let view = self
            .view(show)
            .ok_or_else(|| StoreError::Corrupt(format!("no show {show}")))?;
        self.seats.get_or_start(&(show, index), || {
            let state = self.store.load_seat(show, index)?;
            Ok::<_, EngineError>(SeatActor::launch(self.clone(), view, index, state))
        })
    }

    /// Asks a seat to reserve itself for `txn`. Retries when it reached an
    /// actor that was passivating (its message was dropped unprocessed).
    pub async fn seat_prepare(
        &self,
        show: ShowId,
        index: u32,
        txn: TxnId,
        claim: Claim,
    ) -> Result<Result<Option<SeatState>, SeatRefusal>, EngineError> {
        for _ in 0..8 {
            let mailbox = self.seat_mailbox(show, index)?;
            let (reply, answer) = oneshot::channel();
            let message = Prepare {
                txn,
                claim,
                now_ms: now_ms(),
                reply,
            };
            match mailbox.try_send(message) {
                Ok(()) => match answer.await {
                    Ok(decision) => return Ok(decision),
                    Err(_) => continue,
                },
                Err((SendFailure::Full, _)) => return Err(EngineError::Overloaded),
                Err((SendFailure::Closed, _)) => continue,
            }
        }
        Err(EngineError::Overloaded)
    }

    /// Tells a prepared seat the outcome and waits until it has applied it
    /// (so the public seat map shows a change before the client hears of
    /// it). Never refused for capacity: a prepared seat waits for exactly
    /// one of these, and cannot passivate meanwhile.
    pub async fn seat_resolve(&self, show: ShowId, index: u32, txn: TxnId, commit: bool) {
        match self.seat_mailbox(show, index) {
            Ok(mailbox) => {
                if mailbox.addr.send(Resolve { txn, commit }).await.is_err() {
                    tracing::error!(%show, index, "seat stopped before its resolve");
                }
            }
            Err(error) => tracing::error!(?error, "seat resolve undeliverable"),
        }
    }

    /// Prepares the seats one at a time in seat order (a global order, so
    /// claims waiting at a reserved seat never wait in a cycle). Every seat
    /// is asked, so a refusal names all the unavailable ones; on any refusal
    /// or failure the prepared seats are aborted.
    pub async fn prepare_all(
        &self,
        op: &'static str,
        show: ShowId,
        seats: &[(u32, SeatLabel)],
        txn: TxnId,
        claim: Claim,
    ) -> Result<Prepared, EngineError> {
        let mut ordered: Vec<&(u32, SeatLabel)> = seats.iter().collect();
        ordered.sort_by_key(|(index, _)| *index);
        let mut refused = Vec::new();
        let mut prepared = Vec::new();
        let mut failure = None;
        for (index, label) in ordered {
            match self.seat_prepare(show, *index, txn, claim).await {
                Ok(Ok(Some(_))) => {
                    prepared.push(*index);
                    if prepared.len() == 1 && seats.len() > 1 {
                        self.crash_at(op, "between-seats");
                    }
                }
                Ok(Ok(None)) => {}
                Ok(Err(refusal)) => refused.push((label.clone(), refusal)),
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
        }
        let mut prepared_kept = Vec::new();
        if failure.is_some() || !refused.is_empty() {
            let aborts = prepared
                .into_iter()
                .map(|index| self.seat_resolve(show, index, txn, false));
            futures_util::future::join_all(aborts).await;
        } else {
            prepared_kept = prepared;
        }
        match failure {
            Some(error) => Err(error),
            None => {
                // Name the refused seats in the client's order.
                refused.sort_by_key(|(label, _)| seats.iter().position(|(_, l)| l == label));
                Ok(Prepared {
                    refused,
                    changed: prepared_kept,
                })
            }
        }
    }

    pub async fn resolve_all(
        &self,
        show: ShowId,
        seats: &[(u32, SeatLabel)],
        txn: TxnId,
        commit: bool,
    ) {
        let resolves = seats
            .iter()
            .map(|(index, _)| self.seat_resolve(show, *index, txn, commit));
        futures_util::future::join_all(resolves).await;
    }

    // ---- the idempotency protocol ----

    /// First step of every keyed request inside its owning actor.
    /// `Err` carries the answer when the request must not run.
    pub fn admit(
        &self,
        ledger: &mut IdempotencyLedger,
        req: &Request,
    ) -> Result<(), BoxFuture<'static, Reply>> {
        let stored = match self.store.load_key(req.user, &req.key) {
            Ok(stored) => stored,
            Err(error) => {
                let reply = EngineError::from(error).reply();
                return Err(Box::pin(async move { reply }));
            }
        };
        match ledger.admit(req.user, &req.key, req.fingerprint, stored.as_ref()) {
            Admission::Run => match self.key_budget(req.user) {
                Ok(()) => Ok(()),
                Err(reply) => {
                    ledger.settle(req.user, &req.key);
                    Err(Box::pin(async move { reply }))
                }
            },
            Admission::Replay(stored) => Err(self.replay(stored)),
            Admission::InProgress => Err(Box::pin(async { in_progress() })),
            Admission::Reused => Err(Box::pin(async { key_reused() })),
        }
    }

    /// Whether `user` may store one more key (`max_keys_per_user`).
    fn key_budget(&self, user: UserId) -> Result<(), Reply> {
        let cap = self.config.max_keys_per_user;
        if user == ADMIN_USER {
            return Ok(());
        }
        let stored = match self.key_counts.get(&user) {
            Some(count) => *count,
            None => {
                let count = self
                    .store
                    .count_keys(user, cap)
                    .map_err(|e| EngineError::from(e).reply())?;
                *self.key_counts.entry(user).or_insert(count)
            }
        };
        if stored >= cap {
            return Err(wire::problem(
                Code::RateLimited,
                "this user has stored as many Idempotency-Keys as allowed; older ones expire",
            )
            .with_retry_after(60));
        }
        Ok(())
    }

    /// The answer to a request whose key is running in this actor right
    /// now: 409 `request-in-progress` (same request) or 422 (another one).
    pub fn answer_if_running(&self, ledger: &IdempotencyLedger, req: &Request) -> Option<Reply> {
        match ledger.running(req.user, &req.key, req.fingerprint)? {
            Admission::Reused => Some(key_reused()),
            _ => Some(in_progress()),
        }
    }

    /// The stored answer, sent only once everything committed so far is on
    /// disk (the record may belong to a commit still waiting for its flush).
    fn replay(&self, stored: StoredReply) -> BoxFuture<'static, Reply> {
        let durable = self.store.sync_point();
        let body = match stored.body {
            StoredBody::Bytes(body) => Ok(body),
            StoredBody::CreatedShow(id) => self.created_show_body(id),
        };
        Box::pin(async move {
            if let Err(error) = durable.await {
                return EngineError::from(error).reply();
            }
            let body = match body {
                Ok(body) => body,
                Err(reply) => return reply,
            };
            crate::metrics::REPLAYS.inc();
            Reply {
                status: stored.status,
                body,
                replayed: true,
                retry_after_secs: None,
            }
        })
    }

    /// A new show's answer (every seat available), rebuilt from the show's
    /// record: the same bytes as when the show was created.
    fn created_show_body(&self, id: ShowId) -> Result<bytes::Bytes, Reply> {
        match self.store.load_show(id) {
            Ok(Some(show)) => Ok(created_show_reply(&show).body),
            Ok(None) => Err(EngineError::from(StoreError::Corrupt(format!(
                "the stored answer names show {id}, which is missing"
            )))
            .reply()),
            Err(error) => Err(EngineError::from(error).reply()),
        }
    }

    /// Last step: writes the effect with the key record (for storable
    /// answers) in one atomic commit and waits until it is durable.
    /// Returns whether the mutations were applied, and the answer to send.
    pub async fn settle(
        &self,
        op: &'static str,
        req: Option<&Request>,
        reply: Reply,
        mutations: Vec<Mutation>,
    ) -> (bool, Reply) {
        let body = StoredBody::Bytes(reply.body.clone());
        self.settle_storing(op, req, reply, body, mutations).await
    }

    /// `settle`, keeping `stored_body` with the key as the body of `reply`
    /// (which it must rebuild to the same bytes on replay).
    async fn settle_storing(
        &self,
        op: &'static str,
        req: Option<&Request>,
        reply: Reply,
        stored_body: StoredBody,
        mutations: Vec<Mutation>,
    ) -> (bool, Reply) {
        let key = match req {
            Some(req) if StoredReply::is_storable(reply.status) => Some(KeyRecord {
                user: req.user,
                key: req.key.clone(),
                reply: StoredReply {
                    fingerprint: req.fingerprint,
                    status: reply.status,
                    body: stored_body,
                    created_at_ms: now_ms(),
                },
            }),
            _ => None,
        };
        if key.is_none() && mutations.is_empty() {
            return (true, reply);
        }
        self.crash_at(op, "prepared");
        let keyed_user = key.as_ref().map(|k| k.user);
        let outcome = self.store.submit(WriteSet { key, mutations }).await;
        if let (Ok(CommitOutcome::Committed(_)), Some(user)) = (&outcome, keyed_user) {
            if let Some(mut count) = self.key_counts.get_mut(&user) {
                *count += 1;
            }
        }
        match outcome {
            Ok(CommitOutcome::Committed(ticket)) => {
                self.crash_at(op, "written");
                match self.store.durable(ticket).await {
                    Ok(()) => {
                        self.crash_at(op, "durable");
                        (true, reply)
                    }
                    Err(error) => (false, EngineError::from(error).reply()),
                }
            }
            Ok(CommitOutcome::KeyTaken(existing)) => {
                // Another request with this key (on another route) won.
                let fingerprint = req.map(|r| r.fingerprint);
                let answer = if Some(existing.fingerprint) == fingerprint {
                    self.replay(existing).await
                } else {
                    key_reused()
                };
                (false, answer)
            }
            Err(error) => (false, EngineError::from(error).reply()),
        }
    }

    // ---- sessions ----

    pub async fn create_session(&self) -> Reply {
        let token = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let user = UserId(Uuid::new_v4());
        let mutation = Mutation::Session {
            token_hash: token_hash(&token),
            user,
            created_at_ms: now_ms(),
        };
        let reply = Reply::json(
            201,
            &wire::SessionOut {
                token,
                user_id: user.to_string(),
            },
        );
        self.settle("session", None, reply, vec![mutation]).await.1
    }

    /// The user a bearer token belongs to.
    pub fn authenticate(&self, token: &str) -> Result<Option<UserId>, EngineError> {
        let hash = token_hash(token);
        let session = match self.sessions.get(&hash) {
            Some(session) => Some(*session),
            None => {
                let session = self.store.load_session(&hash)?;
                if let Some(session) = session {
                    if self.sessions.len() >= SESSION_CACHE_LIMIT {
                        self.sessions.clear();
                    }
                    self.sessions.insert(hash, session);
                }
                session
            }
        };
        // An expired session is an unknown token, even before its sweep.
        let now = now_ms();
        Ok(session
            .filter(|(_, created)| now.saturating_sub(*created) < self.config.session_ttl_ms)
            .map(|(user, _)| user))
    }

    // ---- shows ----

    /// Creates a show. Runs as its own task: a client that hangs up after
    /// the write must not keep the show out of the public list.
    pub async fn create_show(&self, req: Request, new: NewShow) -> Reply {
        let engine = self.clone();
        actix_rt::spawn(async move { engine.create_show_detached(req, new).await })
            .await
            .unwrap_or_else(|_| wire::problem(Code::Internal, "show creation failed"))
    }

    async fn create_show_detached(&self, req: Request, new: NewShow) -> Reply {
        let id = ShowId(derived_id(SHOW_NS, req.user, &req.key));
        let stored = match self.store.load_key(req.user, &req.key) {
            Ok(stored) => stored,
            Err(error) => return EngineError::from(error).reply(),
        };
        if let Some(stored) = stored {
            return if stored.fingerprint == req.fingerprint {
                let reply = self.replay(stored).await;
                self.ensure_view(id);
                reply
            } else {
                key_reused()
            };
        }
        // A show with this (user, key) id but no key record: the key expired
        // and is reused, so this is a new show.
        let id = match self.store.load_show(id) {
            Ok(Some(_)) => ShowId(Uuid::new_v4()),
            Ok(None) => id,
            Err(error) => return EngineError::from(error).reply(),
        };
        let show = match Show::new(id, new.title, new.starts_at_ms, new.rows) {
            Ok(show) => show,
            Err(error) => return wire::problem(Code::InvalidRequest, &error.to_string()),
        };
        let view = ShowView::new(show.clone());
        let reply = created_show_reply(&show);
        let stored_body = StoredBody::CreatedShow(id);
        let (applied, reply) = self
            .settle_storing(
                "show",
                Some(&req),
                reply,
                stored_body,
                vec![Mutation::Show(show)],
            )
            .await;
        if applied {
            self.views.entry(id).or_insert_with(|| Arc::new(view));
        } else if reply.replayed {
            // The same key won on a concurrent request: make sure its show
            // is listed even if that request's task did not get that far.
            self.ensure_view(id);
        }
        reply
    }

    /// Lists a show that is in the store but not (yet) in memory.
    fn ensure_view(&self, id: ShowId) {
        if self.views.contains_key(&id) {
            return;
        }
        match self.store.load_show(id) {
            Ok(Some(show)) => {
                self.views
                    .entry(id)
                    .or_insert_with(|| Arc::new(ShowView::new(show)));
            }
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "could not load show {id}"),
        }
    }

    /// Seeds a few demo shows (first start on an empty store).
    pub async fn seed_demo(&self) -> Result<(), EngineError> {
        let day_ms = 86_400_000i64;
        let tomorrow = (now_ms() as i64 / day_ms + 1) * day_ms;
        type DemoShow = (&'static str, i64, &'static [(&'static str, u32)]);
        let layouts: [DemoShow; 3] = [
            (
                "Dune: Part Two",
                tomorrow + 19 * 3_600_000 + 1_800_000,
                &[
                    ("A", 10),
                    ("B", 12),
                    ("C", 12),
                    ("D", 14),
                    ("E", 14),
                    ("F", 14),
                    ("G", 12),
                    ("H", 10),
                ],
            ),
            (
                "Casablanca",
                tomorrow + 2 * day_ms + 20 * 3_600_000,
                &[("A", 8), ("B", 8), ("C", 10), ("D", 10), ("E", 10)],
            ),
            (
                "Spirited Away",
                tomorrow + 3 * day_ms + 15 * 3_600_000,
                &[
                    ("A", 12),
                    ("B", 12),
                    ("C", 14),
                    ("D", 14),
                    ("E", 16),
                    ("F", 16),
                ],
            ),
        ];
        let mut mutations = Vec::new();
        let mut views = Vec::new();
        for (title, starts_at_ms, rows) in layouts {
            let rows = rows
                .iter()
                .map(|(label, seats)| Row {
                    label: label.to_string(),
                    seats: *seats,
                })
                .collect();
            let show = Show::new(ShowId(Uuid::new_v4()), title.into(), starts_at_ms, rows)
                .expect("demo layouts are valid");
            views.push(ShowView::new(show.clone()));
            mutations.push(Mutation::Show(show));
        }
        let (applied, reply) = self
            .settle("seed", None, Reply::empty(204), mutations)
            .await;
        if !applied {
            return Err(EngineError::Store(StoreError::Corrupt(format!(
                "demo seed failed: {}",
                reply.status
            ))));
        }
        for view in views {
            self.views.insert(view.show.id, Arc::new(view));
        }
        Ok(())
    }

    pub fn list_shows(&self) -> Reply {
        let shows = self
            .shows()
            .iter()
            .map(|view| wire::ShowSummaryOut {
                id: view.show.id.to_string(),
                title: view.show.title.clone(),
                starts_at: wire::rfc3339(view.show.starts_at_ms),
                capacity: view.show.layout.capacity(),
                available: view.available(),
            })
            .collect();
        Reply::json(200, &wire::ShowListOut { shows })
    }

    pub fn get_show(&self, show: Option<ShowId>) -> Reply {
        match show.and_then(|id| self.view(id)) {
            Some(view) => Reply::json(200, &wire::show_out(&view.show, |i| view.status(i))),
            None => not_found("show"),
        }
    }

    // ---- bookings ----

    pub async fn book(&self, req: Request, show: Option<ShowId>, seats: Vec<SeatLabel>) -> Reply {
        let id = BookingId(derived_id(BOOKING_NS, req.user, &req.key));
        self.ask_booking(id, BookingOp::Create { req, show, seats })
            .await
    }

    pub async fn cancel_booking(&self, user: UserId, id: Option<BookingId>) -> Reply {
        let Some(id) = id else {
            return not_found("booking");
        };
        match self.store.load_booking(id) {
            Ok(Some(booking)) if booking.owner == user => {}
            Ok(_) => return not_found("booking"),
            Err(error) => return EngineError::from(error).reply(),
        }
        self.ask_booking(id, BookingOp::Cancel { user }).await
    }

    pub async fn get_booking(&self, user: UserId, id: Option<BookingId>) -> Reply {
        let Some(id) = id else {
            return not_found("booking");
        };
        let found = self.store.load_booking(id);
        self.read_reply(found.map(|b| {
            b.filter(|b| b.owner == user)
                .map(|b| Reply::json(200, &wire::booking_out(&b)))
                .unwrap_or_else(|| not_found("booking"))
        }))
        .await
    }

    pub async fn list_bookings(&self, user: UserId) -> Reply {
        let found = self.store.list_bookings(user);
        self.read_reply(found.map(|bookings| {
            Reply::json(
                200,
                &wire::BookingListOut {
                    bookings: bookings.iter().map(wire::booking_out).collect(),
                },
            )
        }))
        .await
    }

    /// A read answered only once what it saw is durable (it may have read
    /// a commit whose flush is still running).
    async fn read_reply(&self, read: Result<Reply, StoreError>) -> Reply {
        match read {
            Ok(reply) => match self.store.sync_point().await {
                Ok(()) => reply,
                Err(error) => EngineError::from(error).reply(),
            },
            Err(error) => EngineError::from(error).reply(),
        }
    }

    // ---- carts ----

    pub async fn create_cart(&self, req: Request) -> Reply {
        let id = CartId(derived_id(CART_NS, req.user, &req.key));
        self.ask_cart(id, CartOp::Create { req }).await
    }

    pub async fn add_item(
        &self,
        req: Request,
        cart: Option<CartId>,
        show: Option<ShowId>,
        seat: SeatLabel,
    ) -> Reply {
        // An unknown cart id still goes to an actor: the 404 is an answer
        // stored with the key, like any other business outcome.
        let id = cart.unwrap_or(CartId(Uuid::nil()));
        self.ask_cart(id, CartOp::AddItem { req, show, seat }).await
    }

    pub async fn remove_item(
        &self,
        user: UserId,
        cart: Option<CartId>,
        show: Option<ShowId>,
        seat: Option<SeatLabel>,
    ) -> Reply {
        let Some(cart) = cart else {
            return not_found("cart");
        };
        self.ask_cart(cart, CartOp::RemoveItem { user, show, seat })
            .await
    }

    pub async fn checkout(&self, req: Request, cart: Option<CartId>) -> Reply {
        let id = cart.unwrap_or(CartId(Uuid::nil()));
        self.ask_cart(id, CartOp::Checkout { req }).await
    }

    pub async fn get_cart(&self, user: UserId, cart: Option<CartId>) -> Reply {
        let Some(cart) = cart else {
            return not_found("cart");
        };
        let found = self.store.load_cart(cart);
        self.read_reply(found.map(|c| {
            c.filter(|c| c.owner == user)
                .map(|c| Reply::json(200, &wire::cart_out(&c, now_ms())))
                .unwrap_or_else(|| not_found("cart"))
        }))
        .await
    }

    /// The booking id a checkout of `cart` creates (one checkout per cart).
    pub fn checkout_booking_id(cart: CartId) -> BookingId {
        BookingId(Uuid::new_v5(&CHECKOUT_NS, cart.0.as_bytes()))
    }

    /// Sends an operation to a cart's actor and waits for its answer.
    async fn ask_cart(&self, id: CartId, op: CartOp) -> Reply {
        let launch = || {
            let cart = self.store.load_cart(id)?;
            Ok(CartActor::launch(self.clone(), id, cart))
        };
        let make = |reply| CartMsg {
            op: op.clone(),
            reply,
        };
        ask(&self.carts, &id, launch, make).await
    }

    /// The same for a booking's actor.
    async fn ask_booking(&self, id: BookingId, op: BookingOp) -> Reply {
        let launch = || {
            let booking = self.store.load_booking(id)?;
            Ok(BookingActor::launch(self.clone(), id, booking))
        };
        let make = |reply| BookingMsg {
            op: op.clone(),
            reply,
        };
        ask(&self.bookings, &id, launch, make).await
    }

    /// Seat statuses of a show as the map shows them (tests, simulator).
    pub fn seat_statuses(&self, show: ShowId) -> Option<Vec<SeatStatus>> {
        let view = self.view(show)?;
        Some(
            (0..view.show.layout.capacity())
                .map(|i| view.status(i))
                .collect(),
        )
    }
}

/// Sends a request to the actor for `id` (activating it if needed) and
/// waits for its answer. A message that reached an actor as it passivated
/// is dropped unhandled (its reply channel closes) and is sent again to a
/// fresh actor; that is safe even had it run, since every cart and booking
/// operation is idempotent (keyed, or a release or cancel).
async fn ask<K, A, M>(
    registry: &Registry<K, A>,
    id: &K,
    launch: impl Fn() -> Result<Mailbox<A>, EngineError>,
    make: impl Fn(oneshot::Sender<Reply>) -> M,
) -> Reply
where
    K: Eq + std::hash::Hash + Clone,
    A: Actor + actix::Handler<M>,
    A::Context: actix::dev::ToEnvelope<A, M>,
    M: actix::Message + Send + 'static,
    M::Result: Send,
{
    for _ in 0..8 {
        let mailbox = match registry.get_or_start(id, &launch) {
            Ok(mailbox) => mailbox,
            Err(error) => return error.reply(),
        };
        let (reply, answer) = oneshot::channel();
        match mailbox.try_send(make(reply)) {
            Ok(()) => match answer.await {
                Ok(answer) => return answer,
                Err(_) => continue,
            },
            Err((SendFailure::Full, _)) => return overloaded(),
            Err((SendFailure::Closed, _)) => continue,
        }
    }
    overloaded()
}

/// The id of the thing a keyed create makes: same user and key, same id.
pub fn derived_id(namespace: Uuid, user: UserId, key: &IdempotencyKey) -> Uuid {
    let mut name = Vec::with_capacity(16 + key.as_str().len());
    name.extend_from_slice(user.0.as_bytes());
    name.extend_from_slice(key.as_str().as_bytes());
    Uuid::new_v5(&namespace, &name)
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

pub fn not_found(what: &str) -> Reply {
    wire::problem(Code::NotFound, &format!("no such {what}"))
}

/// The answer to a show's creation: the show with every seat available.
/// Its stored form is `StoredBody::CreatedShow`, rebuilt by this function.
fn created_show_reply(show: &Show) -> Reply {
    Reply::json(201, &wire::show_out(show, |_| SeatStatus::Available))
}

fn in_progress() -> Reply {
    wire::problem(
        Code::RequestInProgress,
        "a request with this Idempotency-Key is still being processed",
    )
}

fn key_reused() -> Reply {
    wire::problem(
        Code::IdempotencyKeyReused,
        "this Idempotency-Key was already used for a different request",
    )
}

fn overloaded() -> Reply {
    EngineError::Overloaded.reply()
}

/// Starts an actor on the actor thread `shard` picks, behind a mailbox
/// bounded at `capacity` requests; `make` gets the counter the actor marks
/// as it takes each request (`Depth::taken`). actix's own bound is set
/// above ours, so ours always refuses first (see `registry`).
pub fn launch<A, F>(
    engine: &Engine,
    kind: &'static str,
    capacity: usize,
    shard: u64,
    make: F,
) -> Mailbox<A>
where
    A: Actor<Context = actix::Context<A>> + Send,
    F: FnOnce(Depth) -> A + Send + 'static,
{
    let depth = Depth::new(kind);
    let actor_depth = depth.clone();
    let addr = A::start_in_arbiter(engine.arbiter_for(shard), move |ctx| {
        ctx.set_mailbox_capacity(capacity + 64);
        make(actor_depth)
    });
    Mailbox::new(addr, &depth, capacity)
}
