//! Invariant 12, `sales-figures`: the sales figures equal the bookings. At
//! the end of a box-office run, with every request answered, `GET
//! /v1/shows/{id}/sales` must say what the staff list of bookings (every
//! page) and the seat map say: the seat counts by status are the map's
//! (booked also the seats of the confirmed bookings), revenue the sum of
//! the confirmed bookings' totals, `bookings` and `cancelled_bookings` the
//! list's confirmed and cancelled ones, each category's figures those of
//! its seats, and the figures by minute add up to the totals.
//!
//! A hold may lapse between the reads: the held and available counts are
//! compared one by one only when the map read just before the figures
//! equals the one read after (`BoxOfficeObs::map_steady`), and otherwise
//! only as a sum.

use super::verdict::Violation;
use crate::history::{BoxOfficeObs, FinalState, ListedBooking};
use serde_json::Value;
use std::collections::BTreeMap;

pub(super) fn sales_match_bookings(final_state: &FinalState) -> Vec<Violation> {
    let Some(obs) = &final_state.box_office else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    match (&obs.sales, &obs.bookings) {
        (Some(sales), Some(bookings)) => compare(final_state, obs, sales, bookings, &mut problems),
        (None, _) => problems.push("the sales figures could not be read".to_string()),
        (_, None) => problems.push("the staff list of bookings could not be read".to_string()),
    }
    problems
        .into_iter()
        .map(|p| Violation::new("sales-figures", p, Vec::new()))
        .collect()
}

/// The figure `field` equals `want`, which `why` says it is.
fn expect(sales: &Value, field: &str, want: i64, why: &str, problems: &mut Vec<String>) {
    match int(sales, field) {
        Some(got) if got == want => {}
        got => problems.push(format!(
            "sales {field} is {}, {why} say {want}",
            got.map_or("missing".into(), |g| g.to_string())
        )),
    }
}

/// A whole number field of the figures; `None` if absent or not one.
fn int(value: &Value, field: &str) -> Option<i64> {
    value.get(field)?.as_i64()
}

fn compare(
    final_state: &FinalState,
    obs: &BoxOfficeObs,
    sales: &Value,
    bookings: &[ListedBooking],
    problems: &mut Vec<String>,
) {
    let map_count = |status: &str| {
        final_state
            .seat_map
            .values()
            .filter(|s| s.as_str() == status)
            .count() as i64
    };
    let confirmed: Vec<&ListedBooking> = bookings.iter().filter(|b| b.confirmed).collect();
    let seats_booked = confirmed.iter().map(|b| b.seats.len() as i64).sum::<i64>();
    let revenue = confirmed.iter().map(|b| b.total_cents).sum::<i64>();
    expect(
        sales,
        "capacity",
        final_state.seat_map.len() as i64,
        "the seat map's seats",
        problems,
    );
    expect(
        sales,
        "booked",
        map_count("booked"),
        "the seat map's booked seats",
        problems,
    );
    expect(
        sales,
        "booked",
        seats_booked,
        "the confirmed bookings' seats",
        problems,
    );
    expect(
        sales,
        "blocked",
        map_count("blocked"),
        "the seat map's blocked seats",
        problems,
    );
    if obs.map_steady {
        expect(
            sales,
            "held",
            map_count("held"),
            "the seat map's held seats",
            problems,
        );
        expect(
            sales,
            "available",
            map_count("available"),
            "the seat map's available seats",
            problems,
        );
    } else {
        let free_or_held = map_count("held") + map_count("available");
        let got = int(sales, "held").unwrap_or(-1) + int(sales, "available").unwrap_or(-1);
        if got != free_or_held {
            problems.push(format!(
                "sales held + available is {got}, the seat map says {free_or_held}"
            ));
        }
    }
    expect(
        sales,
        "revenue_cents",
        revenue,
        "the confirmed bookings' totals",
        problems,
    );
    expect(
        sales,
        "bookings",
        confirmed.len() as i64,
        "the confirmed bookings",
        problems,
    );
    let cancelled = (bookings.len() - confirmed.len()) as i64;
    expect(
        sales,
        "cancelled_bookings",
        cancelled,
        "the cancelled bookings",
        problems,
    );
    let mut ids = std::collections::BTreeSet::new();
    for booking in bookings.iter().filter(|b| !ids.insert(b.id.as_str())) {
        problems.push(format!("the staff list shows booking {} twice", booking.id));
    }
    for booking in &confirmed {
        let priced = booking.seat_prices.iter().map(|(_, p)| p).sum::<i64>();
        if priced != booking.total_cents {
            problems.push(format!(
                "booking {} totals {} but its seat prices add up to {priced}",
                booking.id, booking.total_cents
            ));
        }
    }
    by_category(sales, &confirmed, &obs.categories, problems);
    per_minute(sales, seats_booked, revenue, problems);
}

/// Each category's booked seats and revenue, from the confirmed bookings'
/// seat prices, equal its entry; categories without a sale may be absent.
fn by_category(
    sales: &Value,
    confirmed: &[&ListedBooking],
    categories: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) {
    let mut want: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (seat, price) in confirmed.iter().flat_map(|b| &b.seat_prices) {
        let category = categories.get(seat).cloned().unwrap_or_default();
        let entry = want.entry(category).or_default();
        entry.0 += 1;
        entry.1 += price;
    }
    let mut got: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let Some(entries) = sales.get("by_category").and_then(Value::as_array) else {
        problems.push("sales by_category is missing".into());
        return;
    };
    for entry in entries {
        let category = entry["category"].as_str().unwrap_or_default().to_string();
        let figures = (
            int(entry, "booked").unwrap_or(-1),
            int(entry, "revenue_cents").unwrap_or(-1),
        );
        if got.insert(category.clone(), figures).is_some() {
            problems.push(format!("sales by_category lists {category:?} twice"));
        }
    }
    got.retain(|_, figures| *figures != (0, 0));
    if got != want {
        problems.push(format!(
            "sales by_category (booked, revenue) is {got:?}, the confirmed bookings' seats say {want:?}"
        ));
    }
}

/// The figures by minute add up to the totals.
fn per_minute(sales: &Value, booked: i64, revenue: i64, problems: &mut Vec<String>) {
    let Some(entries) = sales.get("per_minute").and_then(Value::as_array) else {
        problems.push("sales per_minute is missing".into());
        return;
    };
    let sum = |field: &str| {
        entries
            .iter()
            .map(|e| int(e, field).unwrap_or(-1))
            .sum::<i64>()
    };
    if (sum("booked"), sum("revenue_cents")) != (booked, revenue) {
        problems.push(format!(
            "sales per_minute adds up to {} seats and {} cents, the confirmed bookings to {booked} and {revenue}",
            sum("booked"),
            sum("revenue_cents")
        ));
    }
}

#[cfg(test)]
mod tests {
    //! The clean box-office run with its figures, its list or its map
    //! changed: each disagreement found, and only by this rule.

    use crate::checker::box_office_fixtures::*;

    fn found(state: &FinalState) -> Vec<Violation> {
        let (h, _) = clean_box_office();
        let violations = check(&h.into_history(TTL), state);
        let sales = only(&violations, "sales-figures");
        assert!(!sales.is_empty(), "not found: {violations:#?}");
        sales.into_iter().cloned().collect()
    }

    fn with_sales(field: &str, value: serde_json::Value) -> FinalState {
        let (_, mut state) = clean_box_office();
        sales_mut(&mut state)[field] = value;
        state
    }

    #[test]
    fn each_count_that_disagrees_is_found() {
        for (field, wrong) in [
            ("capacity", 7),
            ("available", 1),
            ("held", 1),
            ("booked", 4),
            ("blocked", 0),
            ("revenue_cents", 4000),
            ("bookings", 4),
            ("cancelled_bookings", 1),
        ] {
            let violations = found(&with_sales(field, json!(wrong)));
            assert!(
                violations.iter().any(|v| v.detail.contains(field)),
                "{field}: {violations:#?}"
            );
        }
    }

    #[test]
    fn a_missing_figure_is_found() {
        let (_, mut state) = clean_box_office();
        let sales = sales_mut(&mut state).as_object_mut().expect("object");
        sales.remove("revenue_cents");
        let violations = found(&state);
        assert!(violations[0].detail.contains("missing"), "{violations:#?}");
    }

    #[test]
    fn a_category_that_disagrees_is_found() {
        // The totals are right, the split between categories is not.
        let state = with_sales(
            "by_category",
            json!([
                {"category": "standard", "booked": 3, "revenue_cents": 4400},
            ]),
        );
        assert!(found(&state)[0].detail.contains("by_category"));
        // A category listed twice.
        let state = with_sales(
            "by_category",
            json!([
                {"category": "standard", "booked": 2, "revenue_cents": 2400},
                {"category": "premium", "booked": 1, "revenue_cents": 2000},
                {"category": "premium", "booked": 0, "revenue_cents": 0},
            ]),
        );
        assert!(found(&state)[0].detail.contains("twice"));
    }

    #[test]
    fn minutes_that_do_not_add_up_are_found() {
        let state = with_sales(
            "per_minute",
            json!([{"minute": "2023-11-14T22:13:00Z", "booked": 2, "revenue_cents": 2400}]),
        );
        assert!(found(&state)[0].detail.contains("per_minute"));
    }

    #[test]
    fn a_booking_the_list_misses_or_misreads_is_found() {
        // The list lost b-4: its seat is booked in the map and the figures.
        let (_, mut state) = clean_box_office();
        listed_mut(&mut state).pop();
        let violations = found(&state);
        assert!(violations
            .iter()
            .any(|v| v.detail.contains("confirmed bookings")));
        // A booking on two pages.
        let (_, mut state) = clean_box_office();
        let again = listed_mut(&mut state)[2].clone();
        listed_mut(&mut state).push(again);
        assert!(found(&state).iter().any(|v| v.detail.contains("b-3 twice")));
        // A total that is not the sum of its seats' prices.
        let (_, mut state) = clean_box_office();
        listed_mut(&mut state)[3].total_cents = 1;
        assert!(found(&state).iter().any(|v| v.detail.contains("b-4")));
    }

    #[test]
    fn a_seat_map_that_disagrees_is_found() {
        let (_, mut state) = clean_box_office();
        state
            .seat_map
            .insert((SHOW.into(), "A3".into()), "blocked".into());
        assert!(found(&state).iter().any(|v| v.detail.contains("blocked")));
    }

    #[test]
    fn unreadable_figures_or_list_are_found() {
        let (_, mut state) = clean_box_office();
        state.box_office.as_mut().expect("obs").sales = None;
        assert!(found(&state)[0].detail.contains("could not be read"));
        let (_, mut state) = clean_box_office();
        state.box_office.as_mut().expect("obs").bookings = None;
        assert!(found(&state)[0].detail.contains("could not be read"));
    }

    #[test]
    fn a_hold_lapsing_between_the_reads_is_forgiven_only_then() {
        // The figures count a hold the map no longer shows.
        let (_, mut state) = clean_box_office();
        sales_mut(&mut state)["held"] = json!(1);
        sales_mut(&mut state)["available"] = json!(1);
        assert!(!found(&state).is_empty());
        state.box_office.as_mut().expect("obs").map_steady = false;
        let (h, _) = clean_box_office();
        let violations = check(&h.into_history(TTL), &state);
        assert!(violations.is_empty(), "false positives: {violations:#?}");
        // Not a seat more or less, though.
        sales_mut(&mut state)["held"] = json!(2);
        assert!(!found(&state).is_empty());
    }
}
