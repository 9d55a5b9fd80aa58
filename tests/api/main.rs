//! The integration tests, one binary (a module per feature, one `helpers`
//! module): every rule of API.md over HTTP against servers on port 0 with
//! a temporary data directory, in this process or as the real binary.
//!
//! Two tests live in binaries of their own: `commit_queue` configures
//! `fail` failpoints, which are global to a process, and `browser` drives
//! Chromium through node and runs alone, timing a hold's countdown on
//! screen.

mod helpers;

mod abuse;
mod actors;
mod bookings;
mod carts;
mod crash_matrix;
mod durability;
mod holds_and_limits;
mod hung_store;
mod idempotency;
mod identity;
mod key_expiry;
mod kill9;
mod model;
mod operations;
mod postgres;
mod races;
mod requests;
mod shows;
mod simulate;
mod smoke;
