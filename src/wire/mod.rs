//! What goes over the wire: JSON bodies and RFC 9457 problems, one file
//! by what it encodes.
//!
//! Replies are built here once, as bytes, because the engine stores them
//! with their idempotency key and replays them byte for byte.

mod bookings;
mod box_office;
mod carts;
mod cluster;
mod cursor;
mod keys;
mod problem;
mod reply;
mod schema;
mod sessions;
mod shows;
mod time;

pub use bookings::*;
pub use box_office::*;
pub use carts::*;
pub use cluster::*;
pub use cursor::*;
pub use keys::*;
pub use problem::*;
pub use reply::*;
pub use sessions::*;
pub use shows::*;
pub use time::*;

#[cfg(test)]
mod tests;
