//! Invariant 3, `lost-booking`: every acknowledged booking is present. Once
//! the server answered 201, the booking must read back with the seats and
//! the user it was acknowledged with, and still confirmed unless someone
//! asked to cancel it.

use super::answers::{acked_bookings, cancels_attempted, AckedBooking};
use super::verdict::Violation;
use crate::history::{BookingObs, FinalState, History};
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

#[cfg(test)]
mod tests {
    //! Acknowledged bookings missing, cancelled or changed in the read-back.

    use crate::checker::fixtures::*;

    #[test]
    fn planted_missing_booking_is_lost() {
        let state = final_state(
            vec![],
            vec![],
            &[("A1", "available"), ("A2", "available")],
            T + 1_000,
        );
        let violations = check(&one_booking().into_history(TTL), &state);
        let lost = only(&violations, "lost-booking");
        assert_eq!(lost.len(), 1, "{violations:#?}");
        assert_eq!(lost[0].events, vec![3]);
        assert!(lost[0].detail.contains("b-1"), "{}", lost[0].detail);
        assert_absent(
            &violations,
            &[
                "double-booking",
                "duplicate-effect",
                "seat-map",
                "stale-replay",
            ],
        );
    }

    #[test]
    fn planted_uncalled_cancel_is_lost() {
        let state = final_state(
            vec![booking_obs("b-1", 0, &["A1", "A2"], false)],
            vec![],
            &[("A1", "available"), ("A2", "available")],
            T + 1_000,
        );
        let violations = check(&one_booking().into_history(TTL), &state);
        let lost = only(&violations, "lost-booking");
        assert_eq!(lost.len(), 1, "{violations:#?}");
        assert_eq!(lost[0].events, vec![3]);
        assert!(lost[0].detail.contains("cancelled"), "{}", lost[0].detail);
    }

    #[test]
    fn booking_read_back_with_other_seats_is_lost() {
        let state = final_state(
            vec![booking_obs("b-1", 0, &["A1"], true)],
            vec![],
            &[("A1", "booked"), ("A2", "available")],
            T + 1_000,
        );
        let violations = check(&one_booking().into_history(TTL), &state);
        assert!(has(&violations, "lost-booking"), "{violations:#?}");
    }

    #[test]
    fn cancelled_booking_with_a_cancel_is_not_lost() {
        let mut h = one_booking();
        h.cancel(0, "b-1", &["A1", "A2"], (T + 100, T + 120));
        let state = final_state(
            vec![booking_obs("b-1", 0, &["A1", "A2"], false)],
            vec![],
            &[("A1", "available"), ("A2", "available")],
            T + 1_000,
        );
        let violations = check(&h.into_history(TTL), &state);
        assert!(violations.is_empty(), "false positives: {violations:#?}");
    }

    #[test]
    fn checkout_booking_missing_is_lost() {
        let exp = T + 15 + TTL;
        let held = answer(201, cart_body("c-1", "open", &[("A1", exp)]));
        let b1 = answer(201, booking_body("b-1", &["A1"], T + 35));
        let mut h = Hist::default();
        h.create_cart(0, "sim-0-1", "c-1", (T, T + 5));
        h.hold(0, "sim-0-2", "c-1", "A1", (T + 10, T + 20), held);
        h.checkout(0, "sim-0-3", "c-1", &["A1"], (T + 30, T + 40), b1);
        let state = final_state(
            vec![],
            vec![cart_obs("c-1", 0, false, &[("A1", exp)])],
            &[("A1", "booked")],
            T + 1_000,
        );
        let violations = check(&h.into_history(TTL), &state);
        let lost = only(&violations, "lost-booking");
        assert_eq!(lost.len(), 1, "{violations:#?}");
        assert_eq!(lost[0].events, vec![2]);
    }
}

#[cfg(test)]
mod planted {
    //! The clean history with one violation planted in it.

    use crate::checker::fixtures::planted::*;

    #[test]
    fn catches_a_lost_acknowledged_booking() {
        let (h, mut final_state) = clean();
        let history = h.into_history(TTL_MS);
        final_state.bookings.retain(|b| b.id != "b3");
        assert!(rules(&check(&history, &final_state)).contains(&"lost-booking"));

        // Read back cancelled, though nobody cancelled it.
        let (h, mut final_state) = clean();
        let history = h.into_history(TTL_MS);
        final_state
            .bookings
            .iter_mut()
            .find(|b| b.id == "b2")
            .unwrap()
            .confirmed = false;
        let violations = check(&history, &final_state);
        assert!(
            violations
                .iter()
                .any(|v| v.rule == "lost-booking" && v.events == vec![4]),
            "{violations:?}"
        );
    }
}
