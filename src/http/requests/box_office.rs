//! What the box office's requests carry (v1.2): a block's body, and the
//! query of a show's bookings list, each checked into what the engine
//! takes; anything else is a 400 `invalid-request` before anything runs.

use super::seats::{seat_label, seat_labels};
use crate::domain::{BookingId, ShowId};
use crate::engine::{BlockAsk, MAX_BLOCK_REASON_CHARS};
use crate::replies::invalid_request;
use crate::wire::{self, Reply};
use actix_web::web;
use serde::Deserialize;
use utoipa::ToSchema;

/// Most seats one block may name (a whole row of the largest hall fits).
pub(crate) const MAX_SEATS_PER_BLOCK: usize = 1_000;
/// Bookings a page holds unless the query says.
pub(crate) const DEFAULT_PAGE_BOOKINGS: usize = 100;
/// Most bookings a page may hold.
pub(crate) const MAX_PAGE_BOOKINGS: usize = 1_000;

/// House seats to keep back.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewBlock)]
pub(crate) struct NewBlockIn {
    /// Seat ids, each once; at most 1,000.
    #[schema(example = json!(["A1", "A2"]))]
    seats: Vec<String>,
    /// Why (press, a broken seat); at most 200 characters.
    #[serde(default)]
    #[schema(example = "press", max_length = 200)]
    reason: Option<String>,
}

impl NewBlockIn {
    /// The block as the engine takes it, for `show` (`None`: a path that
    /// names no show, answered 404 by the engine).
    pub(crate) fn into_ask(self, show: Option<ShowId>) -> Result<BlockAsk, Reply> {
        let seats = seat_labels(&self.seats, MAX_SEATS_PER_BLOCK, "block")?;
        if let Some(reason) = &self.reason {
            if reason.chars().count() > MAX_BLOCK_REASON_CHARS {
                return Err(invalid_request(&format!(
                    "reason must be at most {MAX_BLOCK_REASON_CHARS} characters"
                )));
            }
        }
        Ok(BlockAsk {
            show,
            seats,
            reason: self.reason,
        })
    }
}

/// The seat of `DELETE /v1/shows/{id}/blocks/{seat_id}`.
pub(crate) fn blocked_seat(text: &str) -> Result<crate::domain::SeatLabel, Reply> {
    seat_label(text)
}

/// The query of `GET /v1/shows/{id}/bookings`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShowBookingsQuery {
    /// Bookings per page, 1-1000 (default 100; JSON only).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// Where the last page ended: its `next_cursor`, as given.
    cursor: Option<String>,
    /// `csv`: every booking of the show as `text/csv`, streamed.
    #[param(value_type = Option<String>, example = "csv")]
    format: Option<String>,
}

/// A page asked for, or the whole show as CSV.
pub(crate) enum BookingsAsked {
    Page {
        after: Option<(u64, BookingId)>,
        limit: usize,
    },
    Csv,
}

impl ShowBookingsQuery {
    /// What the query asks of `show`; an unknown parameter, a `limit`
    /// outside 1-1000, a cursor this server did not make for this show,
    /// an unknown format: 400.
    pub(crate) fn parse(show: ShowId, query: &str) -> Result<BookingsAsked, Reply> {
        let query = web::Query::<ShowBookingsQuery>::from_query(query)
            .map(web::Query::into_inner)
            .map_err(|e| invalid_request(&format!("bad query: {e}")))?;
        match query.format.as_deref() {
            None | Some("json") => {}
            Some("csv") => {
                if query.limit.is_some() || query.cursor.is_some() {
                    return Err(invalid_request(
                        "format=csv answers every booking: no limit or cursor",
                    ));
                }
                return Ok(BookingsAsked::Csv);
            }
            Some(other) => {
                return Err(invalid_request(&format!(
                    "format {other:?}: only \"json\" and \"csv\" are known"
                )))
            }
        }
        let limit = match query.limit.as_deref() {
            None => DEFAULT_PAGE_BOOKINGS,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_BOOKINGS).contains(n))
                .ok_or_else(|| invalid_request(&format!("limit must be 1-{MAX_PAGE_BOOKINGS}")))?,
        };
        let after = match query.cursor.as_deref() {
            None => None,
            Some(text) => Some(wire::parse_booking_cursor(show, text).ok_or_else(|| {
                invalid_request("cursor: not one this server gave for this show")
            })?),
        };
        Ok(BookingsAsked::Page { after, limit })
    }
}
