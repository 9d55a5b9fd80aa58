//! Reading the history's answers: fields of JSON bodies, the bookings the
//! server acknowledged, the cancels clients tried.

use crate::history::{Answer, Event, History, Op};
use std::collections::{BTreeSet, HashMap};

pub(super) fn body_str(answer: &Answer, field: &str) -> Option<String> {
    Some(answer.json()?.get(field)?.as_str()?.to_string())
}

pub(super) fn body_seats(answer: &Answer) -> Vec<String> {
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
pub(super) struct AckedBooking<'a> {
    pub id: String,
    pub show: String,
    pub seats: Vec<String>,
    pub event: &'a Event,
}

/// Acknowledged bookings from the history.
pub(super) fn acked_bookings(history: &History) -> Vec<AckedBooking<'_>> {
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

/// When each booking's first cancel was sent (ms): until then, a booking
/// acknowledged earlier was certainly confirmed.
pub(super) fn first_cancel_ms(history: &History) -> HashMap<String, u64> {
    let mut first = HashMap::new();
    for event in &history.events {
        if let Op::Cancel { booking, .. } = &event.op {
            let at = first.entry(booking.clone()).or_insert(event.start_ms);
            *at = (*at).min(event.start_ms);
        }
    }
    first
}

pub(super) fn cancels_attempted(history: &History) -> BTreeSet<String> {
    history
        .events
        .iter()
        .filter_map(|e| match &e.op {
            Op::Cancel { booking, .. } => Some(booking.clone()),
            _ => None,
        })
        .collect()
}
