//! House seats (v1.2): `POST /v1/shows/{id}/blocks` keeps seats back for
//! the box office, all or none; `DELETE /v1/shows/{id}/blocks/{seat}` gives
//! one back to sale.
//!
//! A block runs in the actor of its key (UUIDv5(admin, key), one-shot like
//! a booking), so a retry meets it there or its stored answer. It is a
//! seat change like any other: every seat is prepared with `Claim::Block`
//! in seat order, so a block racing bookings for the same seat is decided
//! by that seat's actor, one claim at a time: exactly one of them wins. A
//! held or booked seat refuses: 409 `seat-unavailable` naming it, stored,
//! nothing blocked. Already blocked seats change nothing. An unblock
//! carries no key (a repeat changes nothing) and runs where it is asked,
//! through the same protocol.

use super::Ctx;
use crate::actors::serial::Done;
use crate::domain::{Claim, KeyedRequest, SeatLabel, ShowId};
use crate::idempotency::Outcome;
use crate::replies::{self, invalid_request, not_found};
use crate::runtime::Op;
use crate::shows::{Prepared, ShowUnit};
use crate::wire::{self, Reply};
use std::sync::Arc;

/// Longest reason a block may give, in characters.
pub const MAX_BLOCK_REASON_CHARS: usize = 200;

/// A block as the admin asked for it (already checked for shape: seats
/// parsed, none twice, the reason's length).
#[derive(Clone, Debug)]
pub struct BlockAsk {
    pub show: Option<ShowId>,
    pub seats: Vec<SeatLabel>,
    pub reason: Option<String>,
}

pub async fn run(core: Ctx, req: KeyedRequest, ask: BlockAsk) -> Done<()> {
    let unit = match core.show_unit(ask.show).await {
        Ok(Some(unit)) => unit,
        Ok(None) => return Done::answer(core.answer(Op::Block, &req, not_found("show")).await),
        Err(reply) => return Done::answer(reply),
    };
    let seats = match seats_of(&unit, &ask.seats) {
        Ok(seats) => seats,
        // Not stored: a 400 is the request's fault, and a fixed retry
        // with the same key runs afresh.
        Err(reply) => return Done::answer(reply),
    };
    let txn = match unit.prepare(Op::Block, &seats, Claim::Block).await {
        Ok(Prepared::Granted(txn)) => txn,
        Ok(Prepared::Refused(refused)) => {
            let names: Vec<String> = refused.iter().map(|(l, _)| l.to_string()).collect();
            let reply = replies::seat_unavailable(&names);
            return Done::answer(core.answer_on(&unit, Op::Block, Some(&req), reply).await);
        }
        Err(error) => return Done::answer(error.reply()),
    };
    let reply = wire::blocked(unit.id(), &ask.seats, ask.reason.as_deref());
    let settled = txn
        .commit(&core.keys, Some(&req), Outcome::effect(reply, Vec::new()))
        .await;
    Done::answer(settled.into_reply())
}

/// `DELETE /v1/shows/{id}/blocks/{seat}`: 204 once the seat is available
/// again (or was not blocked), durable before the answer.
pub async fn unblock(core: &Ctx, show: ShowId, seat: SeatLabel) -> Reply {
    let unit = match core.writable(show).await {
        Ok(Some(unit)) => unit,
        Ok(None) => return not_found("show"),
        Err(reply) => return reply,
    };
    let seats = match seats_of(&unit, std::slice::from_ref(&seat)) {
        Ok(seats) => seats,
        Err(reply) => return reply,
    };
    let txn = match unit.prepare(Op::Unblock, &seats, Claim::Unblock).await {
        Ok(Prepared::Granted(txn)) => txn,
        // An unblock is never refused: it waits out a reservation and is
        // a no-op on a seat that is not blocked.
        Ok(Prepared::Refused(_)) => return replies::overloaded(),
        Err(error) => return error.reply(),
    };
    let outcome = Outcome::effect(Reply::empty(204), Vec::new());
    txn.commit(&core.keys, None, outcome).await.into_reply()
}

/// The seats' indexes in the show, or 400 naming the seats it lacks.
fn seats_of(unit: &Arc<ShowUnit>, labels: &[SeatLabel]) -> Result<Vec<(u32, SeatLabel)>, Reply> {
    let layout = &unit.show().layout;
    let mut seats = Vec::with_capacity(labels.len());
    let mut unknown = Vec::new();
    for label in labels {
        match layout.index_of(label) {
            Some(index) => seats.push((index, label.clone())),
            None => unknown.push(label.to_string()),
        }
    }
    if unknown.is_empty() {
        Ok(seats)
    } else {
        let why = format!("this show has no seat {}", unknown.join(", "));
        Err(invalid_request(&why))
    }
}
