//! Passivation, seen from outside: idle actors stop (the
//! `boxoffice_actors_active` gauge drops to zero) and come back with their
//! state. Its own test binary, because metrics are process-wide.

mod common;
use common::*;
use std::time::{Duration, Instant};

/// The value of `boxoffice_actors_active{actor="<kind>"}`.
async fn active(client: &Client, kind: &str) -> i64 {
    let metrics = client.get("/metrics").await.text;
    let prefix = format!("boxoffice_actors_active{{actor=\"{kind}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in metrics"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn idle_actors_are_passivated_and_reactivated_with_their_state() {
    let server = spawn_app_with(|s| s.actor_idle_secs = 1);
    let client = server.client();
    let show = client.create_show("Idle", &[("A", 20)]).await;
    let guest = client.guest().await;
    let booked = guest.book(&new_key(), &show, &["A1", "A2", "A3"]).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    assert!(active(&client, "seat").await >= 3);

    // Idle timers run every second; wait (bounded) until all have stopped.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seats = active(&client, "seat").await;
        let bookings = active(&client, "booking").await;
        if seats == 0 && bookings == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "actors still active: {seats} seats, {bookings} bookings"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Reactivated actors load their state from the store: A2 is still taken,
    // and the booking can still be cancelled.
    let other = client.guest().await;
    let conflict = other.book(&new_key(), &show, &["A2"]).await;
    conflict.assert_problem(409, "seat-unavailable");
    let id = booked.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        guest.delete(&format!("/v1/bookings/{id}")).await.status,
        204
    );
    let map = client.seat_map(&show).await;
    assert_eq!(map["A2"], "available");
    let rebook = other.book(&new_key(), &show, &["A2"]).await;
    assert_eq!(rebook.status, 201, "{}", rebook.text);
}
