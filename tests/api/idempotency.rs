//! Idempotency keys: replays, reuse, scope, what is and is not stored.

use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

store_test!(every_keyed_post_without_a_key_is_400_and_changes_nothing);
async fn every_keyed_post_without_a_key_is_400_and_changes_nothing(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let cart_id = guest.new_cart().await;

    let admin = client.admin();
    let requests: Vec<(&Client, String, Value)> = vec![
        (&admin, "/v1/shows".into(), show_body(&[("A", 2)])),
        (&guest, "/v1/bookings".into(), booking_body(&show, &["A1"])),
        (&guest, "/v1/carts".into(), json!({})),
        (
            &guest,
            format!("/v1/carts/{cart_id}/items"),
            json!({"show_id": show, "seat_id": "A2"}),
        ),
        (&guest, format!("/v1/carts/{cart_id}/checkout"), json!({})),
    ];
    for (who, path, body) in requests {
        let answer = who.send("POST", &path, None, Some(&body.to_string())).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.text);
        answer.assert_problem(400, "idempotency-key-missing");
    }

    assert_eq!(client.shows().await.len(), 1);
    assert!(guest.bookings().await.is_empty());
    expect_map(&client, &show, &[]).await;
    let cart = guest.cart(&cart_id).await;
    assert_eq!(cart["status"], "open");
    assert_eq!(cart["items"], json!([]));
}

store_test!(invalid_keys_are_400_and_change_nothing);
async fn invalid_keys_are_400_and_change_nothing(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let body = booking_body(&show, &["A1"]).to_string();
    let long = "a".repeat(256);
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("256 characters", long.into_bytes()),
        ("non-ASCII", "cl\u{e9}-\u{1f39f}".as_bytes().to_vec()),
        ("control character (tab) inside", b"ab\tcd".to_vec()),
        ("empty quoted string", b"\"\"".to_vec()),
        (
            "quoted, 256 characters",
            format!("\"{}\"", "b".repeat(256)).into_bytes(),
        ),
    ];
    for (what, key) in &bad {
        let answer = guest
            .send_raw("POST", "/v1/bookings", Some(key), Some(body.clone().into()))
            .await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.text);
        answer.assert_problem(400, "idempotency-key-invalid");
    }
    assert!(guest.bookings().await.is_empty());
    expect_map(&client, &show, &[]).await;

    // 255 printable ASCII characters are a fine key, and replay.
    let longest = "k".repeat(255);
    let first = guest.book(&longest, &show, &["A1"]).await;
    assert_json(&first, 201);
    let again = guest.book(&longest, &show, &["A1"]).await;
    assert_replay(&first, &again, "a 255-character key");
    // So is any printable ASCII, spaces and punctuation included.
    let odd = "k!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ 9";
    let first = guest.book(odd, &show, &["A2"]).await;
    assert_json(&first, 201);
    assert_replay(&first, &guest.book(odd, &show, &["A2"]).await, "booking");
    assert_eq!(guest.bookings().await.len(), 2);
}

store_test!(bare_and_quoted_keys_name_the_same_key);
async fn bare_and_quoted_keys_name_the_same_key(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let body = || {
        Some(reqwest::Body::from(
            booking_body(&show, &["A1"]).to_string(),
        ))
    };

    let key = new_key();
    let bare = guest
        .send_raw("POST", "/v1/bookings", Some(key.as_bytes()), body())
        .await;
    assert_json(&bare, 201);
    let quoted = format!("\"{key}\"");
    let again = guest
        .send_raw("POST", "/v1/bookings", Some(quoted.as_bytes()), body())
        .await;
    assert_replay(&bare, &again, "the key quoted");

    // The other way round, with an escaped quote: "a\"b" names a"b.
    let body2 = || {
        Some(reqwest::Body::from(
            booking_body(&show, &["A2"]).to_string(),
        ))
    };
    let first = guest
        .send_raw(
            "POST",
            "/v1/bookings",
            Some(br#""key-\"quoted\"-1""#),
            body2(),
        )
        .await;
    assert_json(&first, 201);
    let again = guest
        .send_raw("POST", "/v1/bookings", Some(br#"key-"quoted"-1"#), body2())
        .await;
    assert_replay(&first, &again, "the key bare");

    assert_eq!(guest.bookings().await.len(), 2);
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;
}

store_test!(a_replay_is_byte_for_byte_and_does_nothing_again);
async fn a_replay_is_byte_for_byte_and_does_nothing_again(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let key = new_key();
    let first = guest.book(&key, &show, &["A1", "A2"]).await;
    let created = assert_json(&first, 201);
    assert_not_replay(&first);

    for _ in 0..3 {
        let again = guest.book(&key, &show, &["A1", "A2"]).await;
        assert_replay(&first, &again, "booking");
        assert_eq!(
            again.header("content-type").as_deref(),
            Some("application/json")
        );
    }
    assert_eq!(guest.bookings().await.len(), 1);
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;

    // Even after the booking is cancelled, a replay books nothing.
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        guest.delete(&format!("/v1/bookings/{id}")).await.status,
        204
    );
    let again = guest.book(&key, &show, &["A1", "A2"]).await;
    assert_replay(&first, &again, "booking after its cancel");
    expect_map(&client, &show, &[]).await;
    let mine = guest.bookings().await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["status"], "cancelled");
}

store_test!(repeats_of_several_keys_of_one_cart_each_replay_their_own_answer);
/// One cart's actor keeps the replays of the keys it found completed (so a
/// retry storm is answered without the store): each key keeps its own,
/// and a replay kept there is the same bytes as the first answer, also
/// once the hold it answers is released.
async fn repeats_of_several_keys_of_one_cart_each_replay_their_own_answer(store: StoreKind) {
    let server = store.spawn_app();
    let (_client, show, guest) = show_and_guest(&server, 5).await;
    let cart = guest.new_cart().await;
    let seats = ["A1", "A2", "A3"];
    let keys: Vec<String> = seats.iter().map(|_| new_key()).collect();
    let mut firsts = Vec::new();
    for (key, seat) in keys.iter().zip(seats) {
        let first = guest.hold(&cart, key, &show, seat).await;
        assert_eq!(first.status, 201, "{}", first.text);
        firsts.push(first);
    }
    // Repeats in turns: each key is looked up, then kept, then replayed
    // from what the actor kept, with the other keys' repeats in between.
    for round in 0..3 {
        for ((key, seat), first) in keys.iter().zip(seats).zip(&firsts) {
            let again = guest.hold(&cart, key, &show, seat).await;
            assert_replay(first, &again, &format!("hold of {seat}, round {round}"));
        }
    }
    let released = guest
        .delete(&format!("/v1/carts/{cart}/items/{show}/{}", seats[0]))
        .await;
    assert_eq!(released.status, 204, "{}", released.text);
    let again = guest.hold(&cart, &keys[0], &show, seats[0]).await;
    assert_replay(&firsts[0], &again, "hold of A1 after its release");
    // Another request under a kept key is still refused.
    guest
        .hold(&cart, &keys[1], &show, "A4")
        .await
        .assert_problem(422, "idempotency-key-reused");
}

store_test!(a_json_equal_body_replays);
async fn a_json_equal_body_replays(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let key = new_key();
    let compact = format!(r#"{{"show_id":"{show}","seats":["A1","A2"]}}"#);
    let reordered =
        format!("{{\n  \"seats\" : [ \"A1\", \"A2\" ],\n  \"show_id\" : \"{show}\"\n}}");
    let first = guest
        .send("POST", "/v1/bookings", Some(&key), Some(&compact))
        .await;
    assert_json(&first, 201);
    let again = guest
        .send("POST", "/v1/bookings", Some(&key), Some(&reordered))
        .await;
    assert_replay(&first, &again, "a JSON-equal body");

    // Array order is part of JSON equality: another seat order is another body.
    let swapped = format!(r#"{{"show_id":"{show}","seats":["A2","A1"]}}"#);
    guest
        .send("POST", "/v1/bookings", Some(&key), Some(&swapped))
        .await
        .assert_problem(422, "idempotency-key-reused");
    assert_eq!(guest.bookings().await.len(), 1);
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;
}

store_test!(the_same_key_with_another_body_is_422_and_changes_nothing);
async fn the_same_key_with_another_body_is_422_and_changes_nothing(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let other_show = client.create_show("Other", &[("A", 5)]).await;
    let key = new_key();
    let first = guest.book(&key, &show, &["A1"]).await;
    assert_json(&first, 201);

    guest
        .book(&key, &show, &["A2"])
        .await
        .assert_problem(422, "idempotency-key-reused");
    guest
        .book(&key, &other_show, &["A1"])
        .await
        .assert_problem(422, "idempotency-key-reused");

    assert_eq!(guest.bookings().await.len(), 1);
    expect_map(&client, &show, &[("A1", "booked")]).await;
    expect_map(&client, &other_show, &[]).await;
    // The key still replays its own request.
    assert_replay(&first, &guest.book(&key, &show, &["A1"]).await, "booking");
}

store_test!(the_same_key_on_another_path_is_422_and_changes_nothing);
async fn the_same_key_on_another_path_is_422_and_changes_nothing(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;

    // A cart's key used for a booking.
    let key = new_key();
    let cart_id = assert_json(&guest.post("/v1/carts", &key, json!({})).await, 201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    guest
        .book(&key, &show, &["A1"])
        .await
        .assert_problem(422, "idempotency-key-reused");
    assert!(guest.bookings().await.is_empty());
    expect_map(&client, &show, &[]).await;

    // A booking's key used for a cart, an item and a checkout.
    let key = new_key();
    assert_json(&guest.book(&key, &show, &["A2"]).await, 201);
    guest
        .post("/v1/carts", &key, json!({}))
        .await
        .assert_problem(422, "idempotency-key-reused");
    guest
        .hold(&cart_id, &key, &show, "A3")
        .await
        .assert_problem(422, "idempotency-key-reused");
    guest
        .checkout(&cart_id, &key)
        .await
        .assert_problem(422, "idempotency-key-reused");

    // An item's key used on another cart with the same body.
    let other_cart = guest.new_cart().await;
    let key = new_key();
    assert_json(&guest.hold(&cart_id, &key, &show, "A4").await, 201);
    guest
        .hold(&other_cart, &key, &show, "A4")
        .await
        .assert_problem(422, "idempotency-key-reused");

    assert_eq!(guest.cart(&other_cart).await["items"], json!([]));
    let items = guest.cart(&cart_id).await["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1);
    assert_eq!(items[0]["seat_id"], "A4");
    assert_eq!(guest.bookings().await.len(), 1);
    expect_map(&client, &show, &[("A2", "booked"), ("A4", "held")]).await;
}

store_test!(keys_are_scoped_to_their_user);
async fn keys_are_scoped_to_their_user(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let shared = "shared-key-1";
    // The admin is one user too.
    let created = client
        .admin()
        .post("/v1/shows", shared, show_body(&[("A", 5)]))
        .await;
    let show = assert_json(&created, 201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let one = client.guest().await;
    let two = client.guest().await;
    let three = client.guest().await;

    let first = one.book(shared, &show, &["A1"]).await;
    let first_body = assert_json(&first, 201);
    assert_not_replay(&first);
    let second = two.book(shared, &show, &["A2"]).await;
    let second_body = assert_json(&second, 201);
    assert_not_replay(&second);
    assert_ne!(first_body["id"], second_body["id"]);

    // The same key and body from a third user runs for that user: it does
    // not replay the first user's booking.
    let third = three.book(shared, &show, &["A1"]).await;
    third.assert_problem(409, "seat-unavailable");
    assert_not_replay(&third);

    assert_eq!(one.bookings().await.len(), 1);
    assert_eq!(two.bookings().await.len(), 1);
    assert!(three.bookings().await.is_empty());
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;
}

store_test!(a_stored_seat_unavailable_replays_after_the_seat_frees);
async fn a_stored_seat_unavailable_replays_after_the_seat_frees(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, holder) = show_and_guest(&server, 5).await;
    let other = client.guest().await;
    let blocking = holder.book_new(&show, &["A1"]).await;

    let key = new_key();
    let refused = other.book(&key, &show, &["A1"]).await;
    refused.assert_problem(409, "seat-unavailable");
    assert_eq!(refused.json()["seats"], json!(["A1"]));

    let id = blocking["id"].as_str().unwrap();
    assert_eq!(
        holder.delete(&format!("/v1/bookings/{id}")).await.status,
        204
    );
    expect_map(&client, &show, &[]).await;

    let again = other.book(&key, &show, &["A1"]).await;
    assert_replay(&refused, &again, "a stored seat-unavailable");
    again.assert_problem(409, "seat-unavailable");
    expect_map(&client, &show, &[]).await;
    assert!(other.bookings().await.is_empty());

    // A new key is a new attempt.
    other.book_new(&show, &["A1"]).await;
}

store_test!(not_found_outcomes_are_stored_and_replayed);
async fn not_found_outcomes_are_stored_and_replayed(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;

    let unknown_show = uuid::Uuid::new_v4().to_string();
    let key = new_key();
    let first = guest.book(&key, &unknown_show, &["A1"]).await;
    first.assert_problem(404, "not-found");
    assert_not_replay(&first);
    assert_replay(
        &first,
        &guest.book(&key, &unknown_show, &["A1"]).await,
        "booking",
    );

    let key = new_key();
    let first = guest.book(&key, &show, &["A1", "Z9"]).await;
    first.assert_problem(404, "not-found");
    assert_replay(
        &first,
        &guest.book(&key, &show, &["A1", "Z9"]).await,
        "booking",
    );

    let unknown_cart = uuid::Uuid::new_v4().to_string();
    let key = new_key();
    let first = guest.hold(&unknown_cart, &key, &show, "A1").await;
    first.assert_problem(404, "not-found");
    assert_replay(
        &first,
        &guest.hold(&unknown_cart, &key, &show, "A1").await,
        "hold",
    );
    let key = new_key();
    let first = guest.checkout(&unknown_cart, &key).await;
    first.assert_problem(404, "not-found");
    assert_replay(
        &first,
        &guest.checkout(&unknown_cart, &key).await,
        "checkout",
    );

    assert!(guest.bookings().await.is_empty());
    expect_map(&client, &show, &[]).await;
}

store_test!(a_404_for_a_malformed_cart_id_is_stored_with_its_key);
/// A cart id that is not an id at all names no cart any actor could own;
/// its 404 is still a business outcome stored with the key: the same
/// request replays it, and the key on another request is 422.
async fn a_404_for_a_malformed_cart_id_is_stored_with_its_key(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    for cart in ["not-a-uuid", "00000000-0000-0000-0000-00000000000g"] {
        let key = new_key();
        let first = guest.hold(cart, &key, &show, "A1").await;
        first.assert_problem(404, "not-found");
        assert_not_replay(&first);
        assert_replay(&first, &guest.hold(cart, &key, &show, "A1").await, "hold");
        guest
            .hold(cart, &key, &show, "A2")
            .await
            .assert_problem(422, "idempotency-key-reused");
        guest
            .book(&key, &show, &["A1"])
            .await
            .assert_problem(422, "idempotency-key-reused");

        let key = new_key();
        let first = guest.checkout(cart, &key).await;
        first.assert_problem(404, "not-found");
        assert_replay(&first, &guest.checkout(cart, &key).await, "checkout");
        guest
            .book(&key, &show, &["A1"])
            .await
            .assert_problem(422, "idempotency-key-reused");
    }
    assert!(guest.bookings().await.is_empty());
    expect_map(&client, &show, &[]).await;
}

store_test!(validation_errors_are_not_stored);
async fn validation_errors_are_not_stored(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let key = new_key();
    guest
        .book(&key, &show, &[])
        .await
        .assert_problem(400, "invalid-request");
    guest
        .send("POST", "/v1/bookings", Some(&key), Some("{not json"))
        .await
        .assert_problem(400, "invalid-request");
    let fixed = guest.book(&key, &show, &["A1"]).await;
    assert_json(&fixed, 201);
    assert_not_replay(&fixed);
    assert_replay(&fixed, &guest.book(&key, &show, &["A1"]).await, "booking");
    expect_map(&client, &show, &[("A1", "booked")]).await;
}

store_test!(payload_too_large_is_not_stored);
async fn payload_too_large_is_not_stored(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let key = new_key();
    let huge = json!({"show_id": show, "seats": ["A1"], "pad": "x".repeat(70_000)}).to_string();
    guest
        .send("POST", "/v1/bookings", Some(&key), Some(&huge))
        .await
        .assert_problem(413, "payload-too-large");
    expect_map(&client, &show, &[]).await;
    let fixed = guest.book(&key, &show, &["A1"]).await;
    assert_json(&fixed, 201);
    assert_not_replay(&fixed);
}

store_test!(
    concurrent_requests_with_one_key_have_one_effect,
    flavor = "multi_thread",
    worker_threads = 4
);
async fn concurrent_requests_with_one_key_have_one_effect(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let key = new_key();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (guest, show, key, barrier) =
                (guest.clone(), show.clone(), key.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                guest.book(&key, &show, &["A1", "A2"]).await
            })
        })
        .collect();
    let mut created = BTreeSet::new();
    for task in tasks {
        let answer = task.await.unwrap();
        match answer.status {
            201 => {
                created.insert(answer.text.clone());
            }
            409 => {
                answer.assert_problem(409, "request-in-progress");
                assert!(answer.header("retry-after").is_some());
            }
            other => panic!("unexpected {other}: {}", answer.text),
        }
    }
    assert_eq!(created.len(), 1, "every 201 is the same response");
    assert_eq!(guest.bookings().await.len(), 1);
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;
}

store_test!(cart_operations_replay);
async fn cart_operations_replay(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;

    let key = new_key();
    let created = guest.post("/v1/carts", &key, json!({})).await;
    let cart_id = assert_json(&created, 201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_replay(
        &created,
        &guest.post("/v1/carts", &key, json!({})).await,
        "new cart",
    );

    let key = new_key();
    let added = guest.hold(&cart_id, &key, &show, "A1").await;
    assert_json(&added, 201);
    assert_replay(
        &added,
        &guest.hold(&cart_id, &key, &show, "A1").await,
        "hold",
    );
    assert_eq!(
        guest.cart(&cart_id).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let key = new_key();
    let done = guest.checkout(&cart_id, &key).await;
    assert_json(&done, 201);
    assert_replay(&done, &guest.checkout(&cart_id, &key).await, "checkout");
    assert_eq!(guest.bookings().await.len(), 1);
    expect_map(&client, &show, &[("A1", "booked")]).await;

    // A stored cart-closed replays too.
    let key = new_key();
    let closed = guest.hold(&cart_id, &key, &show, "A2").await;
    closed.assert_problem(409, "cart-closed");
    assert_replay(
        &closed,
        &guest.hold(&cart_id, &key, &show, "A2").await,
        "hold",
    );
}
