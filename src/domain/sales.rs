//! A show's sales figures, kept up to date as bookings are confirmed and
//! cancelled instead of counted again per request (v1.2: the figures of a
//! 100,000-seat show with 50,000 bookings answer in microseconds).
//!
//! Pure: the show's unit feeds it every booking it writes (and, once, the
//! bookings the store holds when the unit loads); the seat counts by status
//! are the seat map's, not these.

use super::booking::{Booking, BookingStatus};
use super::show::Show;
use std::collections::BTreeMap;

/// One minute's confirmed sales.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MinuteSales {
    pub booked: u64,
    pub revenue_cents: u64,
}

/// The bookings side of a show's figures: confirmed and cancelled bookings,
/// the seats and money of the confirmed ones, by category and by the UTC
/// minute they were made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sales {
    /// Confirmed bookings.
    pub bookings: u64,
    pub cancelled_bookings: u64,
    /// Seats in confirmed bookings.
    pub booked: u64,
    pub revenue_cents: u64,
    /// Per category, in the show's category order: (seats, cents).
    pub by_category: Vec<MinuteSales>,
    /// Keyed by minutes since the Unix epoch (a booking's `created_at_ms`
    /// divided by 60,000), oldest first.
    pub per_minute: BTreeMap<u64, MinuteSales>,
}

impl Sales {
    /// No sales yet, for `show`'s categories.
    pub fn new(show: &Show) -> Sales {
        Sales {
            by_category: vec![MinuteSales::default(); show.offer.categories().len()],
            ..Sales::default()
        }
    }

    /// Counts a booking as the store holds it (a unit loading): confirmed
    /// ones into the figures, cancelled ones into the cancelled count.
    pub fn count(&mut self, show: &Show, booking: &Booking) {
        match booking.status {
            BookingStatus::Confirmed => self.add(show, booking, 1),
            BookingStatus::Cancelled => self.cancelled_bookings += 1,
        }
    }

    /// A booking confirmed now.
    pub fn confirmed(&mut self, show: &Show, booking: &Booking) {
        self.add(show, booking, 1);
    }

    /// A confirmed booking cancelled now: its seats and money come back
    /// out of every figure they went into.
    pub fn cancelled(&mut self, show: &Show, booking: &Booking) {
        self.add(show, booking, -1);
        self.cancelled_bookings += 1;
    }

    fn add(&mut self, show: &Show, booking: &Booking, sign: i8) {
        let apply = |figure: &mut u64, by: u64| {
            *figure = if sign > 0 {
                figure.saturating_add(by)
            } else {
                figure.saturating_sub(by)
            };
        };
        apply(&mut self.bookings, 1);
        let minute = self
            .per_minute
            .entry(booking.created_at_ms / 60_000)
            .or_default();
        for (position, (index, _)) in booking.seats.iter().enumerate() {
            let price = booking.price_cents(position);
            apply(&mut self.booked, 1);
            apply(&mut self.revenue_cents, price);
            apply(&mut minute.booked, 1);
            apply(&mut minute.revenue_cents, price);
            if *index < show.layout.capacity() {
                let category = show.offer.category_index_of_row(show.layout.row_of(*index));
                if let Some(figures) = self.by_category.get_mut(category) {
                    apply(&mut figures.booked, 1);
                    apply(&mut figures.revenue_cents, price);
                }
            }
        }
        let emptied = *minute == MinuteSales::default();
        if emptied {
            self.per_minute.remove(&(booking.created_at_ms / 60_000));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        BookingId, Canceller, Category, OfferSpec, Row, RowOffer, SeatLabel, ShowId, UserId,
    };
    use uuid::Uuid;

    fn show() -> Show {
        let offer = OfferSpec {
            currency: Some("EUR".into()),
            categories: vec![
                Category {
                    id: "standard".into(),
                    name: "Standard".into(),
                    price_cents: 1000,
                },
                Category {
                    id: "premium".into(),
                    name: "Premium".into(),
                    price_cents: 1500,
                },
            ],
            rows: vec![
                RowOffer::default(),
                RowOffer {
                    category: Some("premium".into()),
                    ..RowOffer::default()
                },
            ],
        };
        let rows = vec![
            Row {
                label: "A".into(),
                seats: 4,
            },
            Row {
                label: "B".into(),
                seats: 4,
            },
        ];
        Show::with_offer(ShowId(Uuid::nil()), "Dune".into(), 0, rows, offer).unwrap()
    }

    fn booking(show: &Show, seats: &[&str], at_ms: u64) -> Booking {
        let seats: Vec<(u32, SeatLabel)> = seats
            .iter()
            .map(|s| {
                let label = SeatLabel::parse(s).unwrap();
                (show.layout.index_of(&label).unwrap(), label)
            })
            .collect();
        Booking {
            id: BookingId(Uuid::new_v4()),
            owner: UserId(Uuid::new_v4()),
            show: show.id,
            prices_cents: seats.iter().map(|(i, _)| show.price_cents(*i)).collect(),
            seats,
            status: BookingStatus::Confirmed,
            created_at_ms: at_ms,
            cart: None,
            currency: "EUR".into(),
            cancelled_by: None,
        }
    }

    #[test]
    fn figures_follow_confirms_and_cancels() {
        let show = show();
        let mut sales = Sales::new(&show);
        let first = booking(&show, &["A1", "B1"], 60_000 * 10 + 5);
        let second = booking(&show, &["A2"], 60_000 * 11);
        sales.confirmed(&show, &first);
        sales.confirmed(&show, &second);
        assert_eq!(
            (sales.bookings, sales.booked, sales.revenue_cents),
            (2, 3, 3500)
        );
        assert_eq!(
            sales.by_category,
            vec![
                MinuteSales {
                    booked: 2,
                    revenue_cents: 2000
                },
                MinuteSales {
                    booked: 1,
                    revenue_cents: 1500
                }
            ]
        );
        assert_eq!(sales.per_minute.len(), 2);
        assert_eq!(sales.per_minute[&10].revenue_cents, 2500);

        sales.cancelled(&show, &first);
        assert_eq!((sales.bookings, sales.cancelled_bookings), (1, 1));
        assert_eq!((sales.booked, sales.revenue_cents), (1, 1000));
        assert_eq!(sales.by_category[1], MinuteSales::default());
        assert_eq!(
            sales.per_minute.keys().copied().collect::<Vec<_>>(),
            vec![11],
            "a minute whose sales were all cancelled is gone"
        );
    }

    #[test]
    fn counting_what_the_store_holds_equals_following_it() {
        let show = show();
        let mut followed = Sales::new(&show);
        let kept = booking(&show, &["B2", "B3"], 1_000);
        let mut gone = booking(&show, &["A4"], 2_000);
        followed.confirmed(&show, &kept);
        followed.confirmed(&show, &gone);
        followed.cancelled(&show, &gone);
        gone.cancel(Canceller::BoxOffice);
        let mut counted = Sales::new(&show);
        counted.count(&show, &kept);
        counted.count(&show, &gone);
        assert_eq!(counted, followed);
    }
}
