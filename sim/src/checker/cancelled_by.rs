//! Invariant 13, `cancelled-by`: a booking cancelled on its customer's
//! behalf reads `cancelled_by: "box-office"` in the staff list at the end,
//! one its customer cancelled reads `customer`, and a confirmed one has no
//! `cancelled_by`. The first cancel to take effect names who cancelled
//! (cancelling a cancelled booking changes nothing): when both the staff
//! and the customer sent one, the name is judged only if one of them was
//! answered 204 before any attempt of the other was sent. A booking whose
//! cancel was answered 204 must read cancelled.

use super::verdict::Violation;
use crate::history::{Event, FinalState, History, Op};
use std::collections::BTreeMap;

/// The cancel attempts sent for one booking, by the staff and by its
/// customer.
#[derive(Default)]
struct Cancels<'a> {
    staff: Vec<&'a Event>,
    customer: Vec<&'a Event>,
}

impl Cancels<'_> {
    /// Who certainly cancelled first, if one side did: its 204 came before
    /// the other side sent anything.
    fn first(&self) -> Option<&'static str> {
        let answered = |side: &[&Event]| {
            side.iter()
                .filter(|e| e.answer.as_ref().is_some_and(|a| a.status == 204))
                .map(|e| e.end_ms)
                .min()
        };
        let sent = |side: &[&Event]| side.iter().map(|e| e.start_ms).min();
        match (sent(&self.staff), sent(&self.customer)) {
            (Some(_), None) => Some("box-office"),
            (None, Some(_)) => Some("customer"),
            (Some(staff_sent), Some(customer_sent)) => {
                if answered(&self.staff).is_some_and(|at| at < customer_sent) {
                    Some("box-office")
                } else if answered(&self.customer).is_some_and(|at| at < staff_sent) {
                    Some("customer")
                } else {
                    None
                }
            }
            (None, None) => None,
        }
    }

    fn acknowledged(&self) -> Option<&Event> {
        self.staff
            .iter()
            .chain(&self.customer)
            .find(|e| e.answer.as_ref().is_some_and(|a| a.status == 204))
            .copied()
    }

    fn seqs(&self) -> Vec<usize> {
        let mut seqs: Vec<usize> = self
            .staff
            .iter()
            .chain(&self.customer)
            .map(|e| e.seq)
            .collect();
        seqs.sort_unstable();
        seqs
    }
}

pub(super) fn cancelled_by_who_cancelled(
    history: &History,
    final_state: &FinalState,
) -> Vec<Violation> {
    let Some(listed) = final_state
        .box_office
        .as_ref()
        .and_then(|b| b.bookings.as_ref())
    else {
        return Vec::new();
    };
    let mut cancels: BTreeMap<&str, Cancels> = BTreeMap::new();
    for event in &history.events {
        if let Op::Cancel {
            booking, by_staff, ..
        } = &event.op
        {
            let entry = cancels.entry(booking.as_str()).or_default();
            if *by_staff {
                entry.staff.push(event);
            } else {
                entry.customer.push(event);
            }
        }
    }
    let none = Cancels::default();
    let mut found = Vec::new();
    for booking in listed {
        let sent = cancels.get(booking.id.as_str()).unwrap_or(&none);
        let shown = booking.cancelled_by.as_deref();
        let problem = if booking.confirmed {
            match (shown, sent.acknowledged()) {
                (Some(by), _) => Some(format!("is confirmed yet reads cancelled_by {by:?}")),
                (None, Some(cancel)) => Some(format!(
                    "is confirmed though its {} (#{}) was answered 204",
                    cancel.op.name(),
                    cancel.seq
                )),
                (None, None) => None,
            }
        } else {
            match (shown, sent.first()) {
                (None, _) => Some("is cancelled without a cancelled_by".to_string()),
                (Some(by), Some(want)) if by != want => Some(format!(
                    "reads cancelled_by {by:?}, but the {want} cancelled it first"
                )),
                (Some(by), _) if by != "customer" && by != "box-office" => {
                    Some(format!("reads cancelled_by {by:?}"))
                }
                _ => None,
            }
        };
        if let Some(problem) = problem {
            found.push(Violation::new(
                "cancelled-by",
                format!("booking {} {problem}", booking.id),
                sent.seqs(),
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    //! The clean box-office run with who cancelled misread, and cancels
    //! racing each other.

    use crate::checker::box_office_fixtures::*;

    fn cancelled_by(h: Hist, state: &FinalState) -> Vec<Violation> {
        let violations = check(&h.into_history(TTL), state);
        only(&violations, "cancelled-by")
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn a_cancel_on_behalf_read_as_the_customers_is_found() {
        let (h, mut state) = clean_box_office();
        listed_mut(&mut state)[1].cancelled_by = Some("customer".into());
        let found = cancelled_by(h, &state);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].detail.contains("b-2"), "{}", found[0].detail);
        assert_eq!(found[0].events, vec![4]);
    }

    #[test]
    fn a_customers_cancel_read_as_the_box_offices_is_found() {
        let (h, mut state) = clean_box_office();
        listed_mut(&mut state)[2].cancelled_by = Some("box-office".into());
        let found = cancelled_by(h, &state);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].detail.contains("b-3"), "{}", found[0].detail);
    }

    #[test]
    fn a_missing_or_stray_cancelled_by_is_found() {
        let (h, mut state) = clean_box_office();
        listed_mut(&mut state)[1].cancelled_by = None;
        listed_mut(&mut state)[0].cancelled_by = Some("customer".into());
        let found = cancelled_by(h, &state);
        assert_eq!(found.len(), 2, "{found:#?}");
    }

    #[test]
    fn a_booking_still_confirmed_after_a_cancel_on_behalf_is_found() {
        let (mut h, state) = clean_box_office();
        // Staff cancel b-4 (answered 204), yet the list says confirmed.
        let cancel = h.staff_cancel(STAFF, "b-4", &["A6"], (T + 200, T + 210));
        let found = cancelled_by(h, &state);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].events, vec![cancel]);
    }

    #[test]
    fn racing_cancels_may_read_either_and_ordered_ones_may_not() {
        // The customer cancels b-2 too, while the staff's cancel runs.
        let racing = |customer_sent: u64| {
            let (mut h, state) = clean_box_office();
            h.cancel(1, "b-2", &["A3"], (customer_sent, customer_sent + 20));
            (h, state)
        };
        for by in ["customer", "box-office"] {
            let (h, mut state) = racing(T + 85);
            listed_mut(&mut state)[1].cancelled_by = Some(by.into());
            assert!(cancelled_by(h, &state).is_empty(), "{by}");
        }
        // Sent after the staff's 204 came: the staff were first.
        let (h, mut state) = racing(T + 95);
        listed_mut(&mut state)[1].cancelled_by = Some("customer".into());
        assert_eq!(cancelled_by(h, &state).len(), 1);
    }
}
