//! The booking actor: creates a one-shot booking (all seats or none) and
//! cancels it. Its id comes from (user, key), so a retry reaches the same
//! actor. It runs one request at a time to its end (later ones queue) and
//! answers a repeat of the running key at once: 409 `request-in-progress`.
//!
//! Booking protocol (see ARCHITECTURE.md): prepare each seat in seat order (each reserves
//! itself for this txn, in memory) -> one atomic store write (booking, seat
//! states, key record) -> wait for the group flush -> commit the seats ->
//! reply. A crash before the write leaves nothing; after it, everything.

use super::registry::{Depth, Mailbox};
use crate::domain::{
    Booking, BookingId, BookingStatus, Claim, Holder, IdempotencyLedger, SeatLabel, SeatState,
    ShowId, TxnId, UserId,
};
use crate::engine::{not_found, now_ms, Engine, Request};
use crate::store::Mutation;
use crate::wire::{self, Reply};
use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message, WrapFuture,
};
use futures_util::future::BoxFuture;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use uuid::Uuid;

#[derive(Clone)]
pub enum BookingOp {
    Create {
        req: Request,
        show: Option<ShowId>,
        seats: Vec<SeatLabel>,
    },
    Cancel {
        user: UserId,
    },
}

pub struct BookingMsg {
    pub op: BookingOp,
    pub reply: oneshot::Sender<Reply>,
}

impl Message for BookingMsg {
    type Result = ();
}

pub struct BookingActor {
    engine: Engine,
    id: BookingId,
    booking: Option<Booking>,
    ledger: IdempotencyLedger,
    depth: Depth,
    last_used: Instant,
    /// A request is running: never passivate in the middle.
    busy: bool,
    /// Requests waiting for the running one (still counted in `depth`).
    queue: VecDeque<BookingMsg>,
}

impl BookingActor {
    pub fn launch(
        engine: Engine,
        id: BookingId,
        booking: Option<Booking>,
    ) -> Mailbox<BookingActor> {
        let depth = Depth::new("booking");
        let capacity = engine.config.mailbox_capacity;
        let arbiter = engine.arbiter_for(id.0.as_u64_pair().1).clone();
        let actor_depth = depth.clone();
        let addr = crate::engine::start_on(&arbiter, move |ctx: &mut Context<BookingActor>| {
            ctx.set_mailbox_capacity(capacity + 64);
            BookingActor {
                engine,
                id,
                booking,
                ledger: IdempotencyLedger::default(),
                depth: actor_depth,
                last_used: Instant::now(),
                busy: false,
                queue: VecDeque::new(),
            }
        });
        Mailbox::new(addr, &depth, capacity)
    }
}

impl Actor for BookingActor {
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
        self.engine
            .bookings
            .remove_if_same(&self.id, &ctx.address());
    }
}

/// What a finished request changes in the actor.
struct Done {
    booking: Option<Booking>,
    settle: Option<Request>,
    reply: Reply,
}

impl Handler<BookingMsg> for BookingActor {
    type Result = ();

    /// One request runs at a time. A repeat of the running key is answered
    /// at once (409 in progress, or 422); others queue behind it.
    fn handle(&mut self, msg: BookingMsg, ctx: &mut Context<Self>) {
        self.last_used = Instant::now();
        if let BookingOp::Create { req, .. } = &msg.op {
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

impl BookingActor {
    fn start(&mut self, msg: BookingMsg, ctx: &mut Context<Self>) {
        self.depth.taken();
        let engine = self.engine.clone();
        let work: BoxFuture<'static, Done> = match msg.op {
            BookingOp::Create { req, show, seats } => match engine.admit(&mut self.ledger, &req) {
                Err(answer) => Box::pin(async move {
                    Done {
                        booking: None,
                        settle: None,
                        reply: answer.await,
                    }
                }),
                Ok(()) => {
                    // A booking with this (user, key) id already exists while
                    // the key has no record: the key expired and is reused,
                    // so this new request books under a new id.
                    let id = if self.booking.is_some() {
                        BookingId(Uuid::new_v4())
                    } else {
                        self.id
                    };
                    Box::pin(create(engine, id, req, show, seats))
                }
            },
            BookingOp::Cancel { user } => Box::pin(cancel(engine, self.booking.clone(), user)),
        };
        let reply = msg.reply;
        self.busy = true;
        ctx.spawn(work.into_actor(self).map(move |done, act, ctx| {
            act.busy = false;
            if let Some(booking) = done.booking.filter(|b| b.id == act.id) {
                act.booking = Some(booking);
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

async fn create(
    engine: Engine,
    id: BookingId,
    req: Request,
    show: Option<ShowId>,
    labels: Vec<SeatLabel>,
) -> Done {
    let finish = |booking, reply| Done {
        booking,
        settle: Some(req.clone()),
        reply,
    };
    // Unknown show or seat: a business outcome, stored with the key.
    let view = match show.and_then(|s| engine.view(s)) {
        Some(view) => view,
        None => {
            let (_, reply) = engine
                .settle("booking", Some(&req), not_found("show"), vec![])
                .await;
            return finish(None, reply);
        }
    };
    let mut seats = Vec::with_capacity(labels.len());
    for label in labels {
        match view.show.layout.index_of(&label) {
            Some(index) => seats.push((index, label)),
            None => {
                let reply = not_found(&format!("seat {label}"));
                let (_, reply) = engine.settle("booking", Some(&req), reply, vec![]).await;
                return finish(None, reply);
            }
        }
    }
    let show = view.show.id;
    let txn = TxnId(Uuid::new_v4());
    let claim = Claim::Book {
        booking: id,
        via_cart: None,
    };
    let refused = match engine
        .prepare_all("booking", show, &seats, txn, claim)
        .await
    {
        Ok(prepared) => prepared.refused,
        Err(error) => return finish(None, error.reply()),
    };
    if !refused.is_empty() {
        crate::metrics::CONFLICTS
            .with_label_values(&["seat-unavailable"])
            .inc();
        let names: Vec<String> = refused.iter().map(|(l, _)| l.to_string()).collect();
        let (_, reply) = engine
            .settle(
                "booking",
                Some(&req),
                wire::seat_unavailable(&names),
                vec![],
            )
            .await;
        return finish(None, reply);
    }
    let booking = Booking {
        id,
        owner: req.user,
        show,
        seats,
        status: BookingStatus::Confirmed,
        created_at_ms: now_ms(),
        cart: None,
    };
    let mut mutations: Vec<Mutation> = booking
        .seats
        .iter()
        .map(|(index, _)| Mutation::Seat {
            show,
            index: *index,
            state: SeatState::Booked { booking: id },
        })
        .collect();
    mutations.push(Mutation::Booking(booking.clone()));
    let reply = Reply::json(201, &wire::booking_out(&booking));
    let (applied, reply) = engine.settle("booking", Some(&req), reply, mutations).await;
    engine.resolve_all(show, &booking.seats, txn, applied).await;
    if applied {
        engine.crash_at("booking", "resolved");
    }
    if applied {
        crate::metrics::BOOKINGS.inc();
        crate::metrics::SEATS_BOOKED.inc_by(booking.seats.len() as u64);
        finish(Some(booking), reply)
    } else {
        finish(None, reply)
    }
}

async fn cancel(engine: Engine, booking: Option<Booking>, user: UserId) -> Done {
    let done = |booking, reply| Done {
        booking,
        settle: None,
        reply,
    };
    let Some(mut booking) = booking.filter(|b| b.owner == user) else {
        return done(None, not_found("booking"));
    };
    let Some(seats) = booking.plan_cancel().map(<[_]>::to_vec) else {
        return done(None, Reply::empty(204));
    };
    let txn = TxnId(Uuid::new_v4());
    let claim = Claim::Release {
        holder: Holder::Booking(booking.id),
    };
    let changed = match engine
        .prepare_all("cancel", booking.show, &seats, txn, claim)
        .await
    {
        Ok(prepared) if prepared.refused.is_empty() => prepared.changed,
        Ok(_) => {
            // A release is never refused (it waits out a reservation and
            // is a no-op where the booking no longer holds the seat).
            return done(None, crate::engine::EngineError::Overloaded.reply());
        }
        Err(error) => return done(None, error.reply()),
    };
    booking.cancel();
    // Only seats this booking still held change; never write another
    // booking's seat.
    let released: Vec<(u32, SeatLabel)> = seats
        .iter()
        .filter(|(index, _)| changed.contains(index))
        .cloned()
        .collect();
    let mut mutations: Vec<Mutation> = released
        .iter()
        .map(|(index, _)| Mutation::Seat {
            show: booking.show,
            index: *index,
            state: SeatState::Available,
        })
        .collect();
    mutations.push(Mutation::Booking(booking.clone()));
    let (applied, reply) = engine
        .settle("cancel", None, Reply::empty(204), mutations)
        .await;
    engine
        .resolve_all(booking.show, &released, txn, applied)
        .await;
    if applied {
        engine.crash_at("cancel", "resolved");
        done(Some(booking), reply)
    } else {
        done(None, reply)
    }
}
