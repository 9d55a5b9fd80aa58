//! How a handler's result becomes the response: answered here, or, for a
//! show another node serves, that node's answer to the same request. Every
//! route file shares these instead of spelling the same steps again.

use crate::domain::{KeyedRequest, UserId};
use crate::http::extract::{self, Caller, EmptyBody};
use crate::http::forward::or_forward;
use crate::http::respond::respond;
use crate::http::state::AppState;
use crate::wire::Reply;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;

/// What every handler is given: the server's shared state.
pub type State = web::Data<AppState>;

/// Runs a handler body written with `?` on `Reply` errors.
pub fn answer(result: Result<Reply, Reply>) -> HttpResponse {
    respond(result.unwrap_or_else(|problem| problem))
}

/// `answer`, or the answer of the node that owns the request's show
/// (`forward`): `raw` is the request's body as it came.
pub async fn answer_here_or_there(
    state: &AppState,
    req: &HttpRequest,
    raw: Bytes,
    result: Result<Reply, Reply>,
) -> HttpResponse {
    let reply = result.unwrap_or_else(|problem| problem);
    respond(or_forward(state, req, raw, reply).await)
}

/// A signed-in user's request that carries no key: the caller is
/// authenticated and rate-limited (`extract::user`), then `run` answers.
pub async fn as_user(
    state: &AppState,
    req: &HttpRequest,
    run: impl AsyncFnOnce(UserId) -> Reply,
) -> Result<Reply, Reply> {
    let user = extract::user(state, req).await?;
    Ok(run(user).await)
}

/// A user's keyed write that another node may own: the request is read
/// (`extract::keyed_raw`), `run` answers it, and an answer that says
/// another node serves its show is replaced by that node's answer to the
/// same bytes.
pub async fn keyed_write<T: serde::de::DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    empty: EmptyBody,
    run: impl AsyncFnOnce(KeyedRequest, T) -> Result<Reply, Reply>,
) -> HttpResponse {
    keyed_write_by(state, req, payload, Caller::User, empty, run).await
}

/// `keyed_write` by `caller` (a user, or the admin alone).
pub async fn keyed_write_by<T: serde::de::DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    caller: Caller,
    empty: EmptyBody,
    run: impl AsyncFnOnce(KeyedRequest, T) -> Result<Reply, Reply>,
) -> HttpResponse {
    match extract::keyed_raw::<T>(state, req, payload, caller, empty).await {
        Ok((request, body, raw)) => {
            answer_here_or_there(state, req, raw, run(request, body).await).await
        }
        Err(problem) => respond(problem),
    }
}
