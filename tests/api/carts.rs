//! Carts: holds, releases, checkout.

use crate::helpers::*;
use chrono::Utc;
use serde_json::{json, Value};
use std::time::Duration;

store_test!(a_new_cart_is_open_and_empty);
async fn a_new_cart_is_open_and_empty(store: StoreKind) {
    let server = store.spawn_app();
    let guest = server.client().guest().await;
    let answer = guest.post("/v1/carts", &new_key(), json!({})).await;
    let created = assert_json(&answer, 201);
    assert_uuid(&created["id"]);
    let id = created["id"].clone();
    assert_eq!(
        created,
        json!({"id": id, "status": "open", "items": [], "expires_at": null,
               "total_cents": 0, "currency": null})
    );
    assert_eq!(guest.cart(id.as_str().unwrap()).await, created);
    // Another key is another cart.
    assert_ne!(guest.new_cart().await, id.as_str().unwrap());
}

store_test!(adding_an_item_holds_the_seat);
async fn adding_an_item_holds_the_seat(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let cart_id = guest.new_cart().await;
    let before = Utc::now();
    let answer = guest.hold(&cart_id, &new_key(), &show, "A1").await;
    let body = assert_json(&answer, 201);
    assert_eq!(body["id"], cart_id);
    assert_eq!(body["status"], "open");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["show_id"], show);
    assert_eq!(items[0]["seat_id"], "A1");
    assert_eq!(items[0]["status"], "held");
    let expires = utc(items[0]["expires_at"].as_str().unwrap());
    let ttl = chrono::Duration::seconds(600);
    assert!(
        expires >= before + ttl - chrono::Duration::seconds(2)
            && expires <= Utc::now() + ttl + chrono::Duration::seconds(2),
        "expires_at {expires} is not now + 600 s"
    );
    assert_eq!(body["expires_at"], items[0]["expires_at"]);
    assert_eq!(guest.cart(&cart_id).await, body);
    expect_map(&client, &show, &[("A1", "held")]).await;

    // The cart's expires_at is its earliest live hold's.
    let answer = guest.hold(&cart_id, &new_key(), &show, "A2").await;
    let body = assert_json(&answer, 201);
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    assert_eq!(body["expires_at"], items[0]["expires_at"]);
    expect_map(&client, &show, &[("A1", "held"), ("A2", "held")]).await;
}

store_test!(adding_a_seat_the_cart_holds_renews_nothing);
async fn adding_a_seat_the_cart_holds_renews_nothing(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let cart_id = guest.new_cart().await;
    let first = assert_json(&guest.hold(&cart_id, &new_key(), &show, "A1").await, 201);
    // Let the clock move so that a renewal would show in expires_at.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = guest.hold(&cart_id, &new_key(), &show, "A1").await;
    let second = assert_json(&again, 201);
    assert_not_replay(&again);
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        second["items"][0]["expires_at"],
        first["items"][0]["expires_at"]
    );
    assert_eq!(second["expires_at"], first["expires_at"]);
    assert_eq!(guest.cart(&cart_id).await, first);
    expect_map(&client, &show, &[("A1", "held")]).await;
}

store_test!(a_cart_holds_seats_of_one_show);
async fn a_cart_holds_seats_of_one_show(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let other_show = client.create_show("Other", &[("A", 5)]).await;
    let cart_id = guest.new_cart().await;
    let held = assert_json(&guest.hold(&cart_id, &new_key(), &show, "A1").await, 201);

    let key = new_key();
    guest
        .hold(&cart_id, &key, &other_show, "A1")
        .await
        .assert_problem(400, "invalid-request");
    expect_map(&client, &other_show, &[]).await;
    assert_eq!(guest.cart(&cart_id).await, held);

    // Not stored: the key may be used again for a seat of the cart's show.
    let fixed = guest.hold(&cart_id, &key, &show, "A2").await;
    assert_json(&fixed, 201);
    assert_not_replay(&fixed);
}

store_test!(a_held_seat_is_unavailable_to_other_carts_and_bookings);
async fn a_held_seat_is_unavailable_to_other_carts_and_bookings(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, holder) = show_and_guest(&server, 5).await;
    let other = client.guest().await;
    let cart_id = holder.new_cart().await;
    assert_json(&holder.hold(&cart_id, &new_key(), &show, "A1").await, 201);

    let other_cart = other.new_cart().await;
    let refused = other.hold(&other_cart, &new_key(), &show, "A1").await;
    refused.assert_problem(409, "seat-unavailable");
    assert_eq!(refused.json()["seats"], json!(["A1"]));
    assert_eq!(other.cart(&other_cart).await["items"], json!([]));

    // Another cart of the same user is "another cart" as well.
    let second_cart = holder.new_cart().await;
    holder
        .hold(&second_cart, &new_key(), &show, "A1")
        .await
        .assert_problem(409, "seat-unavailable");

    let refused = other.book(&new_key(), &show, &["A1"]).await;
    refused.assert_problem(409, "seat-unavailable");
    assert_eq!(refused.json()["seats"], json!(["A1"]));
    assert!(other.bookings().await.is_empty());

    // A booked seat cannot be held.
    other.book_new(&show, &["A2"]).await;
    holder
        .hold(&cart_id, &new_key(), &show, "A2")
        .await
        .assert_problem(409, "seat-unavailable");

    expect_map(&client, &show, &[("A1", "held"), ("A2", "booked")]).await;
    assert_eq!(
        holder.cart(&cart_id).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

store_test!(removing_an_item_releases_the_hold);
async fn removing_an_item_releases_the_hold(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let other = client.guest().await;
    let cart_id = guest.new_cart().await;
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A1").await, 201);
    let with_two = assert_json(&guest.hold(&cart_id, &new_key(), &show, "A2").await, 201);

    let removed = guest.release(&cart_id, &show, "A1").await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    let after = guest.cart(&cart_id).await;
    let items = after["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["seat_id"], "A2");
    assert_eq!(after["expires_at"], with_two["items"][1]["expires_at"]);
    expect_map(&client, &show, &[("A2", "held")]).await;

    // The released seat is anyone's again.
    other.book_new(&show, &["A1"]).await;

    assert_eq!(guest.release(&cart_id, &show, "A2").await.status, 204);
    let empty = guest.cart(&cart_id).await;
    assert_eq!(empty["items"], json!([]));
    assert_eq!(empty["expires_at"], Value::Null);
    expect_map(&client, &show, &[("A1", "booked")]).await;
}

store_test!(checkout_books_the_cart_and_closes_it);
async fn checkout_books_the_cart_and_closes_it(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let cart_id = guest.new_cart().await;
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A1").await, 201);
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A2").await, 201);

    let answer = guest.checkout(&cart_id, &new_key()).await;
    let booked = assert_json(&answer, 201);
    assert_uuid(&booked["id"]);
    assert_eq!(booked["show_id"], show);
    assert_eq!(seat_set(&booked["seats"]), set(&["A1", "A2"]));
    assert_eq!(booked["status"], "confirmed");
    utc(booked["created_at"].as_str().unwrap());

    let closed = guest.cart(&cart_id).await;
    assert_eq!(closed["status"], "checked_out");
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;
    let id = booked["id"].as_str().unwrap();
    assert_eq!(guest.booking(id).await, booked);
    assert_eq!(guest.bookings().await, vec![booked.clone()]);

    // Every change to a checked-out cart answers cart-closed.
    guest
        .hold(&cart_id, &new_key(), &show, "A3")
        .await
        .assert_problem(409, "cart-closed");
    guest
        .checkout(&cart_id, &new_key())
        .await
        .assert_problem(409, "cart-closed");
    guest
        .release(&cart_id, &show, "A1")
        .await
        .assert_problem(409, "cart-closed");
    assert_eq!(guest.cart(&cart_id).await, closed);
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;
    assert_eq!(guest.bookings().await.len(), 1);

    // A booking made by checkout cancels like any other.
    assert_eq!(
        guest.delete(&format!("/v1/bookings/{id}")).await.status,
        204
    );
    expect_map(&client, &show, &[]).await;
}

store_test!(a_checked_out_cart_reads_as_its_booking_stands);
/// A checked-out cart names its booking, and its items read `booked`, then
/// `cancelled` once that booking is cancelled (docs/API.md §7, "Cart"), so the cart
/// never says `held` of a seat the map shows available.
async fn a_checked_out_cart_reads_as_its_booking_stands(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let cart_id = guest.new_cart().await;
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A1").await, 201);
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A2").await, 201);
    let open = guest.cart(&cart_id).await;
    assert!(open.get("booking_id").is_none(), "an open cart: {open}");
    let booked = assert_json(&guest.checkout(&cart_id, &new_key()).await, 201);
    let id = booked["id"].as_str().unwrap();

    let item_statuses = |cart: &Value| -> Vec<String> {
        let items = cart["items"].as_array().expect("items");
        items
            .iter()
            .map(|i| i["status"].as_str().unwrap().to_string())
            .collect()
    };
    let closed = guest.cart(&cart_id).await;
    assert_eq!(closed["status"], "checked_out");
    assert_eq!(closed["booking_id"], id);
    assert_eq!(closed["expires_at"], Value::Null);
    assert_eq!(item_statuses(&closed), ["booked", "booked"]);

    assert_eq!(
        guest.delete(&format!("/v1/bookings/{id}")).await.status,
        204
    );
    expect_map(&client, &show, &[]).await;
    let after = guest.cart(&cart_id).await;
    assert_eq!(after["status"], "checked_out");
    assert_eq!(after["booking_id"], id);
    assert_eq!(item_statuses(&after), ["cancelled", "cancelled"]);
}

store_test!(checkout_of_an_empty_cart_is_400);
async fn checkout_of_an_empty_cart_is_400(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let cart_id = guest.new_cart().await;
    let key = new_key();
    guest
        .checkout(&cart_id, &key)
        .await
        .assert_problem(400, "invalid-request");
    let still = guest.cart(&cart_id).await;
    assert_eq!(still["status"], "open");
    assert!(guest.bookings().await.is_empty());

    // Also once its only item was removed.
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A1").await, 201);
    assert_eq!(guest.release(&cart_id, &show, "A1").await.status, 204);
    guest
        .checkout(&cart_id, &new_key())
        .await
        .assert_problem(400, "invalid-request");
    expect_map(&client, &show, &[]).await;

    // Not stored: the same key checks out once the cart has a seat.
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A2").await, 201);
    let done = guest.checkout(&cart_id, &key).await;
    assert_json(&done, 201);
    assert_not_replay(&done);
}

store_test!(invalid_cart_requests_are_400);
async fn invalid_cart_requests_are_400(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let cart_id = guest.new_cart().await;
    let items = format!("/v1/carts/{cart_id}/items");
    for (what, path, body) in [
        (
            "bad seat id",
            items.as_str(),
            json!({"show_id": show, "seat_id": "a1"}).to_string(),
        ),
        (
            "unknown field",
            items.as_str(),
            json!({"show_id": show, "seat_id": "A1", "qty": 2}).to_string(),
        ),
        (
            "missing seat_id",
            items.as_str(),
            json!({"show_id": show}).to_string(),
        ),
        (
            "seat_id of wrong type",
            items.as_str(),
            json!({"show_id": show, "seat_id": 1}).to_string(),
        ),
        ("malformed", items.as_str(), "{".to_string()),
        (
            "checkout with a field",
            &format!("/v1/carts/{cart_id}/checkout"),
            json!({"pay": true}).to_string(),
        ),
        (
            "cart with a field",
            "/v1/carts",
            json!({"show_id": show}).to_string(),
        ),
    ] {
        let answer = guest
            .send("POST", path, Some(&new_key()), Some(&body))
            .await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.text);
        answer.assert_problem(400, "invalid-request");
    }
    // Unknown show or seat: 404.
    guest
        .hold(
            &cart_id,
            &new_key(),
            &uuid::Uuid::new_v4().to_string(),
            "A1",
        )
        .await
        .assert_problem(404, "not-found");
    guest
        .hold(&cart_id, &new_key(), &show, "A6")
        .await
        .assert_problem(404, "not-found");

    let unchanged = guest.cart(&cart_id).await;
    assert_eq!(unchanged["items"], json!([]));
    assert_eq!(unchanged["status"], "open");
    expect_map(&client, &show, &[]).await;
}

store_test!(carts_belong_to_their_user_and_unknown_carts_are_404);
async fn carts_belong_to_their_user_and_unknown_carts_are_404(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, owner) = show_and_guest(&server, 5).await;
    let other = client.guest().await;
    let cart_id = owner.new_cart().await;
    let held = assert_json(&owner.hold(&cart_id, &new_key(), &show, "A1").await, 201);

    for who in [&other, &client.admin()] {
        who.get(&format!("/v1/carts/{cart_id}"))
            .await
            .assert_problem(404, "not-found");
        who.hold(&cart_id, &new_key(), &show, "A2")
            .await
            .assert_problem(404, "not-found");
        who.checkout(&cart_id, &new_key())
            .await
            .assert_problem(404, "not-found");
        who.release(&cart_id, &show, "A1")
            .await
            .assert_problem(404, "not-found");
    }
    assert_eq!(owner.cart(&cart_id).await, held);
    expect_map(&client, &show, &[("A1", "held")]).await;
    assert!(other.bookings().await.is_empty());

    let unknown = uuid::Uuid::new_v4().to_string();
    for id in [unknown.as_str(), "not-a-uuid"] {
        owner
            .get(&format!("/v1/carts/{id}"))
            .await
            .assert_problem(404, "not-found");
        owner
            .hold(id, &new_key(), &show, "A2")
            .await
            .assert_problem(404, "not-found");
        owner
            .checkout(id, &new_key())
            .await
            .assert_problem(404, "not-found");
        owner
            .release(id, &show, "A1")
            .await
            .assert_problem(404, "not-found");
    }
    expect_map(&client, &show, &[("A1", "held")]).await;
}
