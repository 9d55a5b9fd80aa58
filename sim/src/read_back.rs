//! The engine's state at the end of a run, read back over the API as the
//! users see it (their bookings, the carts they created, the show's seat
//! map): the checker holds it against the history.

use super::client::{Client, Shared};
use super::history::{
    BookingObs, BoxOfficeObs, CartObs, FinalState, History, ItemObs, ListedBooking, Op,
};
use super::workload::Venue;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Reads the final state, each user's part with that user's session
/// (`tokens[user]`), and with `staff` (the admin token, in the box-office
/// scenario) what the staff see.
pub(super) async fn final_state(
    shared: &Arc<Shared>,
    venue: &Venue,
    tokens: &[String],
    staff: Option<&str>,
) -> FinalState {
    let reader = |user: usize| Client {
        user,
        token: tokens[user].clone(),
        shared: shared.clone(),
        rng: StdRng::seed_from_u64(0),
    };
    let mut state = FinalState::default();
    let carts = carts_created(&shared.history.lock().expect("history"));
    for (user, _) in tokens.iter().enumerate() {
        let client = reader(user);
        if let Some(body) = client.get("/v1/bookings").await {
            for booking in body["bookings"].as_array().into_iter().flatten() {
                state.bookings.push(booking_obs(user, booking));
            }
        }
    }
    for (user, id) in carts {
        let client = reader(user);
        if let Some(cart) = client.get(&format!("/v1/carts/{id}")).await {
            state.carts.push(cart_obs(id, user, &venue.show, &cart));
        }
    }
    state.observed_at_ms = crate::engine_facts::now_ms();
    if let Some(show) = reader(0).get(&format!("/v1/shows/{}", venue.show)).await {
        state.seat_map.extend(seat_statuses(&venue.show, &show));
    }
    if let Some(admin) = staff {
        let staff = Client {
            user: tokens.len(),
            token: admin.to_string(),
            shared: shared.clone(),
            rng: StdRng::seed_from_u64(0),
        };
        state.box_office = Some(box_office(&staff, venue, &mut state).await);
    }
    state
}

/// The staff's read-back: every page of the show's bookings, and the sales
/// figures between two reads of the seat map (again, up to five times, if
/// a hold lapsed between them); the later map becomes the final one.
async fn box_office(staff: &Client, venue: &Venue, state: &mut FinalState) -> BoxOfficeObs {
    let mut obs = BoxOfficeObs {
        bookings: staff_list(staff, &venue.show).await,
        ..BoxOfficeObs::default()
    };
    let show_path = format!("/v1/shows/{}", venue.show);
    for _ in 0..5 {
        let before = staff.get(&show_path).await;
        obs.sales = staff.get(&format!("{show_path}/sales")).await;
        state.observed_at_ms = crate::engine_facts::now_ms();
        let Some(after) = staff.get(&show_path).await else {
            break;
        };
        let map: BTreeMap<_, _> = seat_statuses(&venue.show, &after).collect();
        let before: Option<BTreeMap<_, _>> =
            before.map(|b| seat_statuses(&venue.show, &b).collect());
        obs.map_steady = before.as_ref() == Some(&map);
        obs.categories = after["seats"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|seat| {
                let id = seat["id"].as_str()?.to_string();
                Some((id, seat["category"].as_str()?.to_string()))
            })
            .collect();
        state.seat_map = map;
        if obs.map_steady {
            break;
        }
    }
    obs
}

/// Bookings per page of the staff list read back: small, so that even a
/// short run's list takes pages and their cursors (a booking lost or
/// repeated between pages shows in the sales figures' check).
const PAGE: usize = 10;

/// Every booking of `show` in the staff list, page after page (`None` if
/// a page could not be read).
async fn staff_list(staff: &Client, show: &str) -> Option<Vec<ListedBooking>> {
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    // A list that never ends is a list that could not be read.
    for _ in 0..100_000 {
        let mut path = format!("/v1/shows/{show}/bookings?limit={PAGE}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", query_value(cursor)));
        }
        let page = staff.get(&path).await?;
        for booking in page["bookings"].as_array()? {
            listed.push(listed_booking(show, booking));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return Some(listed),
        }
    }
    None
}

/// A booking as the staff list shows it.
fn listed_booking(show: &str, booking: &serde_json::Value) -> ListedBooking {
    let strings = |field: &str| -> Vec<String> {
        booking[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    ListedBooking {
        id: booking["id"].as_str().unwrap_or_default().into(),
        show: booking["show_id"].as_str().unwrap_or(show).into(),
        user_id: booking["user_id"].as_str().unwrap_or_default().into(),
        seats: strings("seats"),
        confirmed: booking["status"] == "confirmed",
        total_cents: booking["total_cents"].as_i64().unwrap_or(-1),
        seat_prices: booking["seat_prices"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p["seat_id"].as_str()?.into(), p["price_cents"].as_i64()?)))
            .collect(),
        cancelled_by: booking["cancelled_by"].as_str().map(String::from),
    }
}

/// `value` made safe for a query string (percent-encoded but for the
/// unreserved characters).
pub(crate) fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Each (user, cart id) the history saw created.
fn carts_created(history: &History) -> BTreeSet<(usize, String)> {
    history
        .events
        .iter()
        .filter_map(|e| match (&e.op, &e.answer) {
            (Op::CreateCart, Some(a)) if a.status == 201 => {
                a.json()?["id"].as_str().map(|id| (e.user, id.to_string()))
            }
            _ => None,
        })
        .collect()
}

/// A booking as `GET /v1/bookings` shows it to `user`.
fn booking_obs(user: usize, booking: &serde_json::Value) -> BookingObs {
    BookingObs {
        id: booking["id"].as_str().unwrap_or_default().into(),
        user,
        show: booking["show_id"].as_str().unwrap_or_default().into(),
        seats: booking["seats"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect(),
        confirmed: booking["status"] == "confirmed",
    }
}

/// A cart of `show` as `GET /v1/carts/{id}` shows it to `user`.
fn cart_obs(id: String, user: usize, show: &str, cart: &serde_json::Value) -> CartObs {
    CartObs {
        id,
        user,
        show: show.to_string(),
        open: cart["status"] == "open",
        items: cart["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| {
                let expires =
                    chrono::DateTime::parse_from_rfc3339(i["expires_at"].as_str()?).ok()?;
                Some(ItemObs {
                    seat: i["seat_id"].as_str()?.to_string(),
                    expires_at_ms: expires.timestamp_millis() as u64,
                })
            })
            .collect(),
    }
}

/// Each seat's status in the seat map of `GET /v1/shows/{show}`.
fn seat_statuses<'a>(
    show: &'a str,
    body: &'a serde_json::Value,
) -> impl Iterator<Item = ((String, String), String)> + 'a {
    body["seats"]
        .as_array()
        .into_iter()
        .flatten()
        .map(move |seat| {
            (
                (
                    show.to_string(),
                    seat["id"].as_str().unwrap_or_default().to_string(),
                ),
                seat["status"].as_str().unwrap_or_default().to_string(),
            )
        })
}

#[cfg(test)]
mod tests {
    //! The staff list's bookings as the v1.2 contract shapes them.

    use super::*;
    use serde_json::json;

    #[test]
    fn a_listed_booking_reads_every_field_the_checker_needs() {
        let booking = json!({
            "id": "b-1", "show_id": "s-1", "user_id": "u-7", "seats": ["A1", "A2"],
            "status": "cancelled", "created_at": "2026-12-08T10:31:00Z",
            "seat_prices": [{"seat_id": "A1", "price_cents": 1200},
                            {"seat_id": "A2", "price_cents": 900}],
            "total_cents": 2100, "currency": "EUR", "cancelled_by": "box-office",
        });
        assert_eq!(
            listed_booking("s-1", &booking),
            ListedBooking {
                id: "b-1".into(),
                show: "s-1".into(),
                user_id: "u-7".into(),
                seats: vec!["A1".into(), "A2".into()],
                confirmed: false,
                total_cents: 2100,
                seat_prices: vec![("A1".into(), 1200), ("A2".into(), 900)],
                cancelled_by: Some("box-office".into()),
            }
        );
        let confirmed = json!({"id": "b-2", "status": "confirmed", "total_cents": 0});
        let confirmed = listed_booking("s-1", &confirmed);
        assert!(confirmed.confirmed && confirmed.cancelled_by.is_none());
        assert_eq!(confirmed.show, "s-1");
    }

    #[test]
    fn a_cursor_is_percent_encoded_for_the_query() {
        assert_eq!(query_value("abc-_.~09"), "abc-_.~09");
        assert_eq!(query_value("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(query_value("é&"), "%C3%A9%26");
    }
}
