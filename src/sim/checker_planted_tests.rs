//! The checker catches what it must: hand-made histories with one planted
//! violation each, and a clean history that must pass.

use super::tests::{answer, replay, Hist, SHOW};
use super::*;
use crate::sim::history::{Answer, BookingObs, CartObs, FinalState, ItemObs};

const TTL_MS: u64 = 10_000;

fn booking_body(id: &str, seats: &[&str]) -> String {
    serde_json::json!({
        "id": id, "show_id": SHOW, "seats": seats,
        "status": "confirmed", "created_at": "2026-11-28T10:00:00.000Z"
    })
    .to_string()
}

fn booked(id: &str, seats: &[&str]) -> Option<Answer> {
    answer(201, booking_body(id, seats))
}

fn refused(seats: &[&str]) -> Option<Answer> {
    let body = serde_json::json!({
        "type": "https://boxoffice.dev/problems/seat-unavailable",
        "title": "Seat unavailable", "status": 409, "detail": "taken", "seats": seats
    });
    answer(409, body.to_string())
}

fn confirmed(id: &str, user: usize, seats: &[&str]) -> BookingObs {
    BookingObs {
        id: id.into(),
        user,
        show: SHOW.into(),
        seats: seats.iter().map(|s| s.to_string()).collect(),
        confirmed: true,
    }
}

fn map(seats: &[(&str, &str)]) -> std::collections::BTreeMap<(String, String), String> {
    seats
        .iter()
        .map(|(seat, status)| ((SHOW.to_string(), seat.to_string()), status.to_string()))
        .collect()
}

fn rules(violations: &[Violation]) -> Vec<&'static str> {
    violations.iter().map(|v| v.rule).collect()
}

/// Two users book, one cancels and the seat is booked again, a hold is
/// checked out, a retry replays, and a refusal names a seat that was taken.
/// The events (seqs 0 to 6) come back unfinished so a test can add more.
fn clean() -> (Hist, FinalState) {
    let b1 = booking_body("b1", &["A1", "A2"]);
    let cart = serde_json::json!({
        "id": "c1", "status": "open",
        "items": [{"show_id": SHOW, "seat_id": "A4", "status": "held",
                   "expires_at": "2026-11-28T10:00:10.000Z"}],
        "expires_at": "2026-11-28T10:00:10.000Z"
    });
    let held = answer(201, cart.to_string());
    let b2 = booked("b2", &["A2", "A3"]);
    let b3 = booked("b3", &["A4"]);
    let t0 = 1_795_860_000_000; // 2026-11-28T10:00:00Z: the hold is sent
    let mut h = Hist::default();
    h.book(0, "k1", &["A1", "A2"], (100, 110), answer(201, b1.clone()));
    h.book(0, "k1", &["A1", "A2"], (120, 121), replay(201, b1));
    h.book(1, "k2", &["A2", "A3"], (130, 140), refused(&["A2"]));
    h.cancel(0, "b1", &["A1", "A2"], (150, 160));
    h.book(1, "k3", &["A2", "A3"], (170, 180), b2);
    h.hold(1, "k4", "c1", "A4", (t0, t0 + 5), held);
    h.checkout(1, "k5", "c1", &["A4"], (t0 + 10, t0 + 20), b3);
    let final_state = FinalState {
        bookings: vec![
            BookingObs {
                confirmed: false,
                ..confirmed("b1", 0, &["A1", "A2"])
            },
            confirmed("b2", 1, &["A2", "A3"]),
            confirmed("b3", 1, &["A4"]),
        ],
        carts: vec![CartObs {
            id: "c1".into(),
            user: 1,
            show: SHOW.into(),
            open: false,
            items: vec![ItemObs {
                seat: "A4".into(),
                expires_at_ms: t0 + TTL_MS,
            }],
        }],
        seat_map: map(&[
            ("A1", "available"),
            ("A2", "booked"),
            ("A3", "booked"),
            ("A4", "booked"),
        ]),
        observed_at_ms: t0 + 1_000,
    };
    (h, final_state)
}

#[test]
fn a_clean_history_passes() {
    let (h, final_state) = clean();
    let violations = check(&h.into_history(TTL_MS), &final_state);
    assert!(violations.is_empty(), "{violations:?}");
}

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

#[test]
fn catches_a_key_with_two_effects() {
    let (mut h, mut final_state) = clean();
    h.book(2, "k7", &["A5"], (300, 310), booked("b7", &["A5"]));
    h.book(2, "k7", &["A5"], (320, 330), booked("b8", &["A5"]));
    let history = h.into_history(TTL_MS);
    final_state.bookings.push(confirmed("b7", 2, &["A5"]));
    final_state
        .seat_map
        .insert((SHOW.into(), "A5".into()), "booked".into());
    let violations = check(&history, &final_state);
    let found = violations
        .iter()
        .find(|v| v.rule == "duplicate-effect")
        .expect("found");
    assert_eq!(found.events.len(), 2, "{found:?}");
}

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

#[test]
fn catches_a_stale_replay() {
    let (h, final_state) = clean();
    let mut history = h.into_history(TTL_MS);
    history.events[1].answer = replay(201, booking_body("b1", &["A1"]));
    let violations = check(&history, &final_state);
    let found = violations
        .iter()
        .find(|v| v.rule == "stale-replay")
        .expect("found");
    assert_eq!(found.events, vec![0, 1]);
}

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

#[test]
fn catches_a_hold_outliving_its_ttl() {
    let (h, mut final_state) = clean();
    let history = h.into_history(TTL_MS);
    final_state.carts[0].items[0].expires_at_ms += 60_000;
    let violations = check(&history, &final_state);
    assert!(
        violations
            .iter()
            .any(|v| v.rule == "hold-ttl" && v.events == vec![5]),
        "{violations:?}"
    );
}

#[test]
fn catches_a_refusal_no_order_explains() {
    // A5 was refused before anyone could have taken it, and stayed free.
    let (mut h, mut final_state) = clean();
    h.book(2, "k7", &["A5"], (10, 20), refused(&["A5"]));
    let history = h.into_history(TTL_MS);
    final_state
        .seat_map
        .insert((SHOW.into(), "A5".into()), "available".into());
    let violations = check(&history, &final_state);
    let found = violations
        .iter()
        .find(|v| v.rule == "not-linearizable")
        .expect("found");
    assert!(found.detail.contains("A5"), "{found:?}");
}

#[test]
fn overlapping_operations_that_can_be_ordered_pass() {
    // The refusal of A3 overlaps the booking that took it: fine.
    let (mut h, mut final_state) = clean();
    h.book(2, "k7", &["A6"], (400, 450), booked("b7", &["A6"]));
    h.book(3, "k8", &["A6"], (410, 420), refused(&["A6"]));
    let history = h.into_history(TTL_MS);
    final_state.bookings.push(confirmed("b7", 2, &["A6"]));
    final_state
        .seat_map
        .insert((SHOW.into(), "A6".into()), "booked".into());
    let violations = check(&history, &final_state);
    assert!(violations.is_empty(), "{violations:?}");
}

#[test]
fn the_excerpt_keeps_only_the_refusals_that_show_the_violation() {
    // Five refusals of A7 while it was free the whole time: one is enough
    // to show it, so the excerpt names one event.
    let (mut h, mut final_state) = clean();
    for i in 0..5 {
        let start = 10 + i * 10;
        let key = format!("r{i}");
        h.book(2, &key, &["A7"], (start, start + 5), refused(&["A7"]));
    }
    let history = h.into_history(TTL_MS);
    final_state
        .seat_map
        .insert((SHOW.into(), "A7".into()), "available".into());
    let violations = check(&history, &final_state);
    let found = violations
        .iter()
        .find(|v| v.rule == "not-linearizable")
        .expect("found");
    assert_eq!(found.events.len(), 1, "{found:?}");
}
