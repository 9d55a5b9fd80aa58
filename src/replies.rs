//! Every refusal and failure a client can get, engine's and HTTP edge's
//! alike, in one table: each problem code with its status, `type` and
//! title (`Code`), then each refusal with the words it says, by status.
//! The same situation always answers with the same code, status and
//! words, whichever operation or route met it. `wire::problem_reply` only
//! writes the RFC 9457 body these give it.

use crate::domain::{CartError, Show, ShowId};
use crate::store::StoreError;
use crate::wire::{self, Reply};

/// The problem codes of the contract (docs/API.md §3), plus `internal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    InvalidRequest,
    IdempotencyKeyMissing,
    IdempotencyKeyInvalid,
    Unauthorized,
    Forbidden,
    NotFound,
    SeatUnavailable,
    /// A companion seat without a wheelchair seat of its row (v1.1).
    SeatRestricted,
    /// Best available found no block of N seats side by side (v1.1).
    NoSeatsTogether,
    HoldExpired,
    CartClosed,
    /// A booking, hold or checkout after the show's sales end (v1.2).
    SalesClosed,
    TooManyHolds,
    RequestInProgress,
    RequestTimeout,
    PayloadTooLarge,
    IdempotencyKeyReused,
    RateLimited,
    Internal,
    Overloaded,
    /// A known path asked with a method it does not answer (405, `Allow`).
    MethodNotAllowed,
}

impl Code {
    /// The table: each code's status, slug (the last segment of its
    /// `type`) and title.
    fn row(self) -> (u16, &'static str, &'static str) {
        match self {
            Code::InvalidRequest => (400, "invalid-request", "Invalid request"),
            Code::IdempotencyKeyMissing => {
                (400, "idempotency-key-missing", "Idempotency-Key missing")
            }
            Code::IdempotencyKeyInvalid => {
                (400, "idempotency-key-invalid", "Idempotency-Key invalid")
            }
            Code::Unauthorized => (401, "unauthorized", "Unauthorized"),
            Code::Forbidden => (403, "forbidden", "Forbidden"),
            Code::NotFound => (404, "not-found", "Not found"),
            Code::MethodNotAllowed => (405, "method-not-allowed", "Method not allowed"),
            Code::RequestTimeout => (408, "request-timeout", "Request timeout"),
            Code::SeatUnavailable => (409, "seat-unavailable", "Seat unavailable"),
            Code::SeatRestricted => (409, "seat-restricted", "Seat restricted"),
            Code::NoSeatsTogether => (409, "no-seats-together", "No seats together"),
            Code::HoldExpired => (409, "hold-expired", "Hold expired"),
            Code::CartClosed => (409, "cart-closed", "Cart closed"),
            Code::SalesClosed => (409, "sales-closed", "Sales closed"),
            Code::TooManyHolds => (409, "too-many-holds", "Too many holds"),
            Code::RequestInProgress => (409, "request-in-progress", "Request in progress"),
            Code::PayloadTooLarge => (413, "payload-too-large", "Payload too large"),
            Code::IdempotencyKeyReused => (422, "idempotency-key-reused", "Idempotency-Key reused"),
            Code::RateLimited => (429, "rate-limited", "Rate limited"),
            Code::Internal => (500, "internal", "Internal error"),
            Code::Overloaded => (503, "overloaded", "Overloaded"),
        }
    }

    pub fn status(self) -> u16 {
        self.row().0
    }

    pub fn slug(self) -> &'static str {
        self.row().1
    }

    pub fn title(self) -> &'static str {
        self.row().2
    }

    /// Whether its answer says when to retry (`Retry-After: 1` unless the
    /// refusal knows better).
    fn retries_after(self) -> bool {
        matches!(
            self,
            Code::RequestInProgress | Code::RateLimited | Code::Overloaded
        )
    }
}

/// An `application/problem+json` reply.
pub fn problem(code: Code, detail: &str) -> Reply {
    problem_with_seats(code, detail, None)
}

fn problem_with_seats(code: Code, detail: &str, seats: Option<&[String]>) -> Reply {
    let mut reply = wire::problem_reply(code.status(), code.slug(), code.title(), detail, seats);
    if code.retries_after() {
        reply.retry_after_secs = Some(1);
    }
    reply
}

// ---- 400 ----

/// 400 `invalid-request`: the request's body, path or query is not a
/// valid request (`detail` says why).
pub fn invalid_request(detail: &str) -> Reply {
    problem(Code::InvalidRequest, detail)
}

/// 400: the body broke off while it was read.
pub fn unreadable_body() -> Reply {
    invalid_request("unreadable body")
}

/// 400 `idempotency-key-missing`.
pub fn key_missing() -> Reply {
    problem(
        Code::IdempotencyKeyMissing,
        "this request needs an Idempotency-Key header",
    )
}

/// 400 `idempotency-key-invalid` (`detail` says why).
pub fn key_invalid(detail: &str) -> Reply {
    problem(Code::IdempotencyKeyInvalid, detail)
}

// ---- 401, 403 ----

/// 401: no bearer token, or one of no session.
pub fn unauthorized() -> Reply {
    problem(Code::Unauthorized, "a valid bearer token is required")
}

/// 403: an admin endpoint asked without the admin token.
pub fn forbidden() -> Reply {
    problem(Code::Forbidden, "this endpoint needs the admin token")
}

// ---- 404, 405 ----

/// 404 for a show, seat, cart or booking that does not exist or is
/// another user's (or a path the server does not know: `"resource"`).
pub fn not_found(what: &str) -> Reply {
    problem(Code::NotFound, &format!("no such {what}"))
}

/// 404 `GET /v1/cluster` on the sled store: a cluster of one node.
pub fn no_cluster() -> Reply {
    problem(
        Code::NotFound,
        "no cluster: this server keeps its data in the embedded sled store",
    )
}

/// 405: a known path asked with `method`; `allow` lists those it answers.
pub fn method_not_allowed(method: &str, path: &str, allow: &str) -> Reply {
    problem(
        Code::MethodNotAllowed,
        &format!("{method} is not supported on {path}; Allow: {allow}"),
    )
}

// ---- 408, 413 ----

/// 408: the body did not arrive within `client_request_timeout_secs`.
pub fn request_timeout() -> Reply {
    problem(
        Code::RequestTimeout,
        "the request body did not arrive in time",
    )
}

/// 413: a body over `http::MAX_BODY_BYTES`.
pub fn payload_too_large() -> Reply {
    problem(
        Code::PayloadTooLarge,
        "request bodies are limited to 64 KiB",
    )
}

// ---- 409 ----

/// 409 `seat-unavailable` naming the seats.
pub fn seat_unavailable(seats: &[String]) -> Reply {
    let detail = format!("not available: {}", seats.join(", "));
    problem_with_seats(Code::SeatUnavailable, &detail, Some(seats))
}

/// 409 `seat-restricted`: `lone` companion seats of `show` asked for
/// without a wheelchair seat of their row (counted once, by its code).
pub fn seat_restricted(show: &Show, lone: &[u32]) -> Reply {
    crate::metrics::CONFLICTS
        .with_label_values(&["seat-restricted"])
        .inc();
    let names: Vec<String> = lone
        .iter()
        .map(|&seat| show.layout.label_of(seat).to_string())
        .collect();
    seat_restricted_named(&names)
}

/// `seat_restricted`'s answer for seats already named (and not counted):
/// companion seats asked for without a wheelchair seat of their row in
/// the same booking or cart.
pub fn seat_restricted_named(seats: &[String]) -> Reply {
    let detail = format!(
        "companion seats are sold only with a wheelchair seat of their row in the same booking or cart: {}",
        seats.join(", ")
    );
    problem_with_seats(Code::SeatRestricted, &detail, Some(seats))
}

/// 409: best available found no block of `count` free seats side by side.
pub fn no_seats_together(count: u32) -> Reply {
    problem(
        Code::NoSeatsTogether,
        &format!("no {count} free seats side by side in one block"),
    )
}

/// 409 `sales-closed`: the show's online sales have ended.
pub fn sales_closed(show: &Show) -> Reply {
    let end = show
        .sales_end_at_ms
        .map(crate::wire::rfc3339)
        .unwrap_or_default();
    problem(
        Code::SalesClosed,
        &format!("online sales for this show ended at {end}"),
    )
}

/// 409 `too-many-holds`.
pub fn too_many_holds(max_holds_per_user: usize) -> Reply {
    problem(
        Code::TooManyHolds,
        &format!("you already hold {max_holds_per_user} seats of this show"),
    )
}

/// 409: the same key is running right now.
pub fn in_progress() -> Reply {
    problem(
        Code::RequestInProgress,
        "a request with this Idempotency-Key is still being processed",
    )
}

/// The answer to a cart the domain refused; the conflicts among them (409)
/// are counted here, once each, by their code.
pub fn cart_error(error: CartError) -> Reply {
    let conflict = match error {
        CartError::Closed => Some("cart-closed"),
        CartError::HoldExpired => Some("hold-expired"),
        CartError::OtherShow | CartError::Empty | CartError::NoSuchItem => None,
    };
    if let Some(code) = conflict {
        crate::metrics::CONFLICTS.with_label_values(&[code]).inc();
    }
    match error {
        CartError::Closed => problem(Code::CartClosed, "the cart is already checked out"),
        CartError::OtherShow => {
            invalid_request("a cart holds seats of one show; this seat is of another")
        }
        CartError::Empty => invalid_request("the cart is empty"),
        CartError::HoldExpired => problem(
            Code::HoldExpired,
            "a hold in this cart has lapsed; nothing was booked",
        ),
        CartError::NoSuchItem => not_found("cart item"),
    }
}

// ---- 422, 429 ----

/// 422: the key belongs to another request.
pub fn key_reused() -> Reply {
    problem(
        Code::IdempotencyKeyReused,
        "this Idempotency-Key was already used for a different request",
    )
}

/// 429: the user has as many stored keys as allowed.
pub fn too_many_keys() -> Reply {
    problem(
        Code::RateLimited,
        "this user has stored as many Idempotency-Keys as allowed; older ones expire",
    )
    .with_retry_after(60)
}

/// 429: the user's requests came faster than its rate; retry in `secs`.
pub fn too_many_requests(secs: u32) -> Reply {
    problem(Code::RateLimited, "too many requests from this user").with_retry_after(secs)
}

/// 429: new sessions from one address came faster than allowed; retry in
/// `secs`.
pub fn too_many_sessions(secs: u32) -> Reply {
    problem(Code::RateLimited, "too many new sessions from this address").with_retry_after(secs)
}

/// 429: too many unknown tokens came from this address; nothing it sends
/// is looked at for `secs`.
pub fn too_many_token_guesses(secs: u32) -> Reply {
    problem(
        Code::RateLimited,
        "too many unknown tokens from this address",
    )
    .with_retry_after(secs)
}

// ---- 500, 503 ----

/// 500: the store failed in a way retrying will not mend; nothing
/// happened.
pub fn storage_failure() -> Reply {
    problem(Code::Internal, "storage failure; the request had no effect")
}

/// 503: shed load (a full mailbox or commit queue), or the store cannot
/// be reached (a database down or restarting); nothing happened.
pub fn overloaded() -> Reply {
    problem(Code::Overloaded, "the engine is busy; retry shortly")
}

/// 503 for a write to a show whose partition another node holds: the
/// HTTP edge forwards the request to that node (`Reply::forward_to`).
pub fn not_owner(show: ShowId) -> Reply {
    let mut reply = problem(
        Code::Overloaded,
        "another node serves this show and could not be reached; retry shortly",
    );
    reply.forward_to = Some(show);
    reply
}

/// 503: best available lost every race for the seats it chose (never a
/// 409, which would claim no block was free).
pub fn best_seats_taken() -> Reply {
    problem(
        Code::Overloaded,
        "the best seats went to others while they were being chosen; retry",
    )
}

/// 503: `GET /v1/admin/export` while one runs.
pub fn export_running() -> Reply {
    problem(Code::Overloaded, "an export is already running")
}

/// Why the engine could not run a request at all (nothing happened).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("overloaded")]
    Overloaded,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A question about the cluster the database could not answer: answered
/// as the store's failures are.
impl From<crate::cluster::DatabaseError> for EngineError {
    fn from(error: crate::cluster::DatabaseError) -> Self {
        EngineError::Store(error.into())
    }
}

impl EngineError {
    pub fn reply(&self) -> Reply {
        match self {
            EngineError::Overloaded
            | EngineError::Store(StoreError::Busy)
            | EngineError::Store(StoreError::Stalled(_))
            | EngineError::Store(StoreError::Unavailable(_)) => overloaded(),
            EngineError::Store(error) => {
                tracing::error!(%error, "store failure");
                storage_failure()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_code_status_and_seats() {
        let reply = seat_unavailable(&["A1".into(), "A2".into()]);
        assert_eq!(reply.status, 409);
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            body["type"],
            "https://boxoffice.dev/problems/seat-unavailable"
        );
        assert_eq!(body["status"], 409);
        assert_eq!(body["seats"], serde_json::json!(["A1", "A2"]));
        assert!(body["detail"].as_str().unwrap().contains("A1, A2"));
        assert_eq!(problem(Code::Overloaded, "x").retry_after_secs, Some(1));
    }
}
