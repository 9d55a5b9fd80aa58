//! `POST /v1/carts/{id}/items`: hold a seat in a cart until now + hold TTL.
//!
//! Runs in the cart's actor. Outcomes decided without touching a seat (no
//! such cart, show or seat; a closed cart; a seat this cart already holds;
//! too many holds) are stored with the key. Otherwise the seat is prepared
//! (`Claim::Hold`), and the seat held and the cart's new item are one
//! atomic write with the key record.

use super::book::{self, Best, BestAsk};
use super::{cart_reply, owned, Core, Ctx};
use crate::actors::serial::Done;
use crate::domain::{AddPlan, Cart, CartItem, Claim, KeyedRequest, SeatLabel, ShowId, UserId};
use crate::idempotency::Outcome;
use crate::replies::{self, not_found};
use crate::runtime::clock::now_ms;
use crate::runtime::hold_quota::Hold;
use crate::runtime::Op;
use crate::shows::{Prepared, SeatTxn, ShowUnit};
use crate::store::Mutation;
use crate::wire::Reply;
use std::sync::Arc;

pub async fn run(
    core: Ctx,
    cart: Option<Cart>,
    req: KeyedRequest,
    show: Option<ShowId>,
    seat: SeatLabel,
) -> Done<Cart> {
    let (cart, unit) = match cart_and_show(&core, cart, &req, show).await {
        Ok(found) => found,
        Err(done) => return done,
    };
    let answer =
        |reply| async { Done::answer(core.answer_on(&unit, Op::Hold, Some(&req), reply).await) };
    let Some(index) = unit.show().layout.index_of(&seat) else {
        return answer(not_found(&format!("seat {seat}"))).await;
    };
    let show = unit.id();
    let now = now_ms();
    let until_ms = match cart.plan_add(show, &seat, now, core.config.hold_ttl_ms) {
        Ok(AddPlan::AlreadyHeld) => return answer(cart_reply(201, &cart)).await,
        Ok(AddPlan::Hold { until_ms }) => until_ms,
        Err(error) => return answer(replies::cart_error(error)).await,
    };
    // A companion seat needs a wheelchair seat of its row held here first.
    let mut held: Vec<u32> = cart
        .items
        .iter()
        .filter(|item| item.is_live(now))
        .map(|item| item.seat_index)
        .collect();
    held.push(index);
    if unit.show().lone_companions(&held).contains(&index) {
        return answer(replies::seat_restricted(unit.show(), &[index])).await;
    }
    let hold = Hold {
        cart: cart.id,
        seat: index,
        until_ms,
    };
    if let Err(refusal) = count_hold(&core, &unit, req.user, hold, now) {
        return answer(refusal).await;
    }
    let claim = Claim::Hold {
        cart: cart.id,
        until_ms,
    };
    let txn = match unit
        .prepare(Op::Hold, &[(index, seat.clone())], claim)
        .await
    {
        Ok(Prepared::Granted(txn)) => txn,
        Ok(Prepared::Refused(_)) => {
            unit.holds().release(req.user, cart.id, index);
            crate::metrics::CONFLICTS
                .with_label_values(&["seat-unavailable"])
                .inc();
            return answer(replies::seat_unavailable(&[seat.to_string()])).await;
        }
        Err(error) => {
            unit.holds().release(req.user, cart.id, index);
            return Done::answer(error.reply());
        }
    };
    commit_holds(&core, &req, &unit, cart, &[(index, seat)], until_ms, txn).await
}

/// Adds the held seats to the cart (at their prices) and writes the cart
/// with the seats and the key record; if that fails, the seats' places in
/// the hold quota are given back. Both holds end here.
async fn commit_holds(
    core: &Ctx,
    req: &KeyedRequest,
    unit: &ShowUnit,
    mut cart: Cart,
    seats: &[(u32, SeatLabel)],
    until_ms: u64,
    txn: SeatTxn,
) -> Done<Cart> {
    for (index, seat) in seats {
        cart.add(CartItem {
            show: unit.id(),
            seat: seat.clone(),
            seat_index: *index,
            until_ms,
            price_cents: unit.show().price_cents(*index),
        });
    }
    if cart.currency.is_none() {
        cart.currency = Some(unit.show().offer.currency().to_string());
    }
    let outcome = Outcome::effect(cart_reply(201, &cart), vec![Mutation::Cart(cart.clone())]);
    let settled = txn.commit(&core.keys, Some(req), outcome).await;
    if !settled.is_applied() {
        for (index, _) in seats {
            unit.holds().release(req.user, cart.id, *index);
        }
    }
    Done {
        record: settled.is_applied().then_some(cart),
        reply: settled.into_reply(),
    }
}

/// Counts the hold among the user's live holds in this show, or refuses
/// it (409 `too-many-holds`) when they are at `max_holds_per_user`.
fn count_hold(
    core: &Core,
    unit: &ShowUnit,
    user: UserId,
    hold: Hold,
    now_ms: u64,
) -> Result<(), Reply> {
    let max_holds = core.config.max_holds_per_user;
    if unit.holds().try_reserve(user, hold, now_ms, max_holds) {
        return Ok(());
    }
    crate::metrics::CONFLICTS
        .with_label_values(&["too-many-holds"])
        .inc();
    Err(replies::too_many_holds(max_holds))
}

/// The caller's cart and the show asked for, or the answer: 404 for
/// either, 409 `sales-closed` for a show whose sales have ended (stored
/// with the key), or a failure to find the show (not).
async fn cart_and_show(
    core: &Ctx,
    cart: Option<Cart>,
    req: &KeyedRequest,
    show: Option<ShowId>,
) -> Result<(Cart, Arc<ShowUnit>), Done<Cart>> {
    let missing =
        |what| async move { Done::answer(core.answer(Op::Hold, req, not_found(what)).await) };
    let Some(cart) = owned(cart, req.user) else {
        return Err(missing("cart").await);
    };
    match core.show_unit(show).await {
        // After the show's sales end nothing more is held (stored under
        // the lease: decided on the show's own record).
        Ok(Some(unit)) if unit.show().sales_closed(now_ms()) => {
            let closed = replies::sales_closed(unit.show());
            Err(Done::answer(
                core.answer_on(&unit, Op::Hold, Some(req), closed).await,
            ))
        }
        Ok(Some(unit)) => Ok((cart, unit)),
        Ok(None) => Err(missing("show").await),
        Err(reply) => Err(Done::answer(reply)),
    }
}

/// `POST /v1/carts/{id}/items` with `best_available`: the best block of N
/// seats held in the cart, all or none, in one write with the key record.
/// Each chosen block is counted against the hold quota before its seats
/// are asked (`book::prepare_best`).
pub async fn run_best(
    core: Ctx,
    cart: Option<Cart>,
    req: KeyedRequest,
    show: Option<ShowId>,
    ask: BestAsk,
) -> Done<Cart> {
    let (cart, unit) = match cart_and_show(&core, cart, &req, show).await {
        Ok(found) => found,
        Err(done) => return done,
    };
    let answer =
        |reply| async { Done::answer(core.answer_on(&unit, Op::Hold, Some(&req), reply).await) };
    let show = unit.id();
    if let Err(error) = cart.plan_add_block(show) {
        return answer(replies::cart_error(error)).await;
    }
    let now = now_ms();
    let until_ms = now + core.config.hold_ttl_ms;
    let (user, cart_id) = (req.user, cart.id);
    let claim = Claim::Hold {
        cart: cart_id,
        until_ms,
    };
    let quota = unit.clone();
    let mut reserve = |block: &[u32]| {
        for (n, &seat) in block.iter().enumerate() {
            let hold = Hold {
                cart: cart_id,
                seat,
                until_ms,
            };
            if let Err(refusal) = count_hold(&core, &quota, user, hold, now) {
                for &taken in &block[..n] {
                    quota.holds().release(user, cart_id, taken);
                }
                return Err(refusal);
            }
        }
        Ok(())
    };
    let releasing = unit.clone();
    let mut unreserve = |block: &[u32]| {
        for &seat in block {
            releasing.holds().release(user, cart_id, seat);
        }
    };
    let prepared =
        book::prepare_best(&unit, &ask, Op::Hold, claim, &mut reserve, &mut unreserve).await;
    let (seats, txn) = match prepared {
        Best::Granted(seats, txn) => (seats, txn),
        Best::Stored(reply) => return answer(reply).await,
        Best::NotStored(reply) => return Done::answer(reply),
    };
    commit_holds(&core, &req, &unit, cart, &seats, until_ms, txn).await
}
