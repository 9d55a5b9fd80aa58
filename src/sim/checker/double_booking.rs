//! Invariant 1, `double-booking`: no seat in two bookings. Looked for in
//! the final state (confirmed bookings sharing a seat) and in the history
//! (two acknowledged bookings of one seat, neither of which anyone tried to
//! cancel): a booking lost from the read-back can hide a double booking
//! that the history still shows.

use super::{acked_bookings, body_str, cancels_attempted, AckedBooking, Violation};
use crate::sim::history::{BookingObs, Event, FinalState, History};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub(super) fn no_seat_in_two_bookings(
    history: &History,
    final_state: &FinalState,
) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut reported: BTreeSet<(String, String)> = BTreeSet::new();
    // In the final state: confirmed bookings never share a seat.
    let mut owner: HashMap<(String, String), &BookingObs> = HashMap::new();
    for booking in final_state.bookings.iter().filter(|b| b.confirmed) {
        for seat in &booking.seats {
            if let Some(other) = owner.insert((booking.show.clone(), seat.clone()), booking) {
                if other.id != booking.id {
                    reported.insert((booking.show.clone(), seat.clone()));
                    found.push(Violation::new(
                        "double-booking",
                        format!(
                            "seat {seat} of show {} is in bookings {} and {}",
                            booking.show, other.id, booking.id
                        ),
                        events_naming(history, &[&other.id, &booking.id]),
                    ));
                }
            }
        }
    }
    // In the history: two acknowledged bookings of one seat, neither of
    // which anyone tried to cancel.
    let cancelled = cancels_attempted(history);
    let acked = acked_bookings(history);
    let mut by_seat: HashMap<(String, String), Vec<&AckedBooking>> = HashMap::new();
    for booking in &acked {
        for seat in &booking.seats {
            by_seat
                .entry((booking.show.clone(), seat.clone()))
                .or_default()
                .push(booking);
        }
    }
    for ((show, seat), bookings) in by_seat {
        let live: BTreeMap<&String, &Event> = bookings
            .iter()
            .filter(|b| !cancelled.contains(&b.id))
            .map(|b| (&b.id, b.event))
            .collect();
        if live.len() > 1 {
            let ids: Vec<&String> = live.keys().copied().collect();
            if !reported.contains(&(show.clone(), seat.clone())) {
                found.push(Violation::new(
                    "double-booking",
                    format!("seat {seat} of show {show} was acknowledged to bookings {ids:?}"),
                    live.values().map(|e| e.seq).collect(),
                ));
            }
        }
    }
    found
}

fn events_naming(history: &History, ids: &[&String]) -> Vec<usize> {
    history
        .events
        .iter()
        .filter(|e| {
            e.answer
                .as_ref()
                .and_then(|a| body_str(a, "id"))
                .is_some_and(|id| ids.contains(&&id))
        })
        .map(|e| e.seq)
        .collect()
}
