//! What the simulator knows of the engine it drives, beyond the HTTP
//! contract: the header that marks a request one node sent on to another
//! (a judge reads a node's own view with it, never a forwarded one), and
//! how soon a node asked to stop inside a commit round does so. This crate
//! does not link the engine; the engine's tests check these values against
//! its own (`tests/api/simulate.rs`).

use std::time::{SystemTime, UNIX_EPOCH};

/// The header a node adds to a request it forwards to the show's owner; a
/// request carrying it is answered by the node itself.
pub const FORWARDED: &str = "boxoffice-forwarded";

/// A node asked (test-only `stop-in-commit`) to stop inside its next
/// commit round does so within this long, or not at all.
pub const STOP_IN_COMMIT_WITHIN_MS: u64 = 2_000;

/// Milliseconds since the Unix epoch (0 if the clock is before it), the
/// clock the engine's times are written in.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
