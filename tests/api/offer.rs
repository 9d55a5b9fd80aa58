//! docs/API.md §7 "Show" and §9 (categories, prices, companion seats): a show
//! sells its seats in categories with prices, has wheelchair and companion
//! seats and aisles; bookings and carts carry each seat's price and their
//! total; a companion seat is sold only with a wheelchair seat of its row.

use crate::helpers::*;
use serde_json::{json, Value};

/// A hall of two rows: A (standard, 12.00) with an aisle after seat 3,
/// wheelchair seat 1 and companion seat 2; B (premium, 18.00).
fn hall_body() -> Value {
    json!({
        "title": "Priced",
        "starts_at": "2030-01-01T20:00:00Z",
        "currency": "CHF",
        "categories": [
            {"id": "standard", "name": "Standard", "price_cents": 1200},
            {"id": "premium", "name": "Premium", "price_cents": 1800}
        ],
        "rows": [
            {"label": "A", "seats": 6, "aisles_after": [3], "wheelchair": [1], "companion": [2]},
            {"label": "B", "seats": 4, "category": "premium"}
        ]
    })
}

async fn create(client: &Client, body: Value) -> Answer {
    client.admin().post("/v1/shows", &new_key(), body).await
}

fn seat<'a>(show: &'a Value, id: &str) -> &'a Value {
    show["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no seat {id}"))
}

store_test!(a_show_sells_its_seats_in_categories_at_prices);
async fn a_show_sells_its_seats_in_categories_at_prices(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let created = create(&client, hall_body()).await;
    let created = assert_json(&created, 201);
    let id = created["id"].as_str().unwrap().to_string();
    let map = client.get(&format!("/v1/shows/{id}")).await.json();
    // The answer to the creation and the map say the same (every seat
    // available), the map streamed a piece at a time.
    assert_eq!(map, created);
    assert_eq!(map["currency"], "CHF");
    assert_eq!(
        map["categories"],
        json!([
            {"id": "standard", "name": "Standard", "price_cents": 1200},
            {"id": "premium", "name": "Premium", "price_cents": 1800}
        ])
    );
    assert_eq!(
        seat(&map, "A1"),
        &json!({"id": "A1", "row": "A", "number": 1, "status": "available",
                "category": "standard", "price_cents": 1200, "accessibility": "wheelchair"})
    );
    assert_eq!(seat(&map, "A2")["accessibility"], "companion");
    assert_eq!(seat(&map, "A3")["aisle_after"], true);
    assert_eq!(seat(&map, "A4").get("aisle_after"), None, "only where true");
    assert_eq!(seat(&map, "A4")["accessibility"], Value::Null);
    assert_eq!(
        (
            &seat(&map, "B2")["category"],
            &seat(&map, "B2")["price_cents"]
        ),
        (&json!("premium"), &json!(1800))
    );
    let listed = client.show_summary(&id).await;
    assert_eq!(
        (
            &listed["currency"],
            &listed["lowest_price_cents"],
            &listed["highest_price_cents"]
        ),
        (&json!("CHF"), &json!(1200), &json!(1800))
    );

    // A plain show: one free category, in euros.
    let plain = client.create_show("Plain", &[("A", 2)]).await;
    let map = client.get(&format!("/v1/shows/{plain}")).await.json();
    assert_eq!(map["currency"], "EUR");
    assert_eq!(
        map["categories"],
        json!([{"id": "standard", "name": "Standard", "price_cents": 0}])
    );
    assert_eq!(seat(&map, "A1")["price_cents"], 0);
}

store_test!(bookings_and_carts_carry_prices_and_totals);
async fn bookings_and_carts_carry_prices_and_totals(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let show = create(&client, hall_body()).await.id();
    let guest = client.guest().await;

    let booked = guest.book(&new_key(), &show, &["A5", "B1"]).await;
    let booking = assert_json(&booked, 201);
    assert_eq!(
        booking["seat_prices"],
        json!([{"seat_id": "A5", "price_cents": 1200}, {"seat_id": "B1", "price_cents": 1800}])
    );
    assert_eq!(
        (&booking["total_cents"], &booking["currency"]),
        (&json!(3000), &json!("CHF"))
    );
    let id = booking["id"].as_str().unwrap();
    assert_eq!(
        guest.get(&format!("/v1/bookings/{id}")).await.json()["total_cents"],
        3000
    );

    let cart = guest.new_cart().await;
    let empty = guest.get(&format!("/v1/carts/{cart}")).await.json();
    assert_eq!(
        (&empty["total_cents"], &empty["currency"]),
        (&json!(0), &Value::Null)
    );
    assert_eq!(guest.hold(&cart, &new_key(), &show, "B2").await.status, 201);
    let held = guest.hold(&cart, &new_key(), &show, "A6").await;
    let held = assert_json(&held, 201);
    assert_eq!(held["items"][0]["price_cents"], 1800);
    assert_eq!(held["items"][1]["price_cents"], 1200);
    assert_eq!(
        (&held["total_cents"], &held["currency"]),
        (&json!(3000), &json!("CHF"))
    );
    let checked_out = guest.checkout(&cart, &new_key()).await;
    let checked_out = assert_json(&checked_out, 201);
    assert_eq!(checked_out["total_cents"], 3000);
    assert_eq!(
        checked_out["seat_prices"],
        json!([{"seat_id": "B2", "price_cents": 1800}, {"seat_id": "A6", "price_cents": 1200}])
    );
    let after = guest.get(&format!("/v1/carts/{cart}")).await.json();
    assert_eq!(after["total_cents"], 3000, "the booked items: {after}");
}

store_test!(a_companion_seat_needs_a_wheelchair_seat_of_its_row);
async fn a_companion_seat_needs_a_wheelchair_seat_of_its_row(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let show = create(&client, hall_body()).await.id();
    let guest = client.guest().await;

    // Alone: refused, naming the seat, stored with the key, nothing sold.
    let key = new_key();
    let alone = guest.book(&key, &show, &["A2"]).await;
    alone.assert_problem(409, "seat-restricted");
    assert_eq!(alone.json()["seats"], json!(["A2"]));
    assert_replay(
        &alone,
        &guest.book(&key, &show, &["A2"]).await,
        "a stored 409",
    );
    // With another seat that is not the wheelchair seat: refused too.
    guest
        .book(&new_key(), &show, &["A2", "A3"])
        .await
        .assert_problem(409, "seat-restricted");
    expect_map(&client, &show, &[]).await;
    // With the wheelchair seat of its row: sold.
    let both = guest.book(&new_key(), &show, &["A1", "A2"]).await;
    assert_eq!(both.status, 201, "{}", both.text);

    // In a cart: the companion needs the wheelchair seat held there first.
    let other = create(&client, hall_body()).await.id();
    let cart = guest.new_cart().await;
    let first = guest.hold(&cart, &new_key(), &other, "A2").await;
    first.assert_problem(409, "seat-restricted");
    assert_eq!(
        guest.hold(&cart, &new_key(), &other, "A1").await.status,
        201
    );
    assert_eq!(
        guest.hold(&cart, &new_key(), &other, "A2").await.status,
        201
    );
    // The wheelchair seat let go: the companion alone is not checked out.
    let released = guest
        .delete(&format!("/v1/carts/{cart}/items/{other}/A1"))
        .await;
    assert!(released.status < 300, "{}", released.text);
    guest
        .checkout(&cart, &new_key())
        .await
        .assert_problem(409, "seat-restricted");
    expect_map(&client, &other, &[("A2", "held")]).await;
}

store_test!(a_bad_offer_is_refused);
async fn a_bad_offer_is_refused(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    type Spoil = fn(&mut Value);
    let cases: [(&str, Spoil); 5] = [
        ("an unknown category", |b| {
            b["rows"][1]["category"] = json!("vip")
        }),
        ("a seat outside the row", |b| {
            b["rows"][1]["wheelchair"] = json!([5])
        }),
        ("wheelchair and companion", |b| {
            b["rows"][0]["companion"] = json!([1])
        }),
        ("a currency that is no code", |b| {
            b["currency"] = json!("euro")
        }),
        ("a category twice", |b| {
            b["categories"][1]["id"] = json!("standard")
        }),
    ];
    for (what, spoil) in cases {
        let mut body = hall_body();
        spoil(&mut body);
        let answer = create(&client, body).await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.text);
        answer.assert_problem(400, "invalid-request");
    }
    assert!(client.shows().await.is_empty(), "nothing was made");
}
