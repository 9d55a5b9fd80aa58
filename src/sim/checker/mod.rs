//! The invariant checker: runs on a recorded history and the final state,
//! and reports every violation with the events that show it.
//!
//! What it checks (issue 4), one module per invariant, named after the rule
//! its violations carry:
//! 1. no seat in two bookings (`double_booking`);
//! 2. no key with two effects (`duplicate_effect`);
//! 3. every acknowledged booking present (`lost_booking`);
//! 4. seat map equal to bookings plus live holds (`seat_map`);
//! 5. no hold outliving its TTL (`hold_ttl`);
//! 6. replays equal to the first answer (`stale_replay`);
//! 7. per seat, the history is linearizable (`linearizable`).
//!
//! This module holds what they share: the verdict (`Violation`), the
//! tolerances, and the reading of answers and acknowledged bookings out of
//! the history.

mod double_booking;
mod duplicate_effect;
mod hold_ttl;
mod linearizable;
mod lost_booking;
mod seat_map;
mod stale_replay;

use super::history::{Answer, Event, FinalState, History, Op};
use std::collections::BTreeSet;

/// The map may show a change up to this long after it happened
/// ("within a second of expiry").
pub const MAP_LAG_MS: u64 = 1_000;
/// Clock slack between the server's timestamps and the client's.
pub const CLOCK_SLACK_MS: u64 = 250;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub rule: &'static str,
    pub detail: String,
    /// `seq` of the events that show it (the shortest excerpt we know).
    pub events: Vec<usize>,
}

impl Violation {
    fn new(rule: &'static str, detail: String, events: Vec<usize>) -> Self {
        Violation {
            rule,
            detail,
            events,
        }
    }
}

/// Every violation found; empty means the run was correct.
pub fn check(history: &History, final_state: &FinalState) -> Vec<Violation> {
    let mut found = Vec::new();
    found.extend(double_booking::no_seat_in_two_bookings(
        history,
        final_state,
    ));
    found.extend(duplicate_effect::no_key_with_two_effects(history));
    found.extend(lost_booking::acknowledged_bookings_present(
        history,
        final_state,
    ));
    found.extend(seat_map::seat_map_matches(final_state));
    found.extend(hold_ttl::holds_within_ttl(history, final_state));
    found.extend(stale_replay::replays_equal_first_answer(history));
    found.extend(linearizable::seats_linearizable(history, final_state));
    found
}

/// Prints a violation with its history excerpt.
pub fn describe(history: &History, violation: &Violation) -> String {
    let mut out = format!("[{}] {}\n", violation.rule, violation.detail);
    for seq in &violation.events {
        if let Some(event) = history.events.iter().find(|e| e.seq == *seq) {
            let answer = match &event.answer {
                Some(a) => format!(
                    "{}{} {}",
                    a.status,
                    if a.replayed { " (replay)" } else { "" },
                    a.body
                ),
                None => "no answer".into(),
            };
            out.push_str(&format!(
                "  #{} user {} {:?} key={} [{}..{}] -> {}\n",
                event.seq,
                event.user,
                event.op,
                event.key.as_deref().unwrap_or("-"),
                event.start_ms,
                event.end_ms,
                answer
            ));
        }
    }
    out
}

fn body_str(answer: &Answer, field: &str) -> Option<String> {
    Some(answer.json()?.get(field)?.as_str()?.to_string())
}

fn body_seats(answer: &Answer) -> Vec<String> {
    answer
        .json()
        .and_then(|b| {
            b.get("seats").and_then(|s| s.as_array()).map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// A booking the server acknowledged (201) in the history.
struct AckedBooking<'a> {
    id: String,
    show: String,
    seats: Vec<String>,
    event: &'a Event,
}

/// Acknowledged bookings from the history.
fn acked_bookings(history: &History) -> Vec<AckedBooking<'_>> {
    let mut out = Vec::new();
    for event in &history.events {
        let (Some(answer), true) = (&event.answer, event.ok()) else {
            continue;
        };
        if !matches!(event.op, Op::Book { .. } | Op::Checkout { .. }) {
            continue;
        }
        if let (Some(id), Some(show)) = (body_str(answer, "id"), body_str(answer, "show_id")) {
            out.push(AckedBooking {
                id,
                show,
                seats: body_seats(answer),
                event,
            });
        }
    }
    out
}

fn cancels_attempted(history: &History) -> BTreeSet<String> {
    history
        .events
        .iter()
        .filter_map(|e| match &e.op {
            Op::Cancel { booking, .. } => Some(booking.clone()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
#[path = "../checker_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "../checker_planted_tests.rs"]
mod planted;
