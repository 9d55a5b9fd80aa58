//! `boxoffice check`: whether a store's records agree with each other.
//! It reads records (a dump's, or a store's own, from either store), so
//! one set of rules judges sled and PostgreSQL alike:
//! - a booked seat names a confirmed booking of its show that holds it,
//!   and a confirmed booking's seats are booked by it (so no seat is in
//!   two confirmed bookings);
//! - a live hold names an open cart with that seat held until that time,
//!   and an open cart's live items are held for it;
//! - a key whose answer is a booking, and a checked-out cart, name a
//!   booking that exists;
//! - seats, carts and bookings name shows that exist, and seats in them.
//!
//! A hold whose time has passed is no problem: it counts as available
//! (the engine releases it lazily).

use crate::domain::{BookingId, BookingStatus, CartId, CartStatus, SeatState, ShowId, StoredBody};
use crate::store::dump::{Record, RecordKind};
use crate::store::StoreResult;
use std::collections::{BTreeMap, HashMap};

/// What a check found.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub counts: BTreeMap<RecordKind, u64>,
    /// Every inconsistency, one sentence each; empty when there is none.
    pub problems: Vec<String>,
}

struct BookingFacts {
    show: ShowId,
    confirmed: bool,
    seats: Vec<u32>,
}

struct ItemFacts {
    show: ShowId,
    index: u32,
    until_ms: u64,
}

/// Records read so far, for `finish` to judge.
#[derive(Default)]
pub struct Checker {
    report: CheckReport,
    shows: HashMap<ShowId, u32>,
    seats: BTreeMap<(ShowId, u32), SeatState>,
    bookings: HashMap<BookingId, BookingFacts>,
    open_carts: HashMap<CartId, Vec<ItemFacts>>,
    checked_out: Vec<(CartId, BookingId)>,
    booked_by_keys: Vec<(String, BookingId)>,
}

/// Reads `records` and reports every inconsistency between them, holds
/// judged live or lapsed at `now_ms`.
pub fn check(
    records: impl Iterator<Item = StoreResult<Record>>,
    now_ms: u64,
) -> StoreResult<CheckReport> {
    let mut checker = Checker::default();
    for record in records {
        checker.add(record?);
    }
    Ok(checker.finish(now_ms))
}

impl Checker {
    /// Takes in one record (what a check needs of it).
    pub fn add(&mut self, record: Record) {
        *self.report.counts.entry(record.kind()).or_default() += 1;
        match record {
            Record::Show(show) => {
                self.shows.insert(show.id, show.layout.capacity());
            }
            Record::Seat { show, index, state } => {
                self.seats.insert((show, index), state);
            }
            Record::Booking(booking) => {
                self.bookings.insert(
                    booking.id,
                    BookingFacts {
                        show: booking.show,
                        confirmed: booking.status == BookingStatus::Confirmed,
                        seats: booking.seats.iter().map(|(index, _)| *index).collect(),
                    },
                );
            }
            Record::Cart(cart) => match cart.status {
                CartStatus::Open => {
                    let items = cart
                        .items
                        .iter()
                        .map(|i| ItemFacts {
                            show: i.show,
                            index: i.seat_index,
                            until_ms: i.until_ms,
                        })
                        .collect();
                    self.open_carts.insert(cart.id, items);
                }
                CartStatus::CheckedOut { booking } => self.checked_out.push((cart.id, booking)),
            },
            Record::Key(key) => {
                let made = match &key.reply.body {
                    StoredBody::CreatedBooking(id) => Some(*id),
                    StoredBody::CreatedBookingAsMade(booking) => Some(booking.id),
                    _ => None,
                };
                if let Some(id) = made {
                    self.booked_by_keys
                        .push((format!("{} of user {}", key.key.as_str(), key.user.0), id));
                }
            }
            Record::Session { .. } => {}
        }
    }

    /// Every inconsistency between the records taken in, holds judged
    /// live or lapsed at `now_ms`.
    pub fn finish(self, now_ms: u64) -> CheckReport {
        let Checker {
            mut report,
            shows,
            seats,
            bookings,
            open_carts,
            checked_out,
            booked_by_keys,
        } = self;
        let problems = &mut report.problems;
        let seat_name = |show: &ShowId, index: &u32| format!("seat {index} of show {}", show.0);
        for ((show, index), state) in &seats {
            match shows.get(show) {
                None => problems.push(format!("{} is of no show", seat_name(show, index))),
                Some(capacity) if index >= capacity => problems.push(format!(
                    "{}: the show has {capacity} seats",
                    seat_name(show, index)
                )),
                _ => {}
            }
            match state {
                SeatState::Booked { booking } => match bookings.get(booking) {
                    None => problems.push(format!(
                        "{} is booked by booking {}, which does not exist",
                        seat_name(show, index),
                        booking.0
                    )),
                    Some(facts) if !facts.confirmed => problems.push(format!(
                        "{} is booked by booking {}, which is cancelled",
                        seat_name(show, index),
                        booking.0
                    )),
                    Some(facts) if facts.show != *show || !facts.seats.contains(index) => problems
                        .push(format!(
                            "{} is booked by booking {}, which does not hold it",
                            seat_name(show, index),
                            booking.0
                        )),
                    Some(_) => {}
                },
                SeatState::Held { cart, until_ms } if *until_ms > now_ms => {
                    let held_there = open_carts.get(cart).is_some_and(|items| {
                        items.iter().any(|i| {
                            i.show == *show && i.index == *index && i.until_ms == *until_ms
                        })
                    });
                    if !held_there {
                        problems.push(format!(
                        "{} is held for cart {}, which is not an open cart holding it until then",
                        seat_name(show, index),
                        cart.0
                    ));
                    }
                }
                SeatState::Held { .. } | SeatState::Available | SeatState::Blocked => {}
            }
        }
        let mut booked_seats: HashMap<(ShowId, u32), BookingId> = HashMap::new();
        for (id, facts) in &bookings {
            if !shows.contains_key(&facts.show) {
                problems.push(format!("booking {} is of no show", id.0));
            }
            if !facts.confirmed {
                continue;
            }
            for index in &facts.seats {
                if let Some(other) = booked_seats.insert((facts.show, *index), *id) {
                    problems.push(format!(
                        "{} is in two confirmed bookings, {} and {}",
                        seat_name(&facts.show, index),
                        other.0,
                        id.0
                    ));
                }
                match seats.get(&(facts.show, *index)) {
                    Some(SeatState::Booked { booking }) if booking == id => {}
                    other => problems.push(format!(
                        "booking {} holds {}, whose record says {}",
                        id.0,
                        seat_name(&facts.show, index),
                        describe(other)
                    )),
                }
            }
        }
        for (cart, items) in &open_carts {
            for item in items.iter().filter(|i| i.until_ms > now_ms) {
                match seats.get(&(item.show, item.index)) {
                    Some(SeatState::Held {
                        cart: holder,
                        until_ms,
                    }) if holder == cart && *until_ms == item.until_ms => {}
                    other => problems.push(format!(
                        "cart {} holds {} until {}, whose record says {}",
                        cart.0,
                        seat_name(&item.show, &item.index),
                        item.until_ms,
                        describe(other)
                    )),
                }
            }
        }
        for (cart, booking) in &checked_out {
            if !bookings.contains_key(booking) {
                problems.push(format!(
                    "cart {} was checked out to booking {}, which does not exist",
                    cart.0, booking.0
                ));
            }
        }
        for (key, booking) in &booked_by_keys {
            if !bookings.contains_key(booking) {
                problems.push(format!(
                    "key {key} answered booking {}, which does not exist",
                    booking.0
                ));
            }
        }
        report
    }
}

fn describe(state: Option<&SeatState>) -> String {
    match state {
        None | Some(SeatState::Available) => "available".into(),
        Some(SeatState::Held { cart, until_ms }) => {
            format!("held for cart {} until {until_ms}", cart.0)
        }
        Some(SeatState::Booked { booking }) => format!("booked by booking {}", booking.0),
        Some(SeatState::Blocked) => "blocked by the box office".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        Booking, Cart, CartItem, Fingerprint, IdempotencyKey, Row, SeatLabel, Show, StoredReply,
        UserId,
    };
    use crate::store::KeyRecord;
    use uuid::Uuid;

    const SHOW: ShowId = ShowId(Uuid::from_u128(1));
    const USER: UserId = UserId(Uuid::from_u128(2));
    const B1: BookingId = BookingId(Uuid::from_u128(3));
    const B2: BookingId = BookingId(Uuid::from_u128(4));
    const C1: CartId = CartId(Uuid::from_u128(5));

    fn label(number: u32) -> SeatLabel {
        SeatLabel {
            row: "A".into(),
            number,
        }
    }

    fn booking(id: BookingId, seats: &[u32]) -> Record {
        Record::Booking(Booking {
            id,
            owner: USER,
            show: SHOW,
            seats: seats.iter().map(|i| (*i, label(i + 1))).collect(),
            status: BookingStatus::Confirmed,
            created_at_ms: 1,
            cart: None,
            prices_cents: vec![],
            currency: "EUR".into(),
            cancelled_by: None,
        })
    }

    fn seat(index: u32, state: SeatState) -> Record {
        Record::Seat {
            show: SHOW,
            index,
            state,
        }
    }

    fn key_for(booking: BookingId) -> Record {
        Record::Key(KeyRecord {
            user: USER,
            key: IdempotencyKey::parse(b"k").unwrap(),
            reply: StoredReply {
                fingerprint: Fingerprint([0; 32]),
                status: 201,
                body: StoredBody::CreatedBooking(booking),
                created_at_ms: 1,
                line: None,
            },
        })
    }

    /// A show of four seats: seats 0 and 1 booked by B1 (its key answered
    /// it), seat 2 held for cart C1 until 2,000.
    fn clean() -> Vec<Record> {
        let show = Show::new(
            SHOW,
            "T".into(),
            0,
            vec![Row {
                label: "A".into(),
                seats: 4,
            }],
        )
        .unwrap();
        vec![
            Record::Show(show),
            booking(B1, &[0, 1]),
            seat(0, SeatState::Booked { booking: B1 }),
            seat(1, SeatState::Booked { booking: B1 }),
            Record::Cart(Cart {
                id: C1,
                owner: USER,
                status: CartStatus::Open,
                items: vec![CartItem {
                    show: SHOW,
                    seat: label(3),
                    seat_index: 2,
                    until_ms: 2_000,
                    price_cents: 0,
                }],
                created_at_ms: 1,
                currency: None,
            }),
            seat(
                2,
                SeatState::Held {
                    cart: C1,
                    until_ms: 2_000,
                },
            ),
            key_for(B1),
        ]
    }

    fn problems(records: Vec<Record>, now_ms: u64) -> Vec<String> {
        check(records.into_iter().map(Ok), now_ms).unwrap().problems
    }

    fn without(records: Vec<Record>, drop: usize) -> Vec<Record> {
        records
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i != drop)
            .map(|(_, r)| r)
            .collect()
    }

    #[test]
    fn records_that_agree_are_clean_and_a_lapsed_hold_is_no_problem() {
        assert_eq!(problems(clean(), 1_000), Vec::<String>::new());
        // At 3,000 the hold has lapsed: its seat record may stay.
        let mut lapsed = without(clean(), 4);
        lapsed.push(seat(
            3,
            SeatState::Held {
                cart: C1,
                until_ms: 2_000,
            },
        ));
        assert_eq!(problems(lapsed, 3_000), Vec::<String>::new());
    }

    #[test]
    fn a_booked_seat_without_its_record_is_reported() {
        let found = problems(without(clean(), 3), 1_000);
        assert!(
            found
                .iter()
                .any(|p| p.contains("booking") && p.contains("says available")),
            "{found:?}"
        );
    }

    #[test]
    fn a_seat_booked_by_a_missing_booking_is_reported() {
        let mut records = clean();
        records.push(seat(3, SeatState::Booked { booking: B2 }));
        let found = problems(records, 1_000);
        assert!(
            found.iter().any(|p| p.contains("does not exist")),
            "{found:?}"
        );
    }

    #[test]
    fn a_seat_in_two_confirmed_bookings_is_reported() {
        let mut records = clean();
        records.push(booking(B2, &[0]));
        let found = problems(records, 1_000);
        assert!(
            found.iter().any(|p| p.contains("two confirmed bookings")),
            "{found:?}"
        );
    }

    #[test]
    fn a_live_cart_item_without_its_hold_is_reported() {
        let found = problems(without(clean(), 5), 1_000);
        assert!(found.iter().any(|p| p.starts_with("cart")), "{found:?}");
    }

    #[test]
    fn a_key_whose_booking_is_missing_is_reported() {
        let mut records = clean();
        records.push(key_for(B2));
        let found = problems(records, 1_000);
        assert!(found.iter().any(|p| p.starts_with("key")), "{found:?}");
    }
}
