//! Hand-made histories for the checker's tests: the checker is itself
//! tested, on histories with planted violations. Each invariant's tests
//! sit next to it, in two families: `tests`, short histories written for
//! the case at hand (helpers here, one line per event through `Hist`), and
//! `planted`, the clean history of `planted::clean` with one violation
//! planted in it.

pub use super::{check, describe, Violation, CLOCK_SLACK_MS};
pub use crate::history::{Answer, BookingObs, CartObs, Event, FinalState, History, ItemObs, Op};
pub use serde_json::json;
pub use std::collections::BTreeMap;

/// A plausible wall clock (ms since the epoch) so RFC 3339 times round-trip.
pub const T: u64 = 1_700_000_000_000;
pub const SHOW: &str = "show-1";
pub const TTL: u64 = 600_000;

pub fn rfc3339(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .expect("valid time")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn answer(status: u16, body: String) -> Option<Answer> {
    Some(Answer {
        status,
        body,
        replayed: false,
    })
}

pub fn replay(status: u16, body: String) -> Option<Answer> {
    Some(Answer {
        status,
        body,
        replayed: true,
    })
}

pub fn booking_body(id: &str, seats: &[&str], created_ms: u64) -> String {
    json!({
        "id": id,
        "show_id": SHOW,
        "seats": seats,
        "status": "confirmed",
        "created_at": rfc3339(created_ms),
    })
    .to_string()
}

/// A cart body; `items` are (seat, expires_at ms).
pub fn cart_body(id: &str, status: &str, items: &[(&str, u64)]) -> String {
    let earliest = items.iter().map(|i| i.1).min().map(rfc3339);
    json!({
        "id": id,
        "status": status,
        "items": items
            .iter()
            .map(|(seat, exp)| json!({
                "show_id": SHOW,
                "seat_id": seat,
                "status": "held",
                "expires_at": rfc3339(*exp),
            }))
            .collect::<Vec<_>>(),
        "expires_at": earliest,
    })
    .to_string()
}

pub fn problem(code: &str, status: u16, seats: &[&str]) -> String {
    let mut body = json!({
        "type": format!("https://boxoffice.dev/problems/{code}"),
        "title": code,
        "status": status,
        "detail": format!("{code}: {}", seats.join(", ")),
    });
    if !seats.is_empty() {
        body["seats"] = json!(seats);
    }
    body.to_string()
}

/// A block's 201: `{"show_id", "seats", "reason"}`.
pub fn blocked(seats: &[&str]) -> Option<Answer> {
    let body = json!({"show_id": SHOW, "seats": seats, "reason": "press"});
    answer(201, body.to_string())
}

/// 409 seat-unavailable naming `seats`.
pub fn taken(seats: &[&str]) -> Option<Answer> {
    answer(409, problem("seat-unavailable", 409, seats))
}

/// A hand-made history: each event gets the next seq (0 first, or the one
/// set by `seq`), and each method returns the seq it gave.
#[derive(Default)]
pub struct Hist {
    events: Vec<Event>,
    next: usize,
}

impl Hist {
    /// The next event gets `seq` (for histories with gaps in their seqs).
    pub fn seq(&mut self, seq: usize) -> &mut Self {
        self.next = seq;
        self
    }

    pub fn event(
        &mut self,
        user: usize,
        op: Op,
        key: Option<&str>,
        span: (u64, u64),
        answer: Option<Answer>,
    ) -> usize {
        let seq = self.next;
        self.next += 1;
        self.events.push(Event {
            seq,
            user,
            op,
            key: key.map(String::from),
            start_ms: span.0,
            end_ms: span.1,
            answer,
        });
        seq
    }

    pub fn book(
        &mut self,
        user: usize,
        key: &str,
        seats: &[&str],
        span: (u64, u64),
        answer: Option<Answer>,
    ) -> usize {
        let op = Op::Book {
            show: SHOW.into(),
            seats: strings(seats),
        };
        self.event(user, op, Some(key), span, answer)
    }

    /// Answered 201 with the new, empty cart.
    pub fn create_cart(&mut self, user: usize, key: &str, cart: &str, span: (u64, u64)) -> usize {
        let body = json!({"id": cart, "status": "open", "items": [], "expires_at": null});
        let answer = answer(201, body.to_string());
        self.event(user, Op::CreateCart, Some(key), span, answer)
    }

    pub fn hold(
        &mut self,
        user: usize,
        key: &str,
        cart: &str,
        seat: &str,
        span: (u64, u64),
        answer: Option<Answer>,
    ) -> usize {
        let op = Op::Hold {
            cart: cart.into(),
            show: SHOW.into(),
            seat: seat.into(),
        };
        self.event(user, op, Some(key), span, answer)
    }

    pub fn checkout(
        &mut self,
        user: usize,
        key: &str,
        cart: &str,
        seats: &[&str],
        span: (u64, u64),
        answer: Option<Answer>,
    ) -> usize {
        let op = Op::Checkout {
            cart: cart.into(),
            show: SHOW.into(),
            seats: strings(seats),
        };
        self.event(user, op, Some(key), span, answer)
    }

    /// `DELETE /v1/bookings/{id}`: no key, 204 with an empty body.
    pub fn cancel(
        &mut self,
        user: usize,
        booking: &str,
        seats: &[&str],
        span: (u64, u64),
    ) -> usize {
        let op = Op::Cancel {
            booking: booking.into(),
            show: SHOW.into(),
            seats: strings(seats),
            by_staff: false,
        };
        self.event(user, op, None, span, answer(204, String::new()))
    }

    /// Staff's `DELETE /v1/bookings/{id}` with the admin token: 204.
    pub fn staff_cancel(
        &mut self,
        staff: usize,
        booking: &str,
        seats: &[&str],
        span: (u64, u64),
    ) -> usize {
        let op = Op::Cancel {
            booking: booking.into(),
            show: SHOW.into(),
            seats: strings(seats),
            by_staff: true,
        };
        self.event(staff, op, None, span, answer(204, String::new()))
    }

    /// Staff's `POST /v1/shows/{id}/blocks`.
    pub fn block(
        &mut self,
        staff: usize,
        key: &str,
        seats: &[&str],
        span: (u64, u64),
        answer: Option<Answer>,
    ) -> usize {
        let op = Op::Block {
            show: SHOW.into(),
            seats: strings(seats),
            reason: Some("press".into()),
        };
        self.event(staff, op, Some(key), span, answer)
    }

    /// Staff's `DELETE /v1/shows/{id}/blocks/{seat}`: 204.
    pub fn unblock(&mut self, staff: usize, seat: &str, span: (u64, u64)) -> usize {
        let op = Op::Unblock {
            show: SHOW.into(),
            seat: seat.into(),
        };
        self.event(staff, op, None, span, answer(204, String::new()))
    }

    pub fn into_history(self, hold_ttl_ms: u64) -> History {
        History {
            events: self.events,
            hold_ttl_ms,
        }
    }
}

pub fn booking_obs(id: &str, user: usize, seats: &[&str], confirmed: bool) -> BookingObs {
    BookingObs {
        id: id.into(),
        user,
        show: SHOW.into(),
        seats: strings(seats),
        confirmed,
    }
}

pub fn cart_obs(id: &str, user: usize, open: bool, items: &[(&str, u64)]) -> CartObs {
    CartObs {
        id: id.into(),
        user,
        show: SHOW.into(),
        open,
        items: items
            .iter()
            .map(|(seat, exp)| ItemObs {
                seat: seat.to_string(),
                expires_at_ms: *exp,
            })
            .collect(),
    }
}

pub fn seat_map(entries: &[(&str, &str)]) -> BTreeMap<(String, String), String> {
    entries
        .iter()
        .map(|(seat, status)| ((SHOW.to_string(), seat.to_string()), status.to_string()))
        .collect()
}

pub fn final_state(
    bookings: Vec<BookingObs>,
    carts: Vec<CartObs>,
    map: &[(&str, &str)],
    observed_at_ms: u64,
) -> FinalState {
    FinalState {
        bookings,
        carts,
        seat_map: seat_map(map),
        observed_at_ms,
        box_office: None,
    }
}

pub fn rules(violations: &[Violation]) -> Vec<&'static str> {
    violations.iter().map(|v| v.rule).collect()
}

pub fn has(violations: &[Violation], rule: &str) -> bool {
    violations.iter().any(|v| v.rule == rule)
}

pub fn only<'a>(violations: &'a [Violation], rule: &str) -> Vec<&'a Violation> {
    violations.iter().filter(|v| v.rule == rule).collect()
}

pub fn assert_absent(violations: &[Violation], absent: &[&str]) {
    for rule in absent {
        assert!(
            !has(violations, rule),
            "unexpected {rule} violation: {violations:#?}"
        );
    }
}

pub fn sorted(mut seqs: Vec<usize>) -> Vec<usize> {
    seqs.sort_unstable();
    seqs
}

// ---------- histories more than one invariant's tests use ----------

pub fn double_booking_run() -> (History, FinalState) {
    let b1 = answer(201, booking_body("b-1", &["A1"], T + 10));
    let b2 = answer(201, booking_body("b-2", &["A1", "A2"], T + 40));
    let mut h = Hist::default();
    h.seq(7).book(0, "sim-0-1", &["A1"], (T, T + 20), b1);
    h.seq(9)
        .book(1, "sim-1-1", &["A1", "A2"], (T + 30, T + 50), b2);
    let state = final_state(
        vec![
            booking_obs("b-1", 0, &["A1"], true),
            booking_obs("b-2", 1, &["A1", "A2"], true),
        ],
        vec![],
        &[("A1", "booked"), ("A2", "booked")],
        T + 1_000,
    );
    (h.into_history(TTL), state)
}

pub fn one_booking() -> Hist {
    let b1 = answer(201, booking_body("b-1", &["A1", "A2"], T + 10));
    let mut h = Hist::default();
    h.seq(3).book(0, "sim-0-1", &["A1", "A2"], (T, T + 20), b1);
    h
}

/// The planted family: one clean history (`clean`) that must pass, and in
/// each invariant's `planted` tests, that history with one violation
/// planted in it.
pub mod planted {
    pub use super::*;

    pub const TTL_MS: u64 = 10_000;

    pub fn booking_body(id: &str, seats: &[&str]) -> String {
        serde_json::json!({
            "id": id, "show_id": SHOW, "seats": seats,
            "status": "confirmed", "created_at": "2026-11-28T10:00:00.000Z"
        })
        .to_string()
    }

    pub fn booked(id: &str, seats: &[&str]) -> Option<Answer> {
        answer(201, booking_body(id, seats))
    }

    pub fn refused(seats: &[&str]) -> Option<Answer> {
        let body = serde_json::json!({
            "type": "https://boxoffice.dev/problems/seat-unavailable",
            "title": "Seat unavailable", "status": 409, "detail": "taken", "seats": seats
        });
        answer(409, body.to_string())
    }

    pub fn confirmed(id: &str, user: usize, seats: &[&str]) -> BookingObs {
        BookingObs {
            id: id.into(),
            user,
            show: SHOW.into(),
            seats: seats.iter().map(|s| s.to_string()).collect(),
            confirmed: true,
        }
    }

    pub fn map(seats: &[(&str, &str)]) -> std::collections::BTreeMap<(String, String), String> {
        seats
            .iter()
            .map(|(seat, status)| ((SHOW.to_string(), seat.to_string()), status.to_string()))
            .collect()
    }

    /// Two users book, one cancels and the seat is booked again, a hold is
    /// checked out, a retry replays, and a refusal names a seat that was taken.
    /// The events (seqs 0 to 6) come back unfinished so a test can add more.
    pub fn clean() -> (Hist, FinalState) {
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
            box_office: None,
        };
        (h, final_state)
    }
}
