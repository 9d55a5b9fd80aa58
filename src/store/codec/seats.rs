//! Seat records: binary, they are the hot path.

use super::common::*;
use crate::domain::{BookingId, CartId, SeatState};
use crate::store::contract::StoreResult;

// ---- seats: binary, they are the hot path ----

pub(super) const SEAT_HELD: u8 = 1;
pub(super) const SEAT_BOOKED: u8 = 2;
/// Kept back by the box office (v1.2, store format 2): no more bytes.
pub(super) const SEAT_BLOCKED: u8 = 3;

/// `None` for `Available` (the record is deleted).
pub fn encode_seat(state: SeatState) -> Option<Vec<u8>> {
    let mut out = vec![VERSION];
    match state {
        SeatState::Available => return None,
        SeatState::Held { cart, until_ms } => {
            out.push(SEAT_HELD);
            out.extend_from_slice(cart.0.as_bytes());
            out.extend_from_slice(&until_ms.to_be_bytes());
        }
        SeatState::Booked { booking } => {
            out.push(SEAT_BOOKED);
            out.extend_from_slice(booking.0.as_bytes());
        }
        SeatState::Blocked => out.push(SEAT_BLOCKED),
    }
    Some(out)
}

pub fn decode_seat(bytes: &[u8]) -> StoreResult<SeatState> {
    let rest = check_version(bytes, "seat")?;
    match rest.first() {
        Some(&SEAT_HELD) if rest.len() == 25 => {
            let until = u64::from_be_bytes(rest[17..25].try_into().expect("8 bytes"));
            Ok(SeatState::Held {
                cart: CartId(uuid_at(rest, 1)?),
                until_ms: until,
            })
        }
        Some(&SEAT_BOOKED) if rest.len() == 17 => Ok(SeatState::Booked {
            booking: BookingId(uuid_at(rest, 1)?),
        }),
        Some(&SEAT_BLOCKED) if rest.len() == 1 => Ok(SeatState::Blocked),
        _ => Err(corrupt("seat")),
    }
}
