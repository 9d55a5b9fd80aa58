//! The operations, one file each (in the shape of mini-redis's `cmd/`):
//! what each request does, step by step, against the lower core.
//!
//! Each runs inside the actor that owns what it changes (`owners` plugs
//! them into the serial actor shell), except session creation and hold
//! expiry, which own nothing keyed. Every change of seats goes through the
//! multi-seat protocol (`shows::SeatTxn`); every write, with or without
//! seats, goes through `idempotency::Keys::commit`, so an effect and its
//! key record are one atomic write.

pub mod block;
pub mod book;
pub mod cancel;
pub mod checkout;
pub mod create_cart;
pub mod create_show;
pub mod expire;
pub mod hold;
pub mod owners;
pub mod release;
pub mod session;

use crate::cluster::Membership;
use crate::domain::{Cart, KeyedRequest, ShowId, UserId};
use crate::idempotency::{Keys, Outcome};
use crate::replies::{self, EngineError};
use crate::runtime::clock::now_ms;
use crate::runtime::{EngineConfig, Op};
use crate::shows::{ShowUnit, Shows};
use crate::store::Store;
use crate::wire::{self, Reply};
use std::sync::Arc;

/// What the operations run with.
pub struct Core {
    pub config: EngineConfig,
    pub store: Arc<dyn Store>,
    /// Who serves which show (`cluster`).
    pub membership: Arc<dyn Membership>,
    pub keys: Arc<Keys>,
    pub shows: Shows,
}

/// The operations' handle on the core (cheap to clone).
pub type Ctx = Arc<Core>;

impl Core {
    /// Stores `reply` with the key as the whole outcome of `req` (a 404, a
    /// 409 decided without changing anything) and returns the answer.
    async fn answer(&self, op: Op, req: &KeyedRequest, reply: Reply) -> Reply {
        self.keys
            .commit(op, Some(req), Outcome::answer(reply))
            .await
            .into_reply()
    }

    /// `answer`, for an answer decided on what `unit` owns (its seats, or
    /// a cart bound to its show): written under the lease the unit was
    /// loaded with, so a node that lost the show to another (and has not
    /// heard yet) cannot store, or send, a decision taken on its stale
    /// state. Without a key (a repeated release's 204, which changed
    /// nothing) it is a write of nothing that must still pass the fence.
    async fn answer_on(
        &self,
        unit: &ShowUnit,
        op: Op,
        req: Option<&KeyedRequest>,
        reply: Reply,
    ) -> Reply {
        let mut outcome = Outcome::answer(reply);
        outcome.fence = unit.fence_token();
        self.keys.commit(op, req, outcome).await.into_reply()
    }

    /// The unit of `show` (`Shows::find`: on a store of many nodes it may
    /// be loaded from the store); `Err` is the answer to a failed look-up
    /// (5xx: not stored under the key).
    async fn show_unit(&self, show: Option<ShowId>) -> Result<Option<Arc<ShowUnit>>, Reply> {
        match show {
            Some(show) => self.writable(show).await,
            None => Ok(None),
        }
    }

    /// The unit of `show`, if this node may write for it; a show of a
    /// partition another node holds is `Err(not_owner)`: nothing is done
    /// here, and the HTTP edge sends the request on to that node.
    async fn writable(&self, show: ShowId) -> Result<Option<Arc<ShowUnit>>, Reply> {
        let unit = self
            .shows
            .find(show)
            .await
            .map_err(|error| EngineError::from(error).reply())?;
        match unit {
            Some(unit) if !unit.lease_is_current() => Err(replies::not_owner(show)),
            unit => Ok(unit),
        }
    }
}

/// An open cart's JSON answer as of now.
fn cart_reply(status: u16, cart: &Cart) -> Reply {
    Reply::json(status, &wire::cart_out(cart, now_ms(), None))
}

/// The cart, if it is `user`'s (another user's cart is not found).
fn owned(cart: Option<Cart>, user: UserId) -> Option<Cart> {
    cart.filter(|c| c.owner == user)
}
