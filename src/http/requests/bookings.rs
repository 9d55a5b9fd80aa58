//! The body of `POST /v1/bookings` and its check into what the engine
//! books: a show and either listed seats or the best available.

use super::seats::{seat_labels, seats_asked, BestAvailableIn, SeatsAsked};
use crate::domain::ShowId;
use crate::engine::Choice;
use crate::http::doc_parts;
use crate::wire::Reply;
use serde::Deserialize;
use utoipa::ToSchema;

/// A one-shot booking.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewBooking)]
pub(crate) struct NewBookingIn {
    /// Opaque id (a UUID).
    show_id: String,
    /// Seats to book, each a row label + number like `A1`; at most
    /// `max_seats_per_booking` (config, default 10), none twice. Either
    /// this or `best_available`.
    #[serde(default)]
    #[schema(schema_with = doc_parts::seat_list)]
    seats: Option<Vec<String>>,
    /// Let the engine choose: N seats side by side in one row, within one
    /// block between aisles, nearest the centre, stranding no single seat
    /// when it can. Either this or `seats`.
    #[serde(default)]
    best_available: Option<BestAvailableIn>,
}

/// A booking request checked: its show (`None`: not a show id, which the
/// engine answers 404) and its seats.
pub(crate) struct BookingAsk {
    pub show: Option<ShowId>,
    pub seats: Choice,
}

impl NewBookingIn {
    /// The seats checked (listed: 1 to `max_seats`, none twice; or a valid
    /// best-available ask).
    pub(crate) fn into_ask(self, max_seats: usize) -> Result<BookingAsk, Reply> {
        let seats = match seats_asked(
            "seats",
            self.seats,
            self.best_available,
            max_seats,
            |seats| seat_labels(&seats, max_seats, "booking"),
        )? {
            SeatsAsked::ById(labels) => Choice::Listed(labels),
            SeatsAsked::Best(ask) => Choice::Best(ask),
        };
        Ok(BookingAsk {
            show: ShowId::parse(&self.show_id),
            seats,
        })
    }
}
