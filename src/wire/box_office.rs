//! What the box office reads and writes (v1.2): a block's answer, a show's
//! sales figures, and a show's bookings for staff, as JSON pages or CSV.

use super::bookings::{booking_out, BookingOut};
use super::reply::Reply;
use super::time::{rfc3339, rfc3339_seconds};
use crate::domain::{Booking, Sales, SeatLabel, SeatStatus, Show, ShowId};
use serde::Serialize;
use utoipa::ToSchema;

/// House seats kept back (`POST /v1/shows/{id}/blocks`).
#[derive(Serialize, ToSchema)]
#[schema(as = Block)]
pub struct BlockOut {
    /// Opaque id (a UUID).
    pub show_id: String,
    /// The seats as asked for, every one blocked now.
    #[schema(example = json!(["A1", "A2"]))]
    pub seats: Vec<String>,
    /// Why, as the request gave it (null when it gave none).
    #[schema(required = true, example = "press")]
    pub reason: Option<String>,
}

/// A block's answer (201), stored with its key.
pub fn blocked(show: ShowId, seats: &[SeatLabel], reason: Option<&str>) -> Reply {
    Reply::json(
        201,
        &BlockOut {
            show_id: show.to_string(),
            seats: seats.iter().map(ToString::to_string).collect(),
            reason: reason.map(str::to_string),
        },
    )
}

/// A show's sales figures (`GET /v1/shows/{id}/sales`).
#[derive(Serialize, ToSchema)]
#[schema(as = Sales)]
pub struct SalesOut {
    pub show_id: String,
    pub capacity: u32,
    /// `available + held + booked + blocked = capacity`.
    pub available: u32,
    pub held: u32,
    /// Seats in confirmed bookings.
    pub booked: u64,
    pub blocked: u32,
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
    /// What the confirmed bookings cost, in cents.
    pub revenue_cents: u64,
    /// Confirmed bookings.
    pub bookings: u64,
    pub cancelled_bookings: u64,
    /// Per category, in the show's order.
    pub by_category: Vec<CategorySalesOut>,
    /// Confirmed bookings by the UTC minute they were made, oldest first.
    pub per_minute: Vec<MinuteSalesOut>,
}

/// One category's confirmed sales.
#[derive(Serialize, ToSchema)]
#[schema(as = CategorySales)]
pub struct CategorySalesOut {
    #[schema(example = "standard")]
    pub category: String,
    pub booked: u64,
    pub revenue_cents: u64,
}

/// One minute's confirmed sales.
#[derive(Serialize, ToSchema)]
#[schema(as = MinuteSales)]
pub struct MinuteSalesOut {
    /// RFC 3339, seconds zero.
    #[schema(format = DateTime, example = "2026-12-08T19:31:00Z")]
    pub minute: String,
    pub booked: u64,
    pub revenue_cents: u64,
}

/// The figures of `show`: seats held and blocked as its seat map counts
/// them, booked seats and money as its confirmed bookings do, available
/// the rest (so the four add up to the capacity even while a booking's
/// seats are being published).
pub fn sales_out(show: &Show, count: impl Fn(SeatStatus) -> u32, sales: &Sales) -> SalesOut {
    let capacity = show.layout.capacity();
    let held = count(SeatStatus::Held);
    let blocked = count(SeatStatus::Blocked);
    let taken = u64::from(held) + u64::from(blocked) + sales.booked;
    SalesOut {
        show_id: show.id.to_string(),
        capacity,
        available: u64::from(capacity).saturating_sub(taken) as u32,
        held,
        booked: sales.booked,
        blocked,
        currency: show.offer.currency().to_string(),
        revenue_cents: sales.revenue_cents,
        bookings: sales.bookings,
        cancelled_bookings: sales.cancelled_bookings,
        by_category: show
            .offer
            .categories()
            .iter()
            .zip(&sales.by_category)
            .map(|(category, figures)| CategorySalesOut {
                category: category.id.clone(),
                booked: figures.booked,
                revenue_cents: figures.revenue_cents,
            })
            .collect(),
        per_minute: sales
            .per_minute
            .iter()
            .map(|(minute, figures)| MinuteSalesOut {
                minute: rfc3339_seconds((*minute * 60_000) as i64),
                booked: figures.booked,
                revenue_cents: figures.revenue_cents,
            })
            .collect(),
    }
}

/// A booking as staff see it: as its owner does, plus the owner.
#[derive(Serialize, ToSchema)]
#[schema(as = StaffBooking)]
pub struct StaffBookingOut {
    #[serde(flatten)]
    pub booking: BookingOut,
    /// The user who made it (opaque id).
    pub user_id: String,
}

pub fn staff_booking_out(booking: &Booking) -> StaffBookingOut {
    StaffBookingOut {
        booking: booking_out(booking),
        user_id: booking.owner.to_string(),
    }
}

/// A page of a show's bookings (`GET /v1/shows/{id}/bookings`).
#[derive(Serialize, ToSchema)]
#[schema(as = ShowBookingPage)]
pub struct ShowBookingPageOut {
    pub bookings: Vec<StaffBookingOut>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// The CSV's header line.
pub const BOOKINGS_CSV_HEADER: &str = "id,user_id,status,seats,total_cents,currency,created_at\n";

/// One booking as a CSV line. No field needs quoting: ids are UUIDs, seat
/// ids letters and digits (separated by spaces), the currency three
/// letters, the time RFC 3339.
pub fn booking_csv_line(booking: &Booking) -> String {
    let seats: Vec<String> = booking.seats.iter().map(|(_, l)| l.to_string()).collect();
    format!(
        "{},{},{},{},{},{},{}\n",
        booking.id,
        booking.owner,
        booking.status.as_str(),
        seats.join(" "),
        booking.total_cents(),
        booking.currency,
        rfc3339(booking.created_at_ms as i64),
    )
}
