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
//!
//! A held seat keeps a timer for the end of its hold. When it fires, the
//! actor does not change itself: it reports the lapse (`SeatHome::on_lapse`)
//! and the hold-expiry operation releases the seat through the same
//! prepare -> write -> durable -> commit protocol as every other change.

use crate::domain::{CartId, Claim, Decision, Seat, SeatState, ShowId, TxnId};
use crate::runtime::clock::now_ms;
use crate::runtime::registry::{Depth, Mailbox, Registry};
use crate::runtime::seat_map::SeatMap;
use crate::runtime::threads::ActorThreads;
use actix::{Actor, ActorContext, AsyncContext, Context, Handler, Message, SpawnHandle};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long after reporting a lapse the actor reports it again if the seat
/// is still held (the expiry could not run: a full mailbox, a store error).
const LAPSE_RETRY: Duration = Duration::from_secs(1);

/// Reserve the seat for `txn` if the claim can be had.
pub struct Prepare {
    pub txn: TxnId,
    pub claim: Claim,
    pub now_ms: u64,
    pub reply: oneshot::Sender<Decision>,
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

/// Stop now (the show is being dropped from memory).
pub struct Stop;

impl Message for Stop {
    type Result = ();
}

/// A hold that has reached its end, reported for the expiry operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lapsed {
    pub show: ShowId,
    pub index: u32,
    pub cart: CartId,
    pub until_ms: u64,
}

/// Runs the expiry of a lapsed hold (it must not block: it starts a task).
pub type LapseHandler = Arc<dyn Fn(Lapsed) + Send + Sync>;

/// With the `failpoints` feature, `FAILPOINTS=seat.lapse=return` keeps
/// every lapse timer from starting its expiry (it checks again later): a
/// test sees a hold past its end that no expiry has removed yet, as under
/// a long timer delay.
fn lapses_paused_in_tests() -> bool {
    #[cfg(feature = "failpoints")]
    if fail::eval("seat.lapse", |_| ()).is_some() {
        return true;
    }
    false
}

/// What the seat actors of one show share.
pub struct SeatHome {
    pub show: ShowId,
    /// Where each actor publishes its seat's status.
    pub map: Arc<SeatMap>,
    /// The show's live seat actors by seat index.
    pub registry: Registry<u32, SeatActor>,
    pub mailbox_capacity: usize,
    pub idle_ms: u64,
    pub on_lapse: LapseHandler,
}

pub struct SeatActor {
    home: Arc<SeatHome>,
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
    /// Starts the actor of seat `index` in `state` (as last written).
    pub fn launch(
        threads: &ActorThreads,
        home: Arc<SeatHome>,
        index: u32,
        state: SeatState,
    ) -> Mailbox<SeatActor> {
        let capacity = home.mailbox_capacity;
        let shard = (home.show.0.as_u64_pair().0) ^ index as u64;
        let state = state.at(now_ms());
        threads.launch("seat", capacity, shard, move |depth| SeatActor {
            home,
            index,
            seat: Seat::new(state),
            depth,
            waiting: VecDeque::new(),
            expiry: None,
            last_used: Instant::now(),
        })
    }

    /// Arms the timer for the end of the current hold (if held).
    fn schedule_expiry(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.expiry.take() {
            ctx.cancel_future(handle);
        }
        if let SeatState::Held { until_ms, .. } = self.seat.state() {
            let wait = Duration::from_millis(until_ms.saturating_sub(now_ms()));
            self.expiry = Some(ctx.run_later(wait, |act, ctx| {
                act.expiry = None;
                act.report_lapse(ctx);
            }));
        }
    }

    /// Reports a hold that has reached its end, and checks again later in
    /// case its expiry could not run.
    fn report_lapse(&mut self, ctx: &mut Context<Self>) {
        let SeatState::Held { cart, until_ms } = self.seat.state() else {
            return;
        };
        if lapses_paused_in_tests() {
            self.expiry = Some(ctx.run_later(LAPSE_RETRY, |act, ctx| {
                act.expiry = None;
                act.report_lapse(ctx);
            }));
            return;
        }
        if now_ms() >= until_ms {
            (self.home.on_lapse)(Lapsed {
                show: self.home.show,
                index: self.index,
                cart,
                until_ms,
            });
            self.expiry = Some(ctx.run_later(LAPSE_RETRY, |act, ctx| {
                act.expiry = None;
                act.report_lapse(ctx);
            }));
        } else {
            // The timer fired early (clock adjustments): wait again.
            self.schedule_expiry(ctx);
        }
    }

    /// Decides a claim now, with the current time.
    fn decide(&mut self, msg: Prepare) {
        self.depth.taken();
        let now = now_ms().max(msg.now_ms);
        // A refusal is counted once, with the code of the answer it makes
        // (`boxoffice_conflicts_total`, by the operation), not per seat here.
        let decision = self.seat.prepare(msg.txn, msg.claim, now);
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
            && self.last_used.elapsed() >= Duration::from_millis(self.home.idle_ms)
    }
}

impl Actor for SeatActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.home.map.set(self.index, self.seat.state().status());
        self.schedule_expiry(ctx);
        let idle = Duration::from_millis(self.home.idle_ms.max(10));
        ctx.run_interval(idle, |act, ctx| {
            if act.is_idle() {
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        self.home
            .registry
            .remove_if_same(&self.index, &ctx.address());
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
                self.home.map.set(self.index, state.status());
                self.schedule_expiry(ctx);
            }
        } else {
            self.seat.abort(msg.txn);
        }
        self.drain_waiting();
    }
}

impl Handler<Stop> for SeatActor {
    type Result = ();

    fn handle(&mut self, _msg: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
