//! Live holds per user and show, for `max_holds_per_user`.
//!
//! A user may hold seats through several carts, so no single cart actor can
//! count them. This index is bookkeeping about holds, not seat state: it
//! decides nothing about who gets a seat, only whether a user may ask for
//! one more. Holds leave it when released, checked out, or by time.

use crate::domain::{CartId, ShowId, UserId};
use dashmap::DashMap;

#[derive(Default)]
pub struct HoldQuota {
    holds: DashMap<(UserId, ShowId), Vec<Hold>>,
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
    pub fn try_reserve(
        &self,
        user: UserId,
        show: ShowId,
        hold: Hold,
        now_ms: u64,
        max: usize,
    ) -> bool {
        let mut holds = self.holds.entry((user, show)).or_default();
        holds.retain(|h| h.until_ms > now_ms && !(h.cart == hold.cart && h.seat == hold.seat));
        if holds.len() >= max {
            return false;
        }
        holds.push(hold);
        true
    }

    pub fn release(&self, user: UserId, show: ShowId, cart: CartId, seat: u32) {
        if let Some(mut holds) = self.holds.get_mut(&(user, show)) {
            holds.retain(|h| !(h.cart == cart && h.seat == seat));
        }
        self.holds
            .remove_if(&(user, show), |_, holds| holds.is_empty());
    }

    pub fn release_cart(&self, user: UserId, show: ShowId, cart: CartId) {
        if let Some(mut holds) = self.holds.get_mut(&(user, show)) {
            holds.retain(|h| h.cart != cart);
        }
        self.holds
            .remove_if(&(user, show), |_, holds| holds.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn counts_live_holds_across_carts() {
        let quota = HoldQuota::default();
        let (user, show) = (UserId(Uuid::new_v4()), ShowId(Uuid::new_v4()));
        let (c1, c2) = (CartId(Uuid::new_v4()), CartId(Uuid::new_v4()));
        assert!(quota.try_reserve(
            user,
            show,
            Hold {
                cart: c1,
                seat: 0,
                until_ms: 100
            },
            0,
            2
        ));
        assert!(quota.try_reserve(
            user,
            show,
            Hold {
                cart: c2,
                seat: 1,
                until_ms: 100
            },
            0,
            2
        ));
        assert!(!quota.try_reserve(
            user,
            show,
            Hold {
                cart: c2,
                seat: 2,
                until_ms: 100
            },
            0,
            2
        ));
        // Another show and another user have their own counts.
        assert!(quota.try_reserve(
            user,
            ShowId(Uuid::new_v4()),
            Hold {
                cart: c1,
                seat: 2,
                until_ms: 100
            },
            0,
            2
        ));
        assert!(quota.try_reserve(
            UserId(Uuid::new_v4()),
            show,
            Hold {
                cart: c1,
                seat: 2,
                until_ms: 100
            },
            0,
            2
        ));
        quota.release(user, show, c1, 0);
        assert!(quota.try_reserve(
            user,
            show,
            Hold {
                cart: c2,
                seat: 2,
                until_ms: 100
            },
            0,
            2
        ));
        // Lapsed holds stop counting.
        assert!(quota.try_reserve(
            user,
            show,
            Hold {
                cart: c2,
                seat: 3,
                until_ms: 200
            },
            100,
            2
        ));
        quota.release_cart(user, show, c2);
        assert!(quota.try_reserve(
            user,
            show,
            Hold {
                cart: c1,
                seat: 4,
                until_ms: 300
            },
            100,
            2
        ));
    }
}
