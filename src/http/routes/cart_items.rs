//! `/v1/carts/{cart_id}/items`: holding a seat (or the best N side by
//! side) in a cart, and releasing one.

use super::answers::{answer_here_or_there, as_user, keyed_write, State};
use crate::domain::{CartId, SeatLabel, ShowId};
use crate::http::doc_parts;
use crate::http::extract::EmptyBody;
use crate::http::requests::{NewItemIn, SeatsAsked};
use crate::wire::{self, ProblemBody as Problem};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;

#[utoipa::path(
    post, path = "/v1/carts/{cart_id}/items", tag = "carts", operation_id = "addCartItem",
    security(("bearer" = [])),
    params(doc_parts::IdempotencyKeyHeader, ("cart_id" = String, Path, description = "Cart id.")),
    request_body(content = NewItemIn, example = json!({"show_id": "0b6e4d2c-6f6d-4c59-9a8e-3f4f7c1d2a10", "seat_id": "A1"})),
    responses(
        (status = 201, description = "The cart with the seat held. Replays carry `Idempotent-Replayed: true`.", body = wire::CartOut),
        (status = 400, description = "`invalid-request`: the body is not a valid request, or the seat belongs to another show than the cart's; `idempotency-key-missing` / `idempotency-key-invalid`. Not stored under the key.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not-found`: unknown cart, show or seat, or a cart that belongs to another user. Stored under the key and replayed.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`seat-unavailable`: another cart or booking has the seat (body has `seats`); `seat-restricted`: a companion seat while the cart holds no wheelchair seat of its row (body has `seats`); `no-seats-together`: best available found no block; `cart-closed`: the cart was already checked out; `too-many-holds`: the user already holds `BOXOFFICE_MAX_HOLDS_PER_USER` seats of this show. These are stored under the key and replayed. `request-in-progress`: the same key is still being processed; carries `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        doc_parts::KeyedWriteRefusals,
    ),
)]
/// Hold a seat in a cart
///
/// Holds the seat for this cart until now + hold TTL
/// (`BOXOFFICE_HOLD_TTL_SECS`). A cart holds seats of one show: its first
/// item fixes the show, and a seat of another show is 400
/// `invalid-request`. Adding a seat this cart already holds renews nothing
/// and answers 201. Requires `Idempotency-Key`. Instead of `seat_id`,
/// `best_available` holds the best N seats side by side at once, as for a
/// booking (each counted against the hold quota).
pub(crate) async fn add_item(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let run = async |request, body: NewItemIn| {
        let cart = CartId::parse(&path);
        let ask = body.into_ask(state.max_seats_per_booking)?;
        let engine = &state.engine;
        Ok(match ask.seats {
            SeatsAsked::ById(seat) => engine.add_item(request, cart, ask.show, seat).await,
            SeatsAsked::Best(best) => engine.add_best_items(request, cart, ask.show, best).await,
        })
    };
    keyed_write(&state, &req, payload, EmptyBody::Invalid, run).await
}

#[utoipa::path(
    delete, path = "/v1/carts/{cart_id}/items/{show_id}/{seat_id}", tag = "carts", operation_id = "removeCartItem",
    security(("bearer" = [])),
    params(("cart_id" = String, Path, description = "Cart id."), ("show_id" = String, Path, description = "Show id."), ("seat_id" = String, Path, description = "Seat id (row label + number, e.g. `A1`).")),
    responses(
        (status = 204, description = "The item is removed from the cart and, if its hold was still live, the seat is available again. A seat of the show that is not (or no longer) in the cart also answers 204: repeating a release is not an error."),
        (status = 404, description = "`not-found`: unknown cart or one that belongs to another user, unknown show, or a seat id the show does not have (a malformed id in the path is unknown too).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`cart-closed`: the cart was already checked out. `request-in-progress` (many nodes only): the request was sent on to the node serving the show and what became of it is not known yet; send it again (it changes nothing twice). Carries `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        doc_parts::SignedInRefusals,
    ),
)]
/// Remove an item from a cart
///
/// Releases the hold (if still live) and removes the item from the cart.
/// Not keyed: a seat that is not (or no longer) in the cart answers 204,
/// so a repeated release changes nothing.
pub(crate) async fn remove_item(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (cart, show, seat) = path.into_inner();
    let (cart, show, seat) = (
        CartId::parse(&cart),
        ShowId::parse(&show),
        SeatLabel::parse(&seat),
    );
    let result = as_user(&state, &req, async |user| {
        state.engine.remove_item(user, cart, show, seat).await
    })
    .await;
    answer_here_or_there(&state, &req, Bytes::new(), result).await
}
