//! Invariant 2, `duplicate-effect`: no key with two effects. Keys are
//! scoped to their user; a key whose successful answers name two different
//! ids ran twice instead of replaying its first answer.

use super::answers::body_str;
use super::verdict::Violation;
use crate::history::History;
use std::collections::{BTreeMap, HashMap};

pub(super) fn no_key_with_two_effects(history: &History) -> Vec<Violation> {
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

#[cfg(test)]
mod tests {
    //! Keys that ran twice, and equal keys of different users.

    use crate::checker::fixtures::*;

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
}

#[cfg(test)]
mod planted {
    //! The clean history with one violation planted in it.

    use crate::checker::fixtures::planted::*;

    #[test]
    fn catches_a_key_with_two_effects() {
        let (mut h, mut final_state) = clean();
        h.book(2, "k7", &["A5"], (300, 310), booked("b7", &["A5"]));
        h.book(2, "k7", &["A5"], (320, 330), booked("b8", &["A5"]));
        let history = h.into_history(TTL_MS);
        final_state.bookings.push(confirmed("b7", 2, &["A5"]));
        final_state
            .seat_map
            .insert((SHOW.into(), "A5".into()), "booked".into());
        let violations = check(&history, &final_state);
        let found = violations
            .iter()
            .find(|v| v.rule == "duplicate-effect")
            .expect("found");
        assert_eq!(found.events.len(), 2, "{found:?}");
    }
}
