//! The handlers of the HTTP contract (docs/API.md), one file per resource, each with its OpenAPI
//! declaration (`#[utoipa::path]`) on it. Which path and method runs which
//! handler is `endpoints.rs`; the bodies and queries they read, and their
//! checks, are `requests/`.

mod answers;
pub(super) mod blocks;
pub(super) mod bookings;
pub(super) mod cart_items;
pub(super) mod carts;
pub(super) mod cluster;
pub(super) mod events;
pub(super) mod export;
pub(super) mod idempotency_keys;
pub(super) mod operations;
pub(super) mod pages;
pub(super) mod sales;
pub(super) mod sessions;
pub(super) mod show_bookings;
pub(super) mod shows;
