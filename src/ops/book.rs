//! `POST /v1/bookings`: a one-shot booking, all its seats or none.
//!
//! Runs in the actor of its key (UUIDv5(user, key)): a retry meets the
//! request running there, or its stored answer. The booking itself gets a
//! fresh random id, so creating one reads nothing but its key (issue 18:
//! with the key's id, a booking made under the same key before the key
//! expired had to be looked for first, a store miss on every booking).
//! Unknown show or seat: 404, stored with the key; a show whose sales have
//! ended: 409 `sales-closed`, stored. Then every seat is
//! prepared in seat order; any refusal: 409 `seat-unavailable` naming
//! them, stored, nothing booked. Otherwise one atomic write (seats booked,
//! the booking, the key record), durable, then the seats commit and the
//! client hears 201.
//!
//! Best available (v1.1): the block is chosen from the public map
//! (`domain::best`), then prepared like listed seats; a seat taken
//! meanwhile is marked taken and the block chosen again, up to 64 times. No
//! block: 409 `no-seats-together`, stored. Still losing every race after
//! that: 503 (nothing stored), never a 409 that would claim no block was
//! free.

use super::{Core, Ctx};
use crate::actors::serial::Done;
use crate::domain::best::{best_block, Wanted};
use crate::domain::{
    Booking, BookingId, BookingStatus, Claim, KeyedRequest, SeatLabel, SeatStatus, ShowId,
};
use crate::idempotency::{Outcome, Settled};
use crate::replies::{self, not_found};
use crate::runtime::clock::now_ms;
use crate::runtime::Op;
use crate::shows::{Prepared, SeatTxn, ShowUnit};
use crate::store::Mutation;
use crate::wire::{self, Reply};
use std::collections::HashSet;
use std::sync::Arc;
use uuid::Uuid;

/// The seats a booking asks for.
#[derive(Clone, Debug)]
pub enum Choice {
    Listed(Vec<SeatLabel>),
    Best(BestAsk),
}

/// `best_available` as asked (the category by its id).
#[derive(Clone, Debug)]
pub struct BestAsk {
    pub count: u32,
    pub category: Option<String>,
    pub wheelchair: bool,
}

/// Choices of a best-available block that may be lost to racing requests
/// before the request gives up with 503.
const BEST_TRIES: usize = 64;

pub async fn run(
    core: Ctx,
    req: KeyedRequest,
    show: Option<ShowId>,
    choice: Choice,
) -> Done<Booking> {
    // Time-ordered (UUIDv7): the store's index of bookings by id then
    // grows at its end instead of at a random place (on sled, half the
    // cost of a batched booking commit in `cargo bench --bench engine`).
    // Its first 48 bits are the creation time, which the booking shows
    // anyway; the rest are random, so ids stay unguessable.
    let id = BookingId(Uuid::now_v7());
    let unit = match core.show_unit(show).await {
        Ok(unit) => unit,
        Err(reply) => return Done::answer(reply),
    };
    let Some(unit) = unit else {
        return Done::answer(core.answer(Op::Booking, &req, not_found("show")).await);
    };
    let answer =
        |reply| async { Done::answer(core.answer_on(&unit, Op::Booking, Some(&req), reply).await) };
    if unit.show().sales_closed(now_ms()) {
        return answer(replies::sales_closed(unit.show())).await;
    }
    let claim = Claim::Book {
        booking: id,
        via_cart: None,
    };
    let labels = match choice {
        Choice::Listed(labels) => labels,
        Choice::Best(ask) => {
            let (seats, txn) = match prepare_best(
                &unit,
                &ask,
                Op::Booking,
                claim,
                &mut |_| Ok(()),
                &mut |_| {},
            )
            .await
            {
                Best::Granted(seats, txn) => (seats, txn),
                Best::Stored(reply) => return answer(reply).await,
                Best::NotStored(reply) => return Done::answer(reply),
            };
            return book_prepared(&core, id, &req, &unit, seats, txn).await;
        }
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
    let txn = match unit.prepare(Op::Booking, &seats, claim).await {
        Ok(Prepared::Granted(txn)) => txn,
        Ok(Prepared::Refused(refused)) => {
            crate::metrics::CONFLICTS
                .with_label_values(&["seat-unavailable"])
                .inc();
            let names: Vec<String> = refused.iter().map(|(l, _)| l.to_string()).collect();
            return answer(replies::seat_unavailable(&names)).await;
        }
        Err(error) => return Done::answer(error.reply()),
    };
    book_prepared(&core, id, &req, &unit, seats, txn).await
}

/// What choosing a best-available block came to.
pub(super) enum Best {
    /// These seats, prepared.
    Granted(Vec<(u32, SeatLabel)>, SeatTxn),
    /// An answer stored with the key (409 `no-seats-together`).
    Stored(Reply),
    /// An answer not stored (400 unknown category, 503 lost every race,
    /// a failure).
    NotStored(Reply),
}

/// Chooses the best block for `ask` from the show's public map and
/// prepares it with `claim`; a seat lost to a racing request is taken as
/// taken and the block chosen again, up to `BEST_TRIES` times. `reserve`
/// runs on each chosen block before it is prepared (a cart's hold quota;
/// its refusal is stored) and `unreserve` when that block is lost.
pub(super) async fn prepare_best(
    unit: &Arc<ShowUnit>,
    ask: &BestAsk,
    op: Op,
    claim: Claim,
    reserve: &mut (dyn FnMut(&[u32]) -> Result<(), Reply> + Send),
    unreserve: &mut (dyn FnMut(&[u32]) + Send),
) -> Best {
    let show = unit.show();
    let category = match &ask.category {
        None => None,
        Some(id) => match show.offer.categories().iter().position(|c| &c.id == id) {
            Some(index) => Some(index),
            None => {
                let why = format!("this show has no category {id:?}");
                return Best::NotStored(replies::invalid_request(&why));
            }
        },
    };
    let wanted = Wanted {
        count: ask.count,
        category,
        wheelchair: ask.wheelchair,
    };
    let mut lost: HashSet<u32> = HashSet::new();
    for _ in 0..BEST_TRIES {
        let free =
            |seat: u32| unit.map().status(seat) == SeatStatus::Available && !lost.contains(&seat);
        let Some(block) = best_block(show, free, &wanted) else {
            crate::metrics::CONFLICTS
                .with_label_values(&["no-seats-together"])
                .inc();
            return Best::Stored(replies::no_seats_together(ask.count));
        };
        let seats: Vec<(u32, SeatLabel)> = block
            .iter()
            .map(|&seat| (seat, show.layout.label_of(seat)))
            .collect();
        if let Err(refusal) = reserve(&block) {
            return Best::Stored(refusal);
        }
        let prepared = unit.prepare(op, &seats, claim).await;
        if !matches!(prepared, Ok(Prepared::Granted(_))) {
            unreserve(&block);
        }
        match prepared {
            Ok(Prepared::Granted(txn)) => return Best::Granted(seats, txn),
            Ok(Prepared::Refused(refused)) => {
                for (label, _) in refused {
                    if let Some(seat) = show.layout.index_of(&label) {
                        lost.insert(seat);
                    }
                }
            }
            Err(error) => return Best::NotStored(error.reply()),
        }
    }
    Best::NotStored(replies::best_seats_taken())
}

/// A booking of prepared seats: its record, written with the seats.
async fn book_prepared(
    core: &Ctx,
    id: BookingId,
    req: &KeyedRequest,
    unit: &Arc<ShowUnit>,
    seats: Vec<(u32, SeatLabel)>,
    txn: SeatTxn,
) -> Done<Booking> {
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
        cancelled_by: None,
    };
    let settled = confirm(core, txn, req, &booking, Vec::new()).await;
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
    let reply = wire::created_booking(booking);
    let mut mutations = vec![Mutation::Booking(booking.clone())];
    mutations.extend(also);
    // The answer is kept as a reference to the booking's record (issue 18).
    let outcome = Outcome::effect(reply, mutations)
        .stored_as(crate::domain::StoredBody::CreatedBooking(booking.id));
    let unit = txn.unit().clone();
    let settled = txn.commit(&core.keys, Some(req), outcome).await;
    if settled.is_applied() {
        unit.sold(booking);
        crate::metrics::BOOKINGS.inc();
        crate::metrics::SEATS_BOOKED.inc_by(booking.seats.len() as u64);
    }
    settled
}
