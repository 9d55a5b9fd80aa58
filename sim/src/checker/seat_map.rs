//! Invariant 4, `seat-map`: the seat map equals the bookings plus the live
//! holds, all read back in the final state. A seat shown `blocked` is
//! judged by `blocked_seat` (not in a booking or a live hold) and by
//! `linearizable` (a block nothing undid). The map may show an expiry up
//! to `MAP_LAG_MS` late and clocks differ by up to `CLOCK_SLACK_MS`, so a
//! hold near its expiry may be shown either held or available.

use super::verdict::{Violation, CLOCK_SLACK_MS, MAP_LAG_MS};
use crate::history::FinalState;
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
            "blocked" => true,
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

#[cfg(test)]
mod tests {
    //! Seat maps that disagree with the bookings and holds read back.

    use crate::checker::fixtures::*;

    #[test]
    fn booked_seat_shown_available_is_a_seat_map_violation() {
        let state = final_state(
            vec![booking_obs("b-1", 0, &["A1", "A2"], true)],
            vec![],
            &[("A1", "available"), ("A2", "booked")],
            T + 1_000,
        );
        let violations = check(&one_booking().into_history(TTL), &state);
        let map = only(&violations, "seat-map");
        assert_eq!(map.len(), 1, "{violations:#?}");
        assert!(map[0].detail.contains("A1"), "{}", map[0].detail);
        assert!(map[0].detail.contains("available"), "{}", map[0].detail);
        assert_absent(
            &violations,
            &["lost-booking", "double-booking", "duplicate-effect"],
        );
    }

    #[test]
    fn held_seat_without_live_hold_is_a_seat_map_violation() {
        // No cart at all holds A3, yet the map shows it held.
        let state = final_state(
            vec![booking_obs("b-1", 0, &["A1", "A2"], true)],
            vec![],
            &[("A1", "booked"), ("A2", "booked"), ("A3", "held")],
            T + 1_000,
        );
        let violations = check(&one_booking().into_history(TTL), &state);
        let map = only(&violations, "seat-map");
        assert_eq!(map.len(), 1, "{violations:#?}");
        assert!(map[0].detail.contains("A3"), "{}", map[0].detail);
        assert_absent(&violations, &["lost-booking", "double-booking"]);
    }

    #[test]
    fn held_seat_long_after_expiry_is_a_seat_map_violation() {
        let exp = T + 15 + TTL;
        let held = answer(201, cart_body("c-1", "open", &[("A1", exp)]));
        let mut h = Hist::default();
        h.create_cart(0, "sim-0-1", "c-1", (T, T + 5));
        h.hold(0, "sim-0-2", "c-1", "A1", (T + 10, T + 20), held);
        let state = final_state(
            vec![],
            vec![cart_obs("c-1", 0, true, &[("A1", exp)])],
            &[("A1", "held")],
            exp + 10_000,
        );
        let violations = check(&h.into_history(TTL), &state);
        assert!(has(&violations, "seat-map"), "{violations:#?}");
        assert_absent(&violations, &["hold-ttl"]);
    }

    #[test]
    fn live_hold_shown_available_is_a_seat_map_violation() {
        let exp = T + 15 + TTL;
        let held = answer(201, cart_body("c-1", "open", &[("A1", exp)]));
        let mut h = Hist::default();
        h.create_cart(0, "sim-0-1", "c-1", (T, T + 5));
        h.hold(0, "sim-0-2", "c-1", "A1", (T + 10, T + 20), held);
        let state = final_state(
            vec![],
            vec![cart_obs("c-1", 0, true, &[("A1", exp)])],
            &[("A1", "available")],
            T + 1_000,
        );
        let violations = check(&h.into_history(TTL), &state);
        assert!(has(&violations, "seat-map"), "{violations:#?}");
    }
}

#[cfg(test)]
mod planted {
    //! The clean history with one violation planted in it.

    use crate::checker::fixtures::planted::*;

    #[test]
    fn catches_a_seat_map_that_disagrees() {
        let (h, mut final_state) = clean();
        let history = h.into_history(TTL_MS);
        final_state
            .seat_map
            .insert((SHOW.into(), "A3".into()), "available".into());
        assert!(rules(&check(&history, &final_state)).contains(&"seat-map"));

        let (h, mut final_state) = clean();
        let history = h.into_history(TTL_MS);
        final_state
            .seat_map
            .insert((SHOW.into(), "A1".into()), "held".into());
        assert!(rules(&check(&history, &final_state)).contains(&"seat-map"));
    }
}
