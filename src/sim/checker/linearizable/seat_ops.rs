//! The history as operations on single seats: what each request did to
//! each seat it named, over the interval in which it may have taken effect.
//! Retries and replays of one key are one operation; requests that changed
//! nothing are none, except refusals, which show the seat was taken.

use super::super::{body_seats, body_str};
use crate::sim::history::{Event, History, Op};
use std::collections::BTreeMap;

/// One operation on one seat, as the register sees it.
#[derive(Clone, Debug)]
pub(super) struct SeatOp {
    pub(super) seq: usize,
    pub(super) start: u64,
    /// `u64::MAX` for an operation that got no answer (it may land later).
    pub(super) end: u64,
    pub(super) kind: SeatOpKind,
    /// An unanswered op may or may not have happened.
    pub(super) optional: bool,
}

#[derive(Clone, Debug)]
pub(super) enum SeatOpKind {
    Hold {
        cart: String,
        until_ms: u64,
    },
    Book {
        booking: String,
    },
    Checkout {
        cart: String,
        booking: String,
    },
    Release {
        cart: String,
    },
    Cancel {
        booking: String,
    },
    /// A 409 seat-unavailable naming this seat: it was taken at that point.
    Refused,
}

pub(super) fn seat_ops(history: &History) -> BTreeMap<(String, String), Vec<SeatOp>> {
    let mut ops: BTreeMap<(String, String), Vec<SeatOp>> = BTreeMap::new();
    // One op per key: retries and replays are the same operation; its
    // interval runs from the first attempt to the first answer.
    let mut by_key: BTreeMap<(usize, String), Vec<&Event>> = BTreeMap::new();
    let mut unkeyed = Vec::new();
    for event in &history.events {
        match &event.key {
            Some(key) => by_key
                .entry((event.user, key.clone()))
                .or_default()
                .push(event),
            None => unkeyed.push(vec![event]),
        }
    }
    for attempts in by_key.into_values().chain(unkeyed) {
        let start = attempts.iter().map(|e| e.start_ms).min().unwrap_or(0);
        let answered = attempts
            .iter()
            .filter(|e| {
                e.answer.as_ref().is_some_and(|a| {
                    a.code().as_deref() != Some("request-in-progress")
                        && a.status != 503
                        && a.status != 429
                })
            })
            .min_by_key(|e| e.end_ms);
        let event = answered.copied().unwrap_or(attempts[0]);
        let end = answered.map_or(u64::MAX, |e| e.end_ms);
        let answer = answered.and_then(|e| e.answer.as_ref());
        let ok = answer.is_some_and(|a| (200..300).contains(&a.status));
        let optional = answer.is_none();
        // Outcomes that changed nothing are not operations on the seat.
        if answer.is_some() && !ok {
            if let Some(a) = answer {
                if a.code().as_deref() == Some("seat-unavailable") {
                    let show = match &event.op {
                        Op::Book { show, .. } | Op::Hold { show, .. } => show.clone(),
                        _ => continue,
                    };
                    for seat in body_seats(a) {
                        ops.entry((show.clone(), seat)).or_default().push(SeatOp {
                            seq: event.seq,
                            start,
                            end,
                            kind: SeatOpKind::Refused,
                            optional: false,
                        });
                    }
                }
            }
            continue;
        }
        let mut push = |show: &str, seat: &str, kind: SeatOpKind| {
            ops.entry((show.to_string(), seat.to_string()))
                .or_default()
                .push(SeatOp {
                    seq: event.seq,
                    start,
                    end,
                    kind,
                    optional,
                });
        };
        let booking_id = answer
            .and_then(|a| body_str(a, "id"))
            .unwrap_or_else(|| format!("unanswered#{}", event.seq));
        match &event.op {
            Op::Book { show, seats } => {
                for seat in seats {
                    push(
                        show,
                        seat,
                        SeatOpKind::Book {
                            booking: booking_id.clone(),
                        },
                    );
                }
            }
            Op::Hold { cart, show, seat } => {
                let until_ms = answer
                    .and_then(|a| a.json())
                    .and_then(|b| {
                        b.get("items")?.as_array()?.iter().find_map(|i| {
                            (i.get("seat_id")?.as_str()? == seat)
                                .then(|| i.get("expires_at")?.as_str().map(String::from))?
                        })
                    })
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                    .map_or(start + history.hold_ttl_ms, |t| t.timestamp_millis() as u64);
                push(
                    show,
                    seat,
                    SeatOpKind::Hold {
                        cart: cart.clone(),
                        until_ms,
                    },
                );
            }
            Op::Checkout { cart, show, seats } => {
                let seats = answer.map(body_seats).unwrap_or_else(|| seats.clone());
                for seat in &seats {
                    push(
                        show,
                        seat,
                        SeatOpKind::Checkout {
                            cart: cart.clone(),
                            booking: booking_id.clone(),
                        },
                    );
                }
            }
            Op::Release { cart, show, seat } => {
                push(show, seat, SeatOpKind::Release { cart: cart.clone() })
            }
            Op::Cancel {
                booking,
                show,
                seats,
            } => {
                for seat in seats {
                    push(
                        show,
                        seat,
                        SeatOpKind::Cancel {
                            booking: booking.clone(),
                        },
                    );
                }
            }
            Op::CreateCart => {}
        }
    }
    ops
}
