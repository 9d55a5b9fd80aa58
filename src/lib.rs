//! boxoffice: a seat reservation engine for movie-ticket booking.
//!
//! A tour of the modules, from the inside out:
//! - [`domain`]: the rules, pure: seats, carts, bookings, shows, the
//!   idempotency ledger. No IO, no actix, no clock (time is passed in).
//! - [`store`]: durable storage behind the [`store::Store`] trait; sled is the
//!   embedded implementation, with atomic commits and group-commit flushes.
//! - [`actors`]: one actix actor per seat, cart and booking; the mailbox is
//!   the lock. Actors are activated on first use and passivated when idle.
//! - [`engine`]: routes requests to their owning actors and runs the shared
//!   steps of the idempotency protocol; keeps the public seat maps.
//! - [`wire`]: JSON bodies and problem+json, built once and stored for replay.
//! - [`http`]: the actix-web edge: parse, authenticate, call the engine.
//! - [`config`]: layered settings (`config/default.toml`, `BOXOFFICE_*`, flags).
//! - [`sim`]: `boxoffice simulate`: a crowd with faults and crashes, and the
//!   invariant checker that judges what it saw.

pub mod actors;
pub mod config;
pub mod domain;
pub mod engine;
pub mod http;
pub mod metrics;
pub mod sim;
pub mod store;
pub mod wire;
