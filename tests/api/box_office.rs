//! Running a box office (docs/API.md, "Running a box office"): house seats,
//! sales figures, a show's bookings for staff, cancels on behalf, and the
//! end of sales, on both stores. The races of blocks and bookings are in
//! `races/blocks.rs`; a cluster's in `cluster_box_office.rs`.

use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

fn block_path(show: &str) -> String {
    format!("/v1/shows/{show}/blocks")
}

/// A show of two rows of six: row A standard (1000), row B premium (1500).
async fn priced_show(client: &Client) -> String {
    let body = json!({
        "title": "Box office",
        "starts_at": STARTS_AT,
        "currency": "EUR",
        "categories": [
            {"id": "standard", "name": "Standard", "price_cents": 1000},
            {"id": "premium", "name": "Premium", "price_cents": 1500}
        ],
        "rows": [
            {"label": "A", "seats": 6},
            {"label": "B", "seats": 6, "category": "premium"}
        ]
    });
    let created = client.admin().post("/v1/shows", &new_key(), body).await;
    assert_json(&created, 201)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn sales(client: &Client, show: &str) -> Value {
    let answer = client.admin().get(&format!("/v1/shows/{show}/sales")).await;
    assert_json(&answer, 200)
}

store_test!(house_seats_are_never_sold_held_or_picked);
/// A block keeps seats back, all or none, and replays; a blocked seat is
/// refused to bookings and holds, skipped by best available, not counted
/// available; an unblock gives it back. Only the admin may block.
async fn house_seats_are_never_sold_held_or_picked(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let admin = client.admin();
    let show = client
        .create_show("House seats", &[("A", 6), ("B", 6)])
        .await;
    let guest = client.guest().await;
    let events = client.open_events(&show).await;
    let mut events = events.bytes_stream();
    let mut buffer = String::new();

    let key = new_key();
    let body = json!({"seats": ["A1", "A2"], "reason": "press"});
    let blocked = admin.post(&block_path(&show), &key, body.clone()).await;
    assert_eq!(
        assert_json(&blocked, 201),
        json!({"show_id": show, "seats": ["A1", "A2"], "reason": "press"})
    );
    assert_replay(
        &blocked,
        &admin.post(&block_path(&show), &key, body).await,
        "a block's retry",
    );
    expect_map(&client, &show, &[("A1", "blocked"), ("A2", "blocked")]).await;
    expect_available(&client, &show, 10).await;
    // Each seat announces its own change: in either order.
    let mut seen = crate::operations::read_events(&mut events, &mut buffer, 2).await;
    seen.sort_by_key(|(_, data)| data["seat_id"].as_str().unwrap().to_string());
    let blocked_event = |seat: &str| {
        (
            "seat".to_string(),
            json!({"seat_id": seat, "status": "blocked"}),
        )
    };
    assert_eq!(seen, vec![blocked_event("A1"), blocked_event("A2")]);

    guest
        .book(&new_key(), &show, &["A1"])
        .await
        .assert_problem(409, "seat-unavailable");
    let cart = guest.new_cart().await;
    guest
        .hold(&cart, &new_key(), &show, "A2")
        .await
        .assert_problem(409, "seat-unavailable");
    // Row A has four free seats side by side, A3-A6: best available takes
    // them, never a blocked one.
    let best = guest
        .post(
            "/v1/bookings",
            &new_key(),
            json!({"show_id": show, "best_available": {"count": 4}}),
        )
        .await;
    let seats: BTreeSet<String> = assert_json(&best, 201)["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert_eq!(seats, set(&["A3", "A4", "A5", "A6"]));

    // All or none: a booked seat refuses, and the free one is not blocked.
    let refused = admin
        .post(
            &block_path(&show),
            &new_key(),
            json!({"seats": ["B1", "A3"]}),
        )
        .await;
    refused.assert_problem(409, "seat-unavailable");
    assert_eq!(refused.json()["seats"], json!(["A3"]));
    assert_eq!(client.seat_map(&show).await["B1"], "available");
    // A seat already blocked stays so; no reason reads null.
    let again = admin
        .post(&block_path(&show), &new_key(), json!({"seats": ["A1"]}))
        .await;
    assert_eq!(assert_json(&again, 201)["reason"], Value::Null);

    for _ in 0..2 {
        let unblocked = admin.delete(&format!("{}/A1", block_path(&show))).await;
        assert_eq!(unblocked.status, 204, "{}", unblocked.text);
    }
    // Unblocking a seat that is booked changes nothing.
    let on_booked = admin.delete(&format!("{}/A3", block_path(&show))).await;
    assert_eq!(on_booked.status, 204, "{}", on_booked.text);
    let map = client.seat_map(&show).await;
    assert_eq!(map["A1"], "available");
    assert_eq!(map["A2"], "blocked");
    assert_eq!(map["A3"], "booked");
    let booked = guest.book(&new_key(), &show, &["A1"]).await;
    assert_eq!(booked.status, 201, "{}", booked.text);

    // Only the admin blocks and unblocks.
    guest
        .post(&block_path(&show), &new_key(), json!({"seats": ["B2"]}))
        .await
        .assert_problem(403, "forbidden");
    guest
        .delete(&format!("{}/A2", block_path(&show)))
        .await
        .assert_problem(403, "forbidden");
    assert_eq!(client.seat_map(&show).await["A2"], "blocked");
}

store_test!(bad_box_office_input_is_refused_and_changes_nothing);
/// An unknown seat, a reason over 200 characters, no seats, a seat twice,
/// an unknown field: 400 `invalid-request`, nothing changed, and the key
/// runs afresh once the request is right. An unknown show: 404.
async fn bad_box_office_input_is_refused_and_changes_nothing(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let admin = client.admin();
    let show = client.create_show("Bad input", &[("A", 4)]).await;
    let key = new_key();
    let long = "x".repeat(201);
    for body in [
        json!({"seats": ["A1", "Z9"]}),
        json!({"seats": ["A1", "A5"]}),
        json!({"seats": ["A1"], "reason": long}),
        json!({"seats": []}),
        json!({"seats": ["A1", "A1"]}),
        json!({"seats": ["A1"], "colour": "red"}),
        json!({"seats": ["not a seat"]}),
    ] {
        admin
            .post(&block_path(&show), &key, body.clone())
            .await
            .assert_problem(400, "invalid-request");
    }
    admin
        .delete(&format!("{}/Z9", block_path(&show)))
        .await
        .assert_problem(400, "invalid-request");
    expect_map(&client, &show, &[]).await;
    // 200 characters are fine, and the same key now runs.
    let reason = "é".repeat(200);
    let ok = admin
        .post(
            &block_path(&show),
            &key,
            json!({"seats": ["A1"], "reason": reason}),
        )
        .await;
    assert_eq!(assert_json(&ok, 201)["reason"], json!(reason));
    expect_map(&client, &show, &[("A1", "blocked")]).await;

    let unknown = uuid::Uuid::new_v4();
    admin
        .post(
            &block_path(&unknown.to_string()),
            &new_key(),
            json!({"seats": ["A1"]}),
        )
        .await
        .assert_problem(404, "not-found");
    admin
        .get(&format!("/v1/shows/{unknown}/sales"))
        .await
        .assert_problem(404, "not-found");
    admin
        .get(&format!("/v1/shows/{unknown}/bookings"))
        .await
        .assert_problem(404, "not-found");
    admin
        .delete(&format!("/v1/shows/{unknown}/blocks/A1"))
        .await
        .assert_problem(404, "not-found");
}

store_test!(sales_figures_equal_the_seat_map_and_the_bookings);
/// The figures count what the seat map and the confirmed bookings say,
/// by category and per minute, and follow cancels (on behalf and the
/// customer's own, each reading who cancelled).
async fn sales_figures_equal_the_seat_map_and_the_bookings(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let admin = client.admin();
    let show = priced_show(&client).await;
    let (ann, bob) = (client.guest().await, client.guest().await);

    let first = ann.book_new(&show, &["A1", "A2"]).await;
    let second = bob.book_new(&show, &["B1"]).await;
    let cart = bob.new_cart().await;
    bob.hold_new(&cart, &show, "B2").await;
    assert_eq!(bob.checkout(&cart, &new_key()).await.status, 201);
    let open = ann.new_cart().await;
    ann.hold_new(&open, &show, "A5").await;
    let blocked = admin
        .post(&block_path(&show), &new_key(), json!({"seats": ["A6"]}))
        .await;
    assert_eq!(blocked.status, 201, "{}", blocked.text);

    let figures = sales(&client, &show).await;
    let expected = |available, booked, revenue, bookings, cancelled, standard, premium| {
        json!({
            "show_id": show, "capacity": 12, "available": available, "held": 1,
            "booked": booked, "blocked": 1, "currency": "EUR",
            "revenue_cents": revenue, "bookings": bookings,
            "cancelled_bookings": cancelled,
            "by_category": [
                {"category": "standard", "booked": standard, "revenue_cents": standard * 1000},
                {"category": "premium", "booked": premium, "revenue_cents": premium * 1500}
            ],
        })
    };
    let without_minutes = |mut figures: Value| {
        let minutes = figures
            .as_object_mut()
            .unwrap()
            .remove("per_minute")
            .unwrap();
        (figures, minutes)
    };
    let (rest, minutes) = without_minutes(figures);
    assert_eq!(rest, expected(6, 4, 5000, 3, 0, 2, 2));
    assert_minutes_add_up(&minutes, 4, 5000);
    assert_counts_match_map(&client, &show, &sales(&client, &show).await).await;

    // A cancel on behalf: the seats and money come back out.
    let first_id = first["id"].as_str().unwrap();
    let cancelled = admin.delete(&format!("/v1/bookings/{first_id}")).await;
    assert_eq!(cancelled.status, 204, "{}", cancelled.text);
    for reader in [&admin, &ann] {
        let read = assert_json(&reader.get(&format!("/v1/bookings/{first_id}")).await, 200);
        assert_eq!(read["status"], "cancelled");
        assert_eq!(read["cancelled_by"], "box-office");
    }
    let second_id = second["id"].as_str().unwrap();
    assert_eq!(bob.cancel(second_id).await.status, 204);
    let read = assert_json(&admin.get(&format!("/v1/bookings/{second_id}")).await, 200);
    assert_eq!(read["cancelled_by"], "customer");
    assert_eq!(read["user_id"], json!(bob_id(&bob).await));
    // A confirmed booking carries no cancelled_by at all.
    let confirmed = bob.bookings().await;
    let checked_out = confirmed
        .iter()
        .find(|b| b["status"] == "confirmed")
        .unwrap();
    assert!(checked_out.get("cancelled_by").is_none(), "{checked_out}");

    let (rest, minutes) = without_minutes(sales(&client, &show).await);
    assert_eq!(rest, expected(9, 1, 1500, 1, 2, 0, 1));
    assert_minutes_add_up(&minutes, 1, 1500);
    assert_counts_match_map(&client, &show, &sales(&client, &show).await).await;
    client
        .guest()
        .await
        .get(&format!("/v1/shows/{show}/sales"))
        .await
        .assert_problem(403, "forbidden");
}

/// The user id of a signed-in client (as its session said).
async fn bob_id(client: &Client) -> String {
    let bookings = client.bookings().await;
    let id = bookings[0]["id"].as_str().unwrap();
    let read = client.admin().get(&format!("/v1/bookings/{id}")).await;
    assert_json(&read, 200)["user_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn assert_minutes_add_up(minutes: &Value, booked: u64, revenue: u64) {
    let minutes = minutes.as_array().unwrap();
    let sum = |field: &str| {
        minutes
            .iter()
            .map(|m| m[field].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        (sum("booked"), sum("revenue_cents")),
        (booked, revenue),
        "{minutes:?}"
    );
    for minute in minutes {
        assert!(
            minute["minute"].as_str().unwrap().ends_with(":00Z"),
            "{minute}"
        );
    }
}

/// `available`, `held`, `booked` and `blocked` are the seat map's counts.
async fn assert_counts_match_map(client: &Client, show: &str, figures: &Value) {
    let map = client.seat_map(show).await;
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for status in map.values() {
        *counts.entry(status.as_str()).or_default() += 1;
    }
    for status in ["available", "held", "booked", "blocked"] {
        assert_eq!(
            figures[status].as_u64().unwrap(),
            counts.get(status).copied().unwrap_or(0),
            "{status}: {figures} vs {map:?}"
        );
    }
}

store_test!(a_shows_bookings_page_through_each_booking_once);
/// Every user's bookings of a show, oldest first, each exactly once
/// across pages, with its user; the CSV has them all; other shows' never;
/// bad limits and cursors are 400.
async fn a_shows_bookings_page_through_each_booking_once(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let admin = client.admin();
    let show = client.create_show("Pages", &[("A", 30)]).await;
    let other = client.create_show("Other", &[("A", 5)]).await;
    let guests = [
        client.guest().await,
        client.guest().await,
        client.guest().await,
    ];
    let mut made = Vec::new();
    for n in 1..=23 {
        let guest = &guests[n % 3];
        let booking = guest.book_new(&show, &[&format!("A{n}")]).await;
        made.push(booking["id"].as_str().unwrap().to_string());
    }
    guests[0].book_new(&other, &["A1"]).await;
    let cancelled = made[4].clone();
    assert_eq!(
        admin
            .delete(&format!("/v1/bookings/{cancelled}"))
            .await
            .status,
        204
    );

    let mut seen = Vec::new();
    let mut path = format!("/v1/shows/{show}/bookings?limit=7");
    let mut pages = 0;
    loop {
        let page = assert_json(&admin.get(&path).await, 200);
        pages += 1;
        for booking in page["bookings"].as_array().unwrap() {
            assert!(booking["user_id"].is_string(), "{booking}");
            assert_eq!(booking["show_id"], json!(show));
            let cancelled_here = booking["id"] == json!(cancelled);
            assert_eq!(
                booking["status"],
                if cancelled_here {
                    "cancelled"
                } else {
                    "confirmed"
                }
            );
            seen.push(booking["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/shows/{show}/bookings?limit=7&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(seen, made, "every booking once, oldest first");
    let whole = assert_json(&admin.get(&format!("/v1/shows/{show}/bookings")).await, 200);
    assert_eq!(whole["bookings"].as_array().unwrap().len(), 23);
    assert_eq!(whole["next_cursor"], Value::Null);

    let csv = admin
        .get(&format!("/v1/shows/{show}/bookings?format=csv"))
        .await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(
        lines[0],
        "id,user_id,status,seats,total_cents,currency,created_at"
    );
    let ids: Vec<String> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    assert_eq!(ids, made);
    let fifth: Vec<&str> = lines[5].split(',').collect();
    assert_eq!(&fifth[2..6], &["cancelled", "A5", "0", "EUR"]);

    // A cursor of another show, a changed one, made up, a bad limit.
    let first = assert_json(
        &admin
            .get(&format!("/v1/shows/{show}/bookings?limit=1"))
            .await,
        200,
    );
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let mut changed = cursor.clone().into_bytes();
    changed[45] = if changed[45] == b'A' { b'B' } else { b'A' };
    let changed = String::from_utf8(changed).unwrap();
    for target in [
        format!("/v1/shows/{other}/bookings?cursor={cursor}"),
        format!("/v1/shows/{show}/bookings?cursor={changed}"),
        format!("/v1/shows/{show}/bookings?cursor=bm90LW1pbmU"),
        format!("/v1/shows/{show}/bookings?limit=0"),
        format!("/v1/shows/{show}/bookings?limit=1001"),
        format!("/v1/shows/{show}/bookings?limit=ten"),
        format!("/v1/shows/{show}/bookings?format=xml"),
        format!("/v1/shows/{show}/bookings?format=csv&limit=5"),
        format!("/v1/shows/{show}/bookings?colour=red"),
    ] {
        admin
            .get(&target)
            .await
            .assert_problem(400, "invalid-request");
    }
    let largest = admin
        .get(&format!("/v1/shows/{show}/bookings?limit=1000"))
        .await;
    assert_eq!(largest.status, 200, "{}", largest.text);
    guests[0]
        .get(&format!("/v1/shows/{show}/bookings"))
        .await
        .assert_problem(403, "forbidden");
}

store_test!(after_sales_end_customers_are_refused_and_staff_still_work);
/// From `sales_end_at` on, bookings, holds and checkouts answer 409
/// `sales-closed` (stored and replayed); blocks and cancels on behalf
/// still work. The show says when its sales end.
async fn after_sales_end_customers_are_refused_and_staff_still_work(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let admin = client.admin();
    let end = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let end_text = end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut body = show_body(&[("A", 8)]);
    body["sales_end_at"] = json!(end_text);
    let created = admin.post("/v1/shows", &new_key(), body).await;
    let show = assert_json(&created, 201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(created.json()["sales_end_at"], json!(end_text));
    let listed = client.show_summary(&show).await;
    assert_eq!(listed["sales_end_at"], json!(end_text));

    let guest = client.guest().await;
    let booked = guest.book_new(&show, &["A1"]).await;
    let cart = guest.new_cart().await;
    guest.hold_new(&cart, &show, "A2").await;
    // The behaviour under test is a time: wait until it has passed.
    let wait = (end - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + std::time::Duration::from_millis(20)).await;

    let key = new_key();
    let closed = guest.book(&key, &show, &["A3"]).await;
    closed.assert_problem(409, "sales-closed");
    assert_replay(
        &closed,
        &guest.book(&key, &show, &["A3"]).await,
        "a closed booking's retry",
    );
    guest
        .hold(&cart, &new_key(), &show, "A4")
        .await
        .assert_problem(409, "sales-closed");
    guest
        .checkout(&cart, &new_key())
        .await
        .assert_problem(409, "sales-closed");
    let blocked = admin
        .post(&block_path(&show), &new_key(), json!({"seats": ["A5"]}))
        .await;
    assert_eq!(blocked.status, 201, "{}", blocked.text);
    let id = booked["id"].as_str().unwrap();
    assert_eq!(
        admin.delete(&format!("/v1/bookings/{id}")).await.status,
        204
    );
    let map = client.seat_map(&show).await;
    assert_eq!(
        (map["A1"].as_str(), map["A3"].as_str(), map["A5"].as_str()),
        ("available", "available", "blocked")
    );

    let mut bad = show_body(&[("A", 2)]);
    bad["sales_end_at"] = json!("tomorrow evening");
    admin
        .post("/v1/shows", &new_key(), bad)
        .await
        .assert_problem(400, "invalid-request");
}

store_test!(box_office_records_survive_a_kill_9);
/// Blocks, who cancelled, a show's sales end and its figures are read back
/// by a restarted server after `kill -9`.
async fn box_office_records_survive_a_kill_9(store: StoreKind) {
    let storage = store.storage();
    let server = BinaryServer::on(&storage, &[]);
    let client = server.client();
    let admin = client.admin();
    let mut body = show_body(&[("A", 6)]);
    body["sales_end_at"] = json!("2099-01-01T00:00:00Z");
    let show = assert_json(&admin.post("/v1/shows", &new_key(), body).await, 201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let guest = client.guest().await;
    let kept = guest.book_new(&show, &["A1", "A2"]).await;
    let gone = guest.book_new(&show, &["A3"]).await;
    let gone_id = gone["id"].as_str().unwrap();
    assert_eq!(
        admin
            .delete(&format!("/v1/bookings/{gone_id}"))
            .await
            .status,
        204
    );
    let blocked = admin
        .post(&block_path(&show), &new_key(), json!({"seats": ["A6"]}))
        .await;
    assert_eq!(blocked.status, 201, "{}", blocked.text);
    let before = sales(&client, &show).await;
    let map_before = client.seat_map(&show).await;
    server.kill9();

    let server = BinaryServer::on(&storage, &[]);
    let client = server.client();
    assert_eq!(sales(&client, &show).await, before);
    assert_eq!(client.seat_map(&show).await, map_before);
    let read = assert_json(
        &client.admin().get(&format!("/v1/bookings/{gone_id}")).await,
        200,
    );
    assert_eq!(read["cancelled_by"], "box-office");
    assert_eq!(
        client.show_summary(&show).await["sales_end_at"],
        "2099-01-01T00:00:00.000Z"
    );
    assert_eq!(before["booked"], 2);
    assert_eq!(before["blocked"], 1);
    let _ = kept;
    server.stop();
}
