//! `GET /v1/shows/{id}/events`: seat changes as server-sent events.
//!
//! Each event is `event: seat` with `{"seat_id","status"}` and an id; no
//! user ids. A reader too slow for the buffer is cut off rather than
//! buffered without bound; its browser reconnects with `Last-Event-ID`
//! and gets what it missed, or a `snapshot` of the map
//! (`SeatMap::subscribe`). Streams end on shutdown so a graceful stop does
//! not wait for them.

use crate::engine::{Resume, SeatEvent};
use crate::http::respond::respond;
use crate::http::seat_map_body::seat_map_body;
use crate::http::state::AppState;
use crate::wire::SeatEventOut;
use actix_web::{web, HttpResponse};
use bytes::Bytes;
use futures_util::stream::{self, LocalBoxStream, StreamExt};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// A comment line this often keeps proxies from closing idle streams.
const KEEPALIVE: Duration = Duration::from_secs(15);

#[utoipa::path(
    get, path = "/v1/shows/{show_id}/events", tag = "shows", operation_id = "streamShowEvents",
    security(()),
    params(
        ("show_id" = String, Path, description = "Show id."),
        ("Last-Event-ID" = Option<String>, Header, description = "The id of the last event a reconnecting reader got (browsers send it themselves). The stream resumes after it, or starts with a `snapshot` event when it is older than the events kept."),
    ),
    responses(
        (status = 200, description = "Server-Sent Events stream. Every change is an event named `seat` with an `id:` (increasing per show) and a `SeatEvent` as data; a reader resuming from too far behind first gets an event named `snapshot` whose data is the whole `Show`, as `GET /v1/shows/{show_id}` answers it.",
            content_type = "text/event-stream", body = String,
            example = "id: 1796220251896000\nevent: seat\ndata: {\"seat_id\":\"A1\",\"status\":\"held\"}\n\n"),
        (status = 404, description = "`not-found`: unknown show (a malformed id too).", body = crate::wire::ProblemBody, content_type = "application/problem+json"),
        (status = 503, response = crate::http::doc_parts::Overloaded),
    ),
)]
/// Stream seat changes of a show
///
/// Public; no authentication needed. A `text/event-stream` (Server-Sent
/// Events). Each seat change is an event named `seat`, with an id that
/// increases per show, whose data is a JSON `SeatEvent`, e.g.
///
/// ```text
/// id: 1796220251896000
/// event: seat
/// data: {"seat_id": "A1", "status": "held"}
/// ```
///
/// The stream starts with `retry: 1000`, a comment and, for a new reader,
/// a bare `id:` line (where the stream is, so a reconnect can say it). A
/// reader that reconnects with `Last-Event-ID` gets the events it missed;
/// if its id is older than the last 4096 events kept (or not one this
/// server gave), it gets an event named `snapshot` with the whole show
/// and seat map first, then the changes. A comment every 15 s keeps
/// proxies from closing the stream; it ends when the server shuts down or
/// the reader falls too far behind.
pub(crate) async fn events(
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
        return crate::http::forward::stream_from_owner(&state, &req, unit.id()).await;
    }
    let last_seen = req
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let map = unit.map().clone();
    let (receiver, resume) = map.subscribe(last_seen);
    let shutdown = state.shutdown.clone();
    let hello = Bytes::from_static(b"retry: 1000\n: connected\n\n");
    let start: Chunks = match resume {
        // The id sets the reader's last event id without an event, so a
        // reconnect says where it was even if nothing changed meanwhile.
        Resume::Live { last_id } => stream::once(async move {
            Ok(Bytes::from(format!(
                "retry: 1000\n: connected\nid: {last_id}\n\n"
            )))
        })
        .boxed_local(),
        Resume::Missed(missed) => stream::iter(
            std::iter::once(hello)
                .chain(missed.iter().map(seat_event))
                .map(Ok)
                .collect::<Vec<_>>(),
        )
        .boxed_local(),
        // The whole map, as `GET /v1/shows/{id}` sends it, then the changes
        // since (subscribed before the map is read: none is lost; one may
        // come twice, which sets a status it already has).
        Resume::Snapshot { last_id } => {
            let head = format!("id: {last_id}\nevent: snapshot\ndata: ");
            stream::iter([Ok(hello), Ok(Bytes::from(head))])
                .chain(seat_map_body(map))
                .chain(stream::once(async { Ok(Bytes::from_static(b"\n\n")) }))
                .boxed_local()
        }
    };
    let live = stream::unfold(
        (receiver, shutdown, false),
        |(mut receiver, mut shutdown, done)| async move {
            if done || *shutdown.borrow() {
                return None;
            }
            let chunk = tokio::select! {
                event = receiver.recv() => match event {
                    Ok(event) => seat_event(&event),
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
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(start.chain(live))
}

type Chunks = LocalBoxStream<'static, Result<Bytes, actix_web::Error>>;

/// One `seat` event, with its id.
fn seat_event(event: &SeatEvent) -> Bytes {
    let data = SeatEventOut {
        seat_id: event.seat_id.clone(),
        status: event.status.as_str(),
    };
    let data = serde_json::to_string(&data).expect("plain JSON");
    Bytes::from(format!("id: {}\nevent: seat\ndata: {data}\n\n", event.id))
}
