//! The harness every feature shares: servers (in process or the real
//! binary), the client and its one request sender, and common checks.

mod checks;
mod client;
mod server;

pub use checks::*;
pub use client::*;
pub use server::*;
