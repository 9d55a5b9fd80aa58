//! The checker is itself tested: histories with planted violations.
use super::super::history::{BookingObs, CartObs, ItemObs};
use super::*;
use serde_json::json;
use std::collections::BTreeMap;

// ---------- helpers: hand-made histories ----------

/// A plausible wall clock (ms since the epoch) so RFC 3339 times round-trip.
const T: u64 = 1_700_000_000_000;
pub(super) const SHOW: &str = "show-1";
const TTL: u64 = 600_000;

fn rfc3339(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .expect("valid time")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub(super) fn answer(status: u16, body: String) -> Option<Answer> {
    Some(Answer {
        status,
        body,
        replayed: false,
    })
}

pub(super) fn replay(status: u16, body: String) -> Option<Answer> {
    Some(Answer {
        status,
        body,
        replayed: true,
    })
}

fn booking_body(id: &str, seats: &[&str], created_ms: u64) -> String {
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
fn cart_body(id: &str, status: &str, items: &[(&str, u64)]) -> String {
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

fn problem(code: &str, status: u16, seats: &[&str]) -> String {
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

/// 409 seat-unavailable naming `seats`.
fn taken(seats: &[&str]) -> Option<Answer> {
    answer(409, problem("seat-unavailable", 409, seats))
}

/// A hand-made history: each event gets the next seq (0 first, or the one
/// set by `seq`), and each method returns the seq it gave.
#[derive(Default)]
pub(super) struct Hist {
    events: Vec<Event>,
    next: usize,
}

impl Hist {
    /// The next event gets `seq` (for histories with gaps in their seqs).
    fn seq(&mut self, seq: usize) -> &mut Self {
        self.next = seq;
        self
    }

    fn event(
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

    pub(super) fn book(
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
    fn create_cart(&mut self, user: usize, key: &str, cart: &str, span: (u64, u64)) -> usize {
        let body = json!({"id": cart, "status": "open", "items": [], "expires_at": null});
        let answer = answer(201, body.to_string());
        self.event(user, Op::CreateCart, Some(key), span, answer)
    }

    pub(super) fn hold(
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

    pub(super) fn checkout(
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
    pub(super) fn cancel(
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
        };
        self.event(user, op, None, span, answer(204, String::new()))
    }

    pub(super) fn into_history(self, hold_ttl_ms: u64) -> History {
        History {
            events: self.events,
            hold_ttl_ms,
        }
    }
}

fn booking_obs(id: &str, user: usize, seats: &[&str], confirmed: bool) -> BookingObs {
    BookingObs {
        id: id.into(),
        user,
        show: SHOW.into(),
        seats: strings(seats),
        confirmed,
    }
}

fn cart_obs(id: &str, user: usize, open: bool, items: &[(&str, u64)]) -> CartObs {
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

fn seat_map(entries: &[(&str, &str)]) -> BTreeMap<(String, String), String> {
    entries
        .iter()
        .map(|(seat, status)| ((SHOW.to_string(), seat.to_string()), status.to_string()))
        .collect()
}

fn final_state(
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
    }
}

fn rules(violations: &[Violation]) -> Vec<&'static str> {
    violations.iter().map(|v| v.rule).collect()
}

fn has(violations: &[Violation], rule: &str) -> bool {
    violations.iter().any(|v| v.rule == rule)
}

fn only<'a>(violations: &'a [Violation], rule: &str) -> Vec<&'a Violation> {
    violations.iter().filter(|v| v.rule == rule).collect()
}

fn assert_absent(violations: &[Violation], absent: &[&str]) {
    for rule in absent {
        assert!(
            !has(violations, rule),
            "unexpected {rule} violation: {violations:#?}"
        );
    }
}

fn sorted(mut seqs: Vec<usize>) -> Vec<usize> {
    seqs.sort_unstable();
    seqs
}

// ---------- 1. a clean, realistic run: no false positives ----------

/// Two users book different seats (one with a duplicate delivery, one with a
/// lost response and a replayed retry), a refused booking of a booked seat,
/// a cancel, a hold + checkout of the freed seat, a live hold, a refused
/// booking of the held seat after a 503 retry, and a concurrent duplicate
/// answered "in progress".
fn clean_run() -> (History, FinalState) {
    let b1 = booking_body("b-1", &["A1", "A2"], T + 20);
    let b2 = booking_body("b-2", &["A3"], T + 40);
    let c1_exp = T + 330 + TTL;
    let c2_exp = T + 530 + TTL;
    let (b1, b1_replay) = (answer(201, b1.clone()), replay(201, b1));
    let (b2, b2_replay) = (answer(201, b2.clone()), replay(201, b2));
    let b3 = answer(201, booking_body("b-3", &["A3"], T + 420));
    let b4 = answer(201, booking_body("b-4", &["A5"], T + 640));
    let c1_held = answer(201, cart_body("c-1", "open", &[("A3", c1_exp)]));
    let c2_held = answer(201, cart_body("c-2", "open", &[("A4", c2_exp)]));
    let in_progress = answer(409, problem("request-in-progress", 409, &[]));
    let overloaded = answer(503, problem("overloaded", 503, &[]));
    let mut h = Hist::default();
    h.book(0, "sim-0-1", &["A1", "A2"], (T, T + 30), b1);
    // Duplicate delivery of the same request: replayed byte for byte.
    h.book(0, "sim-0-1", &["A1", "A2"], (T + 35, T + 45), b1_replay);
    // Answer "lost" by the client, then retried with the same key.
    h.book(1, "sim-1-1", &["A3"], (T + 10, T + 50), b2);
    h.book(2, "sim-2-1", &["A1"], (T + 60, T + 80), taken(&["A1"]));
    h.book(1, "sim-1-1", &["A3"], (T + 100, T + 110), b2_replay);
    h.cancel(1, "b-2", &["A3"], (T + 200, T + 220));
    h.create_cart(2, "sim-2-2", "c-1", (T + 300, T + 310));
    h.hold(2, "sim-2-3", "c-1", "A3", (T + 320, T + 340), c1_held);
    h.checkout(2, "sim-2-4", "c-1", &["A3"], (T + 400, T + 430), b3);
    h.create_cart(3, "sim-3-1", "c-2", (T + 500, T + 510));
    h.hold(3, "sim-3-2", "c-2", "A4", (T + 520, T + 540), c2_held);
    // Concurrent duplicate: one attempt is told "in progress".
    h.book(3, "sim-3-3", &["A5"], (T + 600, T + 610), in_progress);
    h.book(3, "sim-3-3", &["A5"], (T + 600, T + 650), b4);
    // Overloaded, then retried: refused, A4 is held by c-2.
    h.book(1, "sim-1-2", &["A4"], (T + 700, T + 705), overloaded);
    h.book(1, "sim-1-2", &["A4"], (T + 760, T + 780), taken(&["A4"]));
    let state = final_state(
        vec![
            booking_obs("b-1", 0, &["A1", "A2"], true),
            booking_obs("b-2", 1, &["A3"], false),
            booking_obs("b-3", 2, &["A3"], true),
            booking_obs("b-4", 3, &["A5"], true),
        ],
        vec![
            cart_obs("c-1", 2, false, &[("A3", c1_exp)]),
            cart_obs("c-2", 3, true, &[("A4", c2_exp)]),
        ],
        &[
            ("A1", "booked"),
            ("A2", "booked"),
            ("A3", "booked"),
            ("A4", "held"),
            ("A5", "booked"),
            ("A6", "available"),
        ],
        T + 2_000,
    );
    (h.into_history(TTL), state)
}

#[test]
fn clean_history_has_no_violation() {
    let (history, state) = clean_run();
    let violations = check(&history, &state);
    assert!(violations.is_empty(), "false positives: {violations:#?}");
}

#[test]
fn clean_history_after_hold_lapsed_has_no_violation() {
    // The same run read back after c-2's hold lapsed: the map shows A4
    // available (the item stays in the cart as expired).
    let (history, mut state) = clean_run();
    state.observed_at_ms = T + 530 + TTL + 5_000;
    state
        .seat_map
        .insert((SHOW.into(), "A4".into()), "available".into());
    let violations = check(&history, &state);
    assert!(violations.is_empty(), "false positives: {violations:#?}");
}

#[test]
fn clean_history_map_may_lag_an_expiry_by_a_second() {
    let (history, mut state) = clean_run();
    // Half a second after expiry the map may still show the hold.
    state.observed_at_ms = T + 530 + TTL + 500;
    let violations = check(&history, &state);
    assert!(violations.is_empty(), "false positives: {violations:#?}");
}

#[test]
fn unanswered_booking_that_landed_is_not_a_violation() {
    // No answer at all (the client gave up), yet the booking landed; a
    // later refusal naming the seat is then explained by it.
    let refused = taken(&["A1"]);
    let mut h = Hist::default();
    h.book(0, "sim-0-1", &["A1"], (T, T + 5_000), None);
    h.book(1, "sim-1-1", &["A1"], (T + 6_000, T + 6_010), refused);
    let state = final_state(
        vec![booking_obs("b-1", 0, &["A1"], true)],
        vec![],
        &[("A1", "booked")],
        T + 7_000,
    );
    let violations = check(&h.into_history(TTL), &state);
    assert!(violations.is_empty(), "false positives: {violations:#?}");
}

#[test]
fn unanswered_booking_that_never_landed_is_not_a_violation() {
    let mut h = Hist::default();
    h.book(0, "sim-0-1", &["A1"], (T, T + 5_000), None);
    let state = final_state(vec![], vec![], &[("A1", "available")], T + 7_000);
    let violations = check(&h.into_history(TTL), &state);
    assert!(violations.is_empty(), "false positives: {violations:#?}");
}

// ---------- 2. double booking ----------

fn double_booking_run() -> (History, FinalState) {
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

// ---------- 3. duplicated effect ----------

#[test]
fn planted_duplicate_effect_is_reported() {
    // The same key ran twice (no replay): two different bookings.
    let b1 = answer(201, booking_body("b-1", &["A1"], T + 10));
    let b2 = answer(201, booking_body("b-2", &["A1"], T + 40));
    let mut h = Hist::default();
    h.book(0, "sim-0-1", &["A1"], (T, T + 20), b1);
    h.book(0, "sim-0-1", &["A1"], (T + 30, T + 50), b2);
    let state = final_state(
        vec![
            booking_obs("b-1", 0, &["A1"], true),
            booking_obs("b-2", 0, &["A1"], true),
        ],
        vec![],
        &[("A1", "booked")],
        T + 1_000,
    );
    let violations = check(&h.into_history(TTL), &state);
    let dups = only(&violations, "duplicate-effect");
    assert_eq!(dups.len(), 1, "{violations:#?}");
    assert_eq!(sorted(dups[0].events.clone()), vec![0, 1]);
    assert!(dups[0].detail.contains("sim-0-1"), "{}", dups[0].detail);
    assert_absent(
        &violations,
        &["lost-booking", "stale-replay", "hold-ttl", "seat-map"],
    );
}

#[test]
fn duplicate_cart_creation_is_reported() {
    let mut h = Hist::default();
    h.create_cart(0, "sim-0-1", "c-1", (T, T + 10));
    h.create_cart(0, "sim-0-1", "c-2", (T + 20, T + 30));
    let state = final_state(
        vec![],
        vec![cart_obs("c-1", 0, true, &[]), cart_obs("c-2", 0, true, &[])],
        &[],
        T + 1_000,
    );
    let violations = check(&h.into_history(TTL), &state);
    assert!(has(&violations, "duplicate-effect"), "{violations:#?}");
}

#[test]
fn equal_keys_of_two_users_are_not_a_duplicate_effect() {
    // Keys are scoped to the user.
    let b1 = answer(201, booking_body("b-1", &["A1"], T + 10));
    let b2 = answer(201, booking_body("b-2", &["A2"], T + 15));
    let mut h = Hist::default();
    h.book(0, "same-key", &["A1"], (T, T + 20), b1);
    h.book(1, "same-key", &["A2"], (T + 5, T + 25), b2);
    let state = final_state(
        vec![
            booking_obs("b-1", 0, &["A1"], true),
            booking_obs("b-2", 1, &["A2"], true),
        ],
        vec![],
        &[("A1", "booked"), ("A2", "booked")],
        T + 1_000,
    );
    let violations = check(&h.into_history(TTL), &state);
    assert!(violations.is_empty(), "false positives: {violations:#?}");
}

// ---------- 4. lost acknowledged booking ----------

fn one_booking() -> Hist {
    let b1 = answer(201, booking_body("b-1", &["A1", "A2"], T + 10));
    let mut h = Hist::default();
    h.seq(3).book(0, "sim-0-1", &["A1", "A2"], (T, T + 20), b1);
    h
}

#[test]
fn planted_missing_booking_is_lost() {
    let state = final_state(
        vec![],
        vec![],
        &[("A1", "available"), ("A2", "available")],
        T + 1_000,
    );
    let violations = check(&one_booking().into_history(TTL), &state);
    let lost = only(&violations, "lost-booking");
    assert_eq!(lost.len(), 1, "{violations:#?}");
    assert_eq!(lost[0].events, vec![3]);
    assert!(lost[0].detail.contains("b-1"), "{}", lost[0].detail);
    assert_absent(
        &violations,
        &[
            "double-booking",
            "duplicate-effect",
            "seat-map",
            "stale-replay",
        ],
    );
}

#[test]
fn planted_uncalled_cancel_is_lost() {
    let state = final_state(
        vec![booking_obs("b-1", 0, &["A1", "A2"], false)],
        vec![],
        &[("A1", "available"), ("A2", "available")],
        T + 1_000,
    );
    let violations = check(&one_booking().into_history(TTL), &state);
    let lost = only(&violations, "lost-booking");
    assert_eq!(lost.len(), 1, "{violations:#?}");
    assert_eq!(lost[0].events, vec![3]);
    assert!(lost[0].detail.contains("cancelled"), "{}", lost[0].detail);
}

#[test]
fn booking_read_back_with_other_seats_is_lost() {
    let state = final_state(
        vec![booking_obs("b-1", 0, &["A1"], true)],
        vec![],
        &[("A1", "booked"), ("A2", "available")],
        T + 1_000,
    );
    let violations = check(&one_booking().into_history(TTL), &state);
    assert!(has(&violations, "lost-booking"), "{violations:#?}");
}

#[test]
fn cancelled_booking_with_a_cancel_is_not_lost() {
    let mut h = one_booking();
    h.cancel(0, "b-1", &["A1", "A2"], (T + 100, T + 120));
    let state = final_state(
        vec![booking_obs("b-1", 0, &["A1", "A2"], false)],
        vec![],
        &[("A1", "available"), ("A2", "available")],
        T + 1_000,
    );
    let violations = check(&h.into_history(TTL), &state);
    assert!(violations.is_empty(), "false positives: {violations:#?}");
}

#[test]
fn checkout_booking_missing_is_lost() {
    let exp = T + 15 + TTL;
    let held = answer(201, cart_body("c-1", "open", &[("A1", exp)]));
    let b1 = answer(201, booking_body("b-1", &["A1"], T + 35));
    let mut h = Hist::default();
    h.create_cart(0, "sim-0-1", "c-1", (T, T + 5));
    h.hold(0, "sim-0-2", "c-1", "A1", (T + 10, T + 20), held);
    h.checkout(0, "sim-0-3", "c-1", &["A1"], (T + 30, T + 40), b1);
    let state = final_state(
        vec![],
        vec![cart_obs("c-1", 0, false, &[("A1", exp)])],
        &[("A1", "booked")],
        T + 1_000,
    );
    let violations = check(&h.into_history(TTL), &state);
    let lost = only(&violations, "lost-booking");
    assert_eq!(lost.len(), 1, "{violations:#?}");
    assert_eq!(lost[0].events, vec![2]);
}

// ---------- 5. stale replay ----------

#[test]
fn planted_stale_replay_is_reported() {
    let first = answer(201, booking_body("b-1", &["A1"], T + 10));
    // Same booking, but the replay was rebuilt rather than stored.
    let rebuilt = replay(201, booking_body("b-1", &["A1"], T + 500));
    let mut h = Hist::default();
    h.seq(4).book(0, "sim-0-1", &["A1"], (T, T + 20), first);
    h.book(0, "sim-0-1", &["A1"], (T + 400, T + 520), rebuilt);
    let state = final_state(
        vec![booking_obs("b-1", 0, &["A1"], true)],
        vec![],
        &[("A1", "booked")],
        T + 1_000,
    );
    let violations = check(&h.into_history(TTL), &state);
    let stale = only(&violations, "stale-replay");
    assert_eq!(stale.len(), 1, "{violations:#?}");
    assert_eq!(sorted(stale[0].events.clone()), vec![4, 5]);
    assert_absent(
        &violations,
        &[
            "duplicate-effect",
            "double-booking",
            "lost-booking",
            "not-linearizable",
        ],
    );
}

#[test]
fn replay_with_other_status_is_stale() {
    // First a refusal, then a "replay" claiming success.
    let b9 = replay(201, booking_body("b-9", &["A1"], T + 110));
    let mut h = Hist::default();
    h.book(1, "sim-1-1", &["A1"], (T, T + 20), taken(&["A1"]));
    h.book(1, "sim-1-1", &["A1"], (T + 100, T + 120), b9);
    let violations = check(&h.into_history(TTL), &FinalState::default());
    assert!(has(&violations, "stale-replay"), "{violations:#?}");
}

#[test]
fn replay_after_unstored_answer_is_not_stale() {
    // 503 is not stored: the retry runs afresh, later replays match it.
    let overloaded = answer(503, problem("overloaded", 503, &[]));
    let body = booking_body("b-1", &["A1"], T + 110);
    let b1 = answer(201, body.clone());
    let mut h = Hist::default();
    h.book(0, "sim-0-1", &["A1"], (T, T + 20), overloaded);
    h.book(0, "sim-0-1", &["A1"], (T + 100, T + 120), b1);
    h.book(0, "sim-0-1", &["A1"], (T + 200, T + 220), replay(201, body));
    let state = final_state(
        vec![booking_obs("b-1", 0, &["A1"], true)],
        vec![],
        &[("A1", "booked")],
        T + 1_000,
    );
    let violations = check(&h.into_history(TTL), &state);
    assert!(violations.is_empty(), "false positives: {violations:#?}");
}

// ---------- 6. seat map ----------

#[test]
fn booked_seat_shown_available_is_a_seat_map_violation() {
    let state = final_state(
        vec![booking_obs("b-1", 0, &["A1", "A2"], true)],
        vec![],
        &[("A1", "available"), ("A2", "booked")],
        T + 1_000,
    );
    let violations = check(&one_booking().into_history(TTL), &state);
    let map = only(&violations, "seat-map");
    assert_eq!(map.len(), 1, "{violations:#?}");
    assert!(map[0].detail.contains("A1"), "{}", map[0].detail);
    assert!(map[0].detail.contains("available"), "{}", map[0].detail);
    assert_absent(
        &violations,
        &["lost-booking", "double-booking", "duplicate-effect"],
    );
}

#[test]
fn held_seat_without_live_hold_is_a_seat_map_violation() {
    // No cart at all holds A3, yet the map shows it held.
    let state = final_state(
        vec![booking_obs("b-1", 0, &["A1", "A2"], true)],
        vec![],
        &[("A1", "booked"), ("A2", "booked"), ("A3", "held")],
        T + 1_000,
    );
    let violations = check(&one_booking().into_history(TTL), &state);
    let map = only(&violations, "seat-map");
    assert_eq!(map.len(), 1, "{violations:#?}");
    assert!(map[0].detail.contains("A3"), "{}", map[0].detail);
    assert_absent(&violations, &["lost-booking", "double-booking"]);
}

#[test]
fn held_seat_long_after_expiry_is_a_seat_map_violation() {
    let exp = T + 15 + TTL;
    let held = answer(201, cart_body("c-1", "open", &[("A1", exp)]));
    let mut h = Hist::default();
    h.create_cart(0, "sim-0-1", "c-1", (T, T + 5));
    h.hold(0, "sim-0-2", "c-1", "A1", (T + 10, T + 20), held);
    let state = final_state(
        vec![],
        vec![cart_obs("c-1", 0, true, &[("A1", exp)])],
        &[("A1", "held")],
        exp + 10_000,
    );
    let violations = check(&h.into_history(TTL), &state);
    assert!(has(&violations, "seat-map"), "{violations:#?}");
    assert_absent(&violations, &["hold-ttl"]);
}

#[test]
fn live_hold_shown_available_is_a_seat_map_violation() {
    let exp = T + 15 + TTL;
    let held = answer(201, cart_body("c-1", "open", &[("A1", exp)]));
    let mut h = Hist::default();
    h.create_cart(0, "sim-0-1", "c-1", (T, T + 5));
    h.hold(0, "sim-0-2", "c-1", "A1", (T + 10, T + 20), held);
    let state = final_state(
        vec![],
        vec![cart_obs("c-1", 0, true, &[("A1", exp)])],
        &[("A1", "available")],
        T + 1_000,
    );
    let violations = check(&h.into_history(TTL), &state);
    assert!(has(&violations, "seat-map"), "{violations:#?}");
}

// ---------- 7. hold TTL ----------

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

// ---------- 8. linearizability ----------

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

// ---------- describe() ----------

#[test]
fn describe_names_rule_and_events() {
    let (history, state) = double_booking_run();
    let violations = check(&history, &state);
    let double = violations
        .iter()
        .find(|v| v.rule == "double-booking")
        .expect("double booking found");
    let text = describe(&history, double);
    assert!(text.starts_with("[double-booking] "), "{text}");
    assert!(text.contains("#7 user 0"), "{text}");
    assert!(text.contains("#9 user 1"), "{text}");
    assert!(text.contains("key=sim-0-1"), "{text}");
    assert!(text.contains("b-2"), "{text}");
    assert!(text.contains("201"), "{text}");
}

#[test]
fn describe_shows_replays_and_missing_answers() {
    let b1 = replay(201, booking_body("b-1", &["A1"], T + 5));
    let mut h = Hist::default();
    h.book(0, "sim-0-1", &["A1"], (T, T + 10), None);
    h.book(0, "sim-0-1", &["A1"], (T + 20, T + 30), b1);
    let history = h.into_history(TTL);
    let violation = Violation {
        rule: "stale-replay",
        detail: "made up".into(),
        events: vec![0, 1, 42],
    };
    let text = describe(&history, &violation);
    assert!(text.contains("[stale-replay] made up"), "{text}");
    assert!(text.contains("#0 ") && text.contains("no answer"), "{text}");
    assert!(
        text.contains("#1 ") && text.contains("201 (replay)"),
        "{text}"
    );
    // Unknown seqs are skipped, not invented.
    assert!(!text.contains("#42"), "{text}");
}
