//! The booking actor: creates a one-shot booking (all seats or none) and
//! cancels it. Its id comes from (user, key), so a retry reaches the same
//! actor. It runs one request at a time to its end (later ones queue) and
//! answers a repeat of the running key at once: 409 `request-in-progress`.
//!
//! Booking protocol (see ARCHITECTURE.md): prepare each seat in seat order (each reserves
//! itself for this txn, in memory) -> one atomic store write (booking, seat
//! states, key record) -> wait for the group flush -> commit the seats ->
//! reply. A crash before the write leaves nothing; after it, everything.

use super::serial::{self, Done, SerialActor};
use crate::domain::{
    Booking, BookingId, BookingStatus, Claim, Holder, SeatLabel, SeatState, ShowId, TxnId, UserId,
};
use crate::engine::{not_found, now_ms, Engine, Request};
use crate::store::Mutation;
use crate::wire::{self, Reply};
use futures_util::future::BoxFuture;
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

/// The booking actor: a serial actor owning one booking.
pub type BookingActor = SerialActor<Bookings>;
pub type BookingMsg = serial::OpMsg<BookingOp>;

pub struct Bookings;

impl serial::Owner for Bookings {
    const KIND: &'static str = "booking";
    type Id = BookingId;
    type Record = Booking;
    type Op = BookingOp;

    fn record_id(booking: &Booking) -> BookingId {
        booking.id
    }

    fn request(op: &BookingOp) -> Option<&Request> {
        match op {
            BookingOp::Create { req, .. } => Some(req),
            BookingOp::Cancel { .. } => None,
        }
    }

    fn run(
        engine: Engine,
        id: BookingId,
        booking: Option<Booking>,
        op: BookingOp,
    ) -> BoxFuture<'static, Done<Booking>> {
        match op {
            BookingOp::Create { req, show, seats } => {
                // A booking with this (user, key) id already exists while
                // the key has no record: the key expired and is reused, so
                // this new request books under a new id.
                let id = if booking.is_some() {
                    BookingId(Uuid::new_v4())
                } else {
                    id
                };
                Box::pin(create(engine, id, req, show, seats))
            }
            BookingOp::Cancel { user } => Box::pin(cancel(engine, booking, user)),
        }
    }

    fn registry(engine: &Engine) -> &crate::actors::registry::Registry<BookingId, BookingActor> {
        &engine.bookings
    }
}

async fn create(
    engine: Engine,
    id: BookingId,
    req: Request,
    show: Option<ShowId>,
    labels: Vec<SeatLabel>,
) -> Done<Booking> {
    let finish = |booking, reply| Done {
        record: booking,
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

async fn cancel(engine: Engine, booking: Option<Booking>, user: UserId) -> Done<Booking> {
    let done = |booking, reply| Done {
        record: booking,
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
