//! `DELETE /v1/carts/{id}/items/{show_id}/{seat_id}`: give a held seat
//! back. A seat no longer in the cart answers 204 (a repeated release is
//! not an error). Not keyed: releasing twice is the same as once.
//!
//! Runs in the cart's actor. The seat is asked to give itself back
//! (`Claim::Release`, a no-op if this cart no longer holds it, e.g. after
//! its hold lapsed and another cart took it); the cart without the item and
//! the seat available are one atomic write.

use super::{owned, Ctx};
use crate::actors::serial::Done;
use crate::domain::{Cart, CartError, Claim, Holder, SeatLabel, ShowId, UserId};
use crate::idempotency::Outcome;
use crate::replies::{self, not_found};
use crate::runtime::Op;
use crate::shows::Prepared;
use crate::store::Mutation;
use crate::wire::Reply;

pub async fn run(
    core: Ctx,
    cart: Option<Cart>,
    user: UserId,
    show: Option<ShowId>,
    seat: Option<SeatLabel>,
) -> Done<Cart> {
    let Some(mut cart) = owned(cart, user) else {
        return Done::answer(not_found("cart"));
    };
    let unit = match core.show_unit(show).await {
        Ok(unit) => unit,
        Err(reply) => return Done::answer(reply),
    };
    let Some(unit) = unit else {
        return Done::answer(not_found("show"));
    };
    let Some((seat, index)) = seat.and_then(|s| unit.show().layout.index_of(&s).map(|i| (s, i)))
    else {
        return Done::answer(not_found("seat"));
    };
    let show = unit.id();
    match cart.plan_remove(show, &seat) {
        Ok(_) => {}
        // Already gone (a repeated DELETE): nothing to do, same answer,
        // once the fence says this node still serves the show.
        Err(CartError::NoSuchItem) => {
            let reply = Reply::empty(204);
            return Done::answer(core.answer_on(&unit, Op::Release, None, reply).await);
        }
        Err(error) => return Done::answer(replies::cart_error(error)),
    }
    let claim = Claim::Release {
        holder: Holder::Cart(cart.id),
    };
    let txn = match unit
        .prepare(Op::Release, &[(index, seat.clone())], claim)
        .await
    {
        Ok(Prepared::Granted(txn)) => txn,
        // A release is never refused: it waits out a reservation.
        Ok(Prepared::Refused(_)) => return Done::answer(replies::overloaded()),
        Err(error) => return Done::answer(error.reply()),
    };
    cart.remove(show, &seat);
    let outcome = Outcome::effect(Reply::empty(204), vec![Mutation::Cart(cart.clone())]);
    let settled = txn.commit(&core.keys, None, outcome).await;
    if settled.is_applied() {
        unit.holds().release(user, cart.id, index);
    }
    Done {
        record: settled.is_applied().then_some(cart),
        reply: settled.into_reply(),
    }
}
