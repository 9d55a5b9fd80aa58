//! `/v1/shows/{show_id}/blocks` (admin, v1.2): house seats kept back from
//! sale, and given back. A write for a show another node serves is sent
//! on to that node.

use super::answers::{answer_here_or_there, keyed_write_by, State};
use crate::domain::ShowId;
use crate::http::doc_parts;
use crate::http::extract::{self, Caller, EmptyBody};
use crate::http::requests::{blocked_seat, NewBlockIn};
use crate::wire::{self, ProblemBody as Problem};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;

#[utoipa::path(
    post, path = "/v1/shows/{show_id}/blocks", tag = "box office", operation_id = "blockSeats",
    security(("bearer" = [])),
    params(("show_id" = String, Path, description = "Show id."), doc_parts::IdempotencyKeyHeader),
    request_body(content = NewBlockIn, example = json!({"seats": ["A1", "A2"], "reason": "press"})),
    responses(
        (status = 201, description = "Every seat is blocked (those already blocked stay so). Replays carry `Idempotent-Replayed: true`.", body = wire::BlockOut),
        (status = 400, description = "`invalid-request`: no seats, a seat twice or over 1,000, a seat the show does not have, a reason over 200 characters, a malformed body; `idempotency-key-missing` / `idempotency-key-invalid`. Nothing changed; not stored under the key.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not-found`: unknown show. Stored under the key and replayed.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`seat-unavailable`: a seat is held or booked; `detail` names the seats and the body has `seats`; nothing was blocked. Stored under the key and replayed. `request-in-progress`: the same key is still being processed; carries `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        doc_parts::AdminWriteRefusals,
    ),
)]
/// Block house seats (admin)
///
/// Keeps seats back from sale (press, a broken seat), all or none: a
/// blocked seat reads `blocked` on the seat map and in seat events, and
/// every booking or hold of it answers 409 `seat-unavailable`; best
/// available never picks it. Requires `Idempotency-Key`.
pub(crate) async fn block_seats(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
    path: web::Path<String>,
) -> HttpResponse {
    let show = ShowId::parse(&path);
    let run = async |request, body: NewBlockIn| {
        let ask = body.into_ask(show)?;
        Ok(state.engine.block(request, ask).await)
    };
    keyed_write_by(
        &state,
        &req,
        payload,
        Caller::Admin,
        EmptyBody::Invalid,
        run,
    )
    .await
}

#[utoipa::path(
    delete, path = "/v1/shows/{show_id}/blocks/{seat_id}", tag = "box office", operation_id = "unblockSeat",
    security(("bearer" = [])),
    params(
        ("show_id" = String, Path, description = "Show id."),
        ("seat_id" = String, Path, description = "Seat id, e.g. `A1`."),
    ),
    responses(
        (status = 204, description = "The seat is available again (or was not blocked: nothing changed)."),
        (status = 400, description = "`invalid-request`: not a seat id, or a seat the show does not have.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not-found`: unknown show.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`request-in-progress` (many nodes only): the request was sent on to the node serving the show and what became of it is not known yet; send it again (it changes nothing twice). Carries `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        doc_parts::AdminRefusals,
    ),
)]
/// Unblock a house seat (admin)
///
/// Gives a blocked seat back to sale. Repeating it answers 204 and
/// changes nothing.
pub(crate) async fn unblock_seat(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (show, seat) = path.into_inner();
    let result = async {
        extract::admin(&state, &req).await?;
        let seat = blocked_seat(&seat)?;
        Ok(state.engine.unblock(ShowId::parse(&show), seat).await)
    }
    .await;
    answer_here_or_there(&state, &req, Bytes::new(), result).await
}
