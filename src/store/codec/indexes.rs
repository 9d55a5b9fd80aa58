//! sled's two indexes of bookings (v1.2, store format 2): a show's
//! bookings in order (`KIND_SHOW_BOOKING`) and a booking's owner by its id
//! (`KIND_BOOKING_OWNER`). Both are written with the booking, in the same
//! commit round, for every `Mutation::Booking`, and rewritten to the same
//! or a newer place whenever the booking moves (a cancel, the key sweep).
//!
//! A show index entry's value finds the booking's record without a scan:
//! `[VERSION][owner 16]`, then, for a booking that lives inside the key
//! record that answered it (issue 18), that key's name (1 to 255 bytes);
//! nothing more for a booking with a record of its own (under its owner,
//! or, written before issue 18, under its id). A record of its own, when
//! there is one, always wins over the key record (it is newer: a cancel).

use super::common::*;
use super::keys::*;
use crate::domain::{Booking, BookingId, ShowId, UserId};
use crate::store::contract::StoreResult;

/// Where a booking's record is, as its show index entry says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BookingPlace<'a> {
    /// A record of its own (`owned_booking_key`, or `booking_key` before
    /// issue 18).
    Own,
    /// Inside the key record of `owner` with this key's name.
    InKeyRecord(&'a [u8]),
}

/// The value of a show index entry (see the module docs).
pub fn encode_show_booking(owner: UserId, place: &BookingPlace<'_>) -> Vec<u8> {
    let key = match place {
        BookingPlace::Own => &[][..],
        BookingPlace::InKeyRecord(key) => key,
    };
    let mut out = Vec::with_capacity(17 + key.len());
    out.push(VERSION);
    out.extend_from_slice(owner.0.as_bytes());
    out.extend_from_slice(key);
    out
}

/// A show index entry's owner and where the booking's record is.
pub fn decode_show_booking(bytes: &[u8]) -> StoreResult<(UserId, BookingPlace<'_>)> {
    let rest = check_version(bytes, "show's booking index")?;
    let owner = UserId(uuid_at(rest, 0)?);
    let place = match &rest[16..] {
        [] => BookingPlace::Own,
        key if key.len() <= crate::domain::key::MAX_KEY_LEN => BookingPlace::InKeyRecord(key),
        _ => return Err(corrupt("show's booking index")),
    };
    Ok((owner, place))
}

/// A show index entry's booking id and created_at_ms, from its key.
pub fn show_booking_entry(key: &[u8]) -> StoreResult<(u64, BookingId)> {
    if key.len() != 1 + 16 + 8 + 16 {
        return Err(corrupt("show's booking index key"));
    }
    let created = u64::from_be_bytes(key[17..25].try_into().expect("8 bytes"));
    Ok((created, BookingId(uuid_at(key, 25)?)))
}

/// The value of a booking's owner entry: `[VERSION][owner 16][show
/// 16][created_at_ms 8]` (the show and time name its show index entry).
pub fn encode_booking_owner(booking: &Booking) -> Vec<u8> {
    let mut out = Vec::with_capacity(41);
    out.push(VERSION);
    out.extend_from_slice(booking.owner.0.as_bytes());
    out.extend_from_slice(booking.show.0.as_bytes());
    out.extend_from_slice(&booking.created_at_ms.to_be_bytes());
    out
}

/// A booking's owner, show and created_at_ms from its owner entry.
pub fn decode_booking_owner(bytes: &[u8]) -> StoreResult<(UserId, ShowId, u64)> {
    let rest = check_version(bytes, "booking's owner index")?;
    if rest.len() != 40 {
        return Err(corrupt("booking's owner index"));
    }
    let created = u64::from_be_bytes(rest[32..40].try_into().expect("8 bytes"));
    Ok((
        UserId(uuid_at(rest, 0)?),
        ShowId(uuid_at(rest, 16)?),
        created,
    ))
}

/// Both index entries of `booking` (key, value), its record at `place`:
/// the show's entry, then the owner's.
pub fn booking_index_entries(
    booking: &Booking,
    place: &BookingPlace<'_>,
) -> [(Vec<u8>, Vec<u8>); 2] {
    [
        (
            show_booking_key(booking.show, booking.created_at_ms, booking.id),
            encode_show_booking(booking.owner, place),
        ),
        (booking_owner_key(booking.id), encode_booking_owner(booking)),
    ]
}
