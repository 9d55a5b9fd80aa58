//! Request parsing in the contract's order: auth (401/403), rate (429),
//! size (413), key (400 idempotency-key-*), body (400 invalid-request).

use super::client_address::client_address;
use super::state::{AppState, MAX_BODY_BYTES};
use crate::domain::{Fingerprint, IdempotencyKey, KeyedRequest, RequestLine, UserId};
use crate::engine::token_hash;
use crate::replies::{self, invalid_request};
use crate::wire::Reply;
use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Compares digests, not tokens: both sides are 32 bytes, so neither the
/// content nor the length of the admin token shows in the timing.
fn is_admin_token(state: &AppState, token: &str) -> bool {
    match &state.admin_token_sha256 {
        Some(admin) => bool::from(admin.ct_eq(&token_hash(token))),
        None => false,
    }
}

/// The calling user (a guest session or the admin), rate-limited.
pub async fn user(state: &AppState, req: &HttpRequest) -> Result<UserId, Reply> {
    let user = signed_in(state, req).await?;
    limit(state, user)?;
    Ok(user)
}

/// The admin, or 401 (no or unknown token) / 403 (someone else).
pub async fn admin(state: &AppState, req: &HttpRequest) -> Result<UserId, Reply> {
    if state.admin_token_sha256.is_none() {
        return Err(replies::forbidden());
    }
    match signed_in(state, req).await? {
        UserId::ADMIN => Ok(UserId::ADMIN),
        _ => Err(replies::forbidden()),
    }
}

/// Whose bearer token this is: the admin's, a guest's, or 401 (none, or
/// unknown). A client address that has sent too many unknown tokens is
/// answered 429 before its token is looked at (`token_guesses`).
async fn signed_in(state: &AppState, req: &HttpRequest) -> Result<UserId, Reply> {
    let token = bearer(req).ok_or_else(replies::unauthorized)?;
    let address = client_address(req, &state.trusted_proxies);
    if let Some(address) = address {
        state
            .token_guesses
            .admit(address)
            .map_err(replies::too_many_token_guesses)?;
    }
    if is_admin_token(state, token) {
        return Ok(UserId::ADMIN);
    }
    match state.engine.authenticate(token).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => match address.map(|a| state.token_guesses.failed(a)) {
            Some(Err(wait)) => Err(replies::too_many_token_guesses(wait)),
            _ => Err(replies::unauthorized()),
        },
        Err(error) => Err(error.reply()),
    }
}

/// Anonymous session creation, limited per client address so that nobody
/// can mint users (and their keys) without end.
pub fn session_limit(state: &AppState, req: &HttpRequest) -> Result<(), Reply> {
    let Some(address) = client_address(req, &state.trusted_proxies) else {
        return Ok(());
    };
    state
        .session_limiter
        .check(address)
        .map_err(replies::too_many_sessions)
}

fn limit(state: &AppState, user: UserId) -> Result<(), Reply> {
    if user == UserId::ADMIN {
        return Ok(());
    }
    state
        .limiter
        .check(user)
        .map_err(replies::too_many_requests)
}

/// The body, at most 64 KiB, arriving within `body_timeout`: a body that
/// does not is answered 408 (and its connection closed), and nothing runs.
pub async fn body(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Bytes, Reply> {
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(replies::payload_too_large());
    }
    tokio::time::timeout(state.body_timeout, read_body(payload))
        .await
        .unwrap_or_else(|_| Err(replies::request_timeout()))
}

async fn read_body(mut payload: web::Payload) -> Result<Bytes, Reply> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| replies::unreadable_body())?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(replies::payload_too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub fn key(req: &HttpRequest) -> Result<IdempotencyKey, Reply> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Err(replies::key_missing());
    };
    IdempotencyKey::parse(value.as_bytes()).map_err(|e| replies::key_invalid(&e.to_string()))
}

/// Parses the body into `T` (unknown fields and wrong types are errors) and
/// fingerprints the request: JSON-equal bodies give equal fingerprints.
pub fn json<T: DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
    empty: EmptyBody,
) -> Result<(T, Fingerprint), Reply> {
    let (parsed, canonical) = typed_body(body, empty)?;
    let fingerprint = Fingerprint::of(req.method().as_str(), req.path(), &canonical);
    Ok((parsed, fingerprint))
}

/// A body as `T`, with its canonical form (keys sorted) for fingerprints.
pub fn typed_body<T: DeserializeOwned>(
    body: &[u8],
    empty: EmptyBody,
) -> Result<(T, Vec<u8>), Reply> {
    let empty_is_object = empty == EmptyBody::IsObject;
    let body: &[u8] = if empty_is_object && body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| invalid_request(&format!("the body is not valid JSON: {e}")))?;
    // serde would also build a struct from an array: the contract's bodies
    // are objects, anything else is the wrong type.
    if !value.is_object() {
        return Err(invalid_request("the body must be a JSON object"));
    }
    // serde_json's map is ordered by key, so this is a canonical form.
    let canonical = serde_json::to_vec(&value).expect("values serialise");
    let parsed = serde_json::from_value(value).map_err(|e| invalid_request(&e.to_string()))?;
    Ok((parsed, canonical))
}

/// Who may send a keyed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// Any signed-in user (a guest session or the admin).
    User,
    /// Only the admin token.
    Admin,
}

/// What an empty request body means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmptyBody {
    /// `{}` (routes whose body has no fields: `POST /v1/carts`, checkout).
    IsObject,
    /// Not JSON: 400.
    Invalid,
}

/// Everything a keyed POST needs, checked in the contract's order.
pub async fn keyed<T: DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    caller: Caller,
    empty: EmptyBody,
) -> Result<(KeyedRequest, T), Reply> {
    keyed_raw(state, req, payload, caller, empty)
        .await
        .map(|(request, parsed, _)| (request, parsed))
}

/// `keyed`, also returning the body as it came (to send it on to another
/// node, `forward`).
pub async fn keyed_raw<T: DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    caller: Caller,
    empty: EmptyBody,
) -> Result<(KeyedRequest, T, Bytes), Reply> {
    let user = match caller {
        Caller::Admin => admin(state, req).await?,
        Caller::User => user(state, req).await?,
    };
    let body = body(state, req, payload).await?;
    let key = key(req)?;
    let (parsed, fingerprint) = json(req, &body, empty)?;
    Ok((
        KeyedRequest {
            user,
            key,
            fingerprint,
            line: RequestLine {
                method: req.method().as_str().to_string(),
                path: req.path().to_string(),
            },
        },
        parsed,
        body,
    ))
}
