//! Actors: thin shells that own one seat, or one cart, booking or show
//! creation each.
//!
//! An actor receives a message, asks the domain (a seat) or runs an
//! operation (`ops`, for the serial actors), and replies. Exclusion comes
//! from the mailbox: a seat actor decides and changes its state in one
//! synchronous handler; serial actors run each request to its end before
//! the next starts (later ones wait in a queue), so their record never
//! sees two changes interleave, and a repeat of the running key is
//! answered 409 at once.
//!
//! Actors sit on the lower core (`runtime`, `idempotency`, `store`): they
//! know no operation and no show beyond what they are given at start.

pub mod seat;
pub mod serial;
