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
        other => return Err(corrupt(&format!("seat state {other}"))),
    };
    Ok((index as u32, seat))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("seat row: {what}"))
}
