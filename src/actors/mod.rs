//! Actors: thin shells that own one seat, cart or booking each.
//!
//! An actor receives a message, asks the pure domain what it means, has the
//! engine persist the outcome, and replies. Exclusion comes from the
//! mailbox: a seat actor decides and changes its state in one synchronous
//! handler; cart and booking actors run each request to its end before the
//! next starts (later ones wait in a queue), so their state never
//! interleaves, and a repeat of the running key is answered 409 at once.

pub mod booking;
pub mod cart;
pub mod registry;
pub mod seat;
pub mod serial;
