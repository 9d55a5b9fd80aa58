//! The engine's state at the end of a run, read back over the API as the
//! users see it (their bookings, the carts they created, the show's seat
//! map): the checker holds it against the history.

use super::client::{Client, Shared};
use super::history::{BookingObs, CartObs, FinalState, History, ItemObs, Op};
use super::workload::Venue;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Reads the final state, each user's part with that user's session
/// (`tokens[user]`).
pub(super) async fn final_state(
    shared: &Arc<Shared>,
    venue: &Venue,
    tokens: &[String],
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
    state
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
