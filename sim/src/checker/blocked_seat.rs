//! Invariant 11, `blocked-seat-sold`: no blocked seat is ever sold or held.
//!
//! In the history: a booking, checkout or hold acknowledged for a seat
//! that was certainly blocked the whole time it could have taken effect.
//! Only orders the clocks prove count: the block was acknowledged before
//! the request's first attempt was sent, and no unblock of the seat that
//! may have landed after that block (any attempt, answered or not) was
//! sent before the request's answer came. A request racing a block or an
//! unblock may go either way and is not judged.
//!
//! At the end: a seat the read-back map shows `blocked` is in no confirmed
//! booking and no live hold, and some block request named it (the
//! linearizability search judges the rest, but skips its hottest seats).

use super::answers::body_seats;
use super::verdict::{Violation, CLOCK_SLACK_MS};
use crate::history::{Event, FinalState, History, Op};
use std::collections::{BTreeMap, BTreeSet};

type Seat = (String, String);

/// One keyed request (its attempts under one key) as the clocks bound it.
struct Request<'a> {
    /// The attempt whose answer settled it (the first 2xx if any).
    event: &'a Event,
    /// When its first attempt was sent.
    start_ms: u64,
    /// When that answer came.
    end_ms: u64,
}

/// What the history says about blocks: per seat, each acknowledged block
/// (answered at, first sent at, seq) and each unblock attempt (sent at,
/// answered at or `u64::MAX`).
#[derive(Default)]
struct Blocks {
    acked: BTreeMap<Seat, Vec<(u64, u64, usize)>>,
    unblocks: BTreeMap<Seat, Vec<(u64, u64)>>,
}

impl Blocks {
    fn of(history: &History) -> Blocks {
        let mut blocks = Blocks::default();
        for request in requests(history, |e| e.ok()) {
            if let Op::Block { show, seats, .. } = &request.event.op {
                for seat in seats {
                    let at = (request.end_ms, request.start_ms, request.event.seq);
                    blocks
                        .acked
                        .entry((show.clone(), seat.clone()))
                        .or_default()
                        .push(at);
                }
            }
        }
        for event in &history.events {
            if let Op::Unblock { show, seat } = &event.op {
                let end = if event.answer.is_some() {
                    event.end_ms
                } else {
                    u64::MAX
                };
                blocks
                    .unblocks
                    .entry((show.clone(), seat.clone()))
                    .or_default()
                    .push((event.start_ms, end));
            }
        }
        blocks
    }

    /// The seq of a block that certainly kept `seat` blocked from `from`
    /// to `to`: acknowledged before `from`, and no unblock that may have
    /// come after it sent by `to`.
    fn certainly_blocked(&self, seat: &Seat, from: u64, to: u64) -> Option<usize> {
        let unblocks = self.unblocks.get(seat).map(Vec::as_slice).unwrap_or(&[]);
        self.acked
            .get(seat)?
            .iter()
            .find_map(|&(acked, sent, seq)| {
                let undone = unblocks
                    .iter()
                    .any(|&(u_sent, u_answered)| u_sent <= to && u_answered >= sent);
                (acked < from && !undone).then_some(seq)
            })
    }
}

/// Keyed requests grouped by (user, key), those with an attempt `settled`
/// accepts, bounded by their first attempt and the earliest such answer.
fn requests(history: &History, settled: impl Fn(&Event) -> bool) -> Vec<Request<'_>> {
    let mut by_key: BTreeMap<(usize, &str), Vec<&Event>> = BTreeMap::new();
    for event in &history.events {
        if let Some(key) = &event.key {
            by_key.entry((event.user, key)).or_default().push(event);
        }
    }
    by_key
        .into_values()
        .filter_map(|attempts| {
            let start_ms = attempts.iter().map(|e| e.start_ms).min()?;
            let event = attempts
                .iter()
                .filter(|e| settled(e))
                .min_by_key(|e| e.end_ms)?;
            Some(Request {
                event,
                start_ms,
                end_ms: event.end_ms,
            })
        })
        .collect()
}

/// The seats an acknowledged booking, checkout or hold took.
fn seats_taken(event: &Event) -> Vec<Seat> {
    let answer = event.answer.as_ref();
    match &event.op {
        Op::Book { show, .. } | Op::Checkout { show, .. } => answer
            .map(body_seats)
            .unwrap_or_default()
            .into_iter()
            .map(|seat| (show.clone(), seat))
            .collect(),
        Op::Hold { show, seat, .. } => vec![(show.clone(), seat.clone())],
        _ => Vec::new(),
    }
}

pub(super) fn blocked_seats_not_sold(
    history: &History,
    final_state: &FinalState,
) -> Vec<Violation> {
    let blocks = Blocks::of(history);
    let mut found = Vec::new();
    for request in requests(history, |e| e.ok()) {
        for seat in seats_taken(request.event) {
            let Some(block) = blocks.certainly_blocked(&seat, request.start_ms, request.end_ms)
            else {
                continue;
            };
            found.push(Violation::new(
                "blocked-seat-sold",
                format!(
                    "seat {} of show {} was given to a {} (#{}) while blocked (#{block} \
                     acknowledged before it was sent, no unblock sent before its answer)",
                    seat.1,
                    seat.0,
                    request.event.op.name(),
                    request.event.seq
                ),
                vec![block, request.event.seq],
            ));
        }
    }
    found.extend(blocked_in_final_state(final_state));
    found.extend(blocked_without_a_block(history, final_state));
    found
}

/// Seats the final map shows blocked that no block request named.
fn blocked_without_a_block(history: &History, final_state: &FinalState) -> Vec<Violation> {
    let named: BTreeSet<Seat> = history
        .events
        .iter()
        .filter_map(|e| match &e.op {
            Op::Block { show, seats, .. } => Some(seats.iter().map(|s| (show.clone(), s.clone()))),
            _ => None,
        })
        .flatten()
        .collect();
    final_state
        .seat_map
        .iter()
        .filter(|(seat, status)| *status == "blocked" && !named.contains(*seat))
        .map(|(seat, _)| {
            Violation::new(
                "blocked-seat-sold",
                format!(
                    "seat {} of show {} shows blocked at the end, yet no block named it",
                    seat.1, seat.0
                ),
                Vec::new(),
            )
        })
        .collect()
}

/// Seats the final map shows blocked that a confirmed booking or a live
/// hold read back at the end holds.
fn blocked_in_final_state(final_state: &FinalState) -> Vec<Violation> {
    let mut taken: BTreeMap<Seat, String> = BTreeMap::new();
    for booking in final_state.bookings.iter().filter(|b| b.confirmed) {
        for seat in &booking.seats {
            let by = format!("confirmed booking {}", booking.id);
            taken.insert((booking.show.clone(), seat.clone()), by);
        }
    }
    if let Some(listed) = final_state
        .box_office
        .as_ref()
        .and_then(|b| b.bookings.as_ref())
    {
        for booking in listed.iter().filter(|b| b.confirmed) {
            for seat in &booking.seats {
                let by = format!("confirmed booking {} (staff list)", booking.id);
                taken
                    .entry((booking.show.clone(), seat.clone()))
                    .or_insert(by);
            }
        }
    }
    let live_after = final_state.observed_at_ms + CLOCK_SLACK_MS;
    for cart in final_state.carts.iter().filter(|c| c.open) {
        for item in cart.items.iter().filter(|i| i.expires_at_ms > live_after) {
            let by = format!("live hold of cart {}", cart.id);
            taken
                .entry((cart.show.clone(), item.seat.clone()))
                .or_insert(by);
        }
    }
    let blocked: BTreeSet<&Seat> = final_state
        .seat_map
        .iter()
        .filter(|(_, status)| *status == "blocked")
        .map(|(seat, _)| seat)
        .collect();
    blocked
        .into_iter()
        .filter_map(|seat| {
            let by = taken.get(seat)?;
            Some(Violation::new(
                "blocked-seat-sold",
                format!(
                    "seat {} of show {} shows blocked at the end, yet is in a {by}",
                    seat.1, seat.0
                ),
                Vec::new(),
            ))
        })
        .collect()
}

/// How many bookings and holds were refused 409 seat-unavailable naming a
/// seat that was certainly blocked all the while (refused because of a
/// block, not of a customer).
pub fn refused_for_block(history: &History) -> usize {
    let blocks = Blocks::of(history);
    let settles = |e: &Event| {
        e.answer.as_ref().is_some_and(|a| {
            a.status != 503 && a.status != 429 && a.code().as_deref() != Some("request-in-progress")
        })
    };
    requests(history, settles)
        .into_iter()
        .filter(|r| matches!(r.event.op, Op::Book { .. } | Op::Hold { .. }))
        .filter(|r| {
            let Some(answer) = &r.event.answer else {
                return false;
            };
            let show = match &r.event.op {
                Op::Book { show, .. } | Op::Hold { show, .. } => show,
                _ => return false,
            };
            answer.code().as_deref() == Some("seat-unavailable")
                && body_seats(answer).into_iter().any(|seat| {
                    let seat = (show.clone(), seat);
                    blocks
                        .certainly_blocked(&seat, r.start_ms, r.end_ms)
                        .is_some()
                })
        })
        .count()
}

#[cfg(test)]
mod tests {
    //! The clean box-office run with a blocked seat sold or held planted in
    //! it, in the history or at the end, and the races that are not judged.

    use super::refused_for_block;
    use crate::checker::box_office_fixtures::*;

    fn blocked_sold(h: Hist, state: &FinalState) -> Vec<Violation> {
        let violations = check(&h.into_history(TTL), state);
        only(&violations, "blocked-seat-sold")
            .into_iter()
            .cloned()
            .collect()
    }

    /// The clean run's end with A5 (blocked) in a confirmed booking `b-9`.
    fn sold_a5(state: &mut FinalState) {
        state.bookings.push(booking_obs("b-9", 4, &["A5"], true));
    }

    #[test]
    fn a_booking_of_a_seat_blocked_before_it_was_sent_is_found() {
        let (mut h, mut state) = clean_box_office();
        let b9 = answer(201, booking_body("b-9", &["A5"], T + 205));
        let booking = h.book(4, "sim-4-1", &["A5"], (T + 200, T + 210), b9);
        sold_a5(&mut state);
        let found = blocked_sold(h, &state);
        assert!(
            found.iter().any(|v| v.events == vec![0, booking]),
            "{found:#?}"
        );
        assert!(found.iter().any(|v| v.detail.contains("A5")));
    }

    #[test]
    fn a_hold_or_checkout_of_a_blocked_seat_is_found() {
        let (mut h, state) = clean_box_office();
        let exp = T + 215 + TTL;
        let held = answer(201, cart_body("c-9", "open", &[("A5", exp)]));
        h.create_cart(4, "sim-4-1", "c-9", (T + 200, T + 205));
        let hold = h.hold(4, "sim-4-2", "c-9", "A5", (T + 210, T + 220), held);
        let found = blocked_sold(h, &state);
        assert!(
            found.iter().any(|v| v.events == vec![0, hold]),
            "{found:#?}"
        );

        let (mut h, state) = clean_box_office();
        let b9 = answer(201, booking_body("b-9", &["A5"], T + 235));
        let checkout = h.checkout(4, "sim-4-3", "c-9", &["A5"], (T + 230, T + 240), b9);
        let found = blocked_sold(h, &state);
        assert!(
            found.iter().any(|v| v.events == vec![0, checkout]),
            "{found:#?}"
        );
    }

    #[test]
    fn an_unblock_sent_only_after_the_answer_excuses_nothing() {
        let (mut h, state) = clean_box_office();
        let b9 = answer(201, booking_body("b-9", &["A5"], T + 205));
        h.book(4, "sim-4-1", &["A5"], (T + 200, T + 210), b9);
        h.unblock(STAFF, "A5", (T + 211, T + 215));
        // And one answered before the block was sent.
        h.unblock(STAFF, "A5", (T - 20, T - 10));
        assert!(!blocked_sold(h, &state).is_empty());
    }

    #[test]
    fn a_booking_racing_an_unblock_is_not_judged() {
        // The unblock of A5 was sent before the booking's answer came (and
        // one never answered, sent before the block, may have landed after
        // it): the booking may have come after either.
        for unblock in [(T + 205, T + 230), (T - 5, u64::MAX)] {
            let (mut h, state) = clean_box_office();
            let b9 = answer(201, booking_body("b-9", &["A5"], T + 215));
            h.book(4, "sim-4-1", &["A5"], (T + 200, T + 220), b9);
            let seq = h.unblock(STAFF, "A5", unblock);
            if unblock.1 == u64::MAX {
                // No answer: the event was recorded without one.
                let mut history = h.into_history(TTL);
                let event = history.events.iter_mut().find(|e| e.seq == seq);
                let event = event.expect("the unblock");
                event.answer = None;
                event.end_ms = T + 10_000;
                let violations = check(&history, &state);
                assert!(!has(&violations, "blocked-seat-sold"), "{violations:#?}");
            } else {
                assert!(blocked_sold(h, &state).is_empty());
            }
        }
    }

    #[test]
    fn a_booking_sent_before_the_block_was_acknowledged_is_not_judged() {
        let (mut h, state) = clean_box_office();
        // Sent at T+5, while the block (T..T+10) was on its way.
        let b9 = answer(201, booking_body("b-9", &["A5"], T + 7));
        h.book(4, "sim-4-1", &["A5"], (T + 5, T + 12), b9);
        assert!(blocked_sold(h, &state).is_empty());
    }

    #[test]
    fn a_seat_shown_blocked_in_a_booking_or_live_hold_at_the_end_is_found() {
        let (h, mut state) = clean_box_office();
        sold_a5(&mut state);
        let found = blocked_sold(h, &state);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].detail.contains("b-9"), "{}", found[0].detail);

        let (h, mut state) = clean_box_office();
        listed_mut(&mut state).push(listed("b-9", 4, &["A5"], None));
        let found = blocked_sold(h, &state);
        assert!(found[0].detail.contains("staff list"), "{found:#?}");

        let live = |expires_at_ms| {
            let (h, mut state) = clean_box_office();
            let exp = expires_at_ms;
            state.carts.push(cart_obs("c-9", 4, true, &[("A5", exp)]));
            blocked_sold(h, &state)
        };
        assert_eq!(live(T + 5_000).len(), 1);
        // A hold that lapsed before the map was read is no hold.
        assert!(live(T + 500).is_empty());
    }

    #[test]
    fn a_seat_shown_blocked_that_no_block_named_is_found() {
        let (h, mut state) = clean_box_office();
        state
            .seat_map
            .insert((SHOW.into(), "A3".into()), "blocked".into());
        let found = blocked_sold(h, &state);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].detail.contains("A3"), "{}", found[0].detail);
    }

    #[test]
    fn refusals_for_a_block_are_counted_and_others_are_not() {
        let (mut h, _) = clean_box_office();
        // Refused A5 while the block may not have landed yet: not counted.
        h.book(4, "sim-4-1", &["A5"], (T + 5, T + 12), taken(&["A5"]));
        // Refused A1, booked by b-1: not a block.
        h.book(4, "sim-4-2", &["A1"], (T + 200, T + 210), taken(&["A1"]));
        // A hold refused for A5: counted.
        h.hold(
            4,
            "sim-4-3",
            "c-9",
            "A5",
            (T + 220, T + 230),
            taken(&["A5"]),
        );
        assert_eq!(refused_for_block(&h.into_history(TTL)), 2);
    }
}
