//! Decoding the seat rows both the store's reads and its dump read.

use crate::domain::{BookingId, CartId, SeatState};
use crate::store::{StoreError, StoreResult};
use uuid::Uuid;

pub(super) fn seat_state(row: &tokio_postgres::Row) -> StoreResult<(u32, SeatState)> {
    let index: i32 = row.get("seat_index");
    let state: i16 = row.get("state");
    let seat = match state {
        1 => SeatState::Held {
            cart: CartId(
                row.get::<_, Option<Uuid>>("cart_id")
                    .ok_or_else(|| corrupt("cart"))?,
            ),
            until_ms: row
                .get::<_, Option<i64>>("until_ms")
                .ok_or_else(|| corrupt("until_ms"))? as u64,
        },
        2 => SeatState::Booked {
            booking: BookingId(
                row.get::<_, Option<Uuid>>("booking_id")
                    .ok_or_else(|| corrupt("booking"))?,
            ),
        },
        3 => SeatState::Blocked,
        other => return Err(corrupt(&format!("seat state {other}"))),
    };
    Ok((index as u32, seat))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("seat row: {what}"))
}

/// The columns of seat rows written in bulk (`unnest`): a commit round's,
/// and an import's.
#[derive(Default)]
pub(super) struct SeatColumns {
    pub(super) shows: Vec<Uuid>,
    pub(super) indexes: Vec<i32>,
    pub(super) states: Vec<i16>,
    pub(super) carts: Vec<Option<Uuid>>,
    pub(super) until_ms: Vec<Option<i64>>,
    pub(super) bookings: Vec<Option<Uuid>>,
}

impl SeatColumns {
    pub(super) fn push(&mut self, show: Uuid, index: i32, state: SeatState) {
        self.shows.push(show);
        self.indexes.push(index);
        let (code, cart, until_ms, booking) = match state {
            SeatState::Held { cart, until_ms } => (1, Some(cart.0), Some(until_ms as i64), None),
            SeatState::Booked { booking } => (2, None, None, Some(booking.0)),
            SeatState::Blocked => (3, None, None, None),
            SeatState::Available => unreachable!("an available seat has no row"),
        };
        self.states.push(code);
        self.carts.push(cart);
        self.until_ms.push(until_ms);
        self.bookings.push(booking);
    }
}
