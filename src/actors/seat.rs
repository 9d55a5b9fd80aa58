//! The seat actor: the only code that decides a seat's state.
//!
//! Its handlers never await: `Prepare` decides and reserves in one step, so
//! two racing claims are ordered by the mailbox and exactly one wins.
//!
//! A claim that arrives while the seat is reserved for another transaction
//! waits (in `waiting`) until that transaction commits or aborts, and is
//! decided then. So a refusal always means the seat *is* held or booked, not
//! that someone was about to take it and then gave up: every answer is
//! linearizable. Coordinators prepare seats one at a time in seat order,
//! so waiting never forms a cycle (no deadlock).

use super::registry::{Depth, Mailbox};
use crate::domain::{Claim, Seat, SeatRefusal, SeatState, TxnId};
use crate::engine::view::ShowView;
use crate::engine::{now_ms, Engine};
use crate::store::{CommitOutcome, Mutation, WriteSet};
use actix::{Actor, ActorContext, AsyncContext, Context, Handler, Message, SpawnHandle};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Reserve the seat for `txn` if the claim can be had.
pub struct Prepare {
    pub txn: TxnId,
    pub claim: Claim,
    pub now_ms: u64,
    pub reply: oneshot::Sender<Result<Option<SeatState>, SeatRefusal>>,
}

impl Message for Prepare {
    type Result = ();
}

/// The coordinator's verdict on a prepared change, sent after the store
/// write is durable (`commit`) or when the operation gave up (`!commit`).
pub struct Resolve {
    pub txn: TxnId,
    pub commit: bool,
}

impl Message for Resolve {
    type Result = ();
}

pub struct SeatActor {
    engine: Engine,
    view: Arc<ShowView>,
    index: u32,
    seat: Seat,
    depth: Depth,
    /// Claims that arrived while the seat was reserved; decided in order
    /// once it is not. They still count in `depth`, so the bound holds.
    waiting: VecDeque<Prepare>,
    expiry: Option<SpawnHandle>,
    last_used: Instant,
}

impl SeatActor {
    pub fn launch(
        engine: Engine,
        view: Arc<ShowView>,
        index: u32,
        state: SeatState,
    ) -> Mailbox<SeatActor> {
        let capacity = engine.config.seat_mailbox_capacity;
        let shard = (view.show.id.0.as_u64_pair().0) ^ index as u64;
        let state = state.at(now_ms());
        crate::engine::launch(&engine.clone(), "seat", capacity, shard, move |depth| {
            SeatActor {
                engine,
                view,
                index,
                seat: Seat::new(state),
                depth,
                waiting: VecDeque::new(),
                expiry: None,
                last_used: Instant::now(),
            }
        })
    }

    fn schedule_expiry(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.expiry.take() {
            ctx.cancel_future(handle);
        }
        if let SeatState::Held { until_ms, .. } = self.seat.state() {
            let wait = Duration::from_millis(until_ms.saturating_sub(now_ms()));
            self.expiry = Some(ctx.run_later(wait, |act, ctx| {
                act.expiry = None;
                act.expire(ctx);
            }));
        }
    }

    /// Releases a lapsed hold: persisted and shown at once. Nobody waits
    /// for its flush (a lapsed hold reads as available after a crash
    /// anyway); the flush is asked for so that the release reaches the disk
    /// promptly, which is also the crash matrix's after-the-flush point.
    fn expire(&mut self, ctx: &mut Context<Self>) {
        if self.seat.expire(now_ms()) {
            self.engine.crash_at("expiry", "prepared");
            let write = WriteSet {
                key: None,
                mutations: vec![Mutation::Seat {
                    show: self.view.show.id,
                    index: self.index,
                    state: SeatState::Available,
                }],
            };
            match self.engine.store.commit(write) {
                Ok(CommitOutcome::Committed(ticket)) => {
                    self.engine.crash_at("expiry", "written");
                    let engine = self.engine.clone();
                    let durable = engine.store.durable(ticket);
                    actix::spawn(async move {
                        if durable.await.is_ok() {
                            engine.crash_at("expiry", "durable");
                        }
                    });
                }
                Ok(CommitOutcome::KeyTaken(_)) => {
                    unreachable!("a write set without a key record cannot find it taken")
                }
                Err(error) => tracing::warn!(%error, "could not persist a hold expiry"),
            }
            self.view.set(self.index, SeatState::Available.status());
        } else if !self.seat.is_pending() {
            // Timer fired early (clock adjustments): try again later.
            self.schedule_expiry(ctx);
        }
    }

    /// Decides a claim now, with the current time.
    fn decide(&mut self, msg: Prepare) {
        self.depth.taken();
        let now = now_ms().max(msg.now_ms);
        let decision = self.seat.prepare(msg.txn, msg.claim, now);
        if decision.is_err() {
            crate::metrics::CONFLICTS.with_label_values(&["seat"]).inc();
        }
        if msg.reply.send(decision).is_err() {
            // The coordinator is gone (it never drops a pending reply in
            // normal operation); do not keep the seat reserved for it.
            self.seat.abort(msg.txn);
        }
    }

    /// Decides waiting claims until one reserves the seat again.
    fn drain_waiting(&mut self) {
        while !self.seat.is_pending() {
            match self.waiting.pop_front() {
                Some(msg) => self.decide(msg),
                None => break,
            }
        }
    }

    fn is_idle(&self) -> bool {
        self.waiting.is_empty()
            && !self.seat.is_pending()
            && !matches!(self.seat.state(), SeatState::Held { .. })
            && self.last_used.elapsed() >= Duration::from_millis(self.engine.config.actor_idle_ms)
    }
}

impl Actor for SeatActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.view.set(self.index, self.seat.state().status());
        self.schedule_expiry(ctx);
        let idle = Duration::from_millis(self.engine.config.actor_idle_ms.max(10));
        ctx.run_interval(idle, |act, ctx| {
            if act.is_idle() {
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        self.engine
            .seats
            .remove_if_same(&(self.view.show.id, self.index), &ctx.address());
    }
}

impl Handler<Prepare> for SeatActor {
    type Result = ();

    fn handle(&mut self, msg: Prepare, _ctx: &mut Context<Self>) {
        self.last_used = Instant::now();
        if self.seat.is_pending() {
            self.waiting.push_back(msg);
        } else {
            self.decide(msg);
        }
    }
}

impl Handler<Resolve> for SeatActor {
    type Result = ();

    fn handle(&mut self, msg: Resolve, ctx: &mut Context<Self>) {
        self.last_used = Instant::now();
        if msg.commit {
            if let Some(state) = self.seat.commit(msg.txn) {
                self.view.set(self.index, state.status());
                self.schedule_expiry(ctx);
            }
        } else if self.seat.abort(msg.txn) {
            // An expiry may have been skipped while the seat was pending.
            self.expire(ctx);
        }
        self.drain_waiting();
    }
}
