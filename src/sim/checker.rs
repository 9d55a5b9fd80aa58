//! The invariant checker: runs on a recorded history and the final state,
//! and reports every violation with the events that show it.
//!
//! What it checks (issue 4):
//! 1. no seat in two bookings;
//! 2. no key with two effects;
//! 3. every acknowledged booking present;
//! 4. seat map equal to bookings plus live holds;
//! 5. no hold outliving its TTL;
//! 6. replays equal to the first answer;
//! 7. per seat, the history is linearizable (see `seat_linearizable`).

use super::history::{Answer, BookingObs, Event, FinalState, History, Op};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    found.extend(no_seat_in_two_bookings(history, final_state));
    found.extend(no_key_with_two_effects(history));
    found.extend(acknowledged_bookings_present(history, final_state));
    found.extend(seat_map_matches(final_state));
    found.extend(holds_within_ttl(history, final_state));
    found.extend(replays_equal_first_answer(history));
    found.extend(seats_linearizable(history, final_state));
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

fn no_seat_in_two_bookings(history: &History, final_state: &FinalState) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut reported: BTreeSet<(String, String)> = BTreeSet::new();
    // In the final state: confirmed bookings never share a seat.
    let mut owner: HashMap<(String, String), &BookingObs> = HashMap::new();
    for booking in final_state.bookings.iter().filter(|b| b.confirmed) {
        for seat in &booking.seats {
            if let Some(other) = owner.insert((booking.show.clone(), seat.clone()), booking) {
                if other.id != booking.id {
                    reported.insert((booking.show.clone(), seat.clone()));
                    found.push(Violation::new(
                        "double-booking",
                        format!(
                            "seat {seat} of show {} is in bookings {} and {}",
                            booking.show, other.id, booking.id
                        ),
                        events_naming(history, &[&other.id, &booking.id]),
                    ));
                }
            }
        }
    }
    // In the history: two acknowledged bookings of one seat, neither of
    // which anyone tried to cancel.
    let cancelled = cancels_attempted(history);
    let acked = acked_bookings(history);
    let mut by_seat: HashMap<(String, String), Vec<&AckedBooking>> = HashMap::new();
    for booking in &acked {
        for seat in &booking.seats {
            by_seat
                .entry((booking.show.clone(), seat.clone()))
                .or_default()
                .push(booking);
        }
    }
    for ((show, seat), bookings) in by_seat {
        let live: BTreeMap<&String, &Event> = bookings
            .iter()
            .filter(|b| !cancelled.contains(&b.id))
            .map(|b| (&b.id, b.event))
            .collect();
        if live.len() > 1 {
            let ids: Vec<&String> = live.keys().copied().collect();
            if !reported.contains(&(show.clone(), seat.clone())) {
                found.push(Violation::new(
                    "double-booking",
                    format!("seat {seat} of show {show} was acknowledged to bookings {ids:?}"),
                    live.values().map(|e| e.seq).collect(),
                ));
            }
        }
    }
    found
}

fn events_naming(history: &History, ids: &[&String]) -> Vec<usize> {
    history
        .events
        .iter()
        .filter(|e| {
            e.answer
                .as_ref()
                .and_then(|a| body_str(a, "id"))
                .is_some_and(|id| ids.contains(&&id))
        })
        .map(|e| e.seq)
        .collect()
}

fn no_key_with_two_effects(history: &History) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut ids: HashMap<(usize, &str), BTreeMap<String, usize>> = HashMap::new();
    for event in &history.events {
        let (Some(key), Some(answer)) = (&event.key, &event.answer) else {
            continue;
        };
        if !(200..300).contains(&answer.status) {
            continue;
        }
        if let Some(id) = body_str(answer, "id") {
            ids.entry((event.user, key.as_str()))
                .or_default()
                .insert(id, event.seq);
        }
    }
    for ((user, key), created) in ids {
        if created.len() > 1 {
            found.push(Violation::new(
                "duplicate-effect",
                format!(
                    "key {key} of user {user} created {} things: {:?}",
                    created.len(),
                    created.keys().collect::<Vec<_>>()
                ),
                created.values().copied().collect(),
            ));
        }
    }
    found
}

fn acknowledged_bookings_present(history: &History, final_state: &FinalState) -> Vec<Violation> {
    let mut found = Vec::new();
    let cancelled = cancels_attempted(history);
    let present: HashMap<&str, &BookingObs> = final_state
        .bookings
        .iter()
        .map(|b| (b.id.as_str(), b))
        .collect();
    let mut seen = BTreeSet::new();
    for AckedBooking {
        id, seats, event, ..
    } in acked_bookings(history)
    {
        if !seen.insert(id.clone()) {
            continue;
        }
        match present.get(id.as_str()) {
            None => found.push(Violation::new(
                "lost-booking",
                format!("acknowledged booking {id} ({seats:?}) is missing"),
                vec![event.seq],
            )),
            Some(booking) if !booking.confirmed && !cancelled.contains(&id) => {
                found.push(Violation::new(
                    "lost-booking",
                    format!("acknowledged booking {id} is cancelled but nobody cancelled it"),
                    vec![event.seq],
                ))
            }
            Some(booking) if booking.seats != seats || booking.user != event.user => {
                found.push(Violation::new(
                    "lost-booking",
                    format!(
                        "booking {id} reads back as {:?} of user {}, acknowledged as {seats:?} of user {}",
                        booking.seats, booking.user, event.user
                    ),
                    vec![event.seq],
                ))
            }
            Some(_) => {}
        }
    }
    found
}

fn seat_map_matches(final_state: &FinalState) -> Vec<Violation> {
    let mut found = Vec::new();
    let now = final_state.observed_at_ms;
    let mut booked: BTreeSet<(String, String)> = BTreeSet::new();
    for booking in final_state.bookings.iter().filter(|b| b.confirmed) {
        for seat in &booking.seats {
            booked.insert((booking.show.clone(), seat.clone()));
        }
    }
    // Holds: surely live (well before expiry) and possibly live (within lag).
    let mut live = BTreeSet::new();
    let mut maybe = BTreeSet::new();
    for cart in final_state.carts.iter().filter(|c| c.open) {
        for item in &cart.items {
            let seat = (cart.show.clone(), item.seat.clone());
            if item.expires_at_ms > now + CLOCK_SLACK_MS {
                live.insert(seat.clone());
            }
            if item.expires_at_ms + MAP_LAG_MS + CLOCK_SLACK_MS > now {
                maybe.insert(seat);
            }
        }
    }
    for (seat, status) in &final_state.seat_map {
        let ok = match status.as_str() {
            "booked" => booked.contains(seat),
            "held" => !booked.contains(seat) && maybe.contains(seat),
            "available" => !booked.contains(seat) && !live.contains(seat),
            _ => false,
        };
        if !ok {
            let expected = if booked.contains(seat) {
                "booked"
            } else if live.contains(seat) {
                "held"
            } else {
                "available"
            };
            found.push(Violation::new(
                "seat-map",
                format!(
                    "seat {} of show {} shows {status}, bookings and holds say {expected}",
                    seat.1, seat.0
                ),
                vec![],
            ));
        }
    }
    found
}

fn holds_within_ttl(history: &History, final_state: &FinalState) -> Vec<Violation> {
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

fn replays_equal_first_answer(history: &History) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut first: HashMap<(usize, &str), &Event> = HashMap::new();
    let mut ordered: Vec<&Event> = history.events.iter().collect();
    ordered.sort_by_key(|e| (e.end_ms, e.seq));
    for event in ordered {
        let (Some(key), Some(answer)) = (&event.key, &event.answer) else {
            continue;
        };
        if !answer.replayed {
            // Only stored answers are replayed; the first such is the one.
            let storable = (200..300).contains(&answer.status)
                || (answer.status == 404)
                || (answer.status == 409
                    && answer.code().as_deref() != Some("request-in-progress"));
            if storable {
                first.entry((event.user, key.as_str())).or_insert(event);
            }
            continue;
        }
        match first.get(&(event.user, key.as_str())) {
            Some(original) => {
                let original_answer = original.answer.as_ref().expect("answered");
                if original_answer.status != answer.status || original_answer.body != answer.body {
                    found.push(Violation::new(
                        "stale-replay",
                        format!("replay of key {key} differs from its first answer"),
                        vec![original.seq, event.seq],
                    ));
                }
            }
            None => {
                // The first answer was lost: every replay must then agree.
                first.insert((event.user, key.as_str()), event);
            }
        }
    }
    found
}

// ---------- per-seat linearizability ----------

/// A seat's owner in the register model.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SeatVal {
    Free,
    Held { cart: String, until_ms: u64 },
    Booked { booking: String },
}

/// One operation on one seat, as the register sees it.
#[derive(Clone, Debug)]
struct SeatOp {
    seq: usize,
    start: u64,
    /// `u64::MAX` for an operation that got no answer (it may land later).
    end: u64,
    kind: SeatOpKind,
    /// An unanswered op may or may not have happened.
    optional: bool,
}

#[derive(Clone, Debug)]
enum SeatOpKind {
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

fn seat_ops(history: &History) -> BTreeMap<(String, String), Vec<SeatOp>> {
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

/// Most operations per seat the exact search takes on; a seat with more
/// (a hot seat) is checked on its effects only, refusals sampled out.
const MAX_SEARCH_OPS: usize = 14;

fn seats_linearizable(history: &History, final_state: &FinalState) -> Vec<Violation> {
    let mut found = Vec::new();
    for ((show, seat), mut ops) in seat_ops(history) {
        let final_val = final_state.seat_map.get(&(show.clone(), seat.clone()));
        let effects = ops
            .iter()
            .filter(|o| !matches!(o.kind, SeatOpKind::Refused))
            .count();
        if ops.len() > MAX_SEARCH_OPS {
            // Keep every effect and as many refusals as fit, earliest first.
            ops.sort_by_key(|o| (matches!(o.kind, SeatOpKind::Refused), o.start));
            ops.truncate(MAX_SEARCH_OPS.max(effects));
        }
        if ops.len() > 20 {
            continue; // too many effects for the exact search; other checks still apply
        }
        ops.sort_by_key(|o| o.start);
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

fn linearizable(ops: &[SeatOp], final_val: Option<&str>) -> bool {
    let mut search = Search {
        ops,
        seen: BTreeSet::new(),
    };
    search.run(0, SeatVal::Free, 0, final_val)
}

/// Drops every refusal that is not needed to show the violation. Only
/// refusals may go: they only constrain, so a subset that still has no
/// valid order proves the whole has none. Effects also explain other
/// operations, and dropping one could invent a violation.
fn shortest_excerpt(mut ops: Vec<SeatOp>, final_val: Option<&str>) -> Vec<SeatOp> {
    let mut i = 0;
    while i < ops.len() {
        if matches!(ops[i].kind, SeatOpKind::Refused) {
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

/// Wing & Gong style search: pick a next operation among those that may
/// go first (none ends before its start), apply it to the model, recurse.
struct Search<'a> {
    ops: &'a [SeatOp],
    seen: BTreeSet<(u32, String, u64)>,
}

impl Search<'_> {
    fn run(&mut self, done: u32, val: SeatVal, now: u64, final_val: Option<&str>) -> bool {
        let all = (1u32 << self.ops.len()) - 1;
        // Required ops all placed (optional ones may never have happened).
        let required_left = self
            .ops
            .iter()
            .enumerate()
            .any(|(i, o)| done & (1 << i) == 0 && !o.optional);
        if !required_left {
            return final_matches(&val, final_val)
                || done != all && self.try_next(done, &val, now, final_val);
        }
        self.try_next(done, &val, now, final_val)
    }

    fn try_next(&mut self, done: u32, val: &SeatVal, now: u64, final_val: Option<&str>) -> bool {
        let memo = (done, format!("{val:?}"), now);
        if !self.seen.insert(memo) {
            return false;
        }
        // The earliest answer among pending required ops bounds what can go next.
        let horizon = self
            .ops
            .iter()
            .enumerate()
            .filter(|(i, o)| done & (1 << i) == 0 && !o.optional)
            .map(|(_, o)| o.end)
            .min()
            .unwrap_or(u64::MAX);
        for (i, op) in self.ops.iter().enumerate() {
            if done & (1 << i) != 0 || op.start > horizon {
                continue;
            }
            // Linearization point: as early as allowed, not before `now`.
            let at = op.start.max(now);
            if at > op.end {
                continue;
            }
            if let Some(next) = apply(val, &op.kind, at) {
                if self.run(done | (1 << i), next, at, final_val) {
                    return true;
                }
            }
            // Later points matter where time changes the seat: the instant
            // a hold lapses (an acquisition may land right then), and the
            // end of the interval (a refusal may sit after a hold began).
            let mut later = Vec::with_capacity(2);
            if let SeatVal::Held { until_ms, .. } = val {
                if *until_ms > at && *until_ms <= op.end {
                    later.push(*until_ms);
                }
            }
            if op.end != u64::MAX && op.end > at {
                later.push(op.end);
            }
            for point in later {
                if let Some(next) = apply(val, &op.kind, point) {
                    if self.run(done | (1 << i), next, point, final_val) {
                        return true;
                    }
                }
            }
        }
        false
    }
}

/// The register: what an operation does to a seat at time `at`, or `None`
/// if it could not have succeeded (refused: could not have been refused).
fn apply(val: &SeatVal, kind: &SeatOpKind, at: u64) -> Option<SeatVal> {
    let current = match val {
        SeatVal::Held { until_ms, .. } if at >= *until_ms => SeatVal::Free,
        other => other.clone(),
    };
    match kind {
        SeatOpKind::Hold { cart, until_ms } => match &current {
            SeatVal::Free => Some(SeatVal::Held {
                cart: cart.clone(),
                until_ms: *until_ms,
            }),
            // Adding a seat the cart already holds renews nothing (API.md).
            SeatVal::Held { cart: holder, .. } if holder == cart => Some(current.clone()),
            _ => None,
        },
        SeatOpKind::Book { booking } => match &current {
            SeatVal::Free => Some(SeatVal::Booked {
                booking: booking.clone(),
            }),
            _ => None,
        },
        SeatOpKind::Checkout { cart, booking } => match &current {
            SeatVal::Held { cart: holder, .. } if holder == cart => Some(SeatVal::Booked {
                booking: booking.clone(),
            }),
            _ => None,
        },
        SeatOpKind::Release { cart } => match &current {
            SeatVal::Held { cart: holder, .. } if holder == cart => Some(SeatVal::Free),
            other => Some(other.clone()),
        },
        SeatOpKind::Cancel { booking } => match &current {
            SeatVal::Booked { booking: holder } if holder == booking => Some(SeatVal::Free),
            other => Some(other.clone()),
        },
        SeatOpKind::Refused => match &current {
            SeatVal::Free => None,
            other => Some(other.clone()),
        },
    }
}

fn final_matches(val: &SeatVal, final_val: Option<&str>) -> bool {
    let Some(shown) = final_val else {
        return true;
    };
    match val {
        SeatVal::Free => shown == "available",
        SeatVal::Booked { .. } => shown == "booked",
        // A hold may have lapsed by the time the map was read.
        SeatVal::Held { .. } => shown == "held" || shown == "available",
    }
}

#[cfg(test)]
#[path = "checker_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "checker_planted_tests.rs"]
mod planted;
