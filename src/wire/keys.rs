//! The answer to `GET /v1/idempotency-keys/{key}`: what became of a key.

use super::time::rfc3339;
use serde::Serialize;
use utoipa::ToSchema;

/// What became of an `Idempotency-Key` (`GET /v1/idempotency-keys/{key}`).
#[derive(Serialize, ToSchema)]
#[schema(as = IdempotencyKeyState)]
pub struct KeyOut {
    /// The key, as the server read it from the header.
    pub key: String,
    /// `in-flight` while its request runs, `completed` once it answered.
    #[schema(example = "completed")]
    pub state: &'static str,
    /// The request's method and path (null for keys stored by a build
    /// before 1.1).
    #[schema(example = "POST")]
    pub method: Option<String>,
    #[schema(example = "/v1/bookings")]
    pub path: Option<String>,
    /// The status of its stored answer (null while in flight).
    #[schema(example = 201)]
    pub status: Option<u16>,
    /// When it answered (RFC 3339; null while in flight).
    pub completed_at: Option<String>,
}

/// `KeyOut` of a running key (`completed: None`) or a completed one
/// (its status and time).
pub fn key_out(
    key: &str,
    line: Option<&crate::domain::RequestLine>,
    completed: Option<(u16, u64)>,
) -> KeyOut {
    KeyOut {
        key: key.to_string(),
        state: if completed.is_some() {
            "completed"
        } else {
            "in-flight"
        },
        method: line.map(|l| l.method.clone()),
        path: line.map(|l| l.path.clone()),
        status: completed.map(|(status, _)| status),
        completed_at: completed.map(|(_, at_ms)| rfc3339(at_ms as i64)),
    }
}
