//! Record codec: every value starts with a version byte so stored data can
//! be migrated. Keys are binary: a one-byte record kind, then ids.
//!
//! Decoding never panics: a corrupt record is a `StoreError::Corrupt`.
//!
//! By what it encodes: `keys` (sled's key layout), `seats` (binary, the hot
//! path), `replies` (idempotency records), `records` (shows and carts),
//! `bookings` (binary, and the legacy JSON reader), `indexes` (sled's
//! index entries of bookings, by show and by id); `common` what they all
//! share.

mod bookings;
mod common;
mod indexes;
mod keys;
mod records;
mod replies;
mod seats;
#[cfg(test)]
mod tests;

pub use bookings::*;
pub use common::{uuid_at, VERSION};
pub use indexes::*;
pub use keys::*;
pub use records::*;
pub use replies::*;
pub use seats::*;
