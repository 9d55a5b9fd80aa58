//! Invariant 1, `double-booking`: no seat in two bookings. Looked for in
//! the final state (confirmed bookings sharing a seat) and in the history
//! (two acknowledged bookings of one seat that were both confirmed at one
//! time): a booking lost from the read-back, or cancelled later, can hide a
//! double booking that the history still shows.
//!
//! A booking is certainly confirmed from the moment its 201 arrived until
//! its first cancel was sent (or the end, if none was). Two bookings of a
//! seat whose such spans overlap held the seat at the same time: one seat,
//! two buyers. The spans are inside the true ones, so an overlap is never
//! invented by the clients' timing.

use super::answers::{acked_bookings, body_str, first_cancel_ms, AckedBooking};
use super::verdict::Violation;
use crate::history::{BookingObs, Event, FinalState, History};
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
    // In the history: two acknowledged bookings of one seat, confirmed
    // at one time.
    let cancelled = first_cancel_ms(history);
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
    // Only a booking's first acknowledgement counts (replays repeat it).
    let span = |b: &AckedBooking| {
        let until = cancelled.get(&b.id).copied().unwrap_or(u64::MAX);
        (b.event.end_ms, until)
    };
    for ((show, seat), mut bookings) in by_seat {
        bookings.sort_by_key(|b| (b.id.clone(), b.event.end_ms));
        bookings.dedup_by(|a, b| a.id == b.id);
        let mut both: BTreeMap<&String, &Event> = BTreeMap::new();
        for (i, a) in bookings.iter().enumerate() {
            for b in &bookings[i + 1..] {
                let ((a_from, a_until), (b_from, b_until)) = (span(a), span(b));
                if a_from.max(b_from) < a_until.min(b_until) {
                    both.insert(&a.id, a.event);
                    both.insert(&b.id, b.event);
                }
            }
        }
        if both.len() > 1 && !reported.contains(&(show.clone(), seat.clone())) {
            let ids: Vec<&String> = both.keys().copied().collect();
            found.push(Violation::new(
                "double-booking",
                format!(
                    "seat {seat} of show {show} was acknowledged to bookings {ids:?}, confirmed at the same time"
                ),
                both.values().map(|e| e.seq).collect(),
            ));
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

#[cfg(test)]
mod tests {
    //! Double bookings in hand-made histories, and rebookings that are not.

    use crate::checker::fixtures::*;

    #[test]
    fn planted_double_booking_is_reported_with_both_events() {
        let (history, state) = double_booking_run();
        let violations = check(&history, &state);
        let doubles = only(&violations, "double-booking");
        assert_eq!(doubles.len(), 1, "{violations:#?}");
        assert_eq!(sorted(doubles[0].events.clone()), vec![7, 9]);
        assert!(doubles[0].detail.contains("A1"), "{}", doubles[0].detail);
        assert!(!doubles[0].detail.contains("A2"), "{}", doubles[0].detail);
        assert_absent(
            &violations,
            &[
                "duplicate-effect",
                "lost-booking",
                "seat-map",
                "hold-ttl",
                "stale-replay",
            ],
        );
        // Two acquisitions of a free seat with no release between: also not
        // linearizable, which is right.
        assert!(has(&violations, "not-linearizable"), "{violations:#?}");
    }

    #[test]
    fn double_booking_seen_in_history_alone_is_reported() {
        // The final state lost one of the two (so the read-back does not show
        // the double booking); the history still does.
        let (history, mut state) = double_booking_run();
        state.bookings.retain(|b| b.id == "b-1");
        let violations = check(&history, &state);
        let doubles = only(&violations, "double-booking");
        assert_eq!(doubles.len(), 1, "{violations:#?}");
        assert_eq!(sorted(doubles[0].events.clone()), vec![7, 9]);
        assert!(has(&violations, "lost-booking"));
    }

    #[test]
    fn rebooking_after_cancel_is_not_a_double_booking() {
        let b1 = answer(201, booking_body("b-1", &["A1"], T + 10));
        let b2 = answer(201, booking_body("b-2", &["A1"], T + 55));
        let mut h = Hist::default();
        h.book(0, "sim-0-1", &["A1"], (T, T + 20), b1);
        h.cancel(0, "b-1", &["A1"], (T + 30, T + 40));
        h.book(1, "sim-1-1", &["A1"], (T + 50, T + 60), b2);
        let state = final_state(
            vec![
                booking_obs("b-1", 0, &["A1"], false),
                booking_obs("b-2", 1, &["A1"], true),
            ],
            vec![],
            &[("A1", "booked")],
            T + 1_000,
        );
        let violations = check(&h.into_history(TTL), &state);
        assert!(violations.is_empty(), "false positives: {violations:#?}");
    }

    #[test]
    fn two_bookings_confirmed_at_once_are_reported_though_both_were_cancelled() {
        // b-2 was acknowledged while b-1 held A1 (its cancel came later):
        // both cancels hide it from the final state, not from the history.
        let b1 = answer(201, booking_body("b-1", &["A1"], T + 10));
        let b2 = answer(201, booking_body("b-2", &["A1"], T + 25));
        let mut h = Hist::default();
        h.book(0, "sim-0-1", &["A1"], (T, T + 20), b1);
        h.book(1, "sim-1-1", &["A1"], (T + 5, T + 30), b2);
        h.cancel(0, "b-1", &["A1"], (T + 40, T + 50));
        h.cancel(1, "b-2", &["A1"], (T + 60, T + 70));
        let state = final_state(
            vec![
                booking_obs("b-1", 0, &["A1"], false),
                booking_obs("b-2", 1, &["A1"], false),
            ],
            vec![],
            &[("A1", "available")],
            T + 1_000,
        );
        let violations = check(&h.into_history(TTL), &state);
        let doubles = only(&violations, "double-booking");
        assert_eq!(doubles.len(), 1, "{violations:#?}");
        assert_eq!(sorted(doubles[0].events.clone()), vec![0, 1]);
    }

    #[test]
    fn double_bookings_of_same_seat_id_in_two_shows_are_both_reported() {
        let body = |id: &str, show: &str| {
            json!({"id": id, "show_id": show, "seats": ["A1"], "status": "confirmed",
                   "created_at": rfc3339(T)})
            .to_string()
        };
        let mut h = Hist::default();
        let mut book = |seq: usize, user: usize, show: &str, id: &str| {
            let op = Op::Book {
                show: show.into(),
                seats: strings(&["A1"]),
            };
            let key = format!("sim-{user}-{seq}");
            let span = (T + seq as u64 * 10, T + seq as u64 * 10 + 5);
            h.seq(seq)
                .event(user, op, Some(&key), span, answer(201, body(id, show)));
        };
        book(0, 0, "show-1", "b-1");
        book(1, 1, "show-1", "b-2");
        book(2, 2, "show-2", "b-3");
        book(3, 3, "show-2", "b-4");
        let obs = |id: &str, user: usize, show: &str| BookingObs {
            id: id.into(),
            user,
            show: show.into(),
            seats: strings(&["A1"]),
            confirmed: true,
        };
        // show-1's double booking is visible in the read-back; show-2's only in
        // the history (b-4 was lost).
        let state = FinalState {
            bookings: vec![
                obs("b-1", 0, "show-1"),
                obs("b-2", 1, "show-1"),
                obs("b-3", 2, "show-2"),
            ],
            ..FinalState::default()
        };
        let violations = check(&h.into_history(TTL), &state);
        let doubles = only(&violations, "double-booking");
        assert!(
            doubles.iter().any(|v| v.detail.contains("show-2")),
            "show-2's double booking is missing: {violations:#?}"
        );
    }
}

#[cfg(test)]
mod planted {
    //! The clean history with one violation planted in it.

    use crate::checker::fixtures::planted::*;

    #[test]
    fn catches_a_double_booking() {
        let (mut h, mut final_state) = clean();
        // User 2 gets A3 too, while b2 holds it, and nobody cancels.
        h.book(2, "k9", &["A3"], (300, 310), booked("b9", &["A3"]));
        let history = h.into_history(TTL_MS);
        final_state.bookings.push(confirmed("b9", 2, &["A3"]));
        let violations = check(&history, &final_state);
        let found = violations
            .iter()
            .find(|v| v.rule == "double-booking")
            .expect("double booking found");
        assert!(found.events.contains(&7), "{found:?}");
        assert!(describe(&history, found).contains("double-booking"));
        assert!(describe(&history, found).contains("#7"));
    }
}
