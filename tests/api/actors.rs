//! The actors seen from outside: full mailboxes answer 503 `overloaded`
//! instead of queueing; idle actors stop and come back with their state.

use crate::helpers::*;
use std::time::{Duration, Instant};

store_test!(
    full_mailboxes_answer_overloaded_and_change_nothing,
    flavor = "multi_thread",
    worker_threads = 4
);
async fn full_mailboxes_answer_overloaded_and_change_nothing(store: StoreKind) {
    // One queued request per seat: a crowd at one seat must overflow it.
    let server = store.spawn_app_with(|s| s.seat_mailbox_capacity = 1);
    let client = server.client();
    let show = client.create_show("Flood", &[("A", 4)]).await;
    let mut guests = Vec::new();
    for _ in 0..64 {
        guests.push(client.guest().await);
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(guests.len()));
    let mut tasks = Vec::new();
    for guest in guests {
        let (barrier, show) = (barrier.clone(), show.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            guest.book(&new_key(), &show, &["A1"]).await
        }));
    }
    let mut counts = std::collections::BTreeMap::new();
    for task in tasks {
        let answer = task.await.unwrap();
        match answer.status {
            201 => {}
            409 => answer.assert_problem(409, "seat-unavailable"),
            503 => {
                answer.assert_problem(503, "overloaded");
                assert!(answer.header("retry-after").is_some());
            }
            other => panic!("unexpected {other}: {}", answer.text),
        }
        *counts.entry(answer.status).or_insert(0) += 1;
    }
    assert!(counts.get(&201).copied().unwrap_or(0) <= 1, "{counts:?}");
    assert!(counts.contains_key(&503), "no request was shed: {counts:?}");
    // Whatever was shed changed nothing: at most one booking of A1.
    let map = client.seat_map(&show).await;
    let booked = map.values().filter(|s| *s == "booked").count();
    assert_eq!(booked, counts.get(&201).copied().unwrap_or(0));
}

/// The value of `boxoffice_actors_active{actor="<kind>"}`.
async fn active(client: &Client, kind: &str) -> f64 {
    let series = format!("boxoffice_actors_active{{actor=\"{kind}\"}}");
    client.metric(&series).await
}

/// Waits until no actor of `kinds` is active, failing after `limit`.
async fn until_none_active(client: &Client, kinds: &[&str], limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let mut still = Vec::new();
        for kind in kinds {
            let count = active(client, kind).await;
            if count > 0.0 {
                still.push(format!("{count} {kind}"));
            }
        }
        if still.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "actors still active after {limit:?}: {}",
            still.join(", ")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

store_test!(idle_actors_are_passivated_and_reactivated_with_their_state);
/// Against the real binary: the gauge is process-wide, and other tests'
/// in-process servers keep actors of their own active.
async fn idle_actors_are_passivated_and_reactivated_with_their_state(store: StoreKind) {
    let storage = store.storage();
    let server = BinaryServer::on(&storage, &[("BOXOFFICE_ACTOR_IDLE_SECS", "1")]);
    let client = server.client();
    let show = client.create_show("Idle", &[("A", 20)]).await;
    let guest = client.guest().await;
    let booked = guest.book(&new_key(), &show, &["A1", "A2", "A3"]).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    assert!(active(&client, "seat").await >= 3.0);

    // Idle timers run every second; wait (bounded) until all have stopped.
    until_none_active(&client, &["seat", "booking"], Duration::from_secs(10)).await;

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

store_test!(a_one_shot_bookings_actor_stops_once_it_has_answered);
/// A one-shot booking's actor has nothing left to do once it answered:
/// it stops then, not after `actor_idle_secs` (30 s here), so live actors
/// follow the requests in flight, not the bookings of the last half minute;
/// a retry of its key is still replayed (from the store).
async fn a_one_shot_bookings_actor_stops_once_it_has_answered(store: StoreKind) {
    let storage = store.storage();
    let server = BinaryServer::on(&storage, &[("BOXOFFICE_ACTOR_IDLE_SECS", "30")]);
    let client = server.client();
    let show = client.create_show("One shot", &[("A", 20)]).await;
    let guest = client.guest().await;
    let keys: Vec<String> = (0..5).map(|_| new_key()).collect();
    let mut firsts = Vec::new();
    for (n, key) in keys.iter().enumerate() {
        let booked = guest.book(key, &show, &[&format!("A{}", n + 1)]).await;
        assert_eq!(booked.status, 201, "{}", booked.text);
        firsts.push(booked);
    }
    // Far less than the idle time: the actors stop as they answer.
    until_none_active(&client, &["booking"], Duration::from_secs(5)).await;
    for (n, (key, first)) in keys.iter().zip(&firsts).enumerate() {
        let again = guest.book(key, &show, &[&format!("A{}", n + 1)]).await;
        assert_replay(first, &again, "a booking whose actor stopped");
    }
    assert_eq!(guest.bookings().await.len(), keys.len());
}
