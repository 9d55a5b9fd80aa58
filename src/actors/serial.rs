//! The shell shared by cart and booking actors: requests run one at a time,
//! each to its end, so the record an actor owns never sees two of its own
//! changes interleave.
//!
//! Why a queue and not just the mailbox: a request awaits the seats and
//! the store, and actix would handle the next message meanwhile. So a
//! request that arrives while one runs waits in `queue` (still counted in
//! the mailbox `depth`, so the bound holds), except a repeat of the running
//! key, which is answered at once (409 in progress, or 422). An actor with
//! a running or queued request is never passivated.
//!
//! What differs between carts and bookings (their record, their operations
//! and what each does) is the `Owner` they plug in.

use super::registry::{Depth, Mailbox, Registry};
use crate::domain::IdempotencyLedger;
use crate::engine::{Engine, Request};
use crate::wire::Reply;
use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message, WrapFuture,
};
use futures_util::future::BoxFuture;
use std::collections::VecDeque;
use std::hash::Hash;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use uuid::Uuid;

/// What a kind of serial actor owns and does.
pub trait Owner: Sized + Unpin + 'static {
    /// The metric label of its mailboxes.
    const KIND: &'static str;
    /// A UUID newtype; its UUID picks the actor's thread.
    type Id: Copy + Eq + Hash + Into<Uuid> + Send + Unpin + 'static;
    /// The owned record (`None` until created).
    type Record: Clone + Send + Unpin + 'static;
    type Op: Send + Unpin + 'static;

    fn record_id(record: &Self::Record) -> Self::Id;
    /// The keyed request of an operation (admitted by the ledger first).
    fn request(op: &Self::Op) -> Option<&Request>;
    /// Runs an admitted operation against the record as it is now.
    fn run(
        engine: Engine,
        id: Self::Id,
        record: Option<Self::Record>,
        op: Self::Op,
    ) -> BoxFuture<'static, Done<Self::Record>>;
    /// Where live actors of this kind are registered.
    fn registry(engine: &Engine) -> &Registry<Self::Id, SerialActor<Self>>;
}

/// What a finished request changes in the actor.
pub struct Done<R> {
    /// The record after the request, if it changed.
    pub record: Option<R>,
    /// The key to take out of the in-flight ledger.
    pub settle: Option<Request>,
    pub reply: Reply,
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
    engine: Engine,
    id: O::Id,
    record: Option<O::Record>,
    ledger: IdempotencyLedger,
    depth: Depth,
    last_used: Instant,
    /// A request is running: never passivate in the middle.
    busy: bool,
    /// Requests waiting for the running one (still counted in `depth`).
    queue: VecDeque<OpMsg<O::Op>>,
}

impl<O: Owner> SerialActor<O> {
    pub fn launch(engine: Engine, id: O::Id, record: Option<O::Record>) -> Mailbox<Self> {
        let capacity = engine.config.mailbox_capacity;
        let shard = id.into().as_u64_pair().1;
        crate::engine::launch(&engine.clone(), O::KIND, capacity, shard, move |depth| {
            SerialActor {
                engine,
                id,
                record,
                ledger: IdempotencyLedger::default(),
                depth,
                last_used: Instant::now(),
                busy: false,
                queue: VecDeque::new(),
            }
        })
    }

    fn start(&mut self, msg: OpMsg<O::Op>, ctx: &mut Context<Self>) {
        self.depth.taken();
        let engine = self.engine.clone();
        let admitted = match O::request(&msg.op) {
            Some(req) => engine.admit(&mut self.ledger, req),
            None => Ok(()),
        };
        let work: BoxFuture<'static, Done<O::Record>> = match admitted {
            Err(answer) => Box::pin(async move {
                Done {
                    record: None,
                    settle: None,
                    reply: answer.await,
                }
            }),
            Ok(()) => O::run(engine, self.id, self.record.clone(), msg.op),
        };
        let reply = msg.reply;
        self.busy = true;
        ctx.spawn(work.into_actor(self).map(move |done, act, ctx| {
            act.busy = false;
            // Only this actor's own record: a create after an expired key
            // makes a record with another id, owned by another actor.
            if let Some(record) = done.record.filter(|r| O::record_id(r) == act.id) {
                act.record = Some(record);
            }
            if let Some(req) = done.settle {
                act.ledger.settle(req.user, &req.key);
            }
            act.last_used = Instant::now();
            let _ = reply.send(done.reply);
            if let Some(next) = act.queue.pop_front() {
                act.start(next, ctx);
            }
        }));
    }
}

impl<O: Owner> Actor for SerialActor<O> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let idle = Duration::from_millis(self.engine.config.actor_idle_ms.max(10));
        ctx.run_interval(idle, move |act, ctx| {
            if !act.busy && act.queue.is_empty() && act.last_used.elapsed() >= idle {
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        O::registry(&self.engine).remove_if_same(&self.id, &ctx.address());
    }
}

impl<O: Owner> Handler<OpMsg<O::Op>> for SerialActor<O> {
    type Result = ();

    /// One request runs at a time. A repeat of the running key is answered
    /// at once (409 in progress, or 422); others queue behind it.
    fn handle(&mut self, msg: OpMsg<O::Op>, ctx: &mut Context<Self>) {
        self.last_used = Instant::now();
        if let Some(req) = O::request(&msg.op) {
            if let Some(answer) = self.engine.answer_if_running(&self.ledger, req) {
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
