//! `GET /v1/idempotency-keys/{key}`: what became of one of the caller's
//! keyed requests, for a client that lost its answer.

use super::answers::{answer, as_user, State};
use crate::http::doc_parts;
use crate::wire::{self, ProblemBody as Problem};
use actix_web::{web, HttpRequest, HttpResponse};

#[utoipa::path(
    get, path = "/v1/idempotency-keys/{key}", tag = "bookings", operation_id = "getIdempotencyKey",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The `Idempotency-Key` as sent, URL-encoded.")),
    responses(
        (status = 200, description = "The key's request: running (`in-flight`) or answered (`completed`, with the stored answer's status and time).", body = wire::KeyOut),
        (status = 404, description = "`not-found`: a key this user never sent, one whose record expired, or another user's.", body = Problem, content_type = "application/problem+json"),
        doc_parts::SignedInRefusals,
    ),
)]
/// Look up one of the caller's Idempotency-Keys
///
/// Lets a client that lost an answer learn what happened without sending
/// the request again: whether it is still running, or what it was answered
/// (send the request again with the same key to get the answer itself, a
/// replay). On a cluster, a key still running shows as such on the node
/// running it; a completed one on every node.
pub(crate) async fn get_idempotency_key(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    answer(
        as_user(&state, &req, async |user| {
            state.engine.look_up_key(user, &path).await
        })
        .await,
    )
}
