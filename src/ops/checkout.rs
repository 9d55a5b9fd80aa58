//! `POST /v1/carts/{id}/checkout`: book every seat in the cart, all or
//! nothing.
//!
//! Runs in the cart's actor. The cart decides first: not the caller's
//! (404), checked out (409 `cart-closed`), empty (400, not stored), a
//! lapsed hold (409 `hold-expired`, stored), sales ended (409
//! `sales-closed`, stored). Then every seat is prepared
//! with `Claim::Book { via_cart }`, granted only while this cart's hold is
//! live; any refusal is 409 `hold-expired`, nothing booked. Otherwise the
//! booking, the seats booked, the cart checked out and the key record are
//! one atomic write (`book::confirm`).

use super::{book, owned, Ctx};
use crate::actors::serial::Done;
use crate::domain::{
    Booking, BookingId, BookingStatus, Cart, CartError, CartId, Claim, KeyedRequest, SeatLabel,
};
use crate::replies::{self, not_found, EngineError};
use crate::runtime::clock::now_ms;
use crate::runtime::Op;
use crate::shows::Prepared;
use crate::store::{Mutation, StoreError};
use uuid::Uuid;

/// Namespace of checkout booking ids.
const CHECKOUT_NS: Uuid = Uuid::from_u128(0x6b0f_1c3e_9a57_4d2b_8e61_2f0a_c4d9_7e04);

/// The booking id a checkout of `cart` creates (one checkout per cart).
pub fn booking_id(cart: CartId) -> BookingId {
    BookingId(Uuid::new_v5(&CHECKOUT_NS, cart.0.as_bytes()))
}

pub async fn run(core: Ctx, cart: Option<Cart>, req: KeyedRequest) -> Done<Cart> {
    let hold_expired = || replies::cart_error(CartError::HoldExpired);
    let Some(mut cart) = owned(cart, req.user) else {
        return Done::answer(core.answer(Op::Checkout, &req, not_found("cart")).await);
    };
    // A cart with items is bound to their show: what it answers is decided
    // on state the show's owner keeps, so it is stored under that lease.
    let unit = match cart.show() {
        Some(show) => match core.writable(show).await {
            Ok(Some(unit)) => Some(unit),
            Ok(None) => {
                let missing = StoreError::Corrupt(format!("cart {} names no show", cart.id));
                return Done::answer(EngineError::from(missing).reply());
            }
            Err(reply) => return Done::answer(reply),
        },
        None => None,
    };
    let answer = |reply| async {
        Done::answer(match &unit {
            Some(unit) => core.answer_on(unit, Op::Checkout, Some(&req), reply).await,
            None => core.answer(Op::Checkout, &req, reply).await,
        })
    };
    let now = now_ms();
    let items = match cart.plan_checkout(now) {
        Ok(items) => items.to_vec(),
        Err(CartError::HoldExpired) => return answer(hold_expired()).await,
        Err(error) => return answer(replies::cart_error(error)).await,
    };
    let unit = unit
        .clone()
        .expect("a cart with items is bound to their show");
    if unit.show().sales_closed(now) {
        return answer(replies::sales_closed(unit.show())).await;
    }
    let show = unit.id();
    // A wheelchair seat released after its companion was held leaves the
    // companion alone: not sold.
    let indexes: Vec<u32> = items.iter().map(|item| item.seat_index).collect();
    let lone = unit.show().lone_companions(&indexes);
    if !lone.is_empty() {
        return answer(replies::seat_restricted(unit.show(), &lone)).await;
    }
    let booking_id = booking_id(cart.id);
    let seats: Vec<(u32, SeatLabel)> = items
        .iter()
        .map(|item| (item.seat_index, item.seat.clone()))
        .collect();
    let claim = Claim::Book {
        booking: booking_id,
        via_cart: Some(cart.id),
    };
    let txn = match unit.prepare(Op::Checkout, &seats, claim).await {
        Ok(Prepared::Granted(txn)) => txn,
        Ok(Prepared::Refused(_)) => return answer(hold_expired()).await,
        Err(error) => return Done::answer(error.reply()),
    };
    let booking = Booking {
        id: booking_id,
        owner: req.user,
        show,
        seats,
        status: BookingStatus::Confirmed,
        created_at_ms: now,
        cart: Some(cart.id),
        // The prices the seats were held at.
        prices_cents: items.iter().map(|item| item.price_cents).collect(),
        currency: cart
            .currency
            .clone()
            .unwrap_or_else(|| unit.show().offer.currency().to_string()),
        cancelled_by: None,
    };
    cart.check_out(booking_id);
    let also = vec![Mutation::Cart(cart.clone())];
    let settled = book::confirm(&core, txn, &req, &booking, also).await;
    if settled.is_applied() {
        unit.holds().release_cart(req.user, cart.id);
    }
    Done {
        record: settled.is_applied().then_some(cart),
        reply: settled.into_reply(),
    }
}
