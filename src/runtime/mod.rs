//! The lower core: what the actors and the operations share.
//!
//! Settings, the clock, crash points, the actor threads with their bounded
//! mailboxes and registries, and the in-memory projections that seat
//! actors publish to (a show's public seat map) or that operations keep
//! (live holds per user). Nothing here knows an actor type or an
//! operation: actors and shows sit above it, the engine facade above those
//! (see ARCHITECTURE.md, "Layers").

pub mod clock;
pub mod config;
pub mod crash;
pub mod hold_quota;
pub mod registry;
pub mod seat_map;
pub mod threads;

pub use config::EngineConfig;
pub use crash::{CrashPoints, Op, Step};
