//! One-shot bookings and cancels.

use crate::helpers::*;
use chrono::Utc;
use serde_json::json;

store_test!(invalid_bookings_are_400_and_change_nothing);
async fn invalid_bookings_are_400_and_change_nothing(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 20).await;
    let eleven: Vec<String> = (1..=11).map(|n| format!("A{n}")).collect();
    let bodies: Vec<(&str, String)> = vec![
        (
            "malformed JSON",
            format!(r#"{{"show_id": "{show}", "seats": ["A1""#),
        ),
        ("not an object", r#"["A1"]"#.to_string()),
        ("null", "null".to_string()),
        ("empty body", String::new()),
        (
            "unknown field",
            json!({"show_id": show, "seats": ["A1"], "note": "aisle"}).to_string(),
        ),
        (
            "seats of wrong type",
            json!({"show_id": show, "seats": "A1"}).to_string(),
        ),
        (
            "seat of wrong type",
            json!({"show_id": show, "seats": [1]}).to_string(),
        ),
        (
            "show_id of wrong type",
            json!({"show_id": 5, "seats": ["A1"]}).to_string(),
        ),
        ("missing seats", json!({"show_id": show}).to_string()),
        ("missing show_id", json!({"seats": ["A1"]}).to_string()),
        ("empty seats", booking_body(&show, &[]).to_string()),
        (
            "repeated seats",
            booking_body(&show, &["A1", "A2", "A1"]).to_string(),
        ),
        (
            "more than 10 seats",
            json!({"show_id": show, "seats": eleven}).to_string(),
        ),
        (
            "lower-case seat id",
            booking_body(&show, &["a1"]).to_string(),
        ),
        ("leading zero", booking_body(&show, &["A01"]).to_string()),
        ("no number", booking_body(&show, &["A"]).to_string()),
        ("no row", booking_body(&show, &["1"]).to_string()),
        ("number first", booking_body(&show, &["1A"]).to_string()),
        ("seat number 0", booking_body(&show, &["A0"]).to_string()),
        (
            "four-letter row",
            booking_body(&show, &["ABCD1"]).to_string(),
        ),
        ("inner space", booking_body(&show, &["A 1"]).to_string()),
    ];
    for (what, body) in &bodies {
        let answer = guest
            .send("POST", "/v1/bookings", Some(&new_key()), Some(body))
            .await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.text);
        answer.assert_problem(400, "invalid-request");
    }
    assert!(guest.bookings().await.is_empty());
    expect_map(&client, &show, &[]).await;
    expect_available(&client, &show, 20).await;
}

store_test!(max_seats_per_booking_is_configurable);
async fn max_seats_per_booking_is_configurable(store: StoreKind) {
    let server = store.spawn_app_with(|s| s.max_seats_per_booking = 3);
    let (client, show, guest) = show_and_guest(&server, 5).await;
    guest
        .book(&new_key(), &show, &["A1", "A2", "A3", "A4"])
        .await
        .assert_problem(400, "invalid-request");
    expect_map(&client, &show, &[]).await;
    assert_json(
        &guest.book(&new_key(), &show, &["A1", "A2", "A3"]).await,
        201,
    );
}

store_test!(a_booking_is_created_with_the_contract_shape);
async fn a_booking_is_created_with_the_contract_shape(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 12).await;
    let ten = ["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9", "A10"];
    let before = Utc::now();
    let answer = guest.book(&new_key(), &show, &ten).await;
    let after = Utc::now();
    let created = assert_json(&answer, 201);
    assert_uuid(&created["id"]);
    assert_eq!(created["show_id"], show);
    assert_eq!(seat_set(&created["seats"]), set(&ten));
    assert_eq!(created["status"], "confirmed");
    let at = utc(created["created_at"].as_str().unwrap());
    assert!(
        at >= before - chrono::Duration::seconds(1) && at <= after + chrono::Duration::seconds(1),
        "created_at {at} is not now"
    );

    let id = created["id"].as_str().unwrap();
    assert_eq!(guest.booking(id).await, created);
    assert_eq!(guest.bookings().await, vec![created.clone()]);

    let changes: Vec<(&str, &str)> = ten.iter().map(|s| (*s, "booked")).collect();
    expect_map(&client, &show, &changes).await;
}

store_test!(a_booking_is_all_or_nothing);
async fn a_booking_is_all_or_nothing(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, first) = show_and_guest(&server, 5).await;
    let second = client.guest().await;
    first.book_new(&show, &["A2"]).await;

    let refused = second.book(&new_key(), &show, &["A1", "A2", "A3"]).await;
    refused.assert_problem(409, "seat-unavailable");
    assert_eq!(refused.json()["seats"], json!(["A2"]));
    assert!(refused.json()["detail"].as_str().unwrap().contains("A2"));
    expect_map(&client, &show, &[("A2", "booked")]).await;
    assert!(second.bookings().await.is_empty());

    // A seat held by a cart counts as taken too; every taken seat is named.
    let cart_id = first.new_cart().await;
    assert_json(&first.hold(&cart_id, &new_key(), &show, "A4").await, 201);
    let refused = second
        .book(&new_key(), &show, &["A1", "A2", "A4", "A5"])
        .await;
    refused.assert_problem(409, "seat-unavailable");
    assert_eq!(seat_set(&refused.json()["seats"]), set(&["A2", "A4"]));
    expect_map(&client, &show, &[("A2", "booked"), ("A4", "held")]).await;

    // The seats that were free are still free for anyone.
    assert_json(
        &second.book(&new_key(), &show, &["A1", "A3", "A5"]).await,
        201,
    );
    expect_map(
        &client,
        &show,
        &[
            ("A1", "booked"),
            ("A2", "booked"),
            ("A3", "booked"),
            ("A4", "held"),
            ("A5", "booked"),
        ],
    )
    .await;
}

store_test!(booking_a_seat_the_show_lacks_is_404);
async fn booking_a_seat_the_show_lacks_is_404(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    for seats in [&["A1", "A6"][..], &["B1"][..], &["A999"][..]] {
        guest
            .book(&new_key(), &show, seats)
            .await
            .assert_problem(404, "not-found");
    }
    expect_map(&client, &show, &[]).await;
    assert!(guest.bookings().await.is_empty());
}

store_test!(bookings_belong_to_their_user);
async fn bookings_belong_to_their_user(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, owner) = show_and_guest(&server, 5).await;
    let other = client.guest().await;
    let created = owner.book_new(&show, &["A1"]).await;
    let id = created["id"].as_str().unwrap();

    other
        .get(&format!("/v1/bookings/{id}"))
        .await
        .assert_problem(404, "not-found");
    other
        .delete(&format!("/v1/bookings/{id}"))
        .await
        .assert_problem(404, "not-found");
    // The box office reads and cancels anyone's booking by its id
    // (box_office.rs), but lists only its own as a user.
    for who in [&other, &client.admin()] {
        assert!(
            who.bookings().await.is_empty(),
            "another user's booking listed"
        );
    }
    assert_eq!(owner.booking(id).await, created);
    expect_map(&client, &show, &[("A1", "booked")]).await;

    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/v1/bookings/{unknown}"),
        "/v1/bookings/not-a-uuid".to_string(),
    ] {
        owner.get(&path).await.assert_problem(404, "not-found");
        owner.delete(&path).await.assert_problem(404, "not-found");
    }
}

store_test!(cancelling_frees_the_seats_and_a_repeat_changes_nothing);
async fn cancelling_frees_the_seats_and_a_repeat_changes_nothing(store: StoreKind) {
    let server = store.spawn_app();
    let (client, show, owner) = show_and_guest(&server, 5).await;
    let other = client.guest().await;
    let created = owner.book_new(&show, &["A1", "A2"]).await;
    let id = created["id"].as_str().unwrap();
    expect_available(&client, &show, 3).await;

    let cancelled = owner.delete(&format!("/v1/bookings/{id}")).await;
    assert_eq!(cancelled.status, 204, "{}", cancelled.text);
    assert!(cancelled.text.is_empty());

    let after = owner.booking(id).await;
    assert_eq!(after["status"], "cancelled");
    for field in ["id", "show_id", "seats", "created_at"] {
        assert_eq!(after[field], created[field], "{field} changed on cancel");
    }
    assert_eq!(owner.bookings().await, vec![after.clone()]);
    expect_map(&client, &show, &[]).await;
    expect_available(&client, &show, 5).await;

    // Someone else books A1; a repeated DELETE must not free it.
    let theirs = other.book_new(&show, &["A1"]).await;
    let again = owner.delete(&format!("/v1/bookings/{id}")).await;
    assert_eq!(again.status, 204, "{}", again.text);
    assert_eq!(owner.booking(id).await, after);
    expect_map(&client, &show, &[("A1", "booked")]).await;
    assert_eq!(
        other.booking(theirs["id"].as_str().unwrap()).await["status"],
        "confirmed"
    );
}

store_test!(
    an_acknowledged_change_shows_in_the_seat_map_at_once,
    flavor = "multi_thread",
    worker_threads = 4
);
async fn an_acknowledged_change_shows_in_the_seat_map_at_once(store: StoreKind) {
    // Read your writes: once the server answered a booking, a hold, a
    // cancel or a release, the public seat map says so. Four users work on
    // their own rows at once; each checks its own changes.
    let server = store.spawn_app();
    let client = server.client();
    let rows = [("A", 50), ("B", 50), ("C", 50), ("D", 50)];
    let show = client.create_show("Read your writes", &rows).await;
    let mut tasks = Vec::new();
    for (row, seats) in rows {
        let (client, show) = (client.clone(), show.clone());
        let guest = client.guest().await;
        tasks.push(tokio::spawn(async move {
            let cart_id = guest.new_cart().await;
            let mut stale = Vec::new();
            for n in 1..=seats {
                let seat = format!("{row}{n}");
                let answer = guest.book(&new_key(), &show, &[seat.as_str()]).await;
                let id = assert_json(&answer, 201)["id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let status = client.seat_map(&show).await[&seat].clone();
                if status != "booked" {
                    stale.push(format!("{seat} {status} after 201 booking"));
                }
                assert_eq!(
                    guest.delete(&format!("/v1/bookings/{id}")).await.status,
                    204
                );
                let status = client.seat_map(&show).await[&seat].clone();
                if status != "available" {
                    stale.push(format!("{seat} {status} after 204 cancel"));
                }
                if n <= 10 {
                    let added = guest.hold(&cart_id, &new_key(), &show, &seat).await;
                    assert_json(&added, 201);
                    let status = client.seat_map(&show).await[&seat].clone();
                    if status != "held" {
                        stale.push(format!("{seat} {status} after 201 hold"));
                    }
                    let removed = guest.release(&cart_id, &show, &seat).await;
                    assert_eq!(removed.status, 204);
                    let status = client.seat_map(&show).await[&seat].clone();
                    if status != "available" {
                        stale.push(format!("{seat} {status} after 204 release"));
                    }
                }
            }
            stale
        }));
    }
    let mut stale = Vec::new();
    for task in tasks {
        stale.extend(task.await.unwrap());
    }
    assert!(stale.is_empty(), "{} stale reads: {stale:?}", stale.len());
}
