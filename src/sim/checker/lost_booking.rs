//! Invariant 3, `lost-booking`: every acknowledged booking is present. Once
//! the server answered 201, the booking must read back with the seats and
//! the user it was acknowledged with, and still confirmed unless someone
//! asked to cancel it.

use super::{acked_bookings, cancels_attempted, AckedBooking, Violation};
use crate::sim::history::{BookingObs, FinalState, History};
use std::collections::{BTreeSet, HashMap};

pub(super) fn acknowledged_bookings_present(
    history: &History,
    final_state: &FinalState,
) -> Vec<Violation> {
    let mut found = Vec::new();
    let cancelled = cancels_attempted(history);
    let present: HashMap<&str, &BookingObs> = final_state
        .bookings
        .iter()
        .map(|b| (b.id.as_str(), b))
        .collect();
    let mut seen = BTreeSet::new();
    for AckedBooking {
        id, seats, event, ..
    } in acked_bookings(history)
    {
        if !seen.insert(id.clone()) {
            continue;
        }
        match present.get(id.as_str()) {
            None => found.push(Violation::new(
                "lost-booking",
                format!("acknowledged booking {id} ({seats:?}) is missing"),
                vec![event.seq],
            )),
            Some(booking) if !booking.confirmed && !cancelled.contains(&id) => {
                found.push(Violation::new(
                    "lost-booking",
                    format!("acknowledged booking {id} is cancelled but nobody cancelled it"),
                    vec![event.seq],
                ))
            }
            Some(booking) if booking.seats != seats || booking.user != event.user => {
                found.push(Violation::new(
                    "lost-booking",
                    format!(
                        "booking {id} reads back as {:?} of user {}, acknowledged as {seats:?} of user {}",
                        booking.seats, booking.user, event.user
                    ),
                    vec![event.seq],
                ))
            }
            Some(_) => {}
        }
    }
    found
}
