//! A clean box-office history for the tests of the staff's invariants
//! (`blocked_seat`, `sales_figures`, `cancelled_by`): staff block, unblock
//! and cancel on behalf while customers book and cancel, and the staff's
//! read-back (the list of bookings, the sales figures) agrees with it all.
//! Each test plants one violation in it.

pub use super::fixtures::*;
pub use crate::history::{BoxOfficeObs, ListedBooking};

/// The staff member's user number (past the customers').
pub const STAFF: usize = 9;

/// Seats A1-A3 are `standard` at 1200, A4-A6 `premium` at 2000.
pub fn price(seat: &str) -> i64 {
    if seat < "A4" {
        1200
    } else {
        2000
    }
}

pub fn category(seat: &str) -> &'static str {
    if seat < "A4" {
        "standard"
    } else {
        "premium"
    }
}

/// A booking of the staff list, priced by `price`.
pub fn listed(id: &str, user: usize, seats: &[&str], cancelled_by: Option<&str>) -> ListedBooking {
    ListedBooking {
        id: id.into(),
        show: SHOW.into(),
        user_id: format!("user-{user}"),
        seats: strings(seats),
        confirmed: cancelled_by.is_none(),
        total_cents: seats.iter().map(|s| price(s)).sum(),
        seat_prices: seats.iter().map(|s| (s.to_string(), price(s))).collect(),
        cancelled_by: cancelled_by.map(String::from),
    }
}

/// The sales figures of the clean run's end.
pub fn clean_sales() -> serde_json::Value {
    json!({
        "show_id": SHOW, "capacity": 6, "available": 2, "held": 0, "booked": 3, "blocked": 1,
        "currency": "EUR", "revenue_cents": 4400, "bookings": 2, "cancelled_bookings": 2,
        "by_category": [
            {"category": "standard", "booked": 2, "revenue_cents": 2400},
            {"category": "premium", "booked": 1, "revenue_cents": 2000},
        ],
        "per_minute": [
            {"minute": "2023-11-14T22:13:00Z", "booked": 2, "revenue_cents": 2400},
            {"minute": "2023-11-14T22:14:00Z", "booked": 1, "revenue_cents": 2000},
        ],
    })
}

/// Staff block A5 and A6; a customer's booking of A5 is refused for it;
/// staff cancel b-2 on its customer's behalf, a customer cancels b-3
/// herself; staff unblock A6 and it is booked; staff's block of the booked
/// A1 is refused. Returns the history's events, and the final state with
/// the staff's read-back.
pub fn clean_box_office() -> (Hist, FinalState) {
    let b = |id: &str, seats: &[&str], at: u64| answer(201, booking_body(id, seats, at));
    let mut h = Hist::default();
    h.block(
        STAFF,
        "sim-9-1",
        &["A5", "A6"],
        (T, T + 10),
        blocked(&["A5", "A6"]),
    );
    h.book(
        0,
        "sim-0-1",
        &["A1", "A2"],
        (T + 20, T + 30),
        b("b-1", &["A1", "A2"], T + 25),
    );
    h.book(1, "sim-1-1", &["A5"], (T + 40, T + 50), taken(&["A5"]));
    h.book(
        1,
        "sim-1-2",
        &["A3"],
        (T + 60, T + 70),
        b("b-2", &["A3"], T + 65),
    );
    h.staff_cancel(STAFF, "b-2", &["A3"], (T + 80, T + 90));
    h.book(
        2,
        "sim-2-1",
        &["A4"],
        (T + 100, T + 110),
        b("b-3", &["A4"], T + 105),
    );
    h.cancel(2, "b-3", &["A4"], (T + 120, T + 130));
    h.unblock(STAFF, "A6", (T + 140, T + 150));
    h.book(
        3,
        "sim-3-1",
        &["A6"],
        (T + 160, T + 170),
        b("b-4", &["A6"], T + 165),
    );
    h.block(
        STAFF,
        "sim-9-2",
        &["A1"],
        (T + 180, T + 190),
        taken(&["A1"]),
    );
    let map = [
        ("A1", "booked"),
        ("A2", "booked"),
        ("A3", "available"),
        ("A4", "available"),
        ("A5", "blocked"),
        ("A6", "booked"),
    ];
    let mut state = final_state(
        vec![
            booking_obs("b-1", 0, &["A1", "A2"], true),
            booking_obs("b-2", 1, &["A3"], false),
            booking_obs("b-3", 2, &["A4"], false),
            booking_obs("b-4", 3, &["A6"], true),
        ],
        vec![],
        &map,
        T + 1_000,
    );
    state.box_office = Some(BoxOfficeObs {
        bookings: Some(vec![
            listed("b-1", 0, &["A1", "A2"], None),
            listed("b-2", 1, &["A3"], Some("box-office")),
            listed("b-3", 2, &["A4"], Some("customer")),
            listed("b-4", 3, &["A6"], None),
        ]),
        sales: Some(clean_sales()),
        categories: map
            .iter()
            .map(|(seat, _)| (seat.to_string(), category(seat).to_string()))
            .collect(),
        map_steady: true,
    });
    (h, state)
}

/// The clean run's staff list, to change.
pub fn listed_mut(state: &mut FinalState) -> &mut Vec<ListedBooking> {
    state
        .box_office
        .as_mut()
        .and_then(|b| b.bookings.as_mut())
        .expect("the staff list")
}

/// The clean run's sales figures, to change.
pub fn sales_mut(state: &mut FinalState) -> &mut serde_json::Value {
    state
        .box_office
        .as_mut()
        .and_then(|b| b.sales.as_mut())
        .expect("the sales figures")
}

#[test]
fn the_clean_box_office_run_passes_every_check() {
    let (h, state) = clean_box_office();
    let history = h.into_history(TTL);
    let violations = check(&history, &state);
    assert!(violations.is_empty(), "false positives: {violations:#?}");
    assert_eq!(super::blocked_seat::refused_for_block(&history), 1);
}
