//! Any node answers (docs/CLUSTER.md): a write for a show whose partition
//! another node holds is sent on to that node, with the client's method,
//! path, body and the headers that matter (`Authorization`,
//! `Idempotency-Key`, `Content-Type`), and its answer comes back as it is.
//!
//! One hop: a forwarded request carries `Boxoffice-Forwarded`, and a node
//! that does not own the show either answers 503 instead of forwarding
//! again. If the owner changed meanwhile (its answer is that 503, or it
//! cannot be reached), the owner is looked up again and the request sent
//! once more; after that, 503 with `Retry-After`. Safe to repeat: the
//! request carries its client's Idempotency-Key, which is one per user
//! across every node.
//!
//! A 5xx tells the client its request had no effect at all (docs/API.md §3), so
//! it is only answered when that is known. Once a request may have reached
//! the owner and no answer came back (the connection broke after it was
//! sent, or the owner took too long), its outcome is unknown: the request
//! is sent again, with the same key, to whoever owns the show, until one
//! answers what became of it (its replay, or a first run where the old
//! owner's write never landed; the fence refuses it later) or a takeover's
//! time (`forward_patience`) has passed; then the answer is 409
//! `request-in-progress`, and the client's retry with its key finds out.

use super::respond::respond;
use super::state::AppState;
use crate::domain::ShowId;
use crate::wire::Reply;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::StreamExt;
use std::time::{Duration, Instant};

pub use crate::cluster::forward::FORWARDED;
use crate::cluster::forward::PASSED_ON;

/// `reply`, or, if it says another node serves its show, that node's
/// answer to the same request.
pub async fn or_forward(state: &AppState, req: &HttpRequest, body: Bytes, reply: Reply) -> Reply {
    let Some(show) = reply.forward_to else {
        return reply;
    };
    if req.headers().contains_key(FORWARDED) {
        return reply;
    }
    let deadline = Instant::now() + state.forward_patience;
    let mut pause = Duration::from_millis(50);
    // Whether an attempt may have reached the owner and taken effect.
    let mut unknown = false;
    for attempt in 0.. {
        if let Ok(Some(owner)) = state.engine.membership().owner_of(show).await {
            match send(state, req, body.clone(), &owner, show).await {
                // This attempt did nothing, but an earlier one may have.
                Sent::Answer(answer) if unknown && answer.status >= 500 => {}
                Sent::Answer(answer) => {
                    crate::metrics::FORWARDED.inc();
                    return answer;
                }
                Sent::NotOwner | Sent::NotDelivered => state.engine.membership().forget_owner(show),
                Sent::Unknown => {
                    unknown = true;
                    state.engine.membership().forget_owner(show);
                }
            }
        }
        if !unknown && attempt >= 1 {
            return reply;
        }
        if Instant::now() + pause > deadline {
            break;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
    tracing::warn!(%show, "a forwarded request's outcome stayed unknown");
    crate::replies::in_progress()
}

/// What became of one forwarded attempt.
enum Sent {
    /// The owner's answer.
    Answer(Reply),
    /// The node asked does not own the show (any more): nothing was done.
    NotOwner,
    /// The request never reached the node (no connection): nothing was done.
    NotDelivered,
    /// The request may have reached the node, and no answer came back.
    Unknown,
}

/// A show's event stream from the node that owns it, passed through as it
/// comes (it ends when the owner's does, or when this server stops; the
/// page then reconnects, to whichever node owns the show by then).
pub async fn stream_from_owner(state: &AppState, req: &HttpRequest, show: ShowId) -> HttpResponse {
    let not_here = || respond(crate::replies::not_owner(show));
    if req.headers().contains_key(FORWARDED) {
        return not_here();
    }
    let Ok(Some(owner)) = state.engine.membership().owner_of(show).await else {
        return not_here();
    };
    let url = format!("{}{}", owner.trim_end_matches('/'), req.path());
    let mut asked = state.streams.get(url).header(FORWARDED, "1");
    // Where a reconnecting reader was: the owner resumes from there.
    if let Some(last_seen) = req.headers().get("Last-Event-ID") {
        asked = asked.header("Last-Event-ID", last_seen.as_bytes());
    }
    let response = match asked.send().await {
        Ok(response) if response.status().is_success() => response,
        Ok(response) => {
            tracing::warn!(status = %response.status(), %show, "the owner refused an event stream");
            state.engine.membership().forget_owner(show);
            return not_here();
        }
        Err(error) => {
            tracing::warn!(%error, %show, "could not reach the owner for an event stream");
            state.engine.membership().forget_owner(show);
            return not_here();
        }
    };
    crate::metrics::FORWARDED.inc();
    let mut shutdown = state.shutdown.clone();
    let events = response
        .bytes_stream()
        .map(|chunk| chunk.map_err(actix_web::error::ErrorBadGateway));
    let until_shutdown = events.take_until(async move {
        let _ = shutdown.wait_for(|stopping| *stopping).await;
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(until_shutdown)
}

/// Sends the request to `owner` once.
async fn send(state: &AppState, req: &HttpRequest, body: Bytes, owner: &str, show: ShowId) -> Sent {
    let path = req
        .uri()
        .path_and_query()
        .map_or(req.path(), |p| p.as_str());
    let Ok(method) = reqwest::Method::from_bytes(req.method().as_str().as_bytes()) else {
        return Sent::NotDelivered;
    };
    let mut request = state
        .peers
        .request(method, format!("{}{path}", owner.trim_end_matches('/')))
        .header(FORWARDED, "1")
        .body(body);
    for name in PASSED_ON {
        if let Some(value) = req.headers().get(name) {
            request = request.header(name, value.as_bytes());
        }
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) if error.is_connect() => {
            tracing::warn!(%error, %show, owner, "could not reach the owner");
            return Sent::NotDelivered;
        }
        Err(error) => {
            tracing::warn!(%error, %show, owner, "a forwarded request got no answer");
            return Sent::Unknown;
        }
    };
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let replayed = header("idempotent-replayed").as_deref() == Some("true");
    let retry_after_secs = header("retry-after").and_then(|v| v.parse().ok());
    let Ok(body) = response.bytes().await else {
        return Sent::Unknown;
    };
    if status == 503 && body.windows(12).any(|w| w == b"another node") {
        // It does not own the show any more: ask who does.
        return Sent::NotOwner;
    }
    Sent::Answer(Reply {
        status,
        body,
        replayed,
        retry_after_secs,
        forward_to: None,
    })
}
