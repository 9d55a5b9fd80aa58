//! `POST /v1/carts`: a new, empty cart.
//!
//! Runs in the cart's actor: its id is UUIDv5(user, key), so a retried
//! create reaches the same actor and replays.

use super::{cart_reply, Ctx};
use crate::actors::serial::Done;
use crate::domain::{Cart, CartId, KeyedRequest};
use crate::idempotency::Outcome;
use crate::runtime::clock::now_ms;
use crate::runtime::Op;
use crate::store::Mutation;
use uuid::Uuid;

pub async fn run(core: Ctx, id: CartId, existing: Option<Cart>, req: KeyedRequest) -> Done<Cart> {
    // The id comes from (user, key). If a cart already has it while the
    // key has no record, the key expired and is being reused: this is a new
    // request and gets a new cart. Its retries still reach this actor and
    // replay from the key record.
    let id = if existing.is_some() {
        CartId(Uuid::new_v4())
    } else {
        id
    };
    let cart = Cart::new(id, req.user, now_ms());
    let outcome = Outcome::effect(cart_reply(201, &cart), vec![Mutation::Cart(cart.clone())]);
    let settled = core.keys.commit(Op::Cart, Some(&req), outcome).await;
    Done {
        record: settled.is_applied().then_some(cart),
        reply: settled.into_reply(),
    }
}
