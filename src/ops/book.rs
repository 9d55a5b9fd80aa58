//! `POST /v1/bookings`: a one-shot booking, all its seats or none.
//!
//! Runs in the booking's actor (id = UUIDv5(user, key)). Unknown show or
//! seat: 404, stored with the key. Then every seat is prepared in seat
//! order; any refusal: 409 `seat-unavailable` naming them, stored, nothing
//! booked. Otherwise one atomic write (seats booked, the booking, the key
//! record), durable, then the seats commit and the client hears 201.

use super::{Core, Ctx};
use crate::actors::serial::Done;
use crate::domain::{Booking, BookingId, BookingStatus, Claim, KeyedRequest, SeatLabel, ShowId};
use crate::idempotency::{Outcome, Settled};
use crate::replies::{self, not_found};
use crate::runtime::clock::now_ms;
use crate::runtime::Op;
use crate::shows::{Prepared, SeatTxn};
use crate::store::Mutation;
use crate::wire::{self, Reply};
use uuid::Uuid;

pub async fn run(
    core: Ctx,
    id: BookingId,
    existing: Option<Booking>,
    req: KeyedRequest,
    show: Option<ShowId>,
    labels: Vec<SeatLabel>,
) -> Done<Booking> {
    // A booking with this (user, key) id already exists while the key has
    // no record: the key expired and is reused, so this new request books
    // under a new id. Its retries still reach this actor and replay.
    let id = if existing.is_some() {
        BookingId(Uuid::new_v4())
    } else {
        id
    };
    let answer = |reply| async { Done::answer(core.answer(Op::Booking, &req, reply).await) };
    let unit = match core.show_unit(show).await {
        Ok(unit) => unit,
        Err(reply) => return Done::answer(reply),
    };
    let Some(unit) = unit else {
        return answer(not_found("show")).await;
    };
    let mut seats = Vec::with_capacity(labels.len());
    for label in labels {
        match unit.show().layout.index_of(&label) {
            Some(index) => seats.push((index, label)),
            None => return answer(not_found(&format!("seat {label}"))).await,
        }
    }
    let indexes: Vec<u32> = seats.iter().map(|(index, _)| *index).collect();
    let lone = unit.show().lone_companions(&indexes);
    if !lone.is_empty() {
        return answer(replies::seat_restricted(unit.show(), &lone)).await;
    }
    let claim = Claim::Book {
        booking: id,
        via_cart: None,
    };
    let txn = match unit.prepare(Op::Booking, &seats, claim).await {
        Ok(Prepared::Granted(txn)) => txn,
        Ok(Prepared::Refused(refused)) => {
            crate::metrics::CONFLICTS
                .with_label_values(&["seat-unavailable"])
                .inc();
            let names: Vec<String> = refused.iter().map(|(l, _)| l.to_string()).collect();
            return answer(wire::seat_unavailable(&names)).await;
        }
        Err(error) => return Done::answer(error.reply()),
    };
    let booking = Booking {
        id,
        owner: req.user,
        show: unit.id(),
        status: BookingStatus::Confirmed,
        created_at_ms: now_ms(),
        cart: None,
        prices_cents: seats
            .iter()
            .map(|(index, _)| unit.show().price_cents(*index))
            .collect(),
        currency: unit.show().offer.currency().to_string(),
        seats,
    };
    let settled = confirm(&core, txn, &req, &booking, Vec::new()).await;
    Done {
        record: settled.is_applied().then_some(booking),
        reply: settled.into_reply(),
    }
}

/// Writes a confirmed booking through the transaction of its seats, with
/// `also` (the other records the request changes), and counts it once
/// applied. A one-shot booking and a checkout both end here.
pub(super) async fn confirm(
    core: &Core,
    txn: SeatTxn,
    req: &KeyedRequest,
    booking: &Booking,
    also: Vec<Mutation>,
) -> Settled {
    let reply = Reply::json(201, &wire::booking_out(booking));
    let mut mutations = vec![Mutation::Booking(booking.clone())];
    mutations.extend(also);
    let settled = txn
        .commit(&core.keys, Some(req), Outcome::effect(reply, mutations))
        .await;
    if settled.is_applied() {
        crate::metrics::BOOKINGS.inc();
        crate::metrics::SEATS_BOOKED.inc_by(booking.seats.len() as u64);
    }
    settled
}
