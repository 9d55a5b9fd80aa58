//! `GET /v1/shows/{show_id}/bookings` (admin, v1.2): every user's bookings
//! of a show, oldest first, in pages with a cursor, or all of them as CSV.
//! Read from the store on whichever node is asked. The CSV is streamed a
//! page at a time as the client reads it: memory stays bounded whatever
//! the show's size.

use super::answers::{answer, State};
use crate::domain::{BookingId, ShowId};
use crate::engine::Engine;
use crate::http::doc_parts;
use crate::http::extract;
use crate::http::requests::{BookingsAsked, ShowBookingsQuery};
use crate::http::respond::respond;
use crate::replies::not_found;
use crate::wire::{self, ProblemBody as Problem, Reply};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;

/// Bookings read from the store per piece of the CSV.
const CSV_PAGE_BOOKINGS: usize = 1_000;

#[utoipa::path(
    get, path = "/v1/shows/{show_id}/bookings", tag = "box office", operation_id = "listShowBookings",
    security(("bearer" = [])),
    params(("show_id" = String, Path, description = "Show id."), ShowBookingsQuery),
    responses(
        (status = 200, description = "A page of the show's bookings, every user's, oldest first, each with its `user_id`; `next_cursor` leads to the next page (null on the last). Paging through gives each booking exactly once. With `format=csv`: `text/csv`, a header line then one line per booking (id, user_id, status, seats separated by spaces, total_cents, currency, created_at), every booking of the show.", content(
            (wire::ShowBookingPageOut = "application/json"),
            (String = "text/csv", example = "id,user_id,status,seats,total_cents,currency,created_at\n0b6e4d2c-6f6d-4c59-9a8e-3f4f7c1d2a10,9d3c1b2a-0f4e-4c59-9a8e-3f4f7c1d2a11,confirmed,A1 A2,2400,EUR,2026-12-08T19:31:04.120Z\n"),
        )),
        (status = 400, description = "`invalid-request`: an unknown query parameter, a `limit` outside 1-1000, a cursor this server did not give for this show, an unknown `format`, or `limit`/`cursor` with `format=csv`.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not-found`: unknown show.", body = Problem, content_type = "application/problem+json"),
        doc_parts::AdminRefusals,
    ),
)]
/// A show's bookings (admin)
///
/// Every user's bookings of the show, confirmed and cancelled, for the box
/// office: pages of `limit` (default 100) with a cursor, or `format=csv`.
pub(crate) async fn show_bookings(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let asked = async {
        extract::admin(&state, &req).await?;
        let show = ShowId::parse(&path).ok_or_else(|| not_found("show"))?;
        Ok::<_, Reply>((show, ShowBookingsQuery::parse(show, req.query_string())?))
    }
    .await;
    let (show, asked) = match asked {
        Ok(asked) => asked,
        Err(reply) => return respond(reply),
    };
    match asked {
        BookingsAsked::Page { after, limit } => {
            answer(page(&state.engine, show, after, limit).await)
        }
        BookingsAsked::Csv => match state.engine.find_show(show).await {
            Ok(Some(_)) => csv(state.engine.clone(), show),
            Ok(None) => respond(not_found("show")),
            Err(reply) => respond(reply),
        },
    }
}

/// One page, and the cursor after it when it is full.
async fn page(
    engine: &Engine,
    show: ShowId,
    after: Option<(u64, BookingId)>,
    limit: usize,
) -> Result<Reply, Reply> {
    let bookings = engine.show_bookings(show, after, limit).await?;
    let next_cursor = match bookings.last() {
        Some(last) if bookings.len() == limit => {
            Some(wire::booking_cursor(show, last.created_at_ms, last.id))
        }
        _ => None,
    };
    let page = wire::ShowBookingPageOut {
        bookings: bookings.iter().map(wire::staff_booking_out).collect(),
        next_cursor,
    };
    Ok(Reply::json(200, &page))
}

/// Where the CSV's stream stands: the header not yet sent, the position
/// after the last booking sent, or done.
enum CsvAt {
    Header,
    After(Option<(u64, BookingId)>),
    Done,
}

/// Every booking of `show` as CSV, a page read from the store each time
/// the client has taken the last one. A failed read ends the answer early
/// (the client sees a cut body, never a wrong one).
fn csv(engine: Engine, show: ShowId) -> HttpResponse {
    let body = futures_util::stream::unfold(CsvAt::Header, move |at| {
        let engine = engine.clone();
        async move {
            let after = match at {
                CsvAt::Header => {
                    let header = Bytes::from_static(wire::BOOKINGS_CSV_HEADER.as_bytes());
                    return Some((Ok(header), CsvAt::After(None)));
                }
                CsvAt::After(after) => after,
                CsvAt::Done => return None,
            };
            match engine.show_bookings(show, after, CSV_PAGE_BOOKINGS).await {
                Ok(bookings) if bookings.is_empty() => None,
                Ok(bookings) => {
                    let mut piece = String::with_capacity(bookings.len() * 160);
                    for booking in &bookings {
                        piece.push_str(&wire::booking_csv_line(booking));
                    }
                    let last = bookings.last().expect("not empty");
                    let next = if bookings.len() == CSV_PAGE_BOOKINGS {
                        CsvAt::After(Some((last.created_at_ms, last.id)))
                    } else {
                        CsvAt::Done
                    };
                    Some((Ok(Bytes::from(piece)), next))
                }
                Err(_) => Some((
                    Err(actix_web::error::ErrorInternalServerError(
                        "the bookings could not be read",
                    )),
                    CsvAt::Done,
                )),
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"bookings-{show}.csv\""),
        ))
        .streaming(body)
}
