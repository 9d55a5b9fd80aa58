//! What a request one node sends on to another carries: the mark that it
//! was forwarded (a node answers such a request itself, never forwarding
//! it again: one hop) and the client's headers that must go with it. The
//! proxying itself, request and answer, is the HTTP edge's
//! (`http::forward`).

/// The header that marks a request one node sent on to another.
pub const FORWARDED: &str = "boxoffice-forwarded";

/// The client's headers sent on with a forwarded request: who asks, the
/// key that makes a resend safe, and how the body reads.
pub const PASSED_ON: [&str; 3] = ["authorization", "idempotency-key", "content-type"];
