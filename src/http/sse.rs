//! `GET /v1/shows/{id}/events`: seat changes as server-sent events.
//!
//! Each event is `event: seat` with `{"seat_id","status"}`; no user ids.
//! A reader too slow for the buffer is cut off (its browser reconnects and
//! reloads the map) rather than buffered without bound. Streams end on
//! shutdown so a graceful stop does not wait for them.

use super::respond::respond;
use super::state::AppState;
use crate::wire::SeatEventOut;
use actix_web::{web, HttpResponse};
use bytes::Bytes;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// A comment line this often keeps proxies from closing idle streams.
const KEEPALIVE: Duration = Duration::from_secs(15);

#[utoipa::path(
    get, path = "/v1/shows/{show_id}/events", tag = "shows", operation_id = "streamShowEvents",
    security(()),
    params(("show_id" = String, Path, description = "Show id.")),
    responses(
        (status = 200, description = "Server-Sent Events stream; every event is named `seat` and carries a `SeatEvent` as data.",
            content_type = "text/event-stream", body = String,
            example = "event: seat\ndata: {\"seat_id\":\"A1\",\"status\":\"held\"}\n\n"),
        (status = 400, response = super::doc_parts::InvalidRequest),
        (status = 404, description = "`not-found`: unknown show.", body = crate::wire::ProblemBody, content_type = "application/problem+json"),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// Stream seat changes of a show
///
/// Public; no authentication needed. A `text/event-stream` (Server-Sent
/// Events). Each seat change is an event named `seat` whose data is a JSON
/// `SeatEvent`, e.g.
///
/// ```text
/// event: seat
/// data: {"seat_id": "A1", "status": "held"}
/// ```
///
/// The stream starts with `retry: 1000` and a comment, sends a comment
/// every 15 s to keep proxies from closing it, and ends when the server
/// shuts down or the reader falls too far behind.
pub async fn events(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let unit = match state.engine.show_named(&path).await {
        Ok(unit) => unit,
        Err(reply) => return respond(reply),
    };
    if !unit.lease_is_current() {
        // Another node serves the show: its events come from there.
        return super::forward::stream_from_owner(&state, &req, unit.id()).await;
    }
    let receiver = unit.map().subscribe();
    let shutdown = state.shutdown.clone();
    let hello = futures_util::stream::once(async {
        Ok::<_, actix_web::Error>(Bytes::from_static(b"retry: 1000\n: connected\n\n"))
    });
    let stream = futures_util::stream::unfold(
        (receiver, shutdown, false),
        |(mut receiver, mut shutdown, done)| async move {
            if done || *shutdown.borrow() {
                return None;
            }
            let chunk = tokio::select! {
                event = receiver.recv() => match event {
                    Ok(event) => {
                        let data = SeatEventOut {
                            seat_id: event.seat_id,
                            status: event.status.as_str(),
                        };
                        let data = serde_json::to_string(&data).expect("plain JSON");
                        Bytes::from(format!("event: seat\ndata: {data}\n\n"))
                    }
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return None,
                },
                _ = shutdown.changed() => return None,
                _ = tokio::time::sleep(KEEPALIVE) => Bytes::from_static(b": keepalive\n\n"),
            };
            Some((
                Ok::<_, actix_web::Error>(chunk),
                (receiver, shutdown, false),
            ))
        },
    );
    use futures_util::StreamExt;
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(hello.chain(stream))
}
