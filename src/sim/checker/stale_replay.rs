//! Invariant 6, `stale-replay`: a replay equals the first answer. The
//! server replays only stored answers, byte for byte; a replay that
//! differs in status or body was rebuilt rather than stored.

use super::Violation;
use crate::sim::history::{Event, History};
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
