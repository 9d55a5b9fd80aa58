//! The shell of every actor that runs keyed requests (carts, bookings,
//! show creations): requests run one at a time, each to its end, so the
//! record an actor owns never sees two of its own changes interleave.
//!
//! Why a queue and not just the mailbox: a request awaits the seats and
//! the store, and actix would handle the next message meanwhile. So a
//! request that arrives while one runs waits in `queue` (still counted in
//! the mailbox `depth`, so the bound holds), except a repeat of the running
//! key, which is answered at once (409 in progress, or 422). An actor with
//! a running or queued request is never passivated.
//!
//! The shell admits each keyed request (`idempotency::Keys::admit`: run,
//! replay, 422 or 429), marks its key in flight in the ledger once it is
//! to run (a repeat that arrived while the key was looked up waits in the
//! queue and then replays), and takes it out when it ends; operations
//! never touch the ledger. What differs between
//! kinds (their record, their operations) is the `Owner` they plug in
//! (`ops::owners`).

use crate::domain::{
    judge, Admission, IdempotencyKey, IdempotencyLedger, KeyedRequest, StoredReply, UserId,
};
use crate::idempotency::{self, Admitted, Keys};
use crate::replies::{self, EngineError};
use crate::runtime::clock::now_ms;
use crate::runtime::registry::{AskFailure, Depth, Mailbox, Registry};
use crate::runtime::threads::ActorThreads;
use crate::store::{StoreError, StoreFuture, StoreResult};
use crate::wire::Reply;
use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message, WrapFuture,
};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use std::collections::VecDeque;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Completed keys an actor keeps to replay their repeats (their records
/// never change; a repeat of an older one is looked up in the store).
const COMPLETED_KEPT: usize = 8;

/// What a kind of serial actor owns and does.
pub trait Owner: Sized + Unpin + 'static {
    /// The metric label of its mailboxes.
    const KIND: &'static str;
    /// A UUID newtype; its UUID picks the actor's thread.
    type Id: Copy + Eq + Hash + Into<Uuid> + Send + Sync + Unpin + 'static;
    /// The owned record (`None` until created).
    type Record: Clone + Send + Unpin + 'static;
    /// A request to the actor; cloned when it must be sent again to a
    /// fresh actor (see `Registry::ask`).
    type Op: Clone + Send + Unpin + 'static;
    /// What its operations run with.
    type Ctx: Clone + Send + Sync + Unpin + 'static;

    fn record_id(record: &Self::Record) -> Self::Id;
    /// The record as stored (read with the actor's first request).
    fn load(ctx: &Self::Ctx, id: Self::Id) -> StoreFuture<Option<Self::Record>>;
    /// The keyed request of an operation (admitted by the shell first).
    fn request(op: &Self::Op) -> Option<&KeyedRequest>;
    /// Whether `op` needs the owned record: one that does not (a booking's
    /// creation, which makes a new record under a new id) runs without
    /// the store read, a miss in every such case (issue 18).
    fn reads_record(_op: &Self::Op) -> bool {
        true
    }
    /// Whether the actor stops as soon as `op` has run and nothing waits,
    /// instead of after `actor_idle_secs`: one whose work is done (a
    /// one-shot booking's; a repeat of its key is answered from the store
    /// as well) would otherwise hold memory for every such request of the
    /// last `actor_idle_secs` (30 s at 10k bookings/s: 300,000 actors).
    fn stops_after_run(_op: &Self::Op) -> bool {
        false
    }
    /// Runs an admitted operation against the record as it is now.
    fn run(
        ctx: Self::Ctx,
        id: Self::Id,
        record: Option<Self::Record>,
        op: Self::Op,
    ) -> BoxFuture<'static, Done<Self::Record>>;
}

/// What a finished request changes in the actor, and its answer.
pub struct Done<R> {
    /// The record after the request, if it changed.
    pub record: Option<R>,
    pub reply: Reply,
}

impl<R> Done<R> {
    /// An answer that leaves the record as it was.
    pub fn answer(reply: Reply) -> Self {
        Done {
            record: None,
            reply,
        }
    }
}

/// What the actors of one kind share: their registry, how their keyed
/// requests are admitted, and what their operations run with.
pub struct Kind<O: Owner> {
    registry: Registry<O::Id, SerialActor<O>>,
    ctx: O::Ctx,
    keys: Arc<Keys>,
    threads: Arc<ActorThreads>,
    mailbox_capacity: usize,
    idle_ms: u64,
    /// Read the record again with every request: on a store of many
    /// nodes, another node may have changed it since (a cart's hold made
    /// through the node that owns its show).
    read_every_time: bool,
}

impl<O: Owner> Kind<O> {
    pub fn new(
        ctx: O::Ctx,
        keys: Arc<Keys>,
        threads: Arc<ActorThreads>,
        mailbox_capacity: usize,
        idle_ms: u64,
        read_every_time: bool,
    ) -> Arc<Self> {
        Arc::new(Kind {
            registry: Registry::new(O::KIND),
            ctx,
            keys,
            threads,
            mailbox_capacity,
            idle_ms,
            read_every_time,
        })
    }

    /// Sends `op` to the actor of `id` (started if none is live; it reads
    /// its record with its first request) and waits for its answer.
    pub async fn ask(self: &Arc<Self>, id: O::Id, op: O::Op) -> Reply {
        let load = || std::future::ready(Ok::<(), StoreError>(()));
        let launch = |()| SerialActor::launch(self.clone(), id);
        let make = |reply| OpMsg {
            op: op.clone(),
            reply,
        };
        match self.registry.ask(&id, load, launch, make).await {
            Ok(reply) => reply,
            Err(AskFailure::Full) => replies::overloaded(),
            Err(AskFailure::Start(error)) => EngineError::from(error).reply(),
        }
    }
}

/// An operation and where its answer goes.
pub struct OpMsg<Op> {
    pub op: Op,
    pub reply: oneshot::Sender<Reply>,
}

impl<Op: 'static> Message for OpMsg<Op> {
    type Result = ();
}

pub struct SerialActor<O: Owner> {
    kind: Arc<Kind<O>>,
    id: O::Id,
    /// The owned record (`None`: none exists), once `record_read`.
    record: Option<O::Record>,
    /// The record was read from the store (with the first request, at the
    /// same time as its key is looked up).
    record_read: bool,
    ledger: IdempotencyLedger,
    /// The running request's key, shown to the key look-up until it ends.
    running_key: Option<idempotency::RunningKey>,
    depth: Depth,
    last_used: Instant,
    /// A request is running: never passivate in the middle.
    busy: bool,
    /// Stop when the running request ends, if nothing waits
    /// (`Owner::stops_after_run`).
    stop_when_done: bool,
    /// Requests waiting for the running one (still counted in `depth`).
    queue: VecDeque<OpMsg<O::Op>>,
    /// Keys found completed here, most recent last.
    completed: VecDeque<Completed>,
}

impl<O: Owner> SerialActor<O> {
    fn launch(kind: Arc<Kind<O>>, id: O::Id) -> Mailbox<Self> {
        let capacity = kind.mailbox_capacity;
        let shard = id.into().as_u64_pair().1;
        let threads = kind.threads.clone();
        threads.launch(O::KIND, capacity, shard, move |depth| SerialActor {
            kind,
            id,
            record: None,
            record_read: false,
            ledger: IdempotencyLedger::default(),
            running_key: None,
            depth,
            last_used: Instant::now(),
            busy: false,
            stop_when_done: false,
            queue: VecDeque::new(),
            completed: VecDeque::new(),
        })
    }

    fn start(&mut self, msg: OpMsg<O::Op>, ctx: &mut Context<Self>) {
        self.depth.taken();
        if self.kind.read_every_time {
            self.record_read = false;
        }
        let admission = O::request(&msg.op).map(|req| self.kind.keys.admit(req));
        let reading = (!self.record_read && O::reads_record(&msg.op))
            .then(|| O::load(&self.kind.ctx, self.id));
        // The key's lookup and the record's read go to the store together.
        let looked_up = async move {
            let admitted = async move {
                match admission {
                    Some(admission) => admission.await,
                    None => Admitted::Run,
                }
            };
            let read = async move {
                match reading {
                    Some(reading) => Some(reading.await),
                    None => None,
                }
            };
            futures_util::future::join(admitted, read).await
        };
        let OpMsg { op, reply } = msg;
        self.busy = true;
        let finish = move |done: Done<O::Record>, act: &mut Self, ctx: &mut Context<Self>| {
            act.finish(done, reply, ctx)
        };
        // A store that answers at once (sled) lets the request begin now,
        // before the next message is handled: a repeat of its key then
        // meets it running (409) instead of queueing behind its lookup.
        let mut looked_up = Box::pin(looked_up);
        match (&mut looked_up).now_or_never() {
            Some(found) => {
                let work = self.begin(found, op);
                ctx.spawn(work.into_actor(self).map(finish));
            }
            None => {
                let work = looked_up
                    .into_actor(self)
                    .then(move |found, act, _ctx| act.begin(found, op).into_actor(act))
                    .map(finish);
                ctx.spawn(work);
            }
        }
    }

    /// What a request does once its key and the record are looked up: run
    /// (its key now in flight: a repeat is answered 409), replay, or answer.
    fn begin(
        &mut self,
        (admitted, read): (Admitted, Option<StoreResult<Option<O::Record>>>),
        op: O::Op,
    ) -> BoxFuture<'static, Done<O::Record>> {
        let read_failed = match read {
            Some(Ok(record)) if !self.record_read => {
                self.record = record;
                self.record_read = true;
                None
            }
            Some(Err(error)) => Some(EngineError::from(error).reply()),
            _ => None,
        };
        self.stop_when_done = false;
        match (admitted, read_failed) {
            (Admitted::Run, Some(failure)) => Box::pin(std::future::ready(Done::answer(failure))),
            (Admitted::Run, None) => {
                if let Some(req) = O::request(&op) {
                    let running = self.ledger.admit(req.user, &req.key, req.fingerprint, None);
                    debug_assert_eq!(running, Admission::Run, "one request runs at a time");
                    self.running_key = Some(self.kind.keys.running(req));
                }
                self.stop_when_done = O::stops_after_run(&op);
                // An operation that needs no record gets none, even if one
                // was read before (it does not look).
                let record = self.record.clone().filter(|_| self.record_read);
                O::run(self.kind.ctx.clone(), self.id, record, op)
            }
            (Admitted::Completed(stored), _) => {
                let req = O::request(&op).expect("only a keyed request finds its key completed");
                self.remember_completed(req, &stored);
                let replay = self.kind.keys.replay(req.user, stored);
                Box::pin(async move { Done::answer(replay.await) })
            }
            (Admitted::Refused(answer), _) => Box::pin(std::future::ready(Done::answer(answer))),
        }
    }

    /// A request ended: keep its record, release its key, answer, start
    /// the next.
    fn finish(
        &mut self,
        done: Done<O::Record>,
        reply: oneshot::Sender<Reply>,
        ctx: &mut Context<Self>,
    ) {
        self.busy = false;
        // Only this actor's own record: a create after an expired key
        // makes a record with another id, owned by another actor.
        if let Some(record) = done.record.filter(|r| O::record_id(r) == self.id) {
            self.record = Some(record);
            self.record_read = true;
        }
        // The request ended: its key (if it ran one) is no longer in
        // flight. One request runs at a time, so it was the only one.
        self.ledger.settle_all();
        self.running_key = None;
        self.last_used = Instant::now();
        let _ = reply.send(done.reply);
        if let Some(next) = self.queue.pop_front() {
            self.start(next, ctx);
        } else if self.stop_when_done {
            // A message that reaches it now is sent again to a fresh actor
            // (`Registry::ask`), as for any passivated one.
            ctx.stop();
        }
    }
}

impl<O: Owner> SerialActor<O> {
    /// Keeps a completed key's record to replay its later repeats.
    fn remember_completed(&mut self, req: &KeyedRequest, stored: &StoredReply) {
        if self.completed.len() == COMPLETED_KEPT {
            self.completed.pop_front();
        }
        self.completed.push_back(Completed {
            user: req.user,
            key: req.key.clone(),
            stored: stored.clone(),
            replay: None,
        });
    }

    /// The answer to a repeat of a key completed here: its replay, or 422
    /// for another request with that key. Records past their TTL are
    /// dropped first (the store forgets them too).
    fn answer_if_completed(&mut self, req: &KeyedRequest) -> Option<Repeat> {
        let now = now_ms();
        let keys = &self.kind.keys;
        self.completed
            .retain(|completed| keys.still_kept(&completed.stored, now));
        let completed = self.completed.iter().find(|c| c.is_for(req))?;
        Some(match judge(&completed.stored, req.fingerprint) {
            Admission::Replay(stored) => match &completed.replay {
                Some(replay) => {
                    crate::metrics::REPLAYS.inc();
                    Repeat::Now(replay.clone())
                }
                None => Repeat::Replay(self.kind.keys.replay(req.user, stored)),
            },
            _ => Repeat::Now(replies::key_reused()),
        })
    }

    /// Keeps the replay of a key completed here once it is built: its
    /// later repeats are answered with it, without the store. A replay
    /// never changes (a booking's is rebuilt as confirmed, whatever became
    /// of the booking), so the copy is the answer the store would give.
    fn keep_replay(&mut self, req: &KeyedRequest, replay: &Reply) {
        if !replay.replayed {
            return; // a failure to rebuild it (5xx): not the replay
        }
        if let Some(completed) = self.completed.iter_mut().find(|c| c.is_for(req)) {
            completed.replay = Some(replay.clone());
        }
    }
}

/// A key found completed in an actor: its record, and its replay once
/// built (`SerialActor::keep_replay`).
struct Completed {
    user: UserId,
    key: IdempotencyKey,
    stored: StoredReply,
    replay: Option<Reply>,
}

impl Completed {
    fn is_for(&self, req: &KeyedRequest) -> bool {
        self.user == req.user && self.key == req.key
    }
}

/// How a repeat of a key completed here is answered.
enum Repeat {
    /// At once: the replay kept here, or 422.
    Now(Reply),
    /// With the replay built from the store (then kept).
    Replay(BoxFuture<'static, Reply>),
}

impl<O: Owner> Actor for SerialActor<O> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let idle = Duration::from_millis(self.kind.idle_ms.max(10));
        ctx.run_interval(idle, move |act, ctx| {
            if !act.busy && act.queue.is_empty() && act.last_used.elapsed() >= idle {
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        self.kind.registry.remove_if_same(&self.id, &ctx.address());
    }
}

impl<O: Owner> Handler<OpMsg<O::Op>> for SerialActor<O> {
    type Result = ();

    /// One request runs at a time. A repeat of a key completed here is
    /// replayed at once, without the store; a repeat of the running key is
    /// answered at once (409 in progress, or 422); others queue.
    fn handle(&mut self, msg: OpMsg<O::Op>, ctx: &mut Context<Self>) {
        self.last_used = Instant::now();
        if let Some(req) = O::request(&msg.op) {
            if let Some(repeat) = self.answer_if_completed(req) {
                self.depth.taken();
                let reply = msg.reply;
                match repeat {
                    Repeat::Now(answer) => {
                        let _ = reply.send(answer);
                    }
                    Repeat::Replay(replay) => {
                        let req = req.clone();
                        let kept = replay.into_actor(self).map(move |answer, act, _ctx| {
                            act.keep_replay(&req, &answer);
                            let _ = reply.send(answer);
                        });
                        ctx.spawn(kept);
                    }
                }
                return;
            }
            if let Some(answer) = idempotency::answer_if_running(&self.ledger, req) {
                self.depth.taken();
                let _ = msg.reply.send(answer);
                return;
            }
        }
        if self.busy {
            self.queue.push_back(msg);
        } else {
            self.start(msg, ctx);
        }
    }
}
