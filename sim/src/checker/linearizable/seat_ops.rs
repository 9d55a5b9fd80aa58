//! The history as operations on single seats: what each request did to
//! each seat it named, over the interval in which it may have taken effect.
//! Retries and replays of one key are one operation; requests that changed
//! nothing are none, except refusals, which show the seat was taken.

use super::super::answers::{body_seats, body_str};
use crate::history::{Answer, Event, History, Op};
use std::collections::BTreeMap;

/// One operation on one seat, as the register sees it.
#[derive(Clone, Debug)]
pub(super) struct SeatOp {
    pub(super) seq: usize,
    pub(super) start_ms: u64,
    /// `u64::MAX` for an operation that got no answer (it may land later).
    pub(super) end_ms: u64,
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
    /// A 409 seat-unavailable naming this seat, to a booking or a hold: it
    /// was held, booked or blocked at that point.
    Refused,
    /// Staff blocked the seat (a blocked seat stays blocked).
    Block,
    /// Staff unblocked the seat (a seat not blocked stays as it was).
    Unblock,
    /// A block refused 409 seat-unavailable naming this seat: it was held
    /// or booked at that point (a blocked seat is blocked again, not
    /// refused).
    Occupied,
}

impl SeatOpKind {
    /// A refusal (of a booking, a hold or a block): it changed nothing, it
    /// only tells what the seat was.
    pub(super) fn only_constrains(&self) -> bool {
        matches!(self, SeatOpKind::Refused | SeatOpKind::Occupied)
    }
}

/// The operations on each seat, by (show, seat).
pub(super) fn seat_ops(history: &History) -> BTreeMap<(String, String), Vec<SeatOp>> {
    let mut ops: BTreeMap<(String, String), Vec<SeatOp>> = BTreeMap::new();
    for attempts in operations(history) {
        let settled = Settled::of(&attempts);
        for (seat, kind) in settled.seat_effects(history.hold_ttl_ms) {
            ops.entry(seat).or_default().push(SeatOp {
                seq: settled.event.seq,
                start_ms: settled.start_ms,
                end_ms: settled.end_ms,
                kind,
                optional: settled.answer.is_none(),
            });
        }
    }
    ops
}

/// The attempts of each operation: one operation per key (retries and
/// replays are the same operation), then every unkeyed attempt alone.
fn operations(history: &History) -> impl Iterator<Item = Vec<&Event>> {
    let mut by_key: BTreeMap<(usize, &str), Vec<&Event>> = BTreeMap::new();
    let mut unkeyed = Vec::new();
    for event in &history.events {
        match &event.key {
            Some(key) => by_key.entry((event.user, key)).or_default().push(event),
            None => unkeyed.push(vec![event]),
        }
    }
    by_key.into_values().chain(unkeyed)
}

/// One operation seen from outside: its interval runs from the first
/// attempt to the first answer that settled it.
struct Settled<'a> {
    /// The attempt that got that answer, or the first attempt if none did.
    event: &'a Event,
    start_ms: u64,
    /// `u64::MAX` if no answer settled it (it may land later).
    end_ms: u64,
    answer: Option<&'a Answer>,
}

impl<'a> Settled<'a> {
    fn of(attempts: &[&'a Event]) -> Self {
        let answered = attempts
            .iter()
            .filter(|e| e.answer.as_ref().is_some_and(settles))
            .min_by_key(|e| e.end_ms);
        Settled {
            event: answered.copied().unwrap_or(attempts[0]),
            start_ms: attempts.iter().map(|e| e.start_ms).min().unwrap_or(0),
            end_ms: answered.map_or(u64::MAX, |e| e.end_ms),
            answer: answered.and_then(|e| e.answer.as_ref()),
        }
    }

    /// What the operation did to each seat it acted on. Outcomes that
    /// changed nothing are not operations on the seat, except refusals.
    fn seat_effects(&self, hold_ttl_ms: u64) -> Vec<((String, String), SeatOpKind)> {
        match self.answer {
            Some(answer) if !(200..300).contains(&answer.status) => refusals(self.event, answer),
            _ => self.effects(hold_ttl_ms),
        }
    }

    /// The effects of an operation that succeeded, or may have (no answer).
    fn effects(&self, hold_ttl_ms: u64) -> Vec<((String, String), SeatOpKind)> {
        let booking_id = self
            .answer
            .and_then(|a| body_str(a, "id"))
            .unwrap_or_else(|| format!("unanswered#{}", self.event.seq));
        match &self.event.op {
            Op::Book { show, seats } => on_each(
                show,
                seats,
                SeatOpKind::Book {
                    booking: booking_id,
                },
            ),
            Op::Hold { cart, show, seat } => {
                let until_ms = self
                    .answer
                    .and_then(|a| hold_expiry_ms(a, seat))
                    .unwrap_or(self.start_ms + hold_ttl_ms);
                on_each(
                    show,
                    std::slice::from_ref(seat),
                    SeatOpKind::Hold {
                        cart: cart.clone(),
                        until_ms,
                    },
                )
            }
            Op::Checkout { cart, show, seats } => {
                let seats = self.answer.map(body_seats).unwrap_or_else(|| seats.clone());
                let kind = SeatOpKind::Checkout {
                    cart: cart.clone(),
                    booking: booking_id,
                };
                on_each(show, &seats, kind)
            }
            Op::Release { cart, show, seat } => on_each(
                show,
                std::slice::from_ref(seat),
                SeatOpKind::Release { cart: cart.clone() },
            ),
            Op::Cancel {
                booking,
                show,
                seats,
                ..
            } => on_each(
                show,
                seats,
                SeatOpKind::Cancel {
                    booking: booking.clone(),
                },
            ),
            Op::Block { show, seats, .. } => on_each(show, seats, SeatOpKind::Block),
            Op::Unblock { show, seat } => {
                on_each(show, std::slice::from_ref(seat), SeatOpKind::Unblock)
            }
            Op::CreateCart => Vec::new(),
        }
    }
}

/// Whether an answer tells what became of the operation: "in progress"
/// and shedding (503, 429) do not, a later attempt may still run it.
fn settles(answer: &Answer) -> bool {
    answer.code().as_deref() != Some("request-in-progress")
        && answer.status != 503
        && answer.status != 429
}

/// A failed booking, hold or block answered seat-unavailable: the seats
/// it names were taken at some point of its interval.
fn refusals(event: &Event, answer: &Answer) -> Vec<((String, String), SeatOpKind)> {
    if answer.code().as_deref() != Some("seat-unavailable") {
        return Vec::new();
    }
    match &event.op {
        Op::Book { show, .. } | Op::Hold { show, .. } => {
            on_each(show, &body_seats(answer), SeatOpKind::Refused)
        }
        Op::Block { show, .. } => on_each(show, &body_seats(answer), SeatOpKind::Occupied),
        _ => Vec::new(),
    }
}

/// The expiry the server gave a hold of `seat`, from the cart in its answer.
fn hold_expiry_ms(answer: &Answer, seat: &str) -> Option<u64> {
    let body = answer.json()?;
    let expires_at = body.get("items")?.as_array()?.iter().find_map(|i| {
        (i.get("seat_id")?.as_str()? == seat)
            .then(|| i.get("expires_at")?.as_str().map(String::from))?
    })?;
    let expires_at = chrono::DateTime::parse_from_rfc3339(&expires_at).ok()?;
    Some(expires_at.timestamp_millis() as u64)
}

/// The same effect on each of `seats` of `show`.
fn on_each(show: &str, seats: &[String], kind: SeatOpKind) -> Vec<((String, String), SeatOpKind)> {
    seats
        .iter()
        .map(|seat| ((show.to_string(), seat.clone()), kind.clone()))
        .collect()
}
