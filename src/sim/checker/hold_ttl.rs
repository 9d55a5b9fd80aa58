//! Invariant 5, `hold-ttl`: no hold outlives its TTL. A hold read back at
//! the end may last at most the TTL (plus clock slack) past the answer to
//! the request that opened it; re-adding a held seat renews nothing.

use super::{Violation, CLOCK_SLACK_MS};
use crate::sim::history::{Event, FinalState, History, Op};
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
            // A re-add of a live hold renews nothing (API.md): only a hold
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
