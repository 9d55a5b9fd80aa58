//! The integration tests, one binary (a module per feature, one `helpers`
//! module): every rule of docs/API.md over HTTP against servers on port 0 with
//! storage of their own, in this process or as the real binary. Every test
//! that concerns the store is written once and runs on each store
//! (`store_test!`: `<test>::sled` and `<test>::postgres`, on a PostgreSQL
//! the tests start themselves); `postgres` holds what only PostgreSQL
//! meets (an outage, the connection pool, migrations).
//!
//! Two tests live in binaries of their own: `commit_queue` configures
//! `fail` failpoints, which are global to a process, and `browser` drives
//! Chromium through node and runs alone, timing a hold's countdown on
//! screen.

mod helpers;

mod abuse;
mod actors;
mod best_available;
mod bookings;
mod carts;
mod cluster;
mod crash_matrix;
mod dump;
mod durability;
mod effect_with_key;
mod event_resume;
mod holds_and_limits;
mod http_hygiene;
mod hung_store;
mod idempotency;
mod identity;
mod key_expiry;
mod key_lookup;
mod kill9;
mod lapsed_hold;
mod model;
mod node_restart;
mod offer;
mod operations;
mod postgres;
mod power_cut;
mod power_cut_sled;
mod races;
mod reply_after_durable;
mod requests;
mod shows;
mod simulate;
mod smoke;
mod store_format;
