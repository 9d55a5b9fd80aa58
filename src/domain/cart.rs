//! A cart: seats of one show held for one user until checkout.
//!
//! The cart decides what a request means for the cart (already held? closed?
//! lapsed?); the seats decide whether they can be had. Holds lapse by time:
//! an item whose `until_ms` has passed is `expired` without any write.

use super::booking::BookingStatus;
use super::ids::{BookingId, CartId, SeatLabel, ShowId, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CartStatus {
    Open,
    CheckedOut { booking: BookingId },
}

/// One seat in a cart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartItem {
    pub show: ShowId,
    pub seat: SeatLabel,
    pub seat_index: u32,
    /// End of the hold (exclusive), ms since the epoch.
    pub until_ms: u64,
    /// The seat's price in cents, fixed when it was held (0 in records of
    /// builds before 1.1, whose shows were all free).
    pub price_cents: u64,
}

impl CartItem {
    pub fn is_live(&self, now_ms: u64) -> bool {
        now_ms < self.until_ms
    }
}

/// What an item of a cart is, as its owner sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemStatus {
    /// Held for this open cart.
    Held,
    /// The hold lapsed (the item stays until removed).
    Expired,
    /// Checked out: booked by the cart's booking.
    Booked,
    /// Checked out, and that booking was cancelled since.
    Cancelled,
}

impl ItemStatus {
    /// Every status, in the order the API lists them.
    pub const ALL: [ItemStatus; 4] = [
        ItemStatus::Held,
        ItemStatus::Expired,
        ItemStatus::Booked,
        ItemStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Held => "held",
            ItemStatus::Expired => "expired",
            ItemStatus::Booked => "booked",
            ItemStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cart {
    pub id: CartId,
    pub owner: UserId,
    pub status: CartStatus,
    pub items: Vec<CartItem>,
    pub created_at_ms: u64,
    /// ISO 4217 code of its show's prices, from its first item (`None`
    /// while it has none, and in records of builds before 1.1).
    pub currency: Option<String>,
}

/// Why a cart refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CartError {
    /// The cart is checked out: nothing about it changes any more.
    Closed,
    /// The seat belongs to another show than the cart's.
    OtherShow,
    /// Checkout of a cart without items.
    Empty,
    /// Checkout of a cart in which a hold has lapsed.
    HoldExpired,
    /// The seat is not in the cart.
    NoSuchItem,
}

/// What adding a seat to a cart needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddPlan {
    /// The cart already holds the seat: nothing to do, nothing renewed.
    AlreadyHeld,
    /// Hold the seat until `until_ms`.
    Hold { until_ms: u64 },
}

impl Cart {
    pub fn new(id: CartId, owner: UserId, created_at_ms: u64) -> Self {
        Cart {
            id,
            owner,
            status: CartStatus::Open,
            items: Vec::new(),
            created_at_ms,
            currency: None,
        }
    }

    /// The show this cart sells, fixed by its first item.
    pub fn show(&self) -> Option<ShowId> {
        self.items.first().map(|item| item.show)
    }

    fn ensure_open(&self) -> Result<(), CartError> {
        match self.status {
            CartStatus::Open => Ok(()),
            CartStatus::CheckedOut { .. } => Err(CartError::Closed),
        }
    }

    fn position(&self, show: ShowId, seat: &SeatLabel) -> Option<usize> {
        self.items
            .iter()
            .position(|item| item.show == show && &item.seat == seat)
    }

    pub fn plan_add(
        &self,
        show: ShowId,
        seat: &SeatLabel,
        now_ms: u64,
        hold_ttl_ms: u64,
    ) -> Result<AddPlan, CartError> {
        self.plan_add_block(show)?;
        match self.position(show, seat) {
            Some(i) if self.items[i].is_live(now_ms) => Ok(AddPlan::AlreadyHeld),
            _ => Ok(AddPlan::Hold {
                until_ms: now_ms + hold_ttl_ms,
            }),
        }
    }

    /// Whether a block of seats of `show` may be added (best available):
    /// the cart is open and sells that show, or none yet.
    pub fn plan_add_block(&self, show: ShowId) -> Result<(), CartError> {
        self.ensure_open()?;
        if self.show().is_some_and(|cart_show| cart_show != show) {
            return Err(CartError::OtherShow);
        }
        Ok(())
    }

    /// Records a hold; a lapsed item for the same seat is replaced in place.
    pub fn add(&mut self, item: CartItem) {
        match self.position(item.show, &item.seat) {
            Some(i) => self.items[i] = item,
            None => self.items.push(item),
        }
    }

    pub fn plan_remove(&self, show: ShowId, seat: &SeatLabel) -> Result<&CartItem, CartError> {
        self.ensure_open()?;
        self.position(show, seat)
            .map(|i| &self.items[i])
            .ok_or(CartError::NoSuchItem)
    }

    pub fn remove(&mut self, show: ShowId, seat: &SeatLabel) {
        if let Some(i) = self.position(show, seat) {
            self.items.remove(i);
        }
    }

    /// The items to book at checkout: all of them, each still held.
    pub fn plan_checkout(&self, now_ms: u64) -> Result<&[CartItem], CartError> {
        self.ensure_open()?;
        if self.items.is_empty() {
            return Err(CartError::Empty);
        }
        if self.items.iter().any(|item| !item.is_live(now_ms)) {
            return Err(CartError::HoldExpired);
        }
        Ok(&self.items)
    }

    pub fn check_out(&mut self, booking: BookingId) {
        self.status = CartStatus::CheckedOut { booking };
    }

    /// The earliest live hold's end, `None` when no hold is live.
    pub fn expires_at_ms(&self, now_ms: u64) -> Option<u64> {
        if self.status != CartStatus::Open {
            return None;
        }
        self.items
            .iter()
            .filter(|item| item.is_live(now_ms))
            .map(|item| item.until_ms)
            .min()
    }

    /// The booking this cart was checked out into, if it was.
    pub fn booking(&self) -> Option<BookingId> {
        match self.status {
            CartStatus::Open => None,
            CartStatus::CheckedOut { booking } => Some(booking),
        }
    }

    /// What `item` is at `now_ms`; `booking` is the status of the cart's
    /// booking (`None` for an open cart, or a booking not found).
    pub fn item_status(
        &self,
        item: &CartItem,
        now_ms: u64,
        booking: Option<BookingStatus>,
    ) -> ItemStatus {
        match (self.status, booking) {
            (CartStatus::Open, _) if item.is_live(now_ms) => ItemStatus::Held,
            (CartStatus::Open, _) => ItemStatus::Expired,
            (CartStatus::CheckedOut { .. }, Some(BookingStatus::Cancelled)) => {
                ItemStatus::Cancelled
            }
            (CartStatus::CheckedOut { .. }, _) => ItemStatus::Booked,
        }
    }

    /// Live holds of one show in this cart.
    pub fn live_holds(&self, show: ShowId, now_ms: u64) -> usize {
        if self.status != CartStatus::Open {
            return 0;
        }
        self.items
            .iter()
            .filter(|item| item.show == show && item.is_live(now_ms))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn seat(text: &str) -> SeatLabel {
        SeatLabel::parse(text).unwrap()
    }

    fn item(show: ShowId, text: &str, until_ms: u64) -> CartItem {
        CartItem {
            show,
            seat: seat(text),
            seat_index: 0,
            until_ms,
            price_cents: 0,
        }
    }

    fn cart() -> Cart {
        Cart::new(CartId(Uuid::new_v4()), UserId(Uuid::new_v4()), 0)
    }

    #[test]
    fn items_read_held_expired_then_as_their_booking_stands() {
        let show = ShowId(Uuid::new_v4());
        let mut c = cart();
        let held = item(show, "A1", 100);
        c.add(held.clone());
        assert_eq!(c.item_status(&held, 99, None), ItemStatus::Held);
        assert_eq!(c.item_status(&held, 100, None), ItemStatus::Expired);
        assert_eq!(c.booking(), None);
        let booking = BookingId(Uuid::new_v4());
        c.check_out(booking);
        assert_eq!(c.booking(), Some(booking));
        let confirmed = Some(BookingStatus::Confirmed);
        // Booked, even once the hold's time has passed.
        assert_eq!(c.item_status(&held, 50, confirmed), ItemStatus::Booked);
        assert_eq!(c.item_status(&held, 500, confirmed), ItemStatus::Booked);
        let cancelled = Some(BookingStatus::Cancelled);
        assert_eq!(c.item_status(&held, 500, cancelled), ItemStatus::Cancelled);
    }

    #[test]
    fn first_item_fixes_the_show() {
        let (s1, s2) = (ShowId(Uuid::new_v4()), ShowId(Uuid::new_v4()));
        let mut c = cart();
        assert_eq!(
            c.plan_add(s1, &seat("A1"), 0, 100),
            Ok(AddPlan::Hold { until_ms: 100 })
        );
        c.add(item(s1, "A1", 100));
        assert_eq!(
            c.plan_add(s2, &seat("A2"), 0, 100),
            Err(CartError::OtherShow)
        );
        assert_eq!(
            c.plan_add(s1, &seat("A1"), 50, 100),
            Ok(AddPlan::AlreadyHeld)
        );
        // A lapsed item may be held again, replacing the old entry.
        assert_eq!(
            c.plan_add(s1, &seat("A1"), 100, 100),
            Ok(AddPlan::Hold { until_ms: 200 })
        );
        c.add(item(s1, "A1", 200));
        assert_eq!(c.items.len(), 1);
    }

    #[test]
    fn checkout_needs_live_holds_and_closes_the_cart() {
        let s = ShowId(Uuid::new_v4());
        let mut c = cart();
        assert_eq!(c.plan_checkout(0), Err(CartError::Empty));
        c.add(item(s, "A1", 100));
        c.add(item(s, "A2", 50));
        assert_eq!(c.expires_at_ms(0), Some(50));
        assert_eq!(c.live_holds(s, 0), 2);
        assert_eq!(c.plan_checkout(50), Err(CartError::HoldExpired));
        assert_eq!(c.expires_at_ms(60), Some(100));
        c.remove(s, &seat("A2"));
        assert_eq!(c.plan_checkout(60).unwrap().len(), 1);
        c.check_out(BookingId(Uuid::new_v4()));
        assert_eq!(c.plan_checkout(60), Err(CartError::Closed));
        assert_eq!(c.plan_add(s, &seat("A3"), 60, 10), Err(CartError::Closed));
        assert_eq!(c.plan_remove(s, &seat("A1")), Err(CartError::Closed));
        assert_eq!(c.expires_at_ms(60), None);
        assert_eq!(c.live_holds(s, 60), 0);
    }

    #[test]
    fn removing_an_unknown_item_is_reported() {
        let s = ShowId(Uuid::new_v4());
        let c = cart();
        assert_eq!(c.plan_remove(s, &seat("A1")), Err(CartError::NoSuchItem));
    }
}
