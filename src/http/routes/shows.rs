//! `/v1/shows`: creating a show (admin), the list of shows, and one show
//! with its seat map, sent a piece at a time (`seat_map_body`). A show's
//! event stream is `events.rs`.

use super::answers::{answer, State};
use crate::http::doc_parts;
use crate::http::extract::{self, Caller, EmptyBody};
use crate::http::forward::or_forward;
use crate::http::requests::NewShowIn;
use crate::http::respond::respond;
use crate::http::seat_map_body::seat_map_body;
use crate::wire::{self, ProblemBody as Problem};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;

#[utoipa::path(
    post, path = "/v1/shows", tag = "shows", operation_id = "createShow",
    security(("bearer" = [])),
    params(doc_parts::IdempotencyKeyHeader),
    request_body(content = NewShowIn, example = json!({"title": "Premiere", "starts_at": "2030-01-01T20:00:00Z", "rows": [{"label": "A", "seats": 10}]})),
    responses(
        (status = 201, description = "The created show, as returned by `GET /v1/shows/{show_id}`. Replays carry `Idempotent-Replayed: true`.", body = wire::ShowOut),
        (status = 400, description = "`invalid-request`: the body is not a valid request; `idempotency-key-missing` / `idempotency-key-invalid`: the `Idempotency-Key` header is absent or malformed. Not stored under the key.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`request-in-progress`: the same idempotency key is still being processed; carries `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        doc_parts::AdminWriteRefusals,
    ),
)]
/// Create a show (admin)
///
/// Admin only: the bearer token must be the admin token
/// (`BOXOFFICE_ADMIN_TOKEN`). When no admin token is configured this endpoint
/// answers 403 to everyone. Row labels are 1-3 letters A-Z, 1-999 seats a
/// row, at most 100,000 seats a show; beyond that 400 `invalid-request`.
/// Requires `Idempotency-Key` (keys are scoped to the admin user). The
/// admin token is exempt from the rate limit and the cap on stored keys:
/// no 429.
pub(crate) async fn create_show(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    answer(
        async {
            let (request, body) = extract::keyed::<NewShowIn>(
                &state,
                &req,
                payload,
                Caller::Admin,
                EmptyBody::Invalid,
            )
            .await?;
            let new = body.into_new_show()?;
            Ok(state.engine.create_show(request, new).await)
        }
        .await,
    )
}

#[utoipa::path(
    get, path = "/v1/shows", tag = "shows", operation_id = "listShows",
    security(()),
    responses(
        (status = 200, description = "All shows with their capacity and currently available seat count.", body = wire::ShowListOut),
        (status = 503, response = doc_parts::Overloaded),
    ),
)]
/// List shows
///
/// Public; no authentication needed.
pub(crate) async fn list_shows(state: State) -> HttpResponse {
    respond(state.engine.list_shows())
}

#[utoipa::path(
    get, path = "/v1/shows/{show_id}", tag = "shows", operation_id = "getShow",
    security(()),
    params(("show_id" = String, Path, description = "Show id.")),
    responses(
        (status = 200, description = "The show and the status of every seat.", body = wire::ShowOut),
        (status = 404, description = "`not-found`: unknown show (a malformed id too).", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = doc_parts::Overloaded),
    ),
)]
/// Get a show with its seat map
///
/// Public; no authentication needed.
pub(crate) async fn get_show(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let unit = match state.engine.show_named(&path).await {
        Ok(unit) => unit,
        Err(reply) => return respond(reply),
    };
    if !unit.lease_is_current() {
        // Another node serves the show: its map here is a copy that does
        // not follow the changes; the owner's is asked for.
        let asked = crate::replies::not_owner(unit.id());
        return respond(or_forward(&state, &req, Bytes::new(), asked).await);
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(seat_map_body(unit.map().clone()))
}
