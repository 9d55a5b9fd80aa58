//! Invariant 5, `hold-ttl`: no hold outlives its TTL. A hold read back at
//! the end may last at most the TTL (plus clock slack) past the answer to
//! the request that opened it; re-adding a held seat renews nothing.

use super::verdict::{Violation, CLOCK_SLACK_MS};
use crate::history::{Event, FinalState, History, Op};
use std::collections::HashMap;

pub(super) fn holds_within_ttl(history: &History, final_state: &FinalState) -> Vec<Violation> {
    let mut found = Vec::new();
    let ttl = history.hold_ttl_ms;
    // Acknowledged holds of each (cart, seat), in answer order.
    let mut holds: HashMap<(&str, &str), Vec<&Event>> = HashMap::new();
    for event in &history.events {
        if let (Op::Hold { cart, seat, .. }, true) = (&event.op, event.ok()) {
            holds
                .entry((cart.as_str(), seat.as_str()))
                .or_default()
                .push(event);
        }
    }
    for cart in &final_state.carts {
        for item in &cart.items {
            let Some(events) = holds.get_mut(&(cart.id.as_str(), item.seat.as_str())) else {
                continue;
            };
            events.sort_by_key(|e| (e.end_ms, e.seq));
            // A re-add of a live hold renews nothing (docs/API.md, "hold seats"): only a hold
            // that may have started after the previous one lapsed opens a
            // new window.
            let mut opening = events[0];
            for event in events.iter().skip(1) {
                if event.start_ms + CLOCK_SLACK_MS >= opening.start_ms + ttl {
                    opening = event;
                }
            }
            let latest_end = opening.end_ms + ttl + CLOCK_SLACK_MS;
            if item.expires_at_ms > latest_end {
                found.push(Violation::new(
                    "hold-ttl",
                    format!(
                        "hold of {} in cart {} lasts until {}, more than the TTL after the request that began it",
                        item.seat, cart.id, item.expires_at_ms
                    ),
                    vec![opening.seq],
                ));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    //! Holds that outlive their TTL, one renewed by a re-add, and one within the slack.

    use crate::checker::fixtures::*;

    fn hold_run(expires_at_ms: u64) -> (History, FinalState) {
        let held = answer(201, cart_body("c-1", "open", &[("A1", expires_at_ms)]));
        let mut h = Hist::default();
        h.create_cart(0, "sim-0-1", "c-1", (T, T + 5));
        h.hold(0, "sim-0-2", "c-1", "A1", (T + 10, T + 20), held);
        let state = final_state(
            vec![],
            vec![cart_obs("c-1", 0, true, &[("A1", expires_at_ms)])],
            &[("A1", "held")],
            T + 1_000,
        );
        (h.into_history(TTL), state)
    }

    #[test]
    fn hold_outliving_its_ttl_is_reported() {
        let (history, state) = hold_run(T + 20 + TTL + 60_000);
        let violations = check(&history, &state);
        let ttl = only(&violations, "hold-ttl");
        assert_eq!(ttl.len(), 1, "{violations:#?}");
        assert_eq!(ttl[0].events, vec![1]);
        assert!(ttl[0].detail.contains("c-1"), "{}", ttl[0].detail);
        assert_absent(
            &violations,
            &["seat-map", "not-linearizable", "lost-booking"],
        );
    }

    #[test]
    fn hold_within_ttl_and_clock_slack_is_fine() {
        let (history, state) = hold_run(T + 20 + TTL + CLOCK_SLACK_MS);
        let violations = check(&history, &state);
        assert!(violations.is_empty(), "false positives: {violations:#?}");
    }

    #[test]
    fn renewal_by_readding_a_held_seat_is_a_ttl_violation() {
        let first_exp = T + 15 + TTL;
        let renewed = T + 300_005 + TTL;
        let held = answer(201, cart_body("c-1", "open", &[("A1", first_exp)]));
        let again = answer(201, cart_body("c-1", "open", &[("A1", renewed)]));
        let mut h = Hist::default();
        h.create_cart(0, "sim-0-1", "c-1", (T, T + 5));
        h.hold(0, "sim-0-2", "c-1", "A1", (T + 10, T + 20), held);
        // Re-adding must renew nothing; this (buggy) server renewed.
        h.hold(0, "sim-0-3", "c-1", "A1", (T + 300_000, T + 300_010), again);
        let state = final_state(
            vec![],
            vec![cart_obs("c-1", 0, true, &[("A1", renewed)])],
            &[("A1", "held")],
            T + 300_100,
        );
        let violations = check(&h.into_history(TTL), &state);
        assert!(has(&violations, "hold-ttl"), "{violations:#?}");
    }
}

#[cfg(test)]
mod planted {
    //! The clean history with one violation planted in it.

    use crate::checker::fixtures::planted::*;

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
}
