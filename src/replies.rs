//! Every refusal and failure of the engine as the reply a client gets.
//!
//! One table from outcomes to problem+json (`wire::problem`), so the same
//! situation always answers with the same code, status and words, whichever
//! operation met it.

use crate::domain::{CartError, Show, ShowId};
use crate::store::StoreError;
use crate::wire::{self, Code, Reply};

/// Why the engine could not run a request at all (nothing happened).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("overloaded")]
    Overloaded,
    #[error(transparent)]
    Store(#[from] StoreError),
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
                wire::problem(Code::Internal, "storage failure; the request had no effect")
            }
        }
    }
}

/// 503: shed load (a full mailbox or commit queue), or the store cannot
/// be reached (a database down or restarting); nothing happened.
pub fn overloaded() -> Reply {
    wire::problem(Code::Overloaded, "the engine is busy; retry shortly")
}

/// 503 for a write to a show whose partition another node holds: the
/// HTTP edge forwards the request to that node (`Reply::forward_to`).
pub fn not_owner(show: ShowId) -> Reply {
    let mut reply = wire::problem(
        Code::Overloaded,
        "another node serves this show and could not be reached; retry shortly",
    );
    reply.forward_to = Some(show);
    reply
}

/// 404 for a show, seat, cart or booking that does not exist or is
/// another user's.
pub fn not_found(what: &str) -> Reply {
    wire::problem(Code::NotFound, &format!("no such {what}"))
}

/// 409: the same key is running right now.
pub fn in_progress() -> Reply {
    wire::problem(
        Code::RequestInProgress,
        "a request with this Idempotency-Key is still being processed",
    )
}

/// 422: the key belongs to another request.
pub fn key_reused() -> Reply {
    wire::problem(
        Code::IdempotencyKeyReused,
        "this Idempotency-Key was already used for a different request",
    )
}

/// 429: the user has as many stored keys as allowed.
pub fn too_many_keys() -> Reply {
    wire::problem(
        Code::RateLimited,
        "this user has stored as many Idempotency-Keys as allowed; older ones expire",
    )
    .with_retry_after(60)
}

/// 409 `too-many-holds`.
pub fn too_many_holds(max_holds_per_user: usize) -> Reply {
    wire::problem(
        Code::TooManyHolds,
        &format!("you already hold {max_holds_per_user} seats of this show"),
    )
}

/// A cart's refusal of a change.
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
    wire::seat_restricted(&names)
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
        CartError::Closed => wire::problem(Code::CartClosed, "the cart is already checked out"),
        CartError::OtherShow => wire::problem(
            Code::InvalidRequest,
            "a cart holds seats of one show; this seat is of another",
        ),
        CartError::Empty => wire::problem(Code::InvalidRequest, "the cart is empty"),
        CartError::HoldExpired => wire::problem(
            Code::HoldExpired,
            "a hold in this cart has lapsed; nothing was booked",
        ),
        CartError::NoSuchItem => not_found("cart item"),
    }
}
