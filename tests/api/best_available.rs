//! docs/API.md §9, "Best available": `best_available` instead of `seats`
//! books N seats side by side in one row, within one block between aisles,
//! nearest the centre; a replay returns the same seats; no block: 409
//! `no-seats-together`, stored.

use crate::helpers::*;
use serde_json::{json, Value};

fn best(show: &str, count: u32) -> Value {
    json!({"show_id": show, "best_available": {"count": count}})
}

fn seats_of(answer: &Answer) -> Vec<String> {
    answer.json()["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

store_test!(the_best_seats_are_booked_and_replay_the_same);
async fn the_best_seats_are_booked_and_replay_the_same(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let show = client
        .create_show("Best", &[("A", 10), ("B", 10), ("C", 10)])
        .await;
    let guest = client.guest().await;

    let key = new_key();
    let first = guest.post("/v1/bookings", &key, best(&show, 2)).await;
    assert_json(&first, 201);
    assert_eq!(seats_of(&first), ["B5", "B6"]);
    assert_replay(
        &first,
        &guest.post("/v1/bookings", &key, best(&show, 2)).await,
        "best available",
    );
    // The next best: beside them, in the same row, stranding nothing.
    let second = guest.post("/v1/bookings", &new_key(), best(&show, 2)).await;
    assert_json(&second, 201);
    assert_eq!(seats_of(&second), ["B3", "B4"]);
    expect_map(
        &client,
        &show,
        &[
            ("B3", "booked"),
            ("B4", "booked"),
            ("B5", "booked"),
            ("B6", "booked"),
        ],
    )
    .await;

    // No eleven side by side: 409, stored with the key.
    let key = new_key();
    let none = guest.post("/v1/bookings", &key, best(&show, 11)).await;
    assert_eq!(
        none.status, 400,
        "more than max_seats_per_booking: {}",
        none.text
    );
    let key2 = new_key();
    let full = client.create_show("Small", &[("A", 3)]).await;
    let nothing = guest.post("/v1/bookings", &key2, best(&full, 4)).await;
    nothing.assert_problem(409, "no-seats-together");
    assert_replay(
        &nothing,
        &guest.post("/v1/bookings", &key2, best(&full, 4)).await,
        "a stored 409",
    );
}

store_test!(best_available_keeps_to_categories_aisles_and_accessible_seats);
async fn best_available_keeps_to_categories_aisles_and_accessible_seats(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let body = json!({
        "title": "Hall",
        "starts_at": "2030-01-01T20:00:00Z",
        "categories": [
            {"id": "standard", "name": "Standard", "price_cents": 1000},
            {"id": "premium", "name": "Premium", "price_cents": 1500}
        ],
        "rows": [
            {"label": "A", "seats": 8, "aisles_after": [4], "wheelchair": [4], "companion": [3]},
            {"label": "B", "seats": 8, "aisles_after": [4]},
            {"label": "C", "seats": 8, "category": "premium"}
        ]
    });
    let show = client
        .admin()
        .post("/v1/shows", &new_key(), body)
        .await
        .id();
    let guest = client.guest().await;
    let book = |body: Value| {
        let guest = guest.clone();
        async move { guest.post("/v1/bookings", &new_key(), body).await }
    };

    // Four in the middle row would cross its aisle: a half of it instead.
    let four = book(best(&show, 4)).await;
    assert_json(&four, 201);
    assert_eq!(seats_of(&four), ["B1", "B2", "B3", "B4"]);
    // Premium only.
    let premium = book(json!({"show_id": show,
        "best_available": {"count": 2, "category": "premium"}}))
    .await;
    assert_json(&premium, 201);
    assert!(seats_of(&premium).iter().all(|s| s.starts_with('C')));
    assert_eq!(premium.json()["total_cents"], 3000);
    // A wheelchair user and a companion: the wheelchair seat and its
    // companion, which ordinary requests never get.
    for _ in 0..2 {
        let ordinary = book(best(&show, 2)).await;
        assert_json(&ordinary, 201);
        let seats = seats_of(&ordinary);
        assert!(
            !seats.contains(&"A3".into()) && !seats.contains(&"A4".into()),
            "{seats:?}"
        );
    }
    let wheelchair = book(json!({"show_id": show,
        "best_available": {"count": 2, "accessibility": "wheelchair"}}))
    .await;
    assert_json(&wheelchair, 201);
    assert_eq!(seats_of(&wheelchair), ["A3", "A4"]);

    // What is not a best-available request.
    for (what, body) in [
        (
            "both",
            json!({"show_id": show, "seats": ["A1"], "best_available": {"count": 1}}),
        ),
        ("neither", json!({"show_id": show})),
        ("count 0", best(&show, 0)),
        (
            "an unknown category",
            json!({"show_id": show, "best_available": {"count": 1, "category": "vip"}}),
        ),
        (
            "an unknown need",
            json!({"show_id": show, "best_available": {"count": 1, "accessibility": "stairs"}}),
        ),
    ] {
        let answer = book(body).await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.text);
        answer.assert_problem(400, "invalid-request");
    }
}

store_test!(a_cart_holds_the_best_block_at_once);
async fn a_cart_holds_the_best_block_at_once(store: StoreKind) {
    let server = store.spawn_app_with(|s| s.max_holds_per_user = 4);
    let client = server.client();
    let show = client.create_show("Cart best", &[("A", 6), ("B", 6)]).await;
    let guest = client.guest().await;
    let cart = guest.new_cart().await;
    let path = format!("/v1/carts/{cart}/items");
    let body = |count: u32| json!({"show_id": show, "best_available": {"count": count}});

    let key = new_key();
    let held = guest.post(&path, &key, body(3)).await;
    let items: Vec<String> = assert_json(&held, 201)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["seat_id"].as_str().unwrap().to_string())
        .collect();
    // Two rows: the front one first in a tie. Its centred blocks (A2-A4,
    // A3-A5) would strand A1 or A6: A1-A3 instead (A4-A6 as near, right).
    assert_eq!(items, ["A1", "A2", "A3"]);
    assert_replay(
        &held,
        &guest.post(&path, &key, body(3)).await,
        "a cart's best",
    );
    expect_map(
        &client,
        &show,
        &[("A1", "held"), ("A2", "held"), ("A3", "held")],
    )
    .await;

    // Two more would pass the quota of four holds: stored 409, nothing held.
    let over = guest.post(&path, &new_key(), body(2)).await;
    over.assert_problem(409, "too-many-holds");
    expect_map(
        &client,
        &show,
        &[("A1", "held"), ("A2", "held"), ("A3", "held")],
    )
    .await;

    let checked_out = guest.checkout(&cart, &new_key()).await;
    assert_eq!(checked_out.status, 201, "{}", checked_out.text);
    guest
        .post(&path, &new_key(), body(1))
        .await
        .assert_problem(409, "cart-closed");
    // Both or neither.
    let both = json!({"show_id": show, "seat_id": "B1", "best_available": {"count": 1}});
    guest
        .post(
            &format!("/v1/carts/{}/items", guest.new_cart().await),
            &new_key(),
            both,
        )
        .await
        .assert_problem(400, "invalid-request");
}
