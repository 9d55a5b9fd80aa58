//! `GET /healthz` and `GET /metrics`: what operators and their probes ask
//! of a running server (the OpenAPI tag `operations`; the cluster view
//! and the export, admin only, have files of their own).

use actix_web::HttpResponse;

#[utoipa::path(
    get, path = "/healthz", tag = "operations", operation_id = "healthz",
    security(()),
    responses(
        (status = 200, description = "The server accepts requests.", content_type = "application/json", body = Object, example = json!({"status": "ok"})),
    ),
)]
/// Liveness check
///
/// Answers 200 once the server accepts requests.
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

#[utoipa::path(
    get, path = "/metrics", tag = "operations", operation_id = "metrics",
    security(()),
    responses(
        (status = 200, description = "Metrics in Prometheus text format.", content_type = "text/plain", body = String),
    ),
)]
/// Prometheus metrics
///
/// Prometheus text exposition format: requests by route and status,
/// latency histograms, bookings, conflicts, idempotent replays, mailbox
/// depth, the store's batches and stalls.
pub(crate) async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render())
}
