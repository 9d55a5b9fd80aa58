//! Invariant 7, `not-linearizable`: per seat, the history is linearizable.
//! A seat is a register (free, held by a cart until some time, booked, or
//! blocked by staff),
//! and every operation on it must take effect at one instant between its
//! request and its answer, in an order that explains every answer and the
//! seat map read at the end. Seats are independent, so each is searched
//! alone: `seat_ops` reads the operations per seat out of the history,
//! `search` looks for an order.

mod search;
mod seat_ops;

use super::verdict::Violation;
use crate::history::{FinalState, History};
use search::linearizable;
use seat_ops::{seat_ops, SeatOp};

/// Most operations per seat the exact search takes on; a seat with more
/// (a hot seat) is checked on its effects only, refusals sampled out.
const MAX_SEARCH_OPS: usize = 14;

pub(super) fn seats_linearizable(history: &History, final_state: &FinalState) -> Vec<Violation> {
    let mut found = Vec::new();
    for ((show, seat), mut ops) in seat_ops(history) {
        let final_val = final_state.seat_map.get(&(show.clone(), seat.clone()));
        let effects = ops.iter().filter(|o| !o.kind.only_constrains()).count();
        if ops.len() > MAX_SEARCH_OPS {
            // Keep every effect and as many refusals as fit, earliest first.
            ops.sort_by_key(|o| (o.kind.only_constrains(), o.start_ms));
            ops.truncate(MAX_SEARCH_OPS.max(effects));
        }
        if ops.len() > 20 {
            continue; // too many effects for the exact search; other checks still apply
        }
        ops.sort_by_key(|o| o.start_ms);
        let final_val = final_val.map(String::as_str);
        if !linearizable(&ops, final_val) {
            let ops = shortest_excerpt(ops, final_val);
            found.push(Violation::new(
                "not-linearizable",
                format!(
                    "no order of the {} operations on seat {seat} of show {show} is consistent with a single seat",
                    ops.len()
                ),
                ops.iter().map(|o| o.seq).collect(),
            ));
        }
    }
    found
}

/// Drops every refusal that is not needed to show the violation. Only
/// refusals may go: they only constrain, so a subset that still has no
/// valid order proves the whole has none. Effects also explain other
/// operations, and dropping one could invent a violation.
fn shortest_excerpt(mut ops: Vec<SeatOp>, final_val: Option<&str>) -> Vec<SeatOp> {
    let mut i = 0;
    while i < ops.len() {
        if ops[i].kind.only_constrains() {
            let mut without = ops.clone();
            without.remove(i);
            if !linearizable(&without, final_val) {
                ops = without;
                continue;
            }
        }
        i += 1;
    }
    ops
}

#[cfg(test)]
mod tests {
    //! Refusals no order explains, and overlapping or concurrent operations that some order does.

    use crate::checker::fixtures::*;

    #[test]
    fn refusal_before_any_taker_is_not_linearizable() {
        // A1 refused at [T, T+10], but nobody took A1 until T+100.
        let b1 = answer(201, booking_body("b-1", &["A1"], T + 110));
        let mut h = Hist::default();
        h.book(1, "sim-1-1", &["A1"], (T, T + 10), taken(&["A1"]));
        h.book(0, "sim-0-1", &["A1"], (T + 100, T + 120), b1);
        let state = final_state(
            vec![booking_obs("b-1", 0, &["A1"], true)],
            vec![],
            &[("A1", "booked")],
            T + 1_000,
        );
        let violations = check(&h.into_history(TTL), &state);
        let lin = only(&violations, "not-linearizable");
        assert_eq!(lin.len(), 1, "{violations:#?}");
        assert!(lin[0].events.contains(&0), "{:?}", lin[0].events);
        assert!(lin[0].detail.contains("A1"), "{}", lin[0].detail);
        assert_absent(
            &violations,
            &[
                "double-booking",
                "duplicate-effect",
                "lost-booking",
                "seat-map",
                "stale-replay",
                "hold-ttl",
            ],
        );
    }

    #[test]
    fn refusal_of_a_free_seat_is_not_linearizable() {
        // Nobody ever took A1.
        let mut h = Hist::default();
        h.book(1, "sim-1-1", &["A1"], (T, T + 10), taken(&["A1"]));
        let state = final_state(vec![], vec![], &[("A1", "available")], T + 1_000);
        let violations = check(&h.into_history(TTL), &state);
        assert_eq!(
            rules(&violations),
            vec!["not-linearizable"],
            "{violations:#?}"
        );
    }

    #[test]
    fn refusal_after_cancel_completed_is_not_linearizable() {
        let b1 = answer(201, booking_body("b-1", &["A1"], T + 10));
        let mut h = Hist::default();
        h.book(0, "sim-0-1", &["A1"], (T, T + 20), b1);
        h.cancel(0, "b-1", &["A1"], (T + 30, T + 40));
        h.book(1, "sim-1-1", &["A1"], (T + 50, T + 60), taken(&["A1"]));
        let state = final_state(
            vec![booking_obs("b-1", 0, &["A1"], false)],
            vec![],
            &[("A1", "available")],
            T + 1_000,
        );
        let violations = check(&h.into_history(TTL), &state);
        assert!(has(&violations, "not-linearizable"), "{violations:#?}");
        assert_absent(&violations, &["lost-booking", "seat-map"]);
    }

    #[test]
    fn refusal_after_hold_lapsed_is_not_linearizable() {
        let ttl = 1_000;
        let exp = T + 15 + ttl;
        let held = answer(201, cart_body("c-1", "open", &[("A1", exp)]));
        let refused = taken(&["A1"]);
        let mut h = Hist::default();
        h.create_cart(0, "sim-0-1", "c-1", (T, T + 5));
        h.hold(0, "sim-0-2", "c-1", "A1", (T + 10, T + 20), held);
        h.book(1, "sim-1-1", &["A1"], (T + 5_000, T + 5_010), refused);
        let state = final_state(
            vec![],
            vec![cart_obs("c-1", 0, true, &[("A1", exp)])],
            &[("A1", "available")],
            T + 6_000,
        );
        let violations = check(&h.into_history(ttl), &state);
        assert!(has(&violations, "not-linearizable"), "{violations:#?}");
        assert_absent(&violations, &["seat-map", "hold-ttl"]);
    }

    #[test]
    fn final_map_contradicting_history_is_not_linearizable() {
        // Acknowledged booking, never cancelled, yet both the read-back and the
        // map say the seat is free: lost-booking, and no order explains the map.
        let state = final_state(
            vec![booking_obs("b-1", 0, &["A1", "A2"], true)],
            vec![],
            &[("A1", "booked"), ("A2", "available")],
            T + 1_000,
        );
        let violations = check(&one_booking().into_history(TTL), &state);
        assert!(has(&violations, "not-linearizable"), "{violations:#?}");
        assert!(has(&violations, "seat-map"), "{violations:#?}");
    }

    #[test]
    fn overlapping_refusal_and_booking_are_linearizable() {
        // The refusal began first but overlaps the booking: book, then refuse.
        let b1 = answer(201, booking_body("b-1", &["A1"], T + 55));
        let mut h = Hist::default();
        h.book(0, "sim-0-1", &["A1"], (T + 50, T + 60), b1);
        h.book(1, "sim-1-1", &["A1"], (T, T + 100), taken(&["A1"]));
        let state = final_state(
            vec![booking_obs("b-1", 0, &["A1"], true)],
            vec![],
            &[("A1", "booked")],
            T + 1_000,
        );
        let violations = check(&h.into_history(TTL), &state);
        assert!(violations.is_empty(), "false positives: {violations:#?}");
    }

    #[test]
    fn concurrent_contenders_for_one_seat_are_linearizable() {
        // Three users race for A1 (one via a cart) at once: one wins, two are
        // refused; then the winner cancels and a fourth user books it.
        let b1 = answer(201, booking_body("b-1", &["A1"], T + 20));
        let b2 = answer(201, booking_body("b-2", &["A1"], T + 120));
        let mut h = Hist::default();
        h.create_cart(2, "sim-2-1", "c-1", (T - 50, T - 40));
        h.book(1, "sim-1-1", &["A1", "A2"], (T + 2, T + 30), taken(&["A1"]));
        h.hold(2, "sim-2-2", "c-1", "A1", (T + 1, T + 25), taken(&["A1"]));
        h.book(0, "sim-0-1", &["A1"], (T + 3, T + 35), b1);
        h.cancel(0, "b-1", &["A1"], (T + 100, T + 110));
        h.book(3, "sim-3-1", &["A1"], (T + 105, T + 130), b2);
        let state = final_state(
            vec![
                booking_obs("b-1", 0, &["A1"], false),
                booking_obs("b-2", 3, &["A1"], true),
            ],
            vec![cart_obs("c-1", 2, true, &[])],
            &[("A1", "booked"), ("A2", "available")],
            T + 1_000,
        );
        let violations = check(&h.into_history(TTL), &state);
        assert!(violations.is_empty(), "false positives: {violations:#?}");
    }

    #[test]
    fn booking_after_a_hold_lapsed_is_linearizable() {
        let ttl = 1_000;
        let exp = T + 15 + ttl;
        let held = answer(201, cart_body("c-1", "open", &[("A1", exp)]));
        let b1 = answer(201, booking_body("b-1", &["A1"], T + 2_010));
        let lapsed = answer(409, problem("hold-expired", 409, &[]));
        let mut h = Hist::default();
        h.create_cart(0, "sim-0-1", "c-1", (T, T + 5));
        h.hold(0, "sim-0-2", "c-1", "A1", (T + 10, T + 20), held);
        // Refused while held, then booked after the hold lapsed.
        h.book(1, "sim-1-1", &["A1"], (T + 500, T + 520), taken(&["A1"]));
        h.book(1, "sim-1-2", &["A1"], (T + 2_000, T + 2_020), b1);
        // The cart's checkout then finds the hold lapsed: no effect.
        h.checkout(0, "sim-0-3", "c-1", &["A1"], (T + 2_100, T + 2_110), lapsed);
        let state = final_state(
            vec![booking_obs("b-1", 1, &["A1"], true)],
            vec![cart_obs("c-1", 0, true, &[("A1", exp)])],
            &[("A1", "booked")],
            T + 3_000,
        );
        let violations = check(&h.into_history(ttl), &state);
        assert!(violations.is_empty(), "false positives: {violations:#?}");
    }

    #[test]
    fn booking_spanning_a_hold_expiry_then_refusal_is_linearizable() {
        // c-1 holds A1 until T+1015. User 1's booking is sent at T+900 (seat
        // still held) and answered at T+1600: the server ran it just after the
        // expiry. User 2 is refused A1 at [T+1100, T+1150]: A1 was booked then.
        // Valid order: hold @T+10, (lapse @T+1015), book @T+1020, refuse @T+1100.
        let ttl = 1_000;
        let exp = T + 15 + ttl;
        let held = answer(201, cart_body("c-1", "open", &[("A1", exp)]));
        let refused = taken(&["A1"]);
        let b1 = answer(201, booking_body("b-1", &["A1"], T + 1_020));
        let mut h = Hist::default();
        h.create_cart(0, "sim-0-1", "c-1", (T, T + 5));
        h.hold(0, "sim-0-2", "c-1", "A1", (T + 10, T + 20), held);
        h.seq(3)
            .book(2, "sim-2-1", &["A1"], (T + 1_100, T + 1_150), refused);
        h.book(1, "sim-1-1", &["A1"], (T + 900, T + 1_600), b1);
        let state = final_state(
            vec![booking_obs("b-1", 1, &["A1"], true)],
            vec![cart_obs("c-1", 0, true, &[("A1", exp)])],
            &[("A1", "booked")],
            T + 3_000,
        );
        let violations = check(&h.into_history(ttl), &state);
        assert!(violations.is_empty(), "false positives: {violations:#?}");
    }

    #[test]
    fn readding_a_seat_the_cart_holds_is_linearizable() {
        let exp = T + 15 + TTL;
        let held = answer(201, cart_body("c-1", "open", &[("A1", exp)]));
        let b1 = answer(201, booking_body("b-1", &["A1"], T + 60));
        let mut h = Hist::default();
        h.create_cart(0, "sim-0-1", "c-1", (T, T + 5));
        h.hold(0, "sim-0-2", "c-1", "A1", (T + 10, T + 20), held.clone());
        h.hold(0, "sim-0-3", "c-1", "A1", (T + 30, T + 40), held);
        h.checkout(0, "sim-0-4", "c-1", &["A1"], (T + 50, T + 70), b1);
        let state = final_state(
            vec![booking_obs("b-1", 0, &["A1"], true)],
            vec![cart_obs("c-1", 0, false, &[("A1", exp)])],
            &[("A1", "booked")],
            T + 1_000,
        );
        let violations = check(&h.into_history(TTL), &state);
        assert!(violations.is_empty(), "false positives: {violations:#?}");
    }
}

#[cfg(test)]
mod blocks {
    //! Seats staff block and unblock: refusals a block explains, and
    //! blocks no order explains.

    use crate::checker::fixtures::*;

    const STAFF: usize = 9;

    #[test]
    fn refusal_of_a_blocked_seat_and_booking_after_unblock_are_linearizable() {
        let b1 = answer(201, booking_body("b-1", &["A1"], T + 75));
        let mut h = Hist::default();
        h.block(
            STAFF,
            "sim-9-1",
            &["A1", "A2"],
            (T, T + 10),
            blocked(&["A1", "A2"]),
        );
        h.book(0, "sim-0-1", &["A1"], (T + 20, T + 30), taken(&["A1"]));
        // Blocking a blocked seat again changes nothing (201).
        h.block(
            STAFF,
            "sim-9-2",
            &["A2"],
            (T + 40, T + 50),
            blocked(&["A2"]),
        );
        h.unblock(STAFF, "A1", (T + 60, T + 65));
        h.book(0, "sim-0-2", &["A1"], (T + 70, T + 80), b1);
        let state = final_state(
            vec![booking_obs("b-1", 0, &["A1"], true)],
            vec![],
            &[("A1", "booked"), ("A2", "blocked")],
            T + 1_000,
        );
        let violations = check(&h.into_history(TTL), &state);
        assert!(violations.is_empty(), "false positives: {violations:#?}");
    }

    #[test]
    fn block_of_a_booked_seat_acknowledged_is_not_linearizable() {
        let b1 = answer(201, booking_body("b-1", &["A1"], T + 5));
        let mut h = Hist::default();
        h.book(0, "sim-0-1", &["A1"], (T, T + 10), b1);
        let block = h.block(
            STAFF,
            "sim-9-1",
            &["A1"],
            (T + 20, T + 30),
            blocked(&["A1"]),
        );
        // The booking is cancelled later and the map ends blocked: only
        // the block of a booked seat explains nothing.
        h.cancel(0, "b-1", &["A1"], (T + 40, T + 50));
        let state = final_state(
            vec![booking_obs("b-1", 0, &["A1"], false)],
            vec![],
            &[("A1", "blocked")],
            T + 1_000,
        );
        let violations = check(&h.into_history(TTL), &state);
        let lin = only(&violations, "not-linearizable");
        assert_eq!(lin.len(), 1, "{violations:#?}");
        assert!(lin[0].events.contains(&block), "{:?}", lin[0].events);
    }

    #[test]
    fn block_refused_for_a_free_seat_is_not_linearizable() {
        // Nobody held or booked A1: a refusal naming it explains nothing.
        let mut h = Hist::default();
        h.block(STAFF, "sim-9-1", &["A1"], (T, T + 10), taken(&["A1"]));
        let state = final_state(vec![], vec![], &[("A1", "available")], T + 1_000);
        let violations = check(&h.into_history(TTL), &state);
        assert_eq!(
            rules(&violations),
            vec!["not-linearizable"],
            "{violations:#?}"
        );
    }

    #[test]
    fn block_refused_for_a_booked_seat_is_linearizable() {
        let b1 = answer(201, booking_body("b-1", &["A1"], T + 5));
        let mut h = Hist::default();
        h.book(0, "sim-0-1", &["A1"], (T, T + 10), b1);
        h.block(
            STAFF,
            "sim-9-1",
            &["A1", "A2"],
            (T + 20, T + 30),
            taken(&["A1"]),
        );
        let state = final_state(
            vec![booking_obs("b-1", 0, &["A1"], true)],
            vec![],
            &[("A1", "booked"), ("A2", "available")],
            T + 1_000,
        );
        let violations = check(&h.into_history(TTL), &state);
        assert!(violations.is_empty(), "false positives: {violations:#?}");
    }

    #[test]
    fn block_refused_for_a_seat_already_blocked_is_not_linearizable() {
        // Blocking a blocked seat is no change (201), not a refusal.
        let mut h = Hist::default();
        h.block(STAFF, "sim-9-1", &["A1"], (T, T + 10), blocked(&["A1"]));
        h.block(STAFF, "sim-9-2", &["A1"], (T + 20, T + 30), taken(&["A1"]));
        let state = final_state(vec![], vec![], &[("A1", "blocked")], T + 1_000);
        let violations = check(&h.into_history(TTL), &state);
        assert_eq!(
            rules(&violations),
            vec!["not-linearizable"],
            "{violations:#?}"
        );
    }

    #[test]
    fn blocked_seat_shown_available_is_not_linearizable() {
        let mut h = Hist::default();
        h.block(STAFF, "sim-9-1", &["A1"], (T, T + 10), blocked(&["A1"]));
        let state = final_state(vec![], vec![], &[("A1", "available")], T + 1_000);
        let violations = check(&h.into_history(TTL), &state);
        assert_eq!(
            rules(&violations),
            vec!["not-linearizable"],
            "{violations:#?}"
        );
    }

    #[test]
    fn seat_shown_blocked_that_nobody_blocked_is_not_linearizable() {
        let mut h = Hist::default();
        h.block(STAFF, "sim-9-1", &["A1"], (T, T + 10), blocked(&["A1"]));
        h.unblock(STAFF, "A1", (T + 20, T + 30));
        let state = final_state(vec![], vec![], &[("A1", "blocked")], T + 1_000);
        let violations = check(&h.into_history(TTL), &state);
        assert_eq!(
            rules(&violations),
            vec!["not-linearizable"],
            "{violations:#?}"
        );
    }
}

#[cfg(test)]
mod planted {
    //! The clean history with one violation planted in it.

    use crate::checker::fixtures::planted::*;

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
}
