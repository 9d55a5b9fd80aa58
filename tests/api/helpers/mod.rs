//! The harness every feature shares: servers (in process or the real
//! binary) on either store, the tests' own PostgreSQL, the client and its
//! one request sender, and common checks.

mod checks;
mod cli;
mod client;
pub mod crowd;
pub mod environment;
mod fixtures;
mod local_engine;
pub mod postgres;
pub mod power_cut;
pub mod registry;
mod server;
mod store;

pub use boxoffice_test_macros::api_test;
pub use checks::*;
pub use cli::*;
pub use client::*;
pub use fixtures::*;
pub use local_engine::local_engines;
pub use postgres::PgServer;
pub use server::*;
pub use store::*;
