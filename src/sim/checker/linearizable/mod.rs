//! Invariant 7, `not-linearizable`: per seat, the history is linearizable.
//! A seat is a register (free, held by a cart until some time, or booked),
//! and every operation on it must take effect at one instant between its
//! request and its answer, in an order that explains every answer and the
//! seat map read at the end. Seats are independent, so each is searched
//! alone: `seat_ops` reads the operations per seat out of the history,
//! `search` looks for an order.

mod search;
mod seat_ops;

use super::Violation;
use crate::sim::history::{FinalState, History};
use search::linearizable;
use seat_ops::{seat_ops, SeatOp, SeatOpKind};

/// Most operations per seat the exact search takes on; a seat with more
/// (a hot seat) is checked on its effects only, refusals sampled out.
const MAX_SEARCH_OPS: usize = 14;

pub(super) fn seats_linearizable(history: &History, final_state: &FinalState) -> Vec<Violation> {
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
