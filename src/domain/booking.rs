//! A booking: seats of one show sold to one user, confirmed or cancelled.

use super::ids::{BookingId, CartId, SeatLabel, ShowId, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookingStatus {
    Confirmed,
    Cancelled,
}

impl BookingStatus {
    /// Every status, in the order the API lists them.
    pub const ALL: [BookingStatus; 2] = [BookingStatus::Confirmed, BookingStatus::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::Cancelled => "cancelled",
        }
    }
}

/// Who cancelled a booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Canceller {
    /// Its owner.
    Customer,
    /// Staff, with the admin token (cancel on behalf).
    BoxOffice,
}

impl Canceller {
    pub const ALL: [Canceller; 2] = [Canceller::Customer, Canceller::BoxOffice];

    pub fn as_str(self) -> &'static str {
        match self {
            Canceller::Customer => "customer",
            Canceller::BoxOffice => "box-office",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Booking {
    pub id: BookingId,
    pub owner: UserId,
    pub show: ShowId,
    /// Seat index and label, in the order the client asked for them.
    pub seats: Vec<(u32, SeatLabel)>,
    pub status: BookingStatus,
    pub created_at_ms: u64,
    /// The cart this booking was checked out from, if any.
    pub cart: Option<CartId>,
    /// Each seat's price in cents, in `seats`' order, fixed when it was
    /// booked (or held, for a checkout); empty in records of builds before
    /// 1.1, whose shows were all free.
    pub prices_cents: Vec<u64>,
    /// ISO 4217 code of the prices.
    pub currency: String,
    /// Who cancelled it (a cancelled booking of a build before 1.2 reads
    /// `Customer`: only its owner could cancel then); `None` while
    /// confirmed.
    pub cancelled_by: Option<Canceller>,
}

impl Booking {
    /// Seats to give back on cancel; `None` if already cancelled (a repeat
    /// cancel changes nothing).
    pub fn plan_cancel(&self) -> Option<&[(u32, SeatLabel)]> {
        match self.status {
            BookingStatus::Confirmed => Some(&self.seats),
            BookingStatus::Cancelled => None,
        }
    }

    pub fn cancel(&mut self, by: Canceller) {
        self.status = BookingStatus::Cancelled;
        self.cancelled_by = Some(by);
    }

    /// The price of the seat at `position` in `seats`.
    pub fn price_cents(&self, position: usize) -> u64 {
        self.prices_cents.get(position).copied().unwrap_or(0)
    }

    /// What the booking costs, in cents.
    pub fn total_cents(&self) -> u64 {
        (0..self.seats.len()).map(|i| self.price_cents(i)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn cancel_happens_once() {
        let mut booking = Booking {
            id: BookingId(Uuid::new_v4()),
            owner: UserId(Uuid::new_v4()),
            show: ShowId(Uuid::new_v4()),
            seats: vec![(0, SeatLabel::parse("A1").unwrap())],
            status: BookingStatus::Confirmed,
            created_at_ms: 0,
            cart: None,
            prices_cents: vec![900],
            currency: "EUR".into(),
            cancelled_by: None,
        };
        assert_eq!(booking.total_cents(), 900);
        assert_eq!(booking.plan_cancel().map(<[_]>::len), Some(1));
        booking.cancel(Canceller::BoxOffice);
        assert_eq!(booking.plan_cancel(), None);
        assert_eq!(booking.cancelled_by, Some(Canceller::BoxOffice));
    }
}
