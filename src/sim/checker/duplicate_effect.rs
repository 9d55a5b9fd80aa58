//! Invariant 2, `duplicate-effect`: no key with two effects. Keys are
//! scoped to their user; a key whose successful answers name two different
//! ids ran twice instead of replaying its first answer.

use super::{body_str, Violation};
use crate::sim::history::History;
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
