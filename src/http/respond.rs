//! From an engine `Reply` to an HTTP response with the contract's headers.

use crate::wire::Reply;
use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpResponse;

/// Turns an engine reply into a response with the contract's headers.
pub fn respond(reply: Reply) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(reply.status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if reply.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    if let Some(secs) = reply.retry_after_secs {
        response.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
    if reply.status == 408 {
        // The rest of a late body may still come: it must not be read as
        // the next request on this connection.
        response.force_close();
    }
    if reply.status == 401 {
        response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
    }
    if reply.body.is_empty() {
        return response.finish();
    }
    let content_type = if reply.is_problem() {
        "application/problem+json"
    } else {
        "application/json"
    };
    response
        .insert_header((header::CONTENT_TYPE, content_type))
        .body(reply.body)
}
