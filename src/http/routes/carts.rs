//! `/v1/carts`: creating a cart, reading one, and checking it out into a
//! booking. Holding and releasing its seats is `cart_items.rs`.

use super::answers::{answer, as_user, keyed_write, State};
use crate::domain::CartId;
use crate::http::doc_parts;
use crate::http::extract::{self, Caller, EmptyBody};
use crate::http::requests::EmptyIn;
use crate::wire::{self, ProblemBody as Problem};
use actix_web::{web, HttpRequest, HttpResponse};

#[utoipa::path(
    post, path = "/v1/carts", tag = "carts", operation_id = "createCart",
    security(("bearer" = [])),
    params(doc_parts::IdempotencyKeyHeader),
    request_body(content = EmptyIn, example = json!({})),
    responses(
        (status = 201, description = "The new, open, empty cart (`items: []`, `expires_at: null`). Replays carry `Idempotent-Replayed: true`.", body = wire::CartOut),
        (status = 400, description = "`invalid-request`: the body is not a valid request; `idempotency-key-missing` / `idempotency-key-invalid`: the `Idempotency-Key` header is absent or malformed. Not stored under the key.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`request-in-progress`: the same idempotency key is still being processed; carries `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        doc_parts::KeyedWriteRefusals,
    ),
)]
/// Create an empty cart
///
/// Body must be `{}`. Requires `Idempotency-Key`.
pub(crate) async fn create_cart(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    answer(
        async {
            let (request, EmptyIn {}) =
                extract::keyed(&state, &req, payload, Caller::User, EmptyBody::IsObject).await?;
            Ok(state.engine.create_cart(request).await)
        }
        .await,
    )
}

#[utoipa::path(
    get, path = "/v1/carts/{cart_id}", tag = "carts", operation_id = "getCart",
    security(("bearer" = [])),
    params(("cart_id" = String, Path, description = "Cart id.")),
    responses(
        (status = 200, description = "The cart.", body = wire::CartOut),
        (status = 404, description = "`not-found`: unknown cart (a malformed id too), or one that belongs to another user.", body = Problem, content_type = "application/problem+json"),
        doc_parts::SignedInRefusals,
    ),
)]
/// Get one of the caller's carts
///
/// The cart's `expires_at` is its earliest live hold's (null when none).
/// Lapsed holds stay in the cart as `expired` items until removed.
pub(crate) async fn get_cart(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let cart = CartId::parse(&path);
    answer(
        as_user(&state, &req, async |user| {
            state.engine.get_cart(user, cart).await
        })
        .await,
    )
}

#[utoipa::path(
    post, path = "/v1/carts/{cart_id}/checkout", tag = "carts", operation_id = "checkoutCart",
    security(("bearer" = [])),
    params(doc_parts::IdempotencyKeyHeader, ("cart_id" = String, Path, description = "Cart id.")),
    request_body(content = EmptyIn, example = json!({})),
    responses(
        (status = 201, description = "The booking of every seat in the cart. Replays carry `Idempotent-Replayed: true`.", body = wire::BookingOut),
        (status = 400, description = "`invalid-request`: the body is not a valid request, or the cart is empty; `idempotency-key-missing` / `idempotency-key-invalid`. Not stored under the key.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not-found`: unknown cart, or one that belongs to another user. Stored under the key and replayed.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`hold-expired`: a hold in the cart lapsed, nothing was booked; `seat-restricted`: a companion seat whose row's wheelchair seat is no longer in the cart (body has `seats`); `cart-closed`: the cart was already checked out. These are stored under the key and replayed. `request-in-progress`: the same key is still being processed; carries `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        doc_parts::KeyedWriteRefusals,
    ),
)]
/// Check out a cart
///
/// Books every seat in the cart, all or nothing. Body must be `{}`. After
/// checkout the cart's status is `checked_out` and every change to it
/// answers 409 `cart-closed`. Requires `Idempotency-Key`.
pub(crate) async fn checkout(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let run =
        async |request, EmptyIn {}| Ok(state.engine.checkout(request, CartId::parse(&path)).await);
    keyed_write(&state, &req, payload, EmptyBody::IsObject, run).await
}
