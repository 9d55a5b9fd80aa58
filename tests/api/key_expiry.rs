//! Idempotency-Key expiry: after `idempotency_ttl_secs` a completed key is
//! forgotten by the sweeper, and a reuse runs as a new request, making new
//! things without touching what the first use made.

use crate::helpers::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// Books `seat` with `key`, used before for another seat, until the key
/// is forgotten (the answer is no longer 422), at most 10 s.
async fn book_once_forgotten(guest: &Client, key: &str, show: &str, seat: &str) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = guest.book(key, show, &[seat]).await;
        if answer.status != 422 {
            return answer;
        }
        assert!(Instant::now() < deadline, "the key was never forgotten");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `cart_key` made `cart_id`, which holds A3: once the key is forgotten it
/// makes a new cart, and the old one keeps its hold.
async fn cart_key_runs_as_new(guest: &Client, show: &str, cart_key: &str, cart_id: &str) {
    // (It was made a moment after the booking key: wait for its sweep too.)
    let deadline = Instant::now() + Duration::from_secs(10);
    let new_cart = loop {
        let answer = guest.post("/v1/carts", cart_key, json!({})).await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        if !answer.is_replay() {
            break answer;
        }
        assert!(
            Instant::now() < deadline,
            "the cart key was never forgotten"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let new_cart_id = new_cart.id();
    assert_ne!(new_cart_id, cart_id);
    let old_cart = guest.get(&format!("/v1/carts/{cart_id}")).await.json();
    assert_eq!(old_cart["items"][0]["seat_id"], "A3");
    let held = guest.hold(&new_cart_id, &new_key(), show, "A4").await;
    assert_eq!(held.status, 201, "{}", held.text);
}

store_test!(a_reused_key_after_expiry_runs_as_new);
async fn a_reused_key_after_expiry_runs_as_new(store: StoreKind) {
    let server = store.spawn_app_with(|s| s.idempotency_ttl_secs = 1);
    let client = server.client();
    let show = client.create_show("Expiring keys", &[("A", 4)]).await;
    let guest = client.guest().await;
    let key = new_key();

    let first = guest.book(&key, &show, &["A1"]).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let first_id = first.json()["id"].as_str().unwrap().to_string();
    let cart_key = new_key();
    let cart = guest.post("/v1/carts", &cart_key, json!({})).await;
    assert_eq!(cart.status, 201);
    let cart_id = cart.json()["id"].as_str().unwrap().to_string();
    let held = guest.hold(&cart_id, &new_key(), &show, "A3").await;
    assert_eq!(held.status, 201, "{}", held.text);

    // Within the TTL: the key is remembered.
    assert!(guest.book(&key, &show, &["A1"]).await.is_replay());
    guest
        .book(&key, &show, &["A2"])
        .await
        .assert_problem(422, "idempotency-key-reused");

    // After it (the sweeper runs every quarter TTL): a new request.
    let second = book_once_forgotten(&guest, &key, &show, "A2").await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert!(!second.is_replay());
    let second_id = second.json()["id"].as_str().unwrap().to_string();
    assert_ne!(second_id, first_id, "a new booking, not the old one again");
    // Its retry replays it.
    let again = guest.book(&key, &show, &["A2"]).await;
    assert!(again.is_replay());
    assert_eq!(again.text, second.text);

    // The first use's booking is untouched.
    let old = guest.get(&format!("/v1/bookings/{first_id}")).await.json();
    assert_eq!(
        (old["status"].as_str(), old["seats"].clone()),
        (Some("confirmed"), json!(["A1"]))
    );
    assert_eq!(
        guest.get("/v1/bookings").await.json()["bookings"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let map = client.seat_map(&show).await;
    assert_eq!(
        (map["A1"].as_str(), map["A2"].as_str(), map["A3"].as_str()),
        ("booked", "booked", "held")
    );

    // A cart key reused after expiry makes a new cart; the old one keeps its hold.
    cart_key_runs_as_new(&guest, &show, &cart_key, &cart_id).await;

    let expired = client
        .metric("boxoffice_idempotency_keys_expired_total")
        .await;
    assert!(expired >= 2.0, "{expired}");
}

store_test!(a_user_cannot_store_keys_without_end);
async fn a_user_cannot_store_keys_without_end(store: StoreKind) {
    let server = store.spawn_app_with(|s| {
        s.max_keys_per_user = 3;
        s.idempotency_ttl_secs = 1;
    });
    let client = server.client();
    let show = client.create_show("Capped", &[("A", 8)]).await;
    let guest = client.guest().await;
    let first_key = new_key();
    let first = guest.book(&first_key, &show, &["A1"]).await;
    assert_eq!(first.status, 201);
    for seat in ["A2", "A3"] {
        assert_eq!(guest.book(&new_key(), &show, &[seat]).await.status, 201);
    }
    // A fourth key is refused, and changes nothing; replays still work.
    let refused = guest.book(&new_key(), &show, &["A4"]).await;
    refused.assert_problem(429, "rate-limited");
    assert!(refused.header("retry-after").is_some());
    assert_eq!(client.seat_map(&show).await["A4"], "available");
    let replay = guest.book(&first_key, &show, &["A1"]).await;
    assert!(replay.is_replay());
    assert_eq!(replay.text, first.text);
    // Another user has a budget of its own.
    let other = client.guest().await;
    assert_eq!(other.book(&new_key(), &show, &["A5"]).await.status, 201);
    // Once the keys expire there is room again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = guest.book(&new_key(), &show, &["A4"]).await;
        if answer.status == 201 {
            break;
        }
        answer.assert_problem(429, "rate-limited");
        assert!(Instant::now() < deadline, "keys never made room");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

store_test!(sessions_expire);
async fn sessions_expire(store: StoreKind) {
    let server = store.spawn_app_with(|s| s.session_ttl_secs = 1);
    let client = server.client();
    let guest = client.guest().await;
    assert_eq!(guest.get("/v1/bookings").await.status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = guest.get("/v1/bookings").await;
        if answer.status == 401 {
            answer.assert_problem(401, "unauthorized");
            break;
        }
        assert!(Instant::now() < deadline, "the session never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fresh = client.guest().await;
    assert_eq!(fresh.get("/v1/bookings").await.status, 200);
}
