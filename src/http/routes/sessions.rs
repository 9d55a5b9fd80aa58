//! `POST /v1/sessions`: a new guest user and its bearer token, the one
//! route that needs no authentication and no `Idempotency-Key`.

use super::answers::{answer, State};
use crate::http::doc_parts;
use crate::http::extract;
use crate::wire::{self, ProblemBody as Problem};
use actix_web::{web, HttpRequest, HttpResponse};

#[utoipa::path(
    post, path = "/v1/sessions", tag = "identity", operation_id = "createSession",
    security(()),
    responses(
        (status = 201, description = "The new guest user and its bearer token.", body = wire::SessionOut),
        (status = 400, description = "`invalid-request`: the body broke off while it was read (e.g. broken chunked encoding); no user was made.", body = Problem, content_type = "application/problem+json"),
        (status = 408, response = doc_parts::RequestTimeout),
        (status = 413, response = doc_parts::PayloadTooLarge),
        (status = 429, response = doc_parts::RateLimited),
        (status = 503, response = doc_parts::Overloaded),
    ),
)]
/// Create a guest user
///
/// Creates a guest user and returns an unguessable bearer token for it (the
/// server stores only a hash of the token). Needs no authentication and no
/// `Idempotency-Key`. New sessions are rate-limited per address. The body
/// means nothing but is read (at most 64 KiB, within the body timeout).
pub(crate) async fn create_session(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    answer(
        async {
            extract::session_limit(&state, &req)?;
            // The body means nothing here, but it is read (bounded, in
            // time) so that a broken one is answered, not dropped.
            extract::body(&state, &req, payload).await?;
            Ok(state.engine.create_session().await)
        }
        .await,
    )
}
