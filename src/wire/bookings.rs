//! A booking as the API writes it: alone, as a new booking's answer
//! (rebuilt the same on replay), and in the caller's list.

use super::reply::Reply;
use super::schema::one_of;
use super::time::rfc3339;
use crate::domain::{Booking, BookingStatus, Canceller};
use serde::Serialize;
use utoipa::openapi::schema::Object;
use utoipa::ToSchema;

/// A booking.
#[derive(Serialize, ToSchema)]
#[schema(as = Booking)]
pub struct BookingOut {
    /// Opaque id (a UUID).
    pub id: String,
    /// Opaque id (a UUID).
    pub show_id: String,
    /// Seat ids: row label + number, e.g. `A1`.
    #[schema(example = json!(["A1", "A2"]))]
    pub seats: Vec<String>,
    #[schema(schema_with = booking_status_schema)]
    pub status: &'static str,
    /// RFC 3339 UTC timestamp.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Each seat's price, fixed when it was booked (or held), in `seats`'
    /// order.
    pub seat_prices: Vec<SeatPriceOut>,
    /// The sum of `seat_prices`, in cents.
    #[schema(example = 2400)]
    pub total_cents: u64,
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
    /// Who cancelled it, `customer` (its owner) or `box-office` (staff, on
    /// its behalf); only on a cancelled booking.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = canceller_schema, required = false)]
    pub cancelled_by: Option<&'static str>,
}

/// A booked seat's price.
#[derive(Serialize, ToSchema)]
#[schema(as = SeatPrice)]
pub struct SeatPriceOut {
    #[schema(example = "A1")]
    pub seat_id: String,
    #[schema(example = 1200)]
    pub price_cents: u64,
}

pub fn booking_out(booking: &Booking) -> BookingOut {
    BookingOut {
        id: booking.id.to_string(),
        show_id: booking.show.to_string(),
        seats: booking.seats.iter().map(|(_, l)| l.to_string()).collect(),
        status: booking.status.as_str(),
        created_at: rfc3339(booking.created_at_ms as i64),
        seat_prices: booking
            .seats
            .iter()
            .enumerate()
            .map(|(i, (_, label))| SeatPriceOut {
                seat_id: label.to_string(),
                price_cents: booking.price_cents(i),
            })
            .collect(),
        total_cents: booking.total_cents(),
        currency: booking.currency.clone(),
        cancelled_by: booking.cancelled_by.map(Canceller::as_str),
    }
}

/// A new booking's answer (201): the booking as confirmed. Stored with its
/// key as `StoredBody::CreatedBooking` and rebuilt by this function on
/// replay, so the booking's later status (cancelled) does not show.
pub fn created_booking(booking: &Booking) -> Reply {
    let mut out = booking_out(booking);
    out.status = crate::domain::BookingStatus::Confirmed.as_str();
    out.cancelled_by = None;
    Reply::json(201, &out)
}

/// The caller's bookings.
#[derive(Serialize, ToSchema)]
#[schema(as = BookingList)]
pub struct BookingListOut {
    pub bookings: Vec<BookingOut>,
}

/// The OpenAPI schema of `cancelled_by`: the values `Canceller` writes.
fn canceller_schema() -> Object {
    one_of(Canceller::ALL.map(Canceller::as_str))
}

/// The OpenAPI schema of a booking's status: the values `BookingStatus`
/// writes.
fn booking_status_schema() -> Object {
    one_of(BookingStatus::ALL.map(BookingStatus::as_str))
}
