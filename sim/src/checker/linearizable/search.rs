//! The register model of one seat and the search for an order of its
//! operations that explains every answer and the final seat map.

use super::seat_ops::{SeatOp, SeatOpKind};
use std::collections::BTreeSet;

/// A seat's owner in the register model.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SeatVal {
    Free,
    Held {
        cart: String,
        until_ms: u64,
    },
    Booked {
        booking: String,
    },
    /// Off sale (a house seat), until staff unblock it.
    Blocked,
}

/// Whether some order of `ops`, from a free seat, explains every answer
/// and ends in a state the final seat map (`final_val`) may show.
pub(super) fn linearizable(ops: &[SeatOp], final_val: Option<&str>) -> bool {
    let mut search = Search {
        ops,
        seen: BTreeSet::new(),
    };
    search.run(0, SeatVal::Free, 0, final_val)
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
            .map(|(_, o)| o.end_ms)
            .min()
            .unwrap_or(u64::MAX);
        for (i, op) in self.ops.iter().enumerate() {
            if done & (1 << i) != 0 || op.start_ms > horizon {
                continue;
            }
            // Linearization point: as early as allowed, not before `now`.
            let at = op.start_ms.max(now);
            if at > op.end_ms {
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
                if *until_ms > at && *until_ms <= op.end_ms {
                    later.push(*until_ms);
                }
            }
            if op.end_ms != u64::MAX && op.end_ms > at {
                later.push(op.end_ms);
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
            // Adding a seat the cart already holds renews nothing (docs/API.md, "hold seats").
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
        SeatOpKind::Block => match &current {
            SeatVal::Free | SeatVal::Blocked => Some(SeatVal::Blocked),
            _ => None,
        },
        SeatOpKind::Unblock => match &current {
            SeatVal::Blocked => Some(SeatVal::Free),
            other => Some(other.clone()),
        },
        SeatOpKind::Occupied => match &current {
            SeatVal::Held { .. } | SeatVal::Booked { .. } => Some(current.clone()),
            _ => None,
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
        SeatVal::Blocked => shown == "blocked",
        // A hold may have lapsed by the time the map was read.
        SeatVal::Held { .. } => shown == "held" || shown == "available",
    }
}
