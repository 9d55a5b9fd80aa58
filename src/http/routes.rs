//! Routes of API.md, one small handler each, with its OpenAPI declaration
//! (`#[utoipa::path]`). The table of paths is `endpoints.rs`.

use super::extract::{self, invalid, Caller, EmptyBody};
use super::respond::respond;
use super::seat_map_body::seat_map_body;
use super::state::AppState;
use crate::domain::{BookingId, CartId, Category, OfferSpec, Row, RowOffer, SeatLabel, ShowId};
use crate::engine::NewShow;
use crate::ops::book::{BestAsk, Choice};
use crate::replies::not_found;
use crate::wire::{self, ProblemBody as Problem, Reply};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde::Deserialize;
use std::collections::HashSet;
use utoipa::ToSchema;

type State = web::Data<AppState>;

/// The bodies the routes take, for `parse_body`.
#[derive(Clone, Copy, Debug)]
pub enum BodyOf {
    NewShow,
    NewBooking,
    NewCart,
    NewItem,
    Checkout,
}

/// Parses and validates a request body exactly as its route does, without
/// running it (the fuzz target for the request DTOs).
pub fn parse_body(of: BodyOf, body: &[u8], max_seats: usize) -> Result<(), Reply> {
    match of {
        BodyOf::NewShow => {
            let (show, _) = extract::typed_body::<NewShowIn>(body, EmptyBody::Invalid)?;
            new_show(show).map(|_| ())
        }
        BodyOf::NewBooking => {
            let (booking, _) = extract::typed_body::<NewBookingIn>(body, EmptyBody::Invalid)?;
            seat_choice(booking.seats, booking.best_available, max_seats).map(|_| ())
        }
        BodyOf::NewCart | BodyOf::Checkout => {
            extract::typed_body::<EmptyIn>(body, EmptyBody::IsObject).map(|_| ())
        }
        BodyOf::NewItem => {
            let (item, _) = extract::typed_body::<NewItemIn>(body, EmptyBody::Invalid)?;
            item_choice(item.seat_id, item.best_available, max_seats).map(|_| ())
        }
    }
}

/// `answer`, or the answer of the node that owns the request's show
/// (`forward`): `raw` is the request's body as it came.
async fn answer_here_or_there(
    state: &AppState,
    req: &HttpRequest,
    raw: Bytes,
    result: Result<Reply, Reply>,
) -> HttpResponse {
    let reply = result.unwrap_or_else(|problem| problem);
    respond(super::forward::or_forward(state, req, raw, reply).await)
}

/// A user's keyed write that another node may own: the request is read
/// (`extract::keyed_raw`), `run` answers it, and an answer that says
/// another node serves its show is replaced by that node's answer to the
/// same bytes.
async fn keyed_write<T: serde::de::DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    empty: EmptyBody,
    run: impl AsyncFnOnce(crate::domain::KeyedRequest, T) -> Result<Reply, Reply>,
) -> HttpResponse {
    match extract::keyed_raw::<T>(state, req, payload, Caller::User, empty).await {
        Ok((request, body, raw)) => {
            answer_here_or_there(state, req, raw, run(request, body).await).await
        }
        Err(problem) => respond(problem),
    }
}

/// Runs a handler body written with `?` on `Reply` errors.
fn answer(result: Result<Reply, Reply>) -> HttpResponse {
    respond(result.unwrap_or_else(|problem| problem))
}

// The booking page: static files embedded in the binary, no build step.
const PAGE_HTML: &str = include_str!("../web/index.html");
const PAGE_JS: &str = include_str!("../web/app.js");
const PAGE_CSS: &str = include_str!("../web/style.css");
const PAGE_ICON: &str = include_str!("../web/favicon.svg");

fn page(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}

pub(super) async fn page_index() -> HttpResponse {
    page("text/html; charset=utf-8", PAGE_HTML)
}

pub(super) async fn page_script() -> HttpResponse {
    page("text/javascript; charset=utf-8", PAGE_JS)
}

pub(super) async fn page_style() -> HttpResponse {
    page("text/css; charset=utf-8", PAGE_CSS)
}

/// The site's icon (browsers ask for `/favicon.ico` on every page; a 404
/// there is a console error): a seat, as SVG, which browsers take whatever
/// the name says.
pub(super) async fn page_icon() -> HttpResponse {
    page("image/svg+xml", PAGE_ICON)
}

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
pub(super) async fn healthz() -> HttpResponse {
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
pub(super) async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render())
}

#[utoipa::path(
    post, path = "/v1/sessions", tag = "identity", operation_id = "createSession",
    security(()),
    responses(
        (status = 201, description = "The new guest user and its bearer token.", body = wire::SessionOut),
        (status = 413, response = super::doc_parts::PayloadTooLarge),
        (status = 429, response = super::doc_parts::RateLimited),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// Create a guest user
///
/// Creates a guest user and returns an unguessable bearer token for it (the
/// server stores only a hash of the token). Needs no authentication and no
/// `Idempotency-Key`. New sessions are rate-limited per address.
pub(super) async fn create_session(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    answer(
        async {
            extract::session_limit(&state, &req)?;
            // The body means nothing here, but it is read (bounded, in
            // time) so that a broken one is answered, not dropped.
            extract::body(&state, &req, payload).await?;
            Ok(state.engine.create_session().await)
        }
        .await,
    )
}

/// A row of a new show.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewShowRow)]
pub(super) struct RowIn {
    /// Row label, 1-3 letters A-Z.
    #[schema(pattern = "^[A-Z]{1,3}$")]
    label: String,
    /// Number of seats in the row.
    #[schema(minimum = 1, maximum = 999)]
    seats: u32,
    /// The row's category id (default: the first category).
    #[serde(default)]
    category: Option<String>,
    /// Seat numbers an aisle follows.
    #[serde(default)]
    #[schema(example = json!([4, 8]))]
    aisles_after: Vec<u32>,
    /// Seat numbers kept for wheelchair users.
    #[serde(default)]
    wheelchair: Vec<u32>,
    /// Seat numbers of companions: each sold only with a wheelchair seat
    /// of the same row.
    #[serde(default)]
    companion: Vec<u32>,
}

/// A price category of a new show.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewShowCategory)]
pub(super) struct CategoryIn {
    #[schema(example = "standard")]
    id: String,
    #[schema(example = "Standard")]
    name: String,
    /// In cents of the show's currency.
    #[schema(example = 1200, maximum = 100_000_000)]
    price_cents: u64,
}

/// A new show. At most 100,000 seats in total.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewShow)]
pub(super) struct NewShowIn {
    title: String,
    /// RFC 3339 UTC timestamp.
    #[schema(format = DateTime)]
    starts_at: String,
    rows: Vec<RowIn>,
    /// Price categories (default: one, `standard`, priced 0).
    #[serde(default)]
    categories: Vec<CategoryIn>,
    /// ISO 4217 code (default `EUR`).
    #[serde(default)]
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    currency: Option<String>,
}

/// A show request as the engine takes it; a bad layout is a plain 400,
/// never stored.
fn new_show(body: NewShowIn) -> Result<NewShow, Reply> {
    let starts_at = chrono::DateTime::parse_from_rfc3339(&body.starts_at)
        .map_err(|_| invalid("starts_at must be an RFC 3339 time"))?;
    let (rows, row_offers) = body
        .rows
        .into_iter()
        .map(|r| {
            (
                Row {
                    label: r.label,
                    seats: r.seats,
                },
                RowOffer {
                    category: r.category,
                    aisles_after: r.aisles_after,
                    wheelchair: r.wheelchair,
                    companion: r.companion,
                },
            )
        })
        .unzip();
    let new = NewShow {
        title: body.title,
        starts_at_ms: starts_at.timestamp_millis(),
        rows,
        offer: OfferSpec {
            currency: body.currency,
            categories: body
                .categories
                .into_iter()
                .map(|c| Category {
                    id: c.id,
                    name: c.name,
                    price_cents: c.price_cents,
                })
                .collect(),
            rows: row_offers,
        },
    };
    crate::domain::Show::with_offer(
        ShowId(uuid::Uuid::nil()),
        new.title.clone(),
        0,
        new.rows.clone(),
        new.offer.clone(),
    )
    .map_err(|e| invalid(&e.to_string()))?;
    Ok(new)
}

fn seat_label(text: &str) -> Result<SeatLabel, Reply> {
    SeatLabel::parse(text).ok_or_else(|| invalid(&format!("{text:?} is not a seat id like \"A1\"")))
}

#[utoipa::path(
    post, path = "/v1/shows", tag = "shows", operation_id = "createShow",
    security(("bearer" = [])),
    params(super::doc_parts::IdempotencyKeyHeader),
    request_body(content = NewShowIn, example = json!({"title": "Premiere", "starts_at": "2030-01-01T20:00:00Z", "rows": [{"label": "A", "seats": 10}]})),
    responses(
        (status = 201, description = "The created show, as returned by `GET /v1/shows/{show_id}`. Replays carry `Idempotent-Replayed: true`.", body = wire::ShowOut),
        (status = 400, description = "`invalid-request`: the body or path is not a valid request; `idempotency-key-missing` / `idempotency-key-invalid`: the `Idempotency-Key` header is absent or malformed. Not stored under the key.", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = super::doc_parts::Unauthorized),
        (status = 403, response = super::doc_parts::Forbidden),
        (status = 409, description = "`request-in-progress`: the same idempotency key is still being processed; carries `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        (status = 408, response = super::doc_parts::RequestTimeout),
        (status = 413, response = super::doc_parts::PayloadTooLarge),
        (status = 422, response = super::doc_parts::IdempotencyKeyReused),
        (status = 429, response = super::doc_parts::RateLimited),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// Create a show (admin)
///
/// Admin only: the bearer token must be the admin token
/// (`BOXOFFICE_ADMIN_TOKEN`). When no admin token is configured this endpoint
/// answers 403 to everyone. Row labels are 1-3 letters A-Z, 1-999 seats a
/// row, at most 100,000 seats a show; beyond that 400 `invalid-request`.
/// Requires `Idempotency-Key` (keys are scoped to the admin user).
pub(super) async fn create_show(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    answer(
        async {
            let (request, body) = extract::keyed::<NewShowIn>(
                &state,
                &req,
                payload,
                Caller::Admin,
                EmptyBody::Invalid,
            )
            .await?;
            let new = new_show(body)?;
            Ok(state.engine.create_show(request, new).await)
        }
        .await,
    )
}

#[utoipa::path(
    get, path = "/v1/shows", tag = "shows", operation_id = "listShows",
    security(()),
    responses(
        (status = 200, description = "All shows with their capacity and currently available seat count.", body = wire::ShowListOut),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// List shows
///
/// Public; no authentication needed.
pub(super) async fn list_shows(state: State) -> HttpResponse {
    respond(state.engine.list_shows())
}

#[utoipa::path(
    get, path = "/v1/shows/{show_id}", tag = "shows", operation_id = "getShow",
    security(()),
    params(("show_id" = String, Path, description = "Show id.")),
    responses(
        (status = 200, description = "The show and the status of every seat.", body = wire::ShowOut),
        (status = 400, response = super::doc_parts::InvalidRequest),
        (status = 404, description = "`not-found`: unknown show.", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// Get a show with its seat map
///
/// Public; no authentication needed.
pub(super) async fn get_show(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let unit = match state.engine.show_named(&path).await {
        Ok(unit) => unit,
        Err(reply) => return respond(reply),
    };
    if !unit.lease_is_current() {
        // Another node serves the show: its map here is a copy that does
        // not follow the changes; the owner's is asked for.
        let asked = crate::replies::not_owner(unit.id());
        return respond(super::forward::or_forward(&state, &req, Bytes::new(), asked).await);
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(seat_map_body(unit.map().clone()))
}

/// A one-shot booking.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewBooking)]
pub(super) struct NewBookingIn {
    /// Opaque id (a UUID).
    show_id: String,
    /// Seats to book, each a row label + number like `A1`; at most
    /// `max_seats_per_booking` (config, default 10), none twice. Either
    /// this or `best_available`.
    #[serde(default)]
    #[schema(schema_with = super::doc_parts::seat_list)]
    seats: Option<Vec<String>>,
    /// Let the engine choose: N seats side by side in one row, within one
    /// block between aisles, nearest the centre, stranding no single seat
    /// when it can. Either this or `seats`.
    #[serde(default)]
    best_available: Option<BestAvailableIn>,
}

/// What a best-available request wants.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BestAvailable)]
pub(super) struct BestAvailableIn {
    /// How many seats, side by side; at most `max_seats_per_booking`.
    #[schema(minimum = 1, example = 4)]
    count: u32,
    /// Only seats of this category (its id).
    #[serde(default)]
    category: Option<String>,
    /// `wheelchair`: a block with a wheelchair seat (its companion seats
    /// may come with it); wheelchair and companion seats are otherwise
    /// never chosen.
    #[serde(default)]
    #[schema(example = "wheelchair")]
    accessibility: Option<String>,
}

/// `best_available` checked: a count within bounds, a known accessibility.
fn best_ask(best: BestAvailableIn, max: usize) -> Result<BestAsk, Reply> {
    if best.count == 0 || best.count as usize > max {
        return Err(invalid(&format!("best_available.count must be 1-{max}")));
    }
    let wheelchair = match best.accessibility.as_deref() {
        None => false,
        Some("wheelchair") => true,
        Some(other) => {
            return Err(invalid(&format!(
                "best_available.accessibility {other:?}: only \"wheelchair\" is known"
            )))
        }
    };
    Ok(BestAsk {
        count: best.count,
        category: best.category,
        wheelchair,
    })
}

/// What a cart item request asks for.
enum ItemChoice {
    One(SeatLabel),
    Best(BestAsk),
}

fn item_choice(
    seat: Option<String>,
    best: Option<BestAvailableIn>,
    max: usize,
) -> Result<ItemChoice, Reply> {
    match (seat, best) {
        (Some(seat), None) => Ok(ItemChoice::One(seat_label(&seat)?)),
        (None, Some(best)) => Ok(ItemChoice::Best(best_ask(best, max)?)),
        (Some(_), Some(_)) => Err(invalid("give seat_id or best_available, not both")),
        (None, None) => Err(invalid("give seat_id or best_available")),
    }
}

/// The seats a booking asks for: listed, or the best available.
fn seat_choice(
    seats: Option<Vec<String>>,
    best: Option<BestAvailableIn>,
    max: usize,
) -> Result<Choice, Reply> {
    match (seats, best) {
        (Some(seats), None) => Ok(Choice::Listed(seat_labels(&seats, max)?)),
        (None, Some(best)) => Ok(Choice::Best(best_ask(best, max)?)),
        (Some(_), Some(_)) => Err(invalid("give seats or best_available, not both")),
        (None, None) => Err(invalid("give seats or best_available")),
    }
}

/// Seat labels of a request: non-empty, no repeats, at most `max`.
fn seat_labels(seats: &[String], max: usize) -> Result<Vec<SeatLabel>, Reply> {
    if seats.is_empty() {
        return Err(invalid("seats must name at least one seat"));
    }
    if seats.len() > max {
        return Err(invalid(&format!("at most {max} seats per booking")));
    }
    let mut seen = HashSet::new();
    let mut labels = Vec::with_capacity(seats.len());
    for seat in seats {
        let label = seat_label(seat)?;
        if !seen.insert(label.clone()) {
            return Err(invalid(&format!("seat {seat} is listed twice")));
        }
        labels.push(label);
    }
    Ok(labels)
}

#[utoipa::path(
    post, path = "/v1/bookings", tag = "bookings", operation_id = "createBooking",
    security(("bearer" = [])),
    params(super::doc_parts::IdempotencyKeyHeader),
    request_body(content = NewBookingIn, example = json!({"show_id": "0b6e4d2c-6f6d-4c59-9a8e-3f4f7c1d2a10", "seats": ["A1", "A2"]})),
    responses(
        (status = 201, description = "The confirmed booking. Replays carry `Idempotent-Replayed: true`.", body = wire::BookingOut),
        (status = 400, description = "`invalid-request`: the body or path is not a valid request; `idempotency-key-missing` / `idempotency-key-invalid`: the `Idempotency-Key` header is absent or malformed. Not stored under the key.", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = super::doc_parts::Unauthorized),
        (status = 404, description = "`not-found`: unknown show or seat. Stored under the key and replayed.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`seat-unavailable`: a requested seat is held or booked by someone else; `detail` names the seats and the body has `seats`; no seat changed. `seat-restricted`: a companion seat without a wheelchair seat of its row in the same request (body has `seats`). `no-seats-together`: best available found no block of N seats side by side. All stored under the key and replayed). `request-in-progress`: the same key is still being processed; carries `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        (status = 408, response = super::doc_parts::RequestTimeout),
        (status = 413, response = super::doc_parts::PayloadTooLarge),
        (status = 422, response = super::doc_parts::IdempotencyKeyReused),
        (status = 429, response = super::doc_parts::RateLimited),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// Book seats in one shot
///
/// All or nothing: either every requested seat is booked, or none is.
/// Requires `Idempotency-Key`. Empty seat lists, repeated seats, or more
/// seats than `max_seats_per_booking` (default 10) answer 400
/// `invalid-request`. Instead of `seats`, `best_available` lets the engine
/// choose N seats side by side in one row and one block between aisles,
/// nearest the centre, stranding no single seat when it can; none fits:
/// 409 `no-seats-together` (stored); a replay returns the same seats.
pub(super) async fn create_booking(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let run = async |request, body: NewBookingIn| {
        let seats = seat_choice(body.seats, body.best_available, state.max_seats_per_booking)?;
        Ok(state
            .engine
            .book_choice(request, ShowId::parse(&body.show_id), seats)
            .await)
    };
    keyed_write(&state, &req, payload, EmptyBody::Invalid, run).await
}

#[utoipa::path(
    get, path = "/v1/bookings", tag = "bookings", operation_id = "listBookings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's bookings.", body = wire::BookingListOut),
        (status = 401, response = super::doc_parts::Unauthorized),
        (status = 429, response = super::doc_parts::RateLimited),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// List the caller's bookings
///
/// The caller's own bookings, cancelled ones included with `status:
/// cancelled`.
pub(super) async fn list_bookings(state: State, req: HttpRequest) -> HttpResponse {
    answer(
        async {
            let user = extract::user(&state, &req).await?;
            Ok(state.engine.list_bookings(user).await)
        }
        .await,
    )
}

#[utoipa::path(
    get, path = "/v1/idempotency-keys/{key}", tag = "bookings", operation_id = "getIdempotencyKey",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The `Idempotency-Key` as sent, URL-encoded.")),
    responses(
        (status = 200, description = "The key's request: running (`in-flight`) or answered (`completed`, with the stored answer's status and time).", body = wire::KeyOut),
        (status = 401, response = super::doc_parts::Unauthorized),
        (status = 404, description = "`not-found`: a key this user never sent, one whose record expired, or another user's.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = super::doc_parts::RateLimited),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// Look up one of the caller's Idempotency-Keys
///
/// Lets a client that lost an answer learn what happened without sending
/// the request again: whether it is still running, or what it was answered
/// (send the request again with the same key to get the answer itself, a
/// replay). On a cluster, a key still running shows as such on the node
/// running it; a completed one on every node.
pub(super) async fn get_idempotency_key(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    answer(
        async {
            let user = extract::user(&state, &req).await?;
            Ok(state.engine.look_up_key(user, &path).await)
        }
        .await,
    )
}

#[utoipa::path(
    get, path = "/v1/bookings/{booking_id}", tag = "bookings", operation_id = "getBooking",
    security(("bearer" = [])),
    params(("booking_id" = String, Path, description = "Booking id.")),
    responses(
        (status = 200, description = "The booking.", body = wire::BookingOut),
        (status = 400, response = super::doc_parts::InvalidRequest),
        (status = 401, response = super::doc_parts::Unauthorized),
        (status = 404, description = "`not-found`: unknown booking, or one that belongs to another user.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = super::doc_parts::RateLimited),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// Get one of the caller's bookings
///
/// The booking with its seats and status.
pub(super) async fn get_booking(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    answer(
        async {
            let user = extract::user(&state, &req).await?;
            Ok(state
                .engine
                .get_booking(user, BookingId::parse(&path))
                .await)
        }
        .await,
    )
}

#[utoipa::path(
    delete, path = "/v1/bookings/{booking_id}", tag = "bookings", operation_id = "cancelBooking",
    security(("bearer" = [])),
    params(("booking_id" = String, Path, description = "Booking id.")),
    responses(
        (status = 204, description = "Cancelled (or already cancelled)."),
        (status = 400, response = super::doc_parts::InvalidRequest),
        (status = 401, response = super::doc_parts::Unauthorized),
        (status = 404, description = "`not-found`: unknown booking, or one that belongs to another user.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = super::doc_parts::RateLimited),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// Cancel a booking
///
/// The booking turns `cancelled` and its seats become available again.
/// Repeating it answers 204 and changes nothing.
pub(super) async fn cancel_booking(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let result = async {
        let user = extract::user(&state, &req).await?;
        Ok(state
            .engine
            .cancel_booking(user, BookingId::parse(&path))
            .await)
    }
    .await;
    answer_here_or_there(&state, &req, Bytes::new(), result).await
}

/// An empty JSON object: `{}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EmptyObject)]
pub(super) struct EmptyIn {}

#[utoipa::path(
    post, path = "/v1/carts", tag = "carts", operation_id = "createCart",
    security(("bearer" = [])),
    params(super::doc_parts::IdempotencyKeyHeader),
    request_body(content = EmptyIn, example = json!({})),
    responses(
        (status = 201, description = "The new, open, empty cart (`items: []`, `expires_at: null`). Replays carry `Idempotent-Replayed: true`.", body = wire::CartOut),
        (status = 400, description = "`invalid-request`: the body or path is not a valid request; `idempotency-key-missing` / `idempotency-key-invalid`: the `Idempotency-Key` header is absent or malformed. Not stored under the key.", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = super::doc_parts::Unauthorized),
        (status = 409, description = "`request-in-progress`: the same idempotency key is still being processed; carries `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        (status = 408, response = super::doc_parts::RequestTimeout),
        (status = 413, response = super::doc_parts::PayloadTooLarge),
        (status = 422, response = super::doc_parts::IdempotencyKeyReused),
        (status = 429, response = super::doc_parts::RateLimited),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// Create an empty cart
///
/// Body must be `{}`. Requires `Idempotency-Key`.
pub(super) async fn create_cart(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    answer(
        async {
            let (request, EmptyIn {}) =
                extract::keyed(&state, &req, payload, Caller::User, EmptyBody::IsObject).await?;
            Ok(state.engine.create_cart(request).await)
        }
        .await,
    )
}

#[utoipa::path(
    get, path = "/v1/carts/{cart_id}", tag = "carts", operation_id = "getCart",
    security(("bearer" = [])),
    params(("cart_id" = String, Path, description = "Cart id.")),
    responses(
        (status = 200, description = "The cart.", body = wire::CartOut),
        (status = 400, response = super::doc_parts::InvalidRequest),
        (status = 401, response = super::doc_parts::Unauthorized),
        (status = 404, description = "`not-found`: unknown cart, or one that belongs to another user.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = super::doc_parts::RateLimited),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// Get one of the caller's carts
///
/// The cart's `expires_at` is its earliest live hold's (null when none).
/// Lapsed holds stay in the cart as `expired` items until removed.
pub(super) async fn get_cart(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    answer(
        async {
            let user = extract::user(&state, &req).await?;
            Ok(state.engine.get_cart(user, CartId::parse(&path)).await)
        }
        .await,
    )
}

/// A seat to hold in a cart.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewCartItem)]
pub(super) struct NewItemIn {
    /// Opaque id (a UUID).
    show_id: String,
    /// Seat id: row label + number, e.g. `A1`. Either this or
    /// `best_available`.
    #[serde(default)]
    #[schema(pattern = "^[A-Z]{1,3}[1-9][0-9]{0,2}$", example = "A1")]
    seat_id: Option<String>,
    /// Hold the best N seats side by side at once, as for a booking.
    #[serde(default)]
    best_available: Option<BestAvailableIn>,
}

#[utoipa::path(
    post, path = "/v1/carts/{cart_id}/items", tag = "carts", operation_id = "addCartItem",
    security(("bearer" = [])),
    params(super::doc_parts::IdempotencyKeyHeader, ("cart_id" = String, Path, description = "Cart id.")),
    request_body(content = NewItemIn, example = json!({"show_id": "0b6e4d2c-6f6d-4c59-9a8e-3f4f7c1d2a10", "seat_id": "A1"})),
    responses(
        (status = 201, description = "The cart with the seat held. Replays carry `Idempotent-Replayed: true`.", body = wire::CartOut),
        (status = 400, description = "`invalid-request`: the body or path is not a valid request, or the seat belongs to another show than the cart's; `idempotency-key-missing` / `idempotency-key-invalid`. Not stored under the key.", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = super::doc_parts::Unauthorized),
        (status = 404, description = "`not-found`: unknown cart, show or seat, or a cart that belongs to another user. Stored under the key and replayed.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`seat-unavailable`: another cart or booking has the seat (body has `seats`); `seat-restricted`: a companion seat while the cart holds no wheelchair seat of its row; `no-seats-together`: best available found no block; `cart-closed`: the cart was already checked out; `too-many-holds`: the user already holds `BOXOFFICE_MAX_HOLDS_PER_USER` seats of this show. These are stored under the key and replayed. `request-in-progress`: the same key is still being processed; carries `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        (status = 408, response = super::doc_parts::RequestTimeout),
        (status = 413, response = super::doc_parts::PayloadTooLarge),
        (status = 422, response = super::doc_parts::IdempotencyKeyReused),
        (status = 429, response = super::doc_parts::RateLimited),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// Hold a seat in a cart
///
/// Holds the seat for this cart until now + hold TTL
/// (`BOXOFFICE_HOLD_TTL_SECS`). A cart holds seats of one show: its first
/// item fixes the show, and a seat of another show is 400
/// `invalid-request`. Adding a seat this cart already holds renews nothing
/// and answers 201. Requires `Idempotency-Key`. Instead of `seat_id`,
/// `best_available` holds the best N seats side by side at once, as for a
/// booking (each counted against the hold quota).
pub(super) async fn add_item(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let run = async |request, body: NewItemIn| {
        let (cart, show) = (CartId::parse(&path), ShowId::parse(&body.show_id));
        match item_choice(
            body.seat_id,
            body.best_available,
            state.max_seats_per_booking,
        )? {
            ItemChoice::One(seat) => Ok(state.engine.add_item(request, cart, show, seat).await),
            ItemChoice::Best(ask) => {
                Ok(state.engine.add_best_items(request, cart, show, ask).await)
            }
        }
    };
    keyed_write(&state, &req, payload, EmptyBody::Invalid, run).await
}

#[utoipa::path(
    delete, path = "/v1/carts/{cart_id}/items/{show_id}/{seat_id}", tag = "carts", operation_id = "removeCartItem",
    security(("bearer" = [])),
    params(("cart_id" = String, Path, description = "Cart id."), ("show_id" = String, Path, description = "Show id."), ("seat_id" = String, Path, description = "Seat id (row label + number, e.g. `A1`).")),
    responses(
        (status = 204, description = "The hold is released."),
        (status = 400, response = super::doc_parts::InvalidRequest),
        (status = 401, response = super::doc_parts::Unauthorized),
        (status = 404, description = "`not-found`: unknown cart or item, or a cart that belongs to another user.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`cart-closed`: the cart was already checked out.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = super::doc_parts::RateLimited),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// Remove an item from a cart
///
/// Releases the hold (if still live) and removes the item from the cart.
pub(super) async fn remove_item(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let result = async {
        let user = extract::user(&state, &req).await?;
        let (cart, show, seat) = path.into_inner();
        Ok(state
            .engine
            .remove_item(
                user,
                CartId::parse(&cart),
                ShowId::parse(&show),
                SeatLabel::parse(&seat),
            )
            .await)
    }
    .await;
    answer_here_or_there(&state, &req, Bytes::new(), result).await
}

#[utoipa::path(
    post, path = "/v1/carts/{cart_id}/checkout", tag = "carts", operation_id = "checkoutCart",
    security(("bearer" = [])),
    params(super::doc_parts::IdempotencyKeyHeader, ("cart_id" = String, Path, description = "Cart id.")),
    request_body(content = EmptyIn, example = json!({})),
    responses(
        (status = 201, description = "The booking of every seat in the cart. Replays carry `Idempotent-Replayed: true`.", body = wire::BookingOut),
        (status = 400, description = "`invalid-request`: the body or path is not a valid request, or the cart is empty; `idempotency-key-missing` / `idempotency-key-invalid`. Not stored under the key.", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = super::doc_parts::Unauthorized),
        (status = 404, description = "`not-found`: unknown cart, or one that belongs to another user. Stored under the key and replayed.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`hold-expired`: a hold in the cart lapsed, nothing was booked; `seat-restricted`: a companion seat whose row's wheelchair seat is no longer in the cart; `cart-closed`: the cart was already checked out. These are stored under the key and replayed. `request-in-progress`: the same key is still being processed; carries `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        (status = 408, response = super::doc_parts::RequestTimeout),
        (status = 413, response = super::doc_parts::PayloadTooLarge),
        (status = 422, response = super::doc_parts::IdempotencyKeyReused),
        (status = 429, response = super::doc_parts::RateLimited),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// Check out a cart
///
/// Books every seat in the cart, all or nothing. Body must be `{}`. After
/// checkout the cart's status is `checked_out` and every change to it
/// answers 409 `cart-closed`. Requires `Idempotency-Key`.
pub(super) async fn checkout(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let run =
        async |request, EmptyIn {}| Ok(state.engine.checkout(request, CartId::parse(&path)).await);
    keyed_write(&state, &req, payload, EmptyBody::IsObject, run).await
}

/// The query of `GET /v1/cluster`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ClusterQuery {
    /// A show: answer only its partition and that partition's lease.
    show_id: Option<String>,
}

#[utoipa::path(
    get, path = "/v1/cluster", tag = "operations", operation_id = "getCluster",
    security(("bearer" = [])),
    params(ClusterQuery),
    responses(
        (status = 200, description = "The nodes and every partition's lease; with `show_id`, that show's partition, owner and epoch.", body = wire::ClusterAnswerOut),
        (status = 400, response = super::doc_parts::InvalidRequest),
        (status = 401, response = super::doc_parts::Unauthorized),
        (status = 403, response = super::doc_parts::Forbidden),
        (status = 404, description = "`not-found`: an unknown show, or a server on the embedded sled store (a cluster of one node, with no leases).", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = super::doc_parts::Overloaded),
    ),
)]
/// The cluster (admin)
///
/// Admin only. On PostgreSQL, every node started with the same database is
/// one cluster: shows are spread over 256 partitions, each leased by one
/// node at an epoch (docs/CLUSTER.md).
pub(super) async fn cluster(state: State, req: HttpRequest) -> HttpResponse {
    answer(
        async {
            extract::admin(&state, &req).await?;
            let query = web::Query::<ClusterQuery>::from_query(req.query_string())
                .map_err(|e| invalid(&format!("bad query: {e}")))?;
            let view = match state.membership.view().await {
                Ok(Some(view)) => view,
                Ok(None) => {
                    return Err(wire::problem(
                        wire::Code::NotFound,
                        "no cluster: this server keeps its data in the embedded sled store",
                    ))
                }
                Err(error) => {
                    return Err(
                        crate::replies::EngineError::from(crate::store::StoreError::from(error))
                            .reply(),
                    )
                }
            };
            let answer = match &query.show_id {
                Some(text) => {
                    let show =
                        ShowId::parse(text).ok_or_else(|| invalid("show_id is not a show id"))?;
                    if state.engine.find_show(show).await?.is_none() {
                        return Err(not_found("show"));
                    }
                    let partition = crate::cluster::partition_of(show);
                    let lease = view.partitions.iter().find(|p| p.id == partition);
                    wire::ClusterAnswerOut::Show(wire::ShowPartitionOut {
                        partition,
                        owner: lease.and_then(|l| l.owner.clone()),
                        epoch: lease.map_or(0, |l| l.epoch),
                    })
                }
                None => wire::ClusterAnswerOut::Cluster(wire::ClusterOut {
                    node: view.node,
                    nodes: view
                        .nodes
                        .into_iter()
                        .map(|n| wire::ClusterNodeOut {
                            id: n.id,
                            advertise: n.advertise,
                            heartbeat_at: wire::rfc3339(n.heartbeat_at_ms),
                        })
                        .collect(),
                    partitions: view
                        .partitions
                        .into_iter()
                        .map(|p| wire::PartitionOut {
                            id: p.id,
                            owner: p.owner,
                            epoch: p.epoch,
                        })
                        .collect(),
                }),
            };
            Ok(Reply::json(200, &answer))
        }
        .await,
    )
}
