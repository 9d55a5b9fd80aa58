//! Any node answers (CLUSTER.md): a write for a show whose partition
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

use super::respond::respond;
use super::state::AppState;
use crate::domain::ShowId;
use crate::wire::Reply;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::StreamExt;

/// Marks a request one node sent on to another.
pub const FORWARDED: &str = "boxoffice-forwarded";

/// The headers sent on with a forwarded request.
const PASSED_ON: [&str; 3] = ["authorization", "idempotency-key", "content-type"];

/// `reply`, or, if it says another node serves its show, that node's
/// answer to the same request.
pub async fn or_forward(state: &AppState, req: &HttpRequest, body: Bytes, reply: Reply) -> Reply {
    let Some(show) = reply.forward_to else {
        return reply;
    };
    if req.headers().contains_key(FORWARDED) {
        return reply;
    }
    for _ in 0..2 {
        let owner = match state.store.owner_of(show).await {
            Ok(Some(owner)) => owner,
            _ => return reply,
        };
        if let Some(answer) = send(state, req, body.clone(), &owner, show).await {
            crate::metrics::FORWARDED.inc();
            return answer;
        }
        state.store.forget_owner(show);
    }
    reply
}

/// A show's event stream from the node that owns it, passed through as it
/// comes (it ends when the owner's does, or when this server stops; the
/// page then reconnects, to whichever node owns the show by then).
pub async fn stream_from_owner(state: &AppState, req: &HttpRequest, show: ShowId) -> HttpResponse {
    let not_here = || respond(crate::replies::not_owner(show));
    if req.headers().contains_key(FORWARDED) {
        return not_here();
    }
    let Ok(Some(owner)) = state.store.owner_of(show).await else {
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
            state.store.forget_owner(show);
            return not_here();
        }
        Err(error) => {
            tracing::warn!(%error, %show, "could not reach the owner for an event stream");
            state.store.forget_owner(show);
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

/// The owner's answer; `None` if it could not be reached or no longer
/// owns the show (look the owner up again).
async fn send(
    state: &AppState,
    req: &HttpRequest,
    body: Bytes,
    owner: &str,
    show: ShowId,
) -> Option<Reply> {
    let path = req
        .uri()
        .path_and_query()
        .map_or(req.path(), |p| p.as_str());
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).ok()?;
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
        Err(error) => {
            tracing::warn!(%error, %show, owner, "could not forward a request");
            return None;
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
    let body = response.bytes().await.ok()?;
    if status == 503 && body.windows(12).any(|w| w == b"another node") {
        // It does not own the show any more: ask who does.
        return None;
    }
    Some(Reply {
        status,
        body,
        replayed,
        retry_after_secs,
        forward_to: None,
    })
}
