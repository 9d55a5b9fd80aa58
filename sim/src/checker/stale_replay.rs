//! Invariant 6, `stale-replay`: a replay equals the first answer. The
//! server replays only stored answers, byte for byte; a replay that
//! differs in status or body was rebuilt rather than stored.

use super::verdict::Violation;
use crate::history::{Event, History};
use std::collections::HashMap;

pub(super) fn replays_equal_first_answer(history: &History) -> Vec<Violation> {
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

#[cfg(test)]
mod tests {
    //! Replays that differ from the first answer, and retries after answers that were never stored.

    use crate::checker::fixtures::*;

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
}

#[cfg(test)]
mod planted {
    //! The clean history with one violation planted in it.

    use crate::checker::fixtures::planted::*;

    #[test]
    fn catches_a_stale_replay() {
        let (h, final_state) = clean();
        let mut history = h.into_history(TTL_MS);
        history.events[1].answer = replay(201, booking_body("b1", &["A1"]));
        let violations = check(&history, &final_state);
        let found = violations
            .iter()
            .find(|v| v.rule == "stale-replay")
            .expect("found");
        assert_eq!(found.events, vec![0, 1]);
    }
}
