//! `GET /v1/shows/{id}/events`: seat changes as server-sent events.
//!
//! Each event is `event: seat` with `{"seat_id","status"}`; no user ids.
//! A reader too slow for the buffer is cut off (its browser reconnects and
//! reloads the map) rather than buffered without bound. Streams end on
//! shutdown so a graceful stop does not wait for them.

use super::respond::respond;
use super::state::AppState;
use crate::domain::ShowId;
use crate::replies::not_found;
use actix_web::{web, HttpResponse};
use bytes::Bytes;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// A comment line this often keeps proxies from closing idle streams.
const KEEPALIVE: Duration = Duration::from_secs(15);

pub async fn events(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let Some(unit) = ShowId::parse(&path).and_then(|id| state.engine.show(id)) else {
        return respond(not_found("show"));
    };
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
                        let data = serde_json::json!({
                            "seat_id": event.seat_id,
                            "status": event.status.as_str(),
                        });
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
