//! `GET /v1/shows/{show_id}/sales` (admin, v1.2): a show's sales figures,
//! kept up to date by the node serving the show as bookings happen, and
//! asked of that node by any other.

use super::answers::{answer_here_or_there, State};
use crate::http::doc_parts;
use crate::http::extract;
use crate::wire::{self, ProblemBody as Problem};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;

#[utoipa::path(
    get, path = "/v1/shows/{show_id}/sales", tag = "box office", operation_id = "getSales",
    security(("bearer" = [])),
    params(("show_id" = String, Path, description = "Show id.")),
    responses(
        (status = 200, description = "The figures: `available + held + booked + blocked = capacity`; `booked` and `revenue_cents` count confirmed bookings only; `per_minute` buckets them by the UTC minute they were made, oldest first.", body = wire::SalesOut),
        (status = 404, description = "`not-found`: unknown show.", body = Problem, content_type = "application/problem+json"),
        doc_parts::AdminRefusals,
    ),
)]
/// A show's sales figures (admin)
///
/// Seats by status, confirmed and cancelled bookings, revenue, by category
/// and per minute. Kept up to date as bookings happen, never counted again
/// per request.
pub(crate) async fn sales(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let result = async {
        extract::admin(&state, &req).await?;
        Ok(state.engine.sales(&path).await)
    }
    .await;
    answer_here_or_there(&state, &req, Bytes::new(), result).await
}
