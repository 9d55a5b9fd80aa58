//! Live holds per user in one show, for `max_holds_per_user`.
//!
//! A user may hold seats through several carts, so no single cart actor can
//! count them. This index is bookkeeping about holds, not seat state: it
//! decides nothing about who gets a seat, only whether a user may ask for
//! one more. Holds leave it when released, checked out, or by time. Each
//! show keeps its own (it is part of the show's state, loaded and dropped
//! with it).

use crate::domain::{CartId, UserId};
use dashmap::DashMap;

#[derive(Default)]
pub struct HoldQuota {
    holds: DashMap<UserId, Vec<Hold>>,
}

/// One live hold: a seat held by a cart until an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hold {
    pub cart: CartId,
    pub seat: u32,
    pub until_ms: u64,
}

impl HoldQuota {
    /// Counts a new hold if the user has fewer than `max` live ones.
    pub fn try_reserve(&self, user: UserId, hold: Hold, now_ms: u64, max: usize) -> bool {
        let mut holds = self.holds.entry(user).or_default();
        holds.retain(|h| h.until_ms > now_ms && !(h.cart == hold.cart && h.seat == hold.seat));
        if holds.len() >= max {
            return false;
        }
        holds.push(hold);
        true
    }

    pub fn release(&self, user: UserId, cart: CartId, seat: u32) {
        if let Some(mut holds) = self.holds.get_mut(&user) {
            holds.retain(|h| !(h.cart == cart && h.seat == seat));
        }
        self.holds.remove_if(&user, |_, holds| holds.is_empty());
    }

    pub fn release_cart(&self, user: UserId, cart: CartId) {
        if let Some(mut holds) = self.holds.get_mut(&user) {
            holds.retain(|h| h.cart != cart);
        }
        self.holds.remove_if(&user, |_, holds| holds.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn hold(cart: CartId, seat: u32, until_ms: u64) -> Hold {
        Hold {
            cart,
            seat,
            until_ms,
        }
    }

    #[test]
    fn counts_live_holds_across_carts() {
        let quota = HoldQuota::default();
        let user = UserId(Uuid::new_v4());
        let (c1, c2) = (CartId(Uuid::new_v4()), CartId(Uuid::new_v4()));
        assert!(quota.try_reserve(user, hold(c1, 0, 100), 0, 2));
        assert!(quota.try_reserve(user, hold(c2, 1, 100), 0, 2));
        assert!(!quota.try_reserve(user, hold(c2, 2, 100), 0, 2));
        // Another user has a count of its own; so has another show (its
        // own quota).
        assert!(quota.try_reserve(UserId(Uuid::new_v4()), hold(c1, 2, 100), 0, 2));
        assert!(HoldQuota::default().try_reserve(user, hold(c1, 2, 100), 0, 2));
        quota.release(user, c1, 0);
        assert!(quota.try_reserve(user, hold(c2, 2, 100), 0, 2));
        // Lapsed holds stop counting.
        assert!(quota.try_reserve(user, hold(c2, 3, 200), 100, 2));
        quota.release_cart(user, c2);
        assert!(quota.try_reserve(user, hold(c1, 4, 300), 100, 2));
    }
}
