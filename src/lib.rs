//! boxoffice: a seat reservation engine for movie-ticket booking.
//!
//! A tour of the modules, from the inside out (each layer imports only the
//! ones before it; ARCHITECTURE.md, "Layers"):
//! - [`domain`]: the rules, pure: seats, carts, bookings, shows, the
//!   idempotency ledger. No IO, no actix, no clock (time is passed in).
//! - [`cluster`]: many nodes on one PostgreSQL database: partitions,
//!   leases and epochs, membership, discovery, the database's history.
//! - [`store`]: durable storage behind the [`store::Store`] trait; sled is the
//!   embedded implementation, with atomic commits and group-commit flushes.
//! - [`wire`]: JSON bodies and problem+json, built once and stored for
//!   replay; [`replies`]: every refusal and failure as its reply.
//! - [`runtime`]: the lower core: settings, clock, crash points, actor
//!   threads and bounded mailboxes, the public seat maps, hold counts.
//! - [`idempotency`]: run, answer now, replay or 422, decided in one place;
//!   the one atomic write of an effect with its key record.
//! - [`actors`]: the shells: one actor per seat, and a serial shell for
//!   carts, bookings and show creations. The mailbox is the lock.
//! - [`shows`]: each show in memory as one unit (seat actors, seat map,
//!   event stream, hold counts), and the multi-seat protocol as a type.
//! - [`ops`]: the operations, one file each (book, checkout, hold, release,
//!   cancel, create show, session, hold expiry).
//! - [`engine`]: the facade the HTTP edge calls: starts everything, routes
//!   each request to its owning actor, answers reads.
//! - [`http`]: the actix-web edge: parse, authenticate, call the engine.
//! - [`config`]: layered settings (`config/default.toml`, `BOXOFFICE_*`, flags).
//! - [`in_process`]: the whole engine with its HTTP edge on a thread of the
//!   caller's process, crashable and restartable from its store.
//!
//! The simulator (`boxoffice simulate`: a crowd with faults and crashes
//! sent over HTTP, and the invariant checker that judges what it saw) is
//! the crate `boxoffice-sim` in `sim/`, beside this one.

pub mod actors;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod engine;
pub mod http;
pub mod idempotency;
pub mod in_process;
pub mod metrics;
pub mod ops;
pub mod replies;
pub mod runtime;
pub mod shows;
pub mod store;
pub mod wire;

#[cfg(test)]
mod layering;
