//! Creating, listing and reading shows.

use crate::helpers::*;
use serde_json::{json, Value};

fn two_letter_label(i: usize) -> String {
    let a = (b'A' + (i / 26) as u8) as char;
    let b = (b'A' + (i % 26) as u8) as char;
    format!("{a}{b}")
}

store_test!(a_created_show_is_answered_as_in_get);
async fn a_created_show_is_answered_as_in_get(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let body = json!({
        "title": "Dune",
        "starts_at": "2026-12-01T21:30:00+02:00",
        "rows": [{"label": "A", "seats": 2}, {"label": "BC", "seats": 3}],
    });
    let created = client.admin().post("/v1/shows", &new_key(), body).await;
    let show = assert_json(&created, 201);
    assert_uuid(&show["id"]);
    assert_eq!(show["title"], "Dune");
    let starts_at = show["starts_at"].as_str().unwrap();
    assert_eq!(utc(starts_at), utc(STARTS_AT), "the same instant, in UTC");

    let expected = [
        ("A1", "A", 1),
        ("A2", "A", 2),
        ("BC1", "BC", 1),
        ("BC2", "BC", 2),
        ("BC3", "BC", 3),
    ];
    let seats = show["seats"].as_array().unwrap();
    assert_eq!(seats.len(), expected.len(), "{seats:?}");
    for (seat, (id, row, number)) in seats.iter().zip(expected) {
        assert_eq!(seat["id"], id);
        assert_eq!(seat["row"], row);
        assert_eq!(seat["number"], number);
        assert_eq!(seat["status"], "available");
    }

    let id = show["id"].as_str().unwrap();
    let fetched = assert_json(&client.get(&format!("/v1/shows/{id}")).await, 200);
    assert_eq!(fetched, show, "201 answers the show as GET does");
}

store_test!(a_show_creation_replays_its_first_answer_after_seats_change);
/// A show's creation is stored as a reference to the show and rebuilt on
/// replay: the replay is still the first answer, byte for byte, with every
/// seat available, however the seats have changed since.
async fn a_show_creation_replays_its_first_answer_after_seats_change(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let admin = client.admin();
    let key = new_key();
    let body =
        json!({"title": "Arrival", "starts_at": STARTS_AT, "rows": [{"label": "A", "seats": 3}]});
    let created = admin.post("/v1/shows", &key, body.clone()).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(!created.is_replay());
    let show = created.json()["id"].as_str().unwrap().to_string();

    let guest = client.guest().await;
    let booked = guest.book(&new_key(), &show, &["A2"]).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    assert_eq!(guest.seat_map(&show).await["A2"], "booked");

    let again = admin.post("/v1/shows", &key, body).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert!(again.is_replay(), "{:?}", again.headers);
    assert_eq!(again.text, created.text, "the replay is the first answer");
    assert_eq!(
        again.header("content-type").as_deref(),
        Some("application/json")
    );
}

/// Show bodies the contract refuses, each with what is wrong with it.
fn invalid_show_bodies() -> Vec<(&'static str, String)> {
    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({"label": two_letter_label(i), "seats": 999}))
        .collect();
    let one_row = |title: &str, starts_at: &str, row: Value| {
        json!({"title": title, "starts_at": starts_at, "rows": [row]}).to_string()
    };
    let mut unknown_field =
        json!({"title": "X", "starts_at": STARTS_AT, "rows": [{"label": "A", "seats": 1}]});
    unknown_field["venue"] = json!("Hall 1");
    vec![
        ("lower-case row label", show_body(&[("a", 5)]).to_string()),
        (
            "four-letter row label",
            show_body(&[("ABCD", 5)]).to_string(),
        ),
        ("digit in row label", show_body(&[("A1", 5)]).to_string()),
        ("empty row label", show_body(&[("", 5)]).to_string()),
        ("row of 0 seats", show_body(&[("A", 0)]).to_string()),
        ("row of 1000 seats", show_body(&[("A", 1000)]).to_string()),
        (
            "more than 100,000 seats",
            json!({"title": "Big", "starts_at": STARTS_AT, "rows": too_many}).to_string(),
        ),
        ("unknown field", unknown_field.to_string()),
        (
            "unknown row field",
            one_row(
                "X",
                STARTS_AT,
                json!({"label": "A", "seats": 1, "price": 9}),
            ),
        ),
        (
            "starts_at not a time",
            one_row("X", "tomorrow evening", json!({"label": "A", "seats": 1})),
        ),
        (
            "starts_at without zone",
            one_row("X", "2026-12-01 19:30", json!({"label": "A", "seats": 1})),
        ),
        (
            "seats of wrong type",
            one_row("X", STARTS_AT, json!({"label": "A", "seats": "12"})),
        ),
        (
            "negative seats",
            one_row("X", STARTS_AT, json!({"label": "A", "seats": -1})),
        ),
        (
            "missing rows",
            json!({"title": "X", "starts_at": STARTS_AT}).to_string(),
        ),
        ("malformed JSON", r#"{"title": "X", "rows": ["#.to_string()),
    ]
}

store_test!(invalid_shows_are_400_and_create_nothing);
async fn invalid_shows_are_400_and_create_nothing(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let admin = client.admin();
    let bodies = invalid_show_bodies();
    let first_key = new_key();
    for (i, (what, body)) in bodies.iter().enumerate() {
        let key = if i == 0 { first_key.clone() } else { new_key() };
        let answer = admin
            .send("POST", "/v1/shows", Some(&key), Some(body))
            .await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.text);
        answer.assert_problem(400, "invalid-request");
    }
    assert!(
        client.shows().await.is_empty(),
        "a rejected show was created"
    );

    // A 400 is not stored: the same key with a corrected body runs.
    let fixed = admin
        .post("/v1/shows", &first_key, show_body(&[("A", 5)]))
        .await;
    assert_json(&fixed, 201);
    assert_not_replay(&fixed);
    assert_eq!(client.shows().await.len(), 1);
}

store_test!(show_limits_accept_their_boundaries);
async fn show_limits_accept_their_boundaries(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let admin = client.admin();
    // 3-letter labels, 1 and 999 seats a row.
    let answer = admin
        .post(
            "/v1/shows",
            &new_key(),
            show_body(&[("ZZZ", 999), ("B", 1)]),
        )
        .await;
    let show = assert_json(&answer, 201);
    assert_eq!(show["seats"].as_array().unwrap().len(), 1000);
    assert_eq!(show["seats"][998]["id"], "ZZZ999");

    // Exactly 100,000 seats: 100 rows of 999 and one of 100.
    let mut rows: Vec<Value> = (0..100)
        .map(|i| json!({"label": two_letter_label(i), "seats": 999}))
        .collect();
    rows.push(json!({"label": "ZZZ", "seats": 100}));
    let answer = admin
        .post(
            "/v1/shows",
            &new_key(),
            json!({"title": "Stadium", "starts_at": STARTS_AT, "rows": rows}),
        )
        .await;
    let big = assert_json(&answer, 201);
    let summary = client.show_summary(big["id"].as_str().unwrap()).await;
    assert_eq!(summary["capacity"], 100_000);
    assert_eq!(summary["available"], 100_000);
}

store_test!(show_list_reports_capacity_and_availability);
async fn show_list_reports_capacity_and_availability(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let show = client.create_show("Listed", &[("A", 5), ("B", 5)]).await;
    let other = client.create_show("Other", &[("A", 3)]).await;
    let guest = client.guest().await;

    let listed = client.show_summary(&show).await;
    assert_eq!(listed["title"], "Listed");
    assert_eq!(utc(listed["starts_at"].as_str().unwrap()), utc(STARTS_AT));
    assert_eq!(listed["capacity"], 10);
    assert_eq!(listed["available"], 10);

    let booked = guest.book(&new_key(), &show, &["A1", "B2"]).await;
    let id = assert_json(&booked, 201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let listed = client.show_summary(&show).await;
    assert_eq!(listed["capacity"], 10);
    expect_available(&client, &show, 8).await;
    assert_eq!(client.show_summary(&other).await["available"], 3);

    assert_eq!(
        guest.delete(&format!("/v1/bookings/{id}")).await.status,
        204
    );
    expect_available(&client, &show, 10).await;
}

store_test!(unknown_shows_are_404);
async fn unknown_shows_are_404(store: StoreKind) {
    let server = store.spawn_app();
    let client = server.client();
    let guest = client.guest().await;
    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/v1/shows/{unknown}"),
        "/v1/shows/not-a-uuid".to_string(),
        format!("/v1/shows/{unknown}/events"),
        "/v1/shows/not-a-uuid/events".to_string(),
    ] {
        client.get(&path).await.assert_problem(404, "not-found");
    }
    guest
        .book(&new_key(), &unknown.to_string(), &["A1"])
        .await
        .assert_problem(404, "not-found");
    guest
        .book(&new_key(), "not-a-uuid", &["A1"])
        .await
        .assert_problem(404, "not-found");
    assert!(guest.bookings().await.is_empty());
}

/// The demo shows of a first start (the README's first command) sell as a
/// cinema does: stalls and premium prices, aisles, and in the front row a
/// wheelchair space at each end with its companion seat beside it.
#[api_test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_have_prices_aisles_and_accessible_seats() {
    let server = spawn_app_with(|s| s.demo = true);
    let client = server.client();
    let shows = client.shows().await;
    assert_eq!(shows.len(), 3, "{shows:?}");
    for listed in &shows {
        assert_eq!(
            (
                &listed["lowest_price_cents"],
                &listed["highest_price_cents"]
            ),
            (&json!(950), &json!(1350)),
            "{listed}"
        );
        let show = client
            .get(&format!("/v1/shows/{}", listed["id"].as_str().unwrap()))
            .await
            .json();
        let seats = show["seats"].as_array().unwrap();
        let front: Vec<&Value> = seats.iter().filter(|s| s["row"] == "A").collect();
        let n = front.len();
        assert_eq!(front[0]["accessibility"], "wheelchair");
        assert_eq!(front[1]["accessibility"], "companion");
        assert_eq!(front[n - 2]["accessibility"], "companion");
        assert_eq!(front[n - 1]["accessibility"], "wheelchair");
        assert_eq!(seats.last().unwrap()["category"], "premium");
        assert_eq!(seats[0]["category"], "stalls");
    }
}
