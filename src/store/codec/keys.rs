//! sled's key layout: a one-byte record kind, then ids (binary, so a
//! seat's and a user's records sort together and scan as a prefix).

use crate::domain::{BookingId, CartId, IdempotencyKey, ShowId, UserId};
use uuid::Uuid;

pub const KIND_SHOW: u8 = 1;
pub const KIND_SEAT: u8 = 2;
pub const KIND_CART: u8 = 3;
pub const KIND_BOOKING: u8 = 4;
pub const KIND_USER_BOOKING: u8 = 5;
pub const KIND_SESSION: u8 = 6;
pub const KIND_KEY: u8 = 7;
/// A commit round's redo record (sled store, issue 18): there only from a
/// round's write until it is durable, or after a crash.
pub const KIND_REDO: u8 = 8;
/// A booking under its owner (issue 18): one record where there were two
/// (`KIND_BOOKING` and the owner index `KIND_USER_BOOKING`, still read).
pub const KIND_OWNED_BOOKING: u8 = 9;
/// A show's bookings in order (v1.2, store format 2): `[kind][show
/// 16][created_at_ms 8, big-endian][booking 16]`, so a show's bookings scan
/// oldest first by `(created_at_ms, id)`; the value says whose the booking
/// is and where its record is (`codec::indexes`).
pub const KIND_SHOW_BOOKING: u8 = 10;
/// A booking's owner by its id alone (v1.2, store format 2): `[kind][booking
/// 16]`, the value the owner, the show and created_at_ms (`codec::indexes`).
pub const KIND_BOOKING_OWNER: u8 = 11;

pub(super) fn id_key(kind: u8, id: &Uuid) -> Vec<u8> {
    id_key_with_room(kind, id, 0)
}

/// `id_key` with room for `more` bytes after it (keys longer than the id
/// are built on it: one allocation, not a second to grow it).
pub(super) fn id_key_with_room(kind: u8, id: &Uuid, more: usize) -> Vec<u8> {
    let mut key = Vec::with_capacity(17 + more);
    key.push(kind);
    key.extend_from_slice(id.as_bytes());
    key
}

pub fn show_key(id: ShowId) -> Vec<u8> {
    id_key(KIND_SHOW, &id.0)
}

pub fn seat_prefix(show: ShowId) -> Vec<u8> {
    id_key(KIND_SEAT, &show.0)
}

pub fn seat_key(show: ShowId, index: u32) -> Vec<u8> {
    let mut key = id_key_with_room(KIND_SEAT, &show.0, 4);
    key.extend_from_slice(&index.to_be_bytes());
    key
}

pub fn cart_key(id: CartId) -> Vec<u8> {
    id_key(KIND_CART, &id.0)
}

pub fn booking_key(id: BookingId) -> Vec<u8> {
    id_key(KIND_BOOKING, &id.0)
}

pub fn user_booking_prefix(user: UserId) -> Vec<u8> {
    id_key(KIND_USER_BOOKING, &user.0)
}

pub fn user_booking_key(user: UserId, booking: BookingId) -> Vec<u8> {
    id_pair_key(KIND_USER_BOOKING, &user.0, &booking.0)
}

/// A record of one user (or show) and one id: the kind, then both ids.
pub(super) fn id_pair_key(kind: u8, first: &Uuid, second: &Uuid) -> Vec<u8> {
    let mut key = Vec::with_capacity(33);
    key.push(kind);
    key.extend_from_slice(first.as_bytes());
    key.extend_from_slice(second.as_bytes());
    key
}

pub fn owned_booking_prefix(owner: UserId) -> Vec<u8> {
    id_key(KIND_OWNED_BOOKING, &owner.0)
}

pub fn owned_booking_key(owner: UserId, booking: BookingId) -> Vec<u8> {
    id_pair_key(KIND_OWNED_BOOKING, &owner.0, &booking.0)
}

pub fn session_key(token_hash: &[u8; 32]) -> Vec<u8> {
    let mut key = Vec::with_capacity(33);
    key.push(KIND_SESSION);
    key.extend_from_slice(token_hash);
    key
}

/// Every key record of `user`.
pub fn user_key_prefix(user: UserId) -> Vec<u8> {
    id_key(KIND_KEY, &user.0)
}

pub fn key_record_key(user: UserId, key: &IdempotencyKey) -> Vec<u8> {
    let mut out = id_key_with_room(KIND_KEY, &user.0, key.as_str().len());
    out.extend_from_slice(key.as_str().as_bytes());
    out
}

/// Every entry of `show`'s bookings index.
pub fn show_booking_prefix(show: ShowId) -> Vec<u8> {
    id_key(KIND_SHOW_BOOKING, &show.0)
}

/// The entry of booking `id`, made at `created_at_ms`, in `show`'s index.
pub fn show_booking_key(show: ShowId, created_at_ms: u64, id: BookingId) -> Vec<u8> {
    let mut key = id_key_with_room(KIND_SHOW_BOOKING, &show.0, 24);
    key.extend_from_slice(&created_at_ms.to_be_bytes());
    key.extend_from_slice(id.0.as_bytes());
    key
}

pub fn booking_owner_key(id: BookingId) -> Vec<u8> {
    id_key(KIND_BOOKING_OWNER, &id.0)
}
