//! Idempotency, in one module: whether a keyed request runs, is answered at
//! once, replays, or is refused as a reuse of its key; and the one atomic
//! write of an effect with its key record.
//!
//! Completed keys live in the store, written in the same atomic write as
//! the effect they answer (`Keys::commit`); in-flight keys live only in the
//! owning actor's ledger (`domain::IdempotencyLedger`), which the actor
//! shell (`actors::serial`) fills through `Keys::admit` and empties itself
//! when the request ends. The rule "same request: replay; another: 422" is
//! `domain::judge`, used for a record found before running and for one the
//! write found already taken (the same key raced on another route).

use crate::domain::{
    judge, Admission as Admission_, IdempotencyKey, IdempotencyLedger, KeyedRequest, RequestLine,
    StoredBody, StoredReply, UserId,
};
use crate::replies::{self, EngineError};
use crate::runtime::clock::now_ms;
use crate::runtime::{CrashPoints, Op, Step};
use crate::store::{CommitOutcome, KeyRecord, Mutation, Store, StoreError, WriteSet};
use crate::wire::{self, Reply};
use dashmap::DashMap;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use uuid::Uuid;

/// How a keyed request is admitted (`Keys::admit`).
pub enum Admitted {
    /// First use of the key, within the user's budget: run it.
    Run,
    /// The same request completed before: replay this (`Keys::replay`).
    /// A completed key's record never changes, so its owner may keep it
    /// and replay later repeats without asking the store again.
    Completed(StoredReply),
    /// Do not run it; send this (422, 429, a failure).
    Refused(Reply),
}

/// What a request decided: its answer and the records it changes.
pub struct Outcome {
    pub reply: Reply,
    /// The answer as kept with the key; `None`: the reply's body itself.
    stored_body: Option<StoredBody>,
    pub mutations: Vec<Mutation>,
    /// The show and the epoch the writer's show state was loaded at
    /// (`WriteSet::fence`).
    pub fence: Option<(crate::domain::ShowId, i64)>,
}

impl Outcome {
    /// An answer that changes nothing (a 404, a 409): stored with the key.
    pub fn answer(reply: Reply) -> Self {
        Outcome::effect(reply, Vec::new())
    }

    /// An answer with the records it changes.
    pub fn effect(reply: Reply, mutations: Vec<Mutation>) -> Self {
        Outcome {
            reply,
            stored_body: None,
            mutations,
            fence: None,
        }
    }

    /// Keeps `body` with the key instead of the reply's bytes; replays
    /// rebuild the same bytes from it (`Keys::replay`).
    pub fn stored_as(mut self, body: StoredBody) -> Self {
        self.stored_body = Some(body);
        self
    }
}

/// How a write of an outcome ended (`Keys::commit`).
#[must_use]
pub enum Settled {
    /// Written and durable: the effect happened. Send the reply.
    Applied(Reply),
    /// Nothing was written: another request had taken the key (its replay
    /// or 422), or the store failed or shed load (5xx: no effect).
    NotApplied(Reply),
}

impl Settled {
    pub fn is_applied(&self) -> bool {
        matches!(self, Settled::Applied(_))
    }

    pub fn into_reply(self) -> Reply {
        match self {
            Settled::Applied(reply) | Settled::NotApplied(reply) => reply,
        }
    }
}

/// The store's key records, seen from the engine, and the per-user cap on
/// how many a user may keep.
pub struct Keys {
    store: Arc<dyn Store>,
    crash: CrashPoints,
    max_keys_per_user: usize,
    /// How long a completed key is kept (`idempotency_ttl_ms`).
    ttl_ms: u64,
    /// Stored keys per user, counted from the store on first need and
    /// recounted after each sweep (an approximate cap: a few concurrent
    /// first uses may pass together).
    counts: DashMap<UserId, usize>,
    /// Keys running now, with their request lines: an index for the key
    /// look-up only. Whether a key may run is the owning actor's ledger's
    /// to say (`domain::IdempotencyLedger`), never this map's.
    running: Arc<DashMap<(UserId, IdempotencyKey), RequestLine>>,
}

/// A key marked running in `Keys::look_up`'s index until dropped
/// (`Keys::running`).
pub struct RunningKey {
    index: Arc<DashMap<(UserId, IdempotencyKey), RequestLine>>,
    id: (UserId, IdempotencyKey),
}

impl Drop for RunningKey {
    fn drop(&mut self) {
        self.index.remove(&self.id);
    }
}

/// What the key look-up found (`Keys::look_up`).
#[derive(Debug)]
pub enum KeyState {
    InFlight(RequestLine),
    Completed(StoredReply),
}

impl Keys {
    pub fn new(
        store: Arc<dyn Store>,
        crash: CrashPoints,
        max_keys_per_user: usize,
        ttl_ms: u64,
    ) -> Self {
        Keys {
            store,
            crash,
            max_keys_per_user,
            ttl_ms,
            counts: DashMap::new(),
            running: Arc::new(DashMap::new()),
        }
    }

    /// Marks `req`'s key running for the look-up, until the guard drops.
    pub fn running(&self, req: &KeyedRequest) -> RunningKey {
        let id = (req.user, req.key.clone());
        self.running.insert(id.clone(), req.line.clone());
        RunningKey {
            index: self.running.clone(),
            id,
        }
    }

    /// `GET /v1/idempotency-keys/{key}`: the user's key as it stands, if
    /// it is running here or completed and still kept.
    pub fn look_up(
        &self,
        user: UserId,
        key: IdempotencyKey,
    ) -> BoxFuture<'static, Result<Option<KeyState>, Reply>> {
        if let Some(line) = self.running.get(&(user, key.clone())) {
            let state = KeyState::InFlight(line.clone());
            return Box::pin(std::future::ready(Ok(Some(state))));
        }
        let stored = self.store.load_key(user, &key);
        // Completed is said only of what is on disk (the record may belong
        // to a commit still waiting for its flush), as a replay would.
        let durable = self.store.sync_point();
        let ttl_ms = self.ttl_ms;
        Box::pin(async move {
            match stored.await {
                Ok(Some(stored)) if now_ms().saturating_sub(stored.created_at_ms) < ttl_ms => {
                    if let Err(error) = durable.await {
                        return Err(EngineError::from(error).reply());
                    }
                    Ok(Some(KeyState::Completed(stored)))
                }
                Ok(_) => Ok(None),
                Err(error) => Err(EngineError::from(error).reply()),
            }
        })
    }

    /// First step of a keyed request in its owning actor: whether its key
    /// has a record (then a replay or 422) and whether the user may store
    /// one more key (429). The actor marks the key in flight only once this
    /// says run (its `IdempotencyLedger`): a repeat that arrives while the
    /// key is looked up waits behind it, then replays; one that arrives
    /// while the request runs is answered 409 at once.
    pub fn admit(self: &Arc<Self>, req: &KeyedRequest) -> BoxFuture<'static, Admitted> {
        let (user, fingerprint) = (req.user, req.fingerprint);
        let lookup = self.store.load_key(user, &req.key);
        let keys = self.clone();
        Box::pin(async move {
            match lookup.await {
                Err(error) => Admitted::Refused(EngineError::from(error).reply()),
                Ok(Some(stored)) => match judge(&stored, fingerprint) {
                    Admission_::Replay(stored) => Admitted::Completed(stored),
                    _ => Admitted::Refused(replies::key_reused()),
                },
                Ok(None) => match keys.budget(user).await {
                    Ok(()) => Admitted::Run,
                    Err(reply) => Admitted::Refused(reply),
                },
            }
        })
    }

    /// Whether a completed key's record is still within its TTL (an owner
    /// that keeps records to replay them stops once it is not, as the
    /// store's sweep would).
    pub fn still_kept(&self, stored: &StoredReply, now_ms: u64) -> bool {
        now_ms.saturating_sub(stored.created_at_ms) < self.ttl_ms
    }

    /// A keyed request that no actor can own, because its path names
    /// nothing that could exist (a malformed cart id): its answer is a
    /// business outcome like any 404, stored with the key. A repeat that
    /// races it finds the key taken and replays it (docs/API.md §4: a repeat while the first runs).
    pub async fn answer_unowned(&self, op: Op, req: &KeyedRequest, reply: Reply) -> Reply {
        match self.store.load_key(req.user, &req.key).await {
            Ok(Some(stored)) => return self.answer_stored(req, stored).await,
            Ok(None) => {}
            Err(error) => return EngineError::from(error).reply(),
        }
        if let Err(reply) = self.budget(req.user).await {
            return reply;
        }
        self.commit(op, Some(req), Outcome::answer(reply))
            .await
            .into_reply()
    }

    /// Writes `outcome`'s records and, for a keyed request with a storable
    /// answer, its key record, in one atomic write, and waits until it is
    /// durable. If another request took the key meanwhile, nothing is
    /// written and its answer decides (replay or 422).
    pub async fn commit(&self, op: Op, req: Option<&KeyedRequest>, outcome: Outcome) -> Settled {
        let Outcome {
            reply,
            stored_body,
            mutations,
            fence,
        } = outcome;
        let key = req
            .filter(|_| StoredReply::is_storable(reply.status))
            .map(|req| KeyRecord {
                user: req.user,
                key: req.key.clone(),
                reply: StoredReply {
                    fingerprint: req.fingerprint,
                    status: reply.status,
                    body: stored_body.unwrap_or_else(|| StoredBody::Bytes(reply.body.clone())),
                    created_at_ms: now_ms(),
                    line: Some(req.line.clone()),
                },
            });
        // Nothing to write and no lease to check (a fence is checked even
        // for a write of nothing: `Core::answer_on`).
        if key.is_none() && mutations.is_empty() && fence.is_none() {
            return Settled::Applied(reply);
        }
        self.crash.at(op, Step::Prepared);
        let keyed_user = key.as_ref().map(|k| k.user);
        match self
            .store
            .submit(WriteSet {
                key,
                mutations,
                fence,
            })
            .await
        {
            Ok(CommitOutcome::Committed(ticket)) => {
                if let Some(mut count) = keyed_user.and_then(|user| self.counts.get_mut(&user)) {
                    *count += 1;
                }
                self.crash.at(op, Step::Written);
                match self.store.durable(ticket).await {
                    Ok(()) => {
                        self.crash.at(op, Step::Durable);
                        Settled::Applied(reply)
                    }
                    Err(error) => Settled::NotApplied(EngineError::from(error).reply()),
                }
            }
            Ok(CommitOutcome::KeyTaken(existing)) => {
                let req = req.expect("only a keyed write set can find its key taken");
                Settled::NotApplied(self.answer_stored(req, existing).await)
            }
            Err(StoreError::OutcomeUnknown(why)) => fail_stop(&why),
            Err(error) => Settled::NotApplied(EngineError::from(error).reply()),
        }
    }

    /// The answer to a request whose key has a completed record.
    fn answer_stored(&self, req: &KeyedRequest, stored: StoredReply) -> BoxFuture<'static, Reply> {
        match judge(&stored, req.fingerprint) {
            Admission_::Replay(stored) => self.replay(req.user, stored),
            _ => Box::pin(async { replies::key_reused() }),
        }
    }

    /// The stored answer, sent only once everything committed so far is on
    /// disk (the record may belong to a commit still waiting for its flush).
    /// (`user` is the key's: a booking's answer is rebuilt from the
    /// booking, which is kept under its owner.)
    pub fn replay(&self, user: UserId, stored: StoredReply) -> BoxFuture<'static, Reply> {
        let durable = self.store.sync_point();
        let body = self.stored_body(user, stored.body);
        Box::pin(async move {
            if let Err(error) = durable.await {
                return EngineError::from(error).reply();
            }
            let body = match body.await {
                Ok(body) => body,
                Err(failed) => return failed,
            };
            crate::metrics::REPLAYS.inc();
            Reply {
                status: stored.status,
                body,
                replayed: true,
                retry_after_secs: None,
                forward_to: None,
            }
        })
    }

    /// The bytes of a stored answer: kept as they were, or rebuilt from the
    /// record they were made of (which a corrupt store may lack: 500).
    fn stored_body(
        &self,
        user: UserId,
        body: StoredBody,
    ) -> BoxFuture<'static, Result<bytes::Bytes, Reply>> {
        let missing = |what: String| {
            let why = format!("the stored answer names {what}, which is missing");
            EngineError::from(StoreError::Corrupt(why)).reply()
        };
        match body {
            StoredBody::Bytes(body) => Box::pin(async move { Ok(body) }),
            StoredBody::CreatedShow(id) | StoredBody::CreatedShowV1(id) => {
                let v1 = matches!(body, StoredBody::CreatedShowV1(_));
                let show = self.store.load_show(id);
                Box::pin(async move {
                    match show.await {
                        Ok(Some(show)) if v1 => Ok(wire::created_show_v1(&show).body),
                        Ok(Some(show)) => Ok(wire::created_show(&show).body),
                        Ok(None) => Err(missing(format!("show {id}"))),
                        Err(error) => Err(EngineError::from(error).reply()),
                    }
                })
            }
            StoredBody::CreatedBookingAsMade(booking) => {
                let body = wire::created_booking(&booking).body;
                Box::pin(async move { Ok(body) })
            }
            StoredBody::CreatedBooking(id) => {
                let booking = self.store.load_booking(user, id);
                Box::pin(async move {
                    match booking.await {
                        Ok(Some(booking)) => Ok(wire::created_booking(&booking).body),
                        Ok(None) => Err(missing(format!("booking {id}"))),
                        Err(error) => Err(EngineError::from(error).reply()),
                    }
                })
            }
        }
    }

    /// Whether `user` may store one more key (`max_keys_per_user`).
    async fn budget(&self, user: UserId) -> Result<(), Reply> {
        if user == UserId::ADMIN {
            return Ok(());
        }
        let cap = self.max_keys_per_user;
        let known = self.counts.get(&user).map(|count| *count);
        let stored = match known {
            Some(count) => count,
            None => {
                let count = self
                    .store
                    .count_keys(user, cap)
                    .await
                    .map_err(|e| EngineError::from(e).reply())?;
                *self.counts.entry(user).or_insert(count)
            }
        };
        if stored >= cap {
            return Err(replies::too_many_keys());
        }
        Ok(())
    }

    /// Forgets the per-user counts (after a sweep removed keys): they are
    /// counted again from the store on next need.
    pub fn recount(&self) {
        self.counts.clear();
    }
}

/// The answer to a request arriving at an actor whose key is running there
/// right now: 409 `request-in-progress` (same request) or 422 (another).
pub fn answer_if_running(ledger: &IdempotencyLedger, req: &KeyedRequest) -> Option<Reply> {
    match ledger.running(req.user, &req.key, req.fingerprint)? {
        Admission_::Reused => Some(replies::key_reused()),
        _ => Some(replies::in_progress()),
    }
}

/// The id of the thing a keyed create makes: same user and key, same id,
/// so a retry reaches the actor that knows the key.
pub fn derived_id(namespace: Uuid, user: UserId, key: &IdempotencyKey) -> Uuid {
    let mut name = Vec::with_capacity(16 + key.as_str().len());
    name.extend_from_slice(user.0.as_bytes());
    name.extend_from_slice(key.as_str().as_bytes());
    Uuid::new_v5(&namespace, &name)
}

/// A commit whose outcome the store could not learn: it may or may not
/// have taken effect, so its request can be answered neither yes nor no,
/// and the seats it reserved can be neither committed nor aborted. The
/// process stops; its restart reads what is there, and the request's retry
/// with its key replays or runs afresh, exactly once.
fn fail_stop(why: &str) -> ! {
    let message = format!("the outcome of a commit is unknown ({why}): aborting");
    tracing::error!("{message}");
    eprintln!("{message}");
    std::process::abort()
}
