//! Routes of API.md, one small handler each.

use super::extract::{self, invalid, Caller, EmptyBody};
use super::respond::respond;
use super::seat_map_body::seat_map_body;
use super::sse;
use super::state::AppState;
use crate::domain::{BookingId, CartId, Row, SeatLabel, ShowId};
use crate::engine::NewShow;
use crate::replies::not_found;
use crate::wire::{self, Code, Reply};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use std::collections::HashSet;

type State = web::Data<AppState>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // API.md lists every problem code a client may see; an unsupported
    // method is an invalid request there (400), with the usual Allow hint.
    let not_allowed = || {
        web::to(|req: HttpRequest| async move {
            respond(wire::problem(
                Code::InvalidRequest,
                &format!("{} is not supported on {}", req.method(), req.path()),
            ))
        })
    };
    cfg.route("/", web::get().to(page_index))
        .route("/index.html", web::get().to(page_index))
        .route("/app.js", web::get().to(page_script))
        .route("/style.css", web::get().to(page_style))
        .route("/healthz", web::get().to(healthz))
        .route("/metrics", web::get().to(metrics))
        .route("/openapi.json", web::get().to(openapi))
        .service(
            web::resource("/v1/sessions")
                .route(web::post().to(create_session))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/v1/shows")
                .route(web::get().to(list_shows))
                .route(web::post().to(create_show))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/v1/shows/{show_id}")
                .route(web::get().to(get_show))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/v1/shows/{show_id}/events")
                .route(web::get().to(sse::events))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/v1/bookings")
                .route(web::get().to(list_bookings))
                .route(web::post().to(create_booking))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/v1/bookings/{booking_id}")
                .route(web::get().to(get_booking))
                .route(web::delete().to(cancel_booking))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/v1/carts")
                .route(web::post().to(create_cart))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/v1/carts/{cart_id}")
                .route(web::get().to(get_cart))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/v1/carts/{cart_id}/items")
                .route(web::post().to(add_item))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/v1/carts/{cart_id}/items/{show_id}/{seat_id}")
                .route(web::delete().to(remove_item))
                .default_service(not_allowed()),
        )
        .service(
            web::resource("/v1/carts/{cart_id}/checkout")
                .route(web::post().to(checkout))
                .default_service(not_allowed()),
        );
}

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
            seat_labels(&booking.seats, max_seats).map(|_| ())
        }
        BodyOf::NewCart | BodyOf::Checkout => {
            extract::typed_body::<EmptyIn>(body, EmptyBody::IsObject).map(|_| ())
        }
        BodyOf::NewItem => {
            let (item, _) = extract::typed_body::<NewItemIn>(body, EmptyBody::Invalid)?;
            seat_label(&item.seat_id).map(|_| ())
        }
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

fn page(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}

async fn page_index() -> HttpResponse {
    page("text/html; charset=utf-8", PAGE_HTML)
}

async fn page_script() -> HttpResponse {
    page("text/javascript; charset=utf-8", PAGE_JS)
}

async fn page_style() -> HttpResponse {
    page("text/css; charset=utf-8", PAGE_CSS)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render())
}

const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

async fn create_session(state: State, req: HttpRequest, payload: web::Payload) -> HttpResponse {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowIn {
    label: String,
    seats: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewShowIn {
    title: String,
    starts_at: String,
    rows: Vec<RowIn>,
}

/// A show request as the engine takes it; a bad layout is a plain 400,
/// never stored.
fn new_show(body: NewShowIn) -> Result<NewShow, Reply> {
    let starts_at = chrono::DateTime::parse_from_rfc3339(&body.starts_at)
        .map_err(|_| invalid("starts_at must be an RFC 3339 time"))?;
    let new = NewShow {
        title: body.title,
        starts_at_ms: starts_at.timestamp_millis(),
        rows: body
            .rows
            .into_iter()
            .map(|r| Row {
                label: r.label,
                seats: r.seats,
            })
            .collect(),
    };
    crate::domain::Show::new(
        ShowId(uuid::Uuid::nil()),
        new.title.clone(),
        0,
        new.rows.clone(),
    )
    .map_err(|e| invalid(&e.to_string()))?;
    Ok(new)
}

fn seat_label(text: &str) -> Result<SeatLabel, Reply> {
    SeatLabel::parse(text).ok_or_else(|| invalid(&format!("{text:?} is not a seat id like \"A1\"")))
}

async fn create_show(state: State, req: HttpRequest, payload: web::Payload) -> HttpResponse {
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

async fn list_shows(state: State) -> HttpResponse {
    respond(state.engine.list_shows())
}

async fn get_show(state: State, path: web::Path<String>) -> HttpResponse {
    match ShowId::parse(&path).and_then(|id| state.engine.show(id)) {
        Some(unit) => HttpResponse::Ok()
            .content_type("application/json")
            .streaming(seat_map_body(unit.map().clone())),
        None => respond(not_found("show")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBookingIn {
    show_id: String,
    seats: Vec<String>,
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

async fn create_booking(state: State, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    answer(
        async {
            let (request, body) = extract::keyed::<NewBookingIn>(
                &state,
                &req,
                payload,
                Caller::User,
                EmptyBody::Invalid,
            )
            .await?;
            let seats = seat_labels(&body.seats, state.max_seats_per_booking)?;
            Ok(state
                .engine
                .book(request, ShowId::parse(&body.show_id), seats)
                .await)
        }
        .await,
    )
}

async fn list_bookings(state: State, req: HttpRequest) -> HttpResponse {
    answer(
        async {
            let user = extract::user(&state, &req).await?;
            Ok(state.engine.list_bookings(user).await)
        }
        .await,
    )
}

async fn get_booking(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
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

async fn cancel_booking(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    answer(
        async {
            let user = extract::user(&state, &req).await?;
            Ok(state
                .engine
                .cancel_booking(user, BookingId::parse(&path))
                .await)
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyIn {}

async fn create_cart(state: State, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    answer(
        async {
            let (request, EmptyIn {}) =
                extract::keyed(&state, &req, payload, Caller::User, EmptyBody::IsObject).await?;
            Ok(state.engine.create_cart(request).await)
        }
        .await,
    )
}

async fn get_cart(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    answer(
        async {
            let user = extract::user(&state, &req).await?;
            Ok(state.engine.get_cart(user, CartId::parse(&path)).await)
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewItemIn {
    show_id: String,
    seat_id: String,
}

async fn add_item(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    answer(
        async {
            let (request, body) = extract::keyed::<NewItemIn>(
                &state,
                &req,
                payload,
                Caller::User,
                EmptyBody::Invalid,
            )
            .await?;
            let seat = seat_label(&body.seat_id)?;
            Ok(state
                .engine
                .add_item(
                    request,
                    CartId::parse(&path),
                    ShowId::parse(&body.show_id),
                    seat,
                )
                .await)
        }
        .await,
    )
}

async fn remove_item(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    answer(
        async {
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
        .await,
    )
}

async fn checkout(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    answer(
        async {
            let (request, EmptyIn {}) =
                extract::keyed(&state, &req, payload, Caller::User, EmptyBody::IsObject).await?;
            Ok(state.engine.checkout(request, CartId::parse(&path)).await)
        }
        .await,
    )
}
