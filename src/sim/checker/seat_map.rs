//! Invariant 4, `seat-map`: the seat map equals the bookings plus the live
//! holds, all read back in the final state. The map may show an expiry up
//! to `MAP_LAG_MS` late and clocks differ by up to `CLOCK_SLACK_MS`, so a
//! hold near its expiry may be shown either held or available.

use super::{Violation, CLOCK_SLACK_MS, MAP_LAG_MS};
use crate::sim::history::FinalState;
use std::collections::BTreeSet;

pub(super) fn seat_map_matches(final_state: &FinalState) -> Vec<Violation> {
    let mut found = Vec::new();
    let now = final_state.observed_at_ms;
    let mut booked: BTreeSet<(String, String)> = BTreeSet::new();
    for booking in final_state.bookings.iter().filter(|b| b.confirmed) {
        for seat in &booking.seats {
            booked.insert((booking.show.clone(), seat.clone()));
        }
    }
    // Holds: surely live (well before expiry) and possibly live (within lag).
    let mut live = BTreeSet::new();
    let mut maybe = BTreeSet::new();
    for cart in final_state.carts.iter().filter(|c| c.open) {
        for item in &cart.items {
            let seat = (cart.show.clone(), item.seat.clone());
            if item.expires_at_ms > now + CLOCK_SLACK_MS {
                live.insert(seat.clone());
            }
            if item.expires_at_ms + MAP_LAG_MS + CLOCK_SLACK_MS > now {
                maybe.insert(seat);
            }
        }
    }
    for (seat, status) in &final_state.seat_map {
        let ok = match status.as_str() {
            "booked" => booked.contains(seat),
            "held" => !booked.contains(seat) && maybe.contains(seat),
            "available" => !booked.contains(seat) && !live.contains(seat),
            _ => false,
        };
        if !ok {
            let expected = if booked.contains(seat) {
                "booked"
            } else if live.contains(seat) {
                "held"
            } else {
                "available"
            };
            found.push(Violation::new(
                "seat-map",
                format!(
                    "seat {} of show {} shows {status}, bookings and holds say {expected}",
                    seat.1, seat.0
                ),
                vec![],
            ));
        }
    }
    found
}
