//! The wall clock, read in one place.
//!
//! The domain never reads it (time is an argument); the shells read it here
//! and pass it in, so a rule's time always comes from its caller.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
