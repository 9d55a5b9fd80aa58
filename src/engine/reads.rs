//! Reads: the show list (from the in-memory seat maps, never the seat
//! actors; a show's own map is streamed by the HTTP edge), and a user's
//! bookings and carts (from the store, answered once what they saw is
//! durable).

use super::Engine;
use crate::domain::{BookingId, CartId, IdempotencyKey, UserId};
use crate::idempotency::KeyState;
use crate::replies::{not_found, EngineError};
use crate::runtime::clock::now_ms;
use crate::store::StoreError;
use crate::wire::{self, Reply};

impl Engine {
    pub fn list_shows(&self) -> Reply {
        let shows = self
            .shows()
            .list()
            .iter()
            .map(|unit| wire::show_summary_out(unit.show(), unit.map().available()))
            .collect();
        Reply::json(200, &wire::ShowListOut { shows })
    }

    /// One booking: the caller's own, or, with the admin token, anyone's
    /// (with its owner's id).
    pub async fn get_booking(&self, user: UserId, id: Option<BookingId>) -> Reply {
        let Some(id) = id else {
            return not_found("booking");
        };
        let owner = match self.booking_owner(user, id).await {
            Ok(Some((owner, _))) => owner,
            Ok(None) => return not_found("booking"),
            Err(reply) => return reply,
        };
        let found = self.inner.core.store.load_booking(owner, id).await;
        self.read_reply(found.map(|b| match b {
            Some(b) if user == UserId::ADMIN => Reply::json(200, &wire::staff_booking_out(&b)),
            Some(b) => Reply::json(200, &wire::booking_out(&b)),
            None => not_found("booking"),
        }))
        .await
    }

    /// `GET /v1/idempotency-keys/{key}`: the caller's key, running here or
    /// completed (and durable) and still kept; else 404.
    pub async fn look_up_key(&self, user: UserId, raw_key: &str) -> Reply {
        let Ok(key) = IdempotencyKey::parse(raw_key.as_bytes()) else {
            return not_found("key");
        };
        match self.inner.core.keys.look_up(user, key.clone()).await {
            Ok(Some(KeyState::InFlight(line))) => {
                Reply::json(200, &wire::key_out(key.as_str(), Some(&line), None))
            }
            Ok(Some(KeyState::Completed(stored))) => Reply::json(
                200,
                &wire::key_out(
                    key.as_str(),
                    stored.line.as_ref(),
                    Some((stored.status, stored.created_at_ms)),
                ),
            ),
            Ok(None) => not_found("key"),
            Err(reply) => reply,
        }
    }

    pub async fn list_bookings(&self, user: UserId) -> Reply {
        let found = self.inner.core.store.list_bookings(user).await;
        self.read_reply(found.map(|bookings| {
            Reply::json(
                200,
                &wire::BookingListOut {
                    bookings: bookings.iter().map(wire::booking_out).collect(),
                },
            )
        }))
        .await
    }

    pub async fn get_cart(&self, user: UserId, cart: Option<CartId>) -> Reply {
        let Some(cart) = cart else {
            return not_found("cart");
        };
        let store = &self.inner.core.store;
        let found = async {
            let Some(cart) = store.load_cart(cart).await?.filter(|c| c.owner == user) else {
                return Ok(not_found("cart"));
            };
            // A checked-out cart's items read as its booking stands.
            let booking = match cart.booking() {
                Some(id) => store.load_booking(user, id).await?.map(|b| b.status),
                None => None,
            };
            Ok(Reply::json(200, &wire::cart_out(&cart, now_ms(), booking)))
        }
        .await;
        self.read_reply(found).await
    }

    /// A read answered only once what it saw is durable (it may have read
    /// a commit whose flush is still running).
    async fn read_reply(&self, read: Result<Reply, StoreError>) -> Reply {
        match read {
            Ok(reply) => match self.inner.core.store.sync_point().await {
                Ok(()) => reply,
                Err(error) => EngineError::from(error).reply(),
            },
            Err(error) => EngineError::from(error).reply(),
        }
    }
}
