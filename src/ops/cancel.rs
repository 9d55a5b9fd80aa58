//! `DELETE /v1/bookings/{id}`: the booking turns cancelled and its seats
//! become available; a repeat answers 204 and changes nothing. Its owner
//! cancels it, or the box office on its behalf (v1.2, `cancelled_by`);
//! either way it runs here, in the booking's actor, as the owner.
//!
//! Runs in the booking's actor. Each seat is asked to give itself back
//! (`Claim::Release`): only seats this booking still holds change, so a
//! cancel never writes another booking's seat.

use super::Ctx;
use crate::actors::serial::Done;
use crate::domain::{Booking, Canceller, Claim, Holder, UserId};
use crate::idempotency::Outcome;
use crate::replies::{self, not_found, EngineError};
use crate::runtime::Op;
use crate::shows::Prepared;
use crate::store::{Mutation, StoreError};
use crate::wire::Reply;

pub async fn run(
    core: Ctx,
    booking: Option<Booking>,
    user: UserId,
    by: Canceller,
) -> Done<Booking> {
    let Some(mut booking) = booking.filter(|b| b.owner == user) else {
        return Done::answer(not_found("booking"));
    };
    let Some(seats) = booking.plan_cancel().map(<[_]>::to_vec) else {
        return Done::answer(Reply::empty(204));
    };
    let unit = match core.writable(booking.show).await {
        Ok(unit) => unit,
        Err(reply) => return Done::answer(reply),
    };
    let Some(unit) = unit else {
        let missing = StoreError::Corrupt(format!("booking {} names no show", booking.id));
        return Done::answer(EngineError::from(missing).reply());
    };
    let claim = Claim::Release {
        holder: Holder::Booking(booking.id),
    };
    let txn = match unit.prepare(Op::Cancel, &seats, claim).await {
        Ok(Prepared::Granted(txn)) => txn,
        // A release is never refused (it waits out a reservation, and is a
        // no-op where the booking no longer holds the seat).
        Ok(Prepared::Refused(_)) => return Done::answer(replies::overloaded()),
        Err(error) => return Done::answer(error.reply()),
    };
    let confirmed = booking.clone();
    booking.cancel(by);
    let outcome = Outcome::effect(Reply::empty(204), vec![Mutation::Booking(booking.clone())]);
    let settled = txn.commit(&core.keys, None, outcome).await;
    if settled.is_applied() {
        unit.refunded(&confirmed);
    }
    Done {
        record: settled.is_applied().then_some(booking),
        reply: settled.into_reply(),
    }
}
