//! The bodies of the cart routes and their checks: an empty object to
//! create or check out a cart, and the seat (or best-available block) to
//! hold in one.

use super::seats::{seat_label, seats_asked, BestAvailableIn, SeatsAsked};
use crate::domain::{SeatLabel, ShowId};
use crate::wire::Reply;
use serde::Deserialize;
use utoipa::ToSchema;

/// An empty JSON object: `{}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EmptyObject)]
pub(crate) struct EmptyIn {}

/// A seat to hold in a cart.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewCartItem)]
pub(crate) struct NewItemIn {
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

/// A cart item request checked: its show (`None`: not a show id, which
/// the engine answers 404) and the seat or seats to hold.
pub(crate) struct ItemAsk {
    pub show: Option<ShowId>,
    pub seats: SeatsAsked<SeatLabel>,
}

impl NewItemIn {
    /// The seat id checked, or the best-available ask (at most
    /// `max_seats`).
    pub(crate) fn into_ask(self, max_seats: usize) -> Result<ItemAsk, Reply> {
        let show = ShowId::parse(&self.show_id);
        let seats = seats_asked(
            "seat_id",
            self.seat_id,
            self.best_available,
            max_seats,
            |seat| seat_label(&seat),
        )?;
        Ok(ItemAsk { show, seats })
    }
}
