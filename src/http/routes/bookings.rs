//! `/v1/bookings`: booking seats in one shot, the caller's bookings, one
//! booking, and its cancellation.

use super::answers::{answer, answer_here_or_there, as_user, keyed_write, State};
use crate::domain::BookingId;
use crate::http::doc_parts;
use crate::http::extract::EmptyBody;
use crate::http::requests::NewBookingIn;
use crate::wire::{self, ProblemBody as Problem};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;

#[utoipa::path(
    post, path = "/v1/bookings", tag = "bookings", operation_id = "createBooking",
    security(("bearer" = [])),
    params(doc_parts::IdempotencyKeyHeader),
    request_body(content = NewBookingIn, example = json!({"show_id": "0b6e4d2c-6f6d-4c59-9a8e-3f4f7c1d2a10", "seats": ["A1", "A2"]})),
    responses(
        (status = 201, description = "The confirmed booking. Replays carry `Idempotent-Replayed: true`.", body = wire::BookingOut),
        (status = 400, description = "`invalid-request`: the body is not a valid request; `idempotency-key-missing` / `idempotency-key-invalid`: the `Idempotency-Key` header is absent or malformed. Not stored under the key.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not-found`: unknown show or seat. Stored under the key and replayed.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`seat-unavailable`: a requested seat is held or booked by someone else; `detail` names the seats and the body has `seats`; no seat changed. `seat-restricted`: a companion seat without a wheelchair seat of its row in the same request (body has `seats`). `no-seats-together`: best available found no block of N seats side by side. All stored under the key and replayed). `request-in-progress`: the same key is still being processed; carries `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        doc_parts::KeyedWriteRefusals,
    ),
)]
/// Book seats in one shot
///
/// All or nothing: either every requested seat is booked, or none is.
/// Requires `Idempotency-Key`. Empty seat lists, repeated seats, or more
/// seats than `max_seats_per_booking` (default 10) answer 400
/// `invalid-request`. Instead of `seats`, `best_available` lets the engine
/// choose N seats side by side in one row and one block between aisles,
/// nearest the centre, stranding no single seat when it can; none fits:
/// 409 `no-seats-together` (stored); a replay returns the same seats.
pub(crate) async fn create_booking(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let run = async |request, body: NewBookingIn| {
        let ask = body.into_ask(state.max_seats_per_booking)?;
        Ok(state.engine.book_choice(request, ask.show, ask.seats).await)
    };
    keyed_write(&state, &req, payload, EmptyBody::Invalid, run).await
}

#[utoipa::path(
    get, path = "/v1/bookings", tag = "bookings", operation_id = "listBookings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's bookings.", body = wire::BookingListOut),
        doc_parts::SignedInRefusals,
    ),
)]
/// List the caller's bookings
///
/// The caller's own bookings, cancelled ones included with `status:
/// cancelled`.
pub(crate) async fn list_bookings(state: State, req: HttpRequest) -> HttpResponse {
    answer(
        as_user(&state, &req, async |user| {
            state.engine.list_bookings(user).await
        })
        .await,
    )
}

#[utoipa::path(
    get, path = "/v1/bookings/{booking_id}", tag = "bookings", operation_id = "getBooking",
    security(("bearer" = [])),
    params(("booking_id" = String, Path, description = "Booking id.")),
    responses(
        (status = 200, description = "The booking.", body = wire::BookingOut),
        (status = 404, description = "`not-found`: unknown booking (a malformed id too), or one that belongs to another user.", body = Problem, content_type = "application/problem+json"),
        doc_parts::SignedInRefusals,
    ),
)]
/// Get one of the caller's bookings
///
/// The booking with its seats and status.
pub(crate) async fn get_booking(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let booking = BookingId::parse(&path);
    answer(
        as_user(&state, &req, async |user| {
            state.engine.get_booking(user, booking).await
        })
        .await,
    )
}

#[utoipa::path(
    delete, path = "/v1/bookings/{booking_id}", tag = "bookings", operation_id = "cancelBooking",
    security(("bearer" = [])),
    params(("booking_id" = String, Path, description = "Booking id.")),
    responses(
        (status = 204, description = "Cancelled (or already cancelled)."),
        (status = 404, description = "`not-found`: unknown booking (a malformed id too), or one that belongs to another user.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`request-in-progress` (many nodes only): the request was sent on to the node serving the show and what became of it is not known yet; send it again (it changes nothing twice). Carries `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        doc_parts::SignedInRefusals,
    ),
)]
/// Cancel a booking
///
/// The booking turns `cancelled` and its seats become available again.
/// Repeating it answers 204 and changes nothing.
pub(crate) async fn cancel_booking(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let booking = BookingId::parse(&path);
    let result = as_user(&state, &req, async |user| {
        state.engine.cancel_booking(user, booking).await
    })
    .await;
    answer_here_or_there(&state, &req, Bytes::new(), result).await
}
