//! The HTTP contract of /work/shared/API.md, rule by rule, through HTTP only.
//!
//! Every test checks what the server answers (status, problem code, body,
//! headers) and what it did or did not change (seat map, bookings, carts).

mod common;
use common::*;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::header::HeaderValue;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

const STARTS_AT: &str = "2026-12-01T19:30:00Z";

/// Parses an RFC 3339 time and checks it is written in UTC.
fn utc(text: &str) -> DateTime<Utc> {
    assert!(
        text.ends_with('Z') || text.ends_with("+00:00"),
        "{text:?} is not UTC"
    );
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

fn assert_uuid(text: &Value) {
    let text = text
        .as_str()
        .unwrap_or_else(|| panic!("{text} is no string"));
    uuid::Uuid::parse_str(text).unwrap_or_else(|e| panic!("{text:?} is no UUID: {e}"));
}

fn assert_json(answer: &Answer, status: u16) -> Value {
    assert_eq!(answer.status, status, "body: {}", answer.text);
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("application/json"),
        "{}",
        answer.text
    );
    answer.json()
}

fn assert_not_replay(answer: &Answer) {
    assert!(
        !answer.is_replay(),
        "a first run must not be marked as a replay: {}",
        answer.text
    );
}

/// Asserts `again` replays `first` byte for byte.
fn assert_replay_of(again: &Answer, first: &Answer) {
    assert!(
        again.is_replay(),
        "expected Idempotent-Replayed: true, got {} {}",
        again.status,
        again.text
    );
    assert_eq!(again.status, first.status);
    assert_eq!(again.text, first.text, "a replay is byte for byte");
}

async fn into_answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Answer {
        status,
        headers,
        text,
    }
}

/// A request with a raw `Idempotency-Key` (any bytes) and any body.
async fn send_raw(
    client: &Client,
    method: &str,
    path: &str,
    key: Option<&[u8]>,
    body: Option<reqwest::Body>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client
        .http
        .request(method, format!("{}{}", client.base, path));
    if let Some(token) = &client.token {
        request = request.bearer_auth(token);
    }
    if let Some(key) = key {
        let value = HeaderValue::from_bytes(key).expect("a header value http can send");
        request = request.header("Idempotency-Key", value);
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body);
    }
    into_answer(request.send().await.expect("request is answered")).await
}

/// A client with no token (for 401 checks).
fn anonymous(client: &Client) -> Client {
    Client {
        token: None,
        ..client.clone()
    }
}

fn show_body(rows: &[(&str, u32)]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|(label, seats)| json!({"label": label, "seats": seats}))
        .collect();
    json!({"title": "Show", "starts_at": STARTS_AT, "rows": rows})
}

fn booking_body(show: &str, seats: &[&str]) -> Value {
    json!({"show_id": show, "seats": seats})
}

async fn shows(client: &Client) -> Vec<Value> {
    let answer = client.get("/v1/shows").await;
    assert_json(&answer, 200)["shows"]
        .as_array()
        .expect("shows is an array")
        .clone()
}

async fn summary(client: &Client, show: &str) -> Value {
    shows(client)
        .await
        .into_iter()
        .find(|s| s["id"] == show)
        .unwrap_or_else(|| panic!("show {show} is not listed"))
}

async fn bookings(client: &Client) -> Vec<Value> {
    let answer = client.get("/v1/bookings").await;
    assert_json(&answer, 200)["bookings"]
        .as_array()
        .expect("bookings is an array")
        .clone()
}

async fn booking(client: &Client, id: &str) -> Value {
    let answer = client.get(&format!("/v1/bookings/{id}")).await;
    assert_json(&answer, 200)
}

async fn cart(client: &Client, id: &str) -> Value {
    let answer = client.get(&format!("/v1/carts/{id}")).await;
    assert_json(&answer, 200)
}

async fn checkout(client: &Client, cart: &str, key: &str) -> Answer {
    client
        .post(&format!("/v1/carts/{cart}/checkout"), key, json!({}))
        .await
}

async fn remove_item(client: &Client, cart: &str, show: &str, seat: &str) -> Answer {
    client
        .delete(&format!("/v1/carts/{cart}/items/{show}/{seat}"))
        .await
}

/// Asserts the seat map shows `changes` and every other seat available.
/// An acknowledged change is on the map before its reply, so this reads once.
async fn expect_map(client: &Client, show: &str, changes: &[(&str, &str)]) {
    let map = client.seat_map(show).await;
    let expected = map_with(&map, changes);
    assert_eq!(map, expected);
}

/// Asserts the show list reports `available` seats for `show`.
async fn expect_available(client: &Client, show: &str, available: u64) {
    let listed = summary(client, show).await;
    assert_eq!(listed["available"], available, "{listed}");
}

/// The seat map with `seats` marked `status` and every other seat available.
fn map_with(map: &BTreeMap<String, String>, changes: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut expected: BTreeMap<String, String> = map
        .keys()
        .map(|k| (k.clone(), "available".to_string()))
        .collect();
    for (seat, status) in changes {
        assert!(expected.contains_key(*seat), "no seat {seat}");
        expected.insert(seat.to_string(), status.to_string());
    }
    expected
}

fn seat_set(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{value} is no array"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn set(seats: &[&str]) -> BTreeSet<String> {
    seats.iter().map(|s| s.to_string()).collect()
}

/// A server with one show `A1..A{n}` and a guest.
async fn show_and_guest(server: &TestServer, seats: u32) -> (Client, String, Client) {
    let client = server.client();
    let show = client.create_show("Contract", &[("A", seats)]).await;
    let guest = client.guest().await;
    (client, show, guest)
}

/// Row labels AA, AB, ... for big layouts.
fn two_letter_label(i: usize) -> String {
    let a = (b'A' + (i / 26) as u8) as char;
    let b = (b'A' + (i % 26) as u8) as char;
    format!("{a}{b}")
}

// ---------------------------------------------------------------------------
// identity
// ---------------------------------------------------------------------------

#[tokio::test]
async fn sessions_are_created_with_a_token_and_user_id() {
    let server = spawn_app();
    let client = server.client();
    let first = client.send("POST", "/v1/sessions", None, None).await;
    let body = assert_json(&first, 201);
    let token = body["token"].as_str().expect("token is a string");
    assert!(
        token.len() >= 16,
        "token {token:?} is too short to be unguessable"
    );
    assert_uuid(&body["user_id"]);

    let second = assert_json(&client.send("POST", "/v1/sessions", None, None).await, 201);
    assert_ne!(second["token"], body["token"]);
    assert_ne!(second["user_id"], body["user_id"]);

    // The token signs the user in.
    let guest = client.with_token(token);
    assert!(bookings(&guest).await.is_empty());
}

#[tokio::test]
async fn endpoints_needing_auth_answer_401_without_or_with_unknown_token() {
    let server = spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let booked = guest.book(&new_key(), &show, &["A1"]).await;
    let booking_id = assert_json(&booked, 201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cart_id = guest.new_cart().await;
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A2").await, 201);
    let cart_before = cart(&guest, &cart_id).await;

    let requests: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/v1/bookings".into(), None),
        (
            "POST",
            "/v1/bookings".into(),
            Some(booking_body(&show, &["A3"])),
        ),
        ("GET", format!("/v1/bookings/{booking_id}"), None),
        ("DELETE", format!("/v1/bookings/{booking_id}"), None),
        ("POST", "/v1/carts".into(), Some(json!({}))),
        ("GET", format!("/v1/carts/{cart_id}"), None),
        (
            "POST",
            format!("/v1/carts/{cart_id}/items"),
            Some(json!({"show_id": show, "seat_id": "A4"})),
        ),
        (
            "DELETE",
            format!("/v1/carts/{cart_id}/items/{show}/A2"),
            None,
        ),
        (
            "POST",
            format!("/v1/carts/{cart_id}/checkout"),
            Some(json!({})),
        ),
    ];
    let nobody = anonymous(&client);
    let stranger = client.with_token("no-such-token-0123456789abcdef");
    for (method, path, body) in &requests {
        let body = body.as_ref().map(|b| b.to_string());
        let key = (*method == "POST").then(new_key);
        for who in [&nobody, &stranger] {
            let answer = who
                .send(method, path, key.as_deref(), body.as_deref())
                .await;
            answer.assert_problem(401, "unauthorized");
        }
        // Another scheme than Bearer is no token either.
        let mut basic = nobody.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{}", nobody.base, path),
        );
        basic = basic.basic_auth("user", Some("pass"));
        if let Some(key) = &key {
            basic = basic.header("Idempotency-Key", key.as_str());
        }
        if let Some(body) = &body {
            basic = basic
                .header("Content-Type", "application/json")
                .body(body.clone());
        }
        into_answer(basic.send().await.unwrap())
            .await
            .assert_problem(401, "unauthorized");
    }

    // Nothing changed.
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "held")]).await;
    assert_eq!(cart(&guest, &cart_id).await, cart_before);
    let mine = bookings(&guest).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["status"], "confirmed");
}

#[tokio::test]
async fn public_reads_need_no_token() {
    let server = spawn_app();
    let client = server.client();
    let show = client.create_show("Public", &[("A", 2)]).await;
    let nobody = anonymous(&client);
    assert_json(&nobody.get("/v1/shows").await, 200);
    assert_json(&nobody.get(&format!("/v1/shows/{show}")).await, 200);
    let events = nobody
        .http
        .get(format!("{}/v1/shows/{show}/events", nobody.base))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status().as_u16(), 200);
    drop(events);
    // A session needs neither token nor key.
    assert_json(&nobody.send("POST", "/v1/sessions", None, None).await, 201);
}

#[tokio::test]
async fn creating_a_show_needs_the_admin_token() {
    let server = spawn_app();
    let client = server.client();
    let guest = client.guest().await;
    let body = show_body(&[("A", 3)]);

    guest
        .post("/v1/shows", &new_key(), body.clone())
        .await
        .assert_problem(403, "forbidden");
    anonymous(&client)
        .post("/v1/shows", &new_key(), body.clone())
        .await
        .assert_problem(401, "unauthorized");
    // Near misses of the admin token are no token at all: a prefix, the
    // token with one more byte, another case.
    let longer = format!("{ADMIN_TOKEN}x");
    let upper = ADMIN_TOKEN.to_uppercase();
    let prefix = &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1];
    for wrong in ["not-the-admin-token", prefix, &longer, &upper] {
        client
            .with_token(wrong)
            .post("/v1/shows", &new_key(), body.clone())
            .await
            .assert_problem(401, "unauthorized");
    }
    assert!(
        shows(&client).await.is_empty(),
        "a refused create made a show"
    );

    let key = new_key();
    let created = client.admin().post("/v1/shows", &key, body.clone()).await;
    let show = assert_json(&created, 201);
    assert_uuid(&show["id"]);
    assert_eq!(shows(&client).await.len(), 1);

    // Show creation is keyed like every POST: a retry replays, another
    // body with the same key is refused.
    assert_replay_of(
        &client.admin().post("/v1/shows", &key, body).await,
        &created,
    );
    client
        .admin()
        .post("/v1/shows", &key, show_body(&[("B", 4)]))
        .await
        .assert_problem(422, "idempotency-key-reused");
    assert_eq!(shows(&client).await.len(), 1);
}

#[tokio::test]
async fn without_an_admin_token_admin_endpoints_answer_403_to_everyone() {
    let server = spawn_app_with(|s| s.admin_token = None);
    let client = server.client();
    let guest = client.guest().await;
    let body = show_body(&[("A", 3)]);
    for who in [client.admin(), guest, anonymous(&client)] {
        who.post("/v1/shows", &new_key(), body.clone())
            .await
            .assert_problem(403, "forbidden");
        // Even without a key: auth comes first.
        who.send("POST", "/v1/shows", None, Some(&body.to_string()))
            .await
            .assert_problem(403, "forbidden");
    }
    assert!(shows(&client).await.is_empty());
}

// ---------------------------------------------------------------------------
// shows
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_created_show_is_answered_as_in_get() {
    let server = spawn_app();
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

/// A show's creation is stored as a reference to the show and rebuilt on
/// replay: the replay is still the first answer, byte for byte, with every
/// seat available, however the seats have changed since.
#[tokio::test]
async fn a_show_creation_replays_its_first_answer_after_seats_change() {
    let server = spawn_app();
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

#[tokio::test]
async fn invalid_shows_are_400_and_create_nothing() {
    let server = spawn_app();
    let client = server.client();
    let admin = client.admin();
    let too_many: Vec<(String, u32)> = (0..101).map(|i| (two_letter_label(i), 999)).collect();
    let too_many: Vec<Value> = too_many
        .iter()
        .map(|(label, seats)| json!({"label": label, "seats": seats}))
        .collect();
    let bodies: Vec<(&str, String)> = vec![
        ("lower-case row label", show_body(&[("a", 5)]).to_string()),
        ("four-letter row label", show_body(&[("ABCD", 5)]).to_string()),
        ("digit in row label", show_body(&[("A1", 5)]).to_string()),
        ("empty row label", show_body(&[("", 5)]).to_string()),
        ("row of 0 seats", show_body(&[("A", 0)]).to_string()),
        ("row of 1000 seats", show_body(&[("A", 1000)]).to_string()),
        (
            "more than 100,000 seats",
            json!({"title": "Big", "starts_at": STARTS_AT, "rows": too_many}).to_string(),
        ),
        (
            "unknown field",
            json!({"title": "X", "starts_at": STARTS_AT, "rows": [{"label": "A", "seats": 1}], "venue": "Hall 1"})
                .to_string(),
        ),
        (
            "unknown row field",
            json!({"title": "X", "starts_at": STARTS_AT, "rows": [{"label": "A", "seats": 1, "price": 9}]})
                .to_string(),
        ),
        (
            "starts_at not a time",
            json!({"title": "X", "starts_at": "tomorrow evening", "rows": [{"label": "A", "seats": 1}]})
                .to_string(),
        ),
        (
            "starts_at without zone",
            json!({"title": "X", "starts_at": "2026-12-01 19:30", "rows": [{"label": "A", "seats": 1}]})
                .to_string(),
        ),
        (
            "seats of wrong type",
            json!({"title": "X", "starts_at": STARTS_AT, "rows": [{"label": "A", "seats": "12"}]})
                .to_string(),
        ),
        (
            "negative seats",
            json!({"title": "X", "starts_at": STARTS_AT, "rows": [{"label": "A", "seats": -1}]})
                .to_string(),
        ),
        ("missing rows", json!({"title": "X", "starts_at": STARTS_AT}).to_string()),
        ("malformed JSON", r#"{"title": "X", "rows": ["#.to_string()),
    ];
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
        shows(&client).await.is_empty(),
        "a rejected show was created"
    );

    // A 400 is not stored: the same key with a corrected body runs.
    let fixed = admin
        .post("/v1/shows", &first_key, show_body(&[("A", 5)]))
        .await;
    assert_json(&fixed, 201);
    assert_not_replay(&fixed);
    assert_eq!(shows(&client).await.len(), 1);
}

#[tokio::test]
async fn show_limits_accept_their_boundaries() {
    let server = spawn_app();
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
    let summary = summary(&client, big["id"].as_str().unwrap()).await;
    assert_eq!(summary["capacity"], 100_000);
    assert_eq!(summary["available"], 100_000);
}

#[tokio::test]
async fn show_list_reports_capacity_and_availability() {
    let server = spawn_app();
    let client = server.client();
    let show = client.create_show("Listed", &[("A", 5), ("B", 5)]).await;
    let other = client.create_show("Other", &[("A", 3)]).await;
    let guest = client.guest().await;

    let listed = summary(&client, &show).await;
    assert_eq!(listed["title"], "Listed");
    assert_eq!(utc(listed["starts_at"].as_str().unwrap()), utc(STARTS_AT));
    assert_eq!(listed["capacity"], 10);
    assert_eq!(listed["available"], 10);

    let booked = guest.book(&new_key(), &show, &["A1", "B2"]).await;
    let id = assert_json(&booked, 201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let listed = summary(&client, &show).await;
    assert_eq!(listed["capacity"], 10);
    expect_available(&client, &show, 8).await;
    assert_eq!(summary(&client, &other).await["available"], 3);

    assert_eq!(
        guest.delete(&format!("/v1/bookings/{id}")).await.status,
        204
    );
    expect_available(&client, &show, 10).await;
}

#[tokio::test]
async fn unknown_shows_are_404() {
    let server = spawn_app();
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
    assert!(bookings(&guest).await.is_empty());
}

// ---------------------------------------------------------------------------
// idempotency
// ---------------------------------------------------------------------------

#[tokio::test]
async fn every_keyed_post_without_a_key_is_400_and_changes_nothing() {
    let server = spawn_app();
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

    assert_eq!(shows(&client).await.len(), 1);
    assert!(bookings(&guest).await.is_empty());
    expect_map(&client, &show, &[]).await;
    let cart = cart(&guest, &cart_id).await;
    assert_eq!(cart["status"], "open");
    assert_eq!(cart["items"], json!([]));
}

#[tokio::test]
async fn invalid_keys_are_400_and_change_nothing() {
    let server = spawn_app();
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
        let answer = send_raw(
            &guest,
            "POST",
            "/v1/bookings",
            Some(key),
            Some(body.clone().into()),
        )
        .await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.text);
        answer.assert_problem(400, "idempotency-key-invalid");
    }
    assert!(bookings(&guest).await.is_empty());
    expect_map(&client, &show, &[]).await;

    // 255 printable ASCII characters are a fine key, and replay.
    let longest = "k".repeat(255);
    let first = guest.book(&longest, &show, &["A1"]).await;
    assert_json(&first, 201);
    let again = guest.book(&longest, &show, &["A1"]).await;
    assert_replay_of(&again, &first);
    // So is any printable ASCII, spaces and punctuation included.
    let odd = "k!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ 9";
    let first = guest.book(odd, &show, &["A2"]).await;
    assert_json(&first, 201);
    assert_replay_of(&guest.book(odd, &show, &["A2"]).await, &first);
    assert_eq!(bookings(&guest).await.len(), 2);
}

#[tokio::test]
async fn bare_and_quoted_keys_name_the_same_key() {
    let server = spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let body = || {
        Some(reqwest::Body::from(
            booking_body(&show, &["A1"]).to_string(),
        ))
    };

    let key = new_key();
    let bare = send_raw(&guest, "POST", "/v1/bookings", Some(key.as_bytes()), body()).await;
    assert_json(&bare, 201);
    let quoted = format!("\"{key}\"");
    let again = send_raw(
        &guest,
        "POST",
        "/v1/bookings",
        Some(quoted.as_bytes()),
        body(),
    )
    .await;
    assert_replay_of(&again, &bare);

    // The other way round, with an escaped quote: "a\"b" names a"b.
    let body2 = || {
        Some(reqwest::Body::from(
            booking_body(&show, &["A2"]).to_string(),
        ))
    };
    let first = send_raw(
        &guest,
        "POST",
        "/v1/bookings",
        Some(br#""key-\"quoted\"-1""#),
        body2(),
    )
    .await;
    assert_json(&first, 201);
    let again = send_raw(
        &guest,
        "POST",
        "/v1/bookings",
        Some(br#"key-"quoted"-1"#),
        body2(),
    )
    .await;
    assert_replay_of(&again, &first);

    assert_eq!(bookings(&guest).await.len(), 2);
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;
}

#[tokio::test]
async fn a_replay_is_byte_for_byte_and_does_nothing_again() {
    let server = spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let key = new_key();
    let first = guest.book(&key, &show, &["A1", "A2"]).await;
    let created = assert_json(&first, 201);
    assert_not_replay(&first);

    for _ in 0..3 {
        let again = guest.book(&key, &show, &["A1", "A2"]).await;
        assert_replay_of(&again, &first);
        assert_eq!(
            again.header("content-type").as_deref(),
            Some("application/json")
        );
    }
    assert_eq!(bookings(&guest).await.len(), 1);
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;

    // Even after the booking is cancelled, a replay books nothing.
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        guest.delete(&format!("/v1/bookings/{id}")).await.status,
        204
    );
    let again = guest.book(&key, &show, &["A1", "A2"]).await;
    assert_replay_of(&again, &first);
    expect_map(&client, &show, &[]).await;
    let mine = bookings(&guest).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["status"], "cancelled");
}

#[tokio::test]
async fn a_json_equal_body_replays() {
    let server = spawn_app();
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
    assert_replay_of(&again, &first);

    // Array order is part of JSON equality: another seat order is another body.
    let swapped = format!(r#"{{"show_id":"{show}","seats":["A2","A1"]}}"#);
    guest
        .send("POST", "/v1/bookings", Some(&key), Some(&swapped))
        .await
        .assert_problem(422, "idempotency-key-reused");
    assert_eq!(bookings(&guest).await.len(), 1);
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422_and_changes_nothing() {
    let server = spawn_app();
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

    assert_eq!(bookings(&guest).await.len(), 1);
    expect_map(&client, &show, &[("A1", "booked")]).await;
    expect_map(&client, &other_show, &[]).await;
    // The key still replays its own request.
    assert_replay_of(&guest.book(&key, &show, &["A1"]).await, &first);
}

#[tokio::test]
async fn the_same_key_on_another_path_is_422_and_changes_nothing() {
    let server = spawn_app();
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
    assert!(bookings(&guest).await.is_empty());
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
    checkout(&guest, &cart_id, &key)
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

    assert_eq!(cart(&guest, &other_cart).await["items"], json!([]));
    let items = cart(&guest, &cart_id).await["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1);
    assert_eq!(items[0]["seat_id"], "A4");
    assert_eq!(bookings(&guest).await.len(), 1);
    expect_map(&client, &show, &[("A2", "booked"), ("A4", "held")]).await;
}

#[tokio::test]
async fn keys_are_scoped_to_their_user() {
    let server = spawn_app();
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

    assert_eq!(bookings(&one).await.len(), 1);
    assert_eq!(bookings(&two).await.len(), 1);
    assert!(bookings(&three).await.is_empty());
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;
}

#[tokio::test]
async fn a_stored_seat_unavailable_replays_after_the_seat_frees() {
    let server = spawn_app();
    let (client, show, holder) = show_and_guest(&server, 5).await;
    let other = client.guest().await;
    let blocking = assert_json(&holder.book(&new_key(), &show, &["A1"]).await, 201);

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
    assert_replay_of(&again, &refused);
    again.assert_problem(409, "seat-unavailable");
    expect_map(&client, &show, &[]).await;
    assert!(bookings(&other).await.is_empty());

    // A new key is a new attempt.
    assert_json(&other.book(&new_key(), &show, &["A1"]).await, 201);
}

#[tokio::test]
async fn not_found_outcomes_are_stored_and_replayed() {
    let server = spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;

    let unknown_show = uuid::Uuid::new_v4().to_string();
    let key = new_key();
    let first = guest.book(&key, &unknown_show, &["A1"]).await;
    first.assert_problem(404, "not-found");
    assert_not_replay(&first);
    assert_replay_of(&guest.book(&key, &unknown_show, &["A1"]).await, &first);

    let key = new_key();
    let first = guest.book(&key, &show, &["A1", "Z9"]).await;
    first.assert_problem(404, "not-found");
    assert_replay_of(&guest.book(&key, &show, &["A1", "Z9"]).await, &first);

    let unknown_cart = uuid::Uuid::new_v4().to_string();
    let key = new_key();
    let first = guest.hold(&unknown_cart, &key, &show, "A1").await;
    first.assert_problem(404, "not-found");
    assert_replay_of(&guest.hold(&unknown_cart, &key, &show, "A1").await, &first);
    let key = new_key();
    let first = checkout(&guest, &unknown_cart, &key).await;
    first.assert_problem(404, "not-found");
    assert_replay_of(&checkout(&guest, &unknown_cart, &key).await, &first);

    assert!(bookings(&guest).await.is_empty());
    expect_map(&client, &show, &[]).await;
}

#[tokio::test]
async fn validation_errors_are_not_stored() {
    let server = spawn_app();
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
    assert_replay_of(&guest.book(&key, &show, &["A1"]).await, &fixed);
    expect_map(&client, &show, &[("A1", "booked")]).await;
}

#[tokio::test]
async fn payload_too_large_is_not_stored() {
    let server = spawn_app();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_with_one_key_have_one_effect() {
    let server = spawn_app();
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
    assert_eq!(bookings(&guest).await.len(), 1);
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;
}

#[tokio::test]
async fn cart_operations_replay() {
    let server = spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;

    let key = new_key();
    let created = guest.post("/v1/carts", &key, json!({})).await;
    let cart_id = assert_json(&created, 201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_replay_of(&guest.post("/v1/carts", &key, json!({})).await, &created);

    let key = new_key();
    let added = guest.hold(&cart_id, &key, &show, "A1").await;
    assert_json(&added, 201);
    assert_replay_of(&guest.hold(&cart_id, &key, &show, "A1").await, &added);
    assert_eq!(
        cart(&guest, &cart_id).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let key = new_key();
    let done = checkout(&guest, &cart_id, &key).await;
    assert_json(&done, 201);
    assert_replay_of(&checkout(&guest, &cart_id, &key).await, &done);
    assert_eq!(bookings(&guest).await.len(), 1);
    expect_map(&client, &show, &[("A1", "booked")]).await;

    // A stored cart-closed replays too.
    let key = new_key();
    let closed = guest.hold(&cart_id, &key, &show, "A2").await;
    closed.assert_problem(409, "cart-closed");
    assert_replay_of(&guest.hold(&cart_id, &key, &show, "A2").await, &closed);
}

// ---------------------------------------------------------------------------
// error precedence and size
// ---------------------------------------------------------------------------

#[tokio::test]
async fn errors_come_in_the_contract_order() {
    let server = spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let nobody = anonymous(&client);
    let stranger = client.with_token("unknown-token-for-precedence");
    let huge = json!({"show_id": show, "seats": ["A1"], "pad": "x".repeat(70_000)}).to_string();
    let malformed = r#"{"show_id": "#;
    let tab_key: &[u8] = b"bad\tkey";
    let send = |who: &Client, key: Option<&[u8]>, body: &str| {
        let (who, key, body) = (who.clone(), key.map(<[u8]>::to_vec), body.to_string());
        async move {
            send_raw(
                &who,
                "POST",
                "/v1/bookings",
                key.as_deref(),
                Some(body.into()),
            )
            .await
        }
    };

    // auth first
    send(&nobody, None, malformed)
        .await
        .assert_problem(401, "unauthorized");
    send(&nobody, Some(tab_key), &huge)
        .await
        .assert_problem(401, "unauthorized");
    send(&stranger, None, &huge)
        .await
        .assert_problem(401, "unauthorized");
    guest
        .send("POST", "/v1/shows", None, Some(malformed))
        .await
        .assert_problem(403, "forbidden");
    // then size
    send(&guest, None, &huge)
        .await
        .assert_problem(413, "payload-too-large");
    send(&guest, Some(tab_key), &huge)
        .await
        .assert_problem(413, "payload-too-large");
    // then the key
    send(&guest, None, malformed)
        .await
        .assert_problem(400, "idempotency-key-missing");
    send(&guest, Some(tab_key), malformed)
        .await
        .assert_problem(400, "idempotency-key-invalid");
    // then the body
    send(&guest, Some(new_key().as_bytes()), malformed)
        .await
        .assert_problem(400, "invalid-request");
    // then the outcome
    send(
        &guest,
        Some(new_key().as_bytes()),
        &booking_body(&uuid::Uuid::new_v4().to_string(), &["A1"]).to_string(),
    )
    .await
    .assert_problem(404, "not-found");

    assert!(bookings(&guest).await.is_empty());
    expect_map(&client, &show, &[]).await;
}

#[tokio::test]
async fn bodies_are_limited_to_64_kib() {
    let server = spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let padded = |seat: &str, len: usize| {
        let mut body = booking_body(&show, &[seat]).to_string();
        body.push_str(&" ".repeat(len - body.len()));
        body
    };

    // Exactly 64 KiB is allowed (JSON may end in whitespace).
    let exact = padded("A1", 64 * 1024);
    assert_eq!(exact.len(), 65_536);
    let answer = guest
        .send("POST", "/v1/bookings", Some(&new_key()), Some(&exact))
        .await;
    assert_json(&answer, 201);

    // One byte more is not.
    let over = padded("A2", 64 * 1024 + 1);
    guest
        .send("POST", "/v1/bookings", Some(&new_key()), Some(&over))
        .await
        .assert_problem(413, "payload-too-large");

    // Nor is a chunked body without Content-Length.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b' '; 7_000])).collect();
    let mut first = booking_body(&show, &["A3"]).to_string().into_bytes();
    first.extend(std::iter::repeat_n(b' ', 100));
    let stream = futures_util::stream::iter(std::iter::once(Ok(first)).chain(chunks));
    send_raw(
        &guest,
        "POST",
        "/v1/bookings",
        Some(new_key().as_bytes()),
        Some(reqwest::Body::wrap_stream(stream)),
    )
    .await
    .assert_problem(413, "payload-too-large");

    expect_map(&client, &show, &[("A1", "booked")]).await;
    assert_eq!(bookings(&guest).await.len(), 1);
}

// ---------------------------------------------------------------------------
// bookings
// ---------------------------------------------------------------------------

#[tokio::test]
async fn invalid_bookings_are_400_and_change_nothing() {
    let server = spawn_app();
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
    assert!(bookings(&guest).await.is_empty());
    expect_map(&client, &show, &[]).await;
    expect_available(&client, &show, 20).await;
}

#[tokio::test]
async fn max_seats_per_booking_is_configurable() {
    let server = spawn_app_with(|s| s.max_seats_per_booking = 3);
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

#[tokio::test]
async fn a_booking_is_created_with_the_contract_shape() {
    let server = spawn_app();
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
    assert_eq!(booking(&guest, id).await, created);
    assert_eq!(bookings(&guest).await, vec![created.clone()]);

    let changes: Vec<(&str, &str)> = ten.iter().map(|s| (*s, "booked")).collect();
    expect_map(&client, &show, &changes).await;
}

#[tokio::test]
async fn a_booking_is_all_or_nothing() {
    let server = spawn_app();
    let (client, show, first) = show_and_guest(&server, 5).await;
    let second = client.guest().await;
    assert_json(&first.book(&new_key(), &show, &["A2"]).await, 201);

    let refused = second.book(&new_key(), &show, &["A1", "A2", "A3"]).await;
    refused.assert_problem(409, "seat-unavailable");
    assert_eq!(refused.json()["seats"], json!(["A2"]));
    assert!(refused.json()["detail"].as_str().unwrap().contains("A2"));
    expect_map(&client, &show, &[("A2", "booked")]).await;
    assert!(bookings(&second).await.is_empty());

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

#[tokio::test]
async fn booking_a_seat_the_show_lacks_is_404() {
    let server = spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    for seats in [&["A1", "A6"][..], &["B1"][..], &["A999"][..]] {
        guest
            .book(&new_key(), &show, seats)
            .await
            .assert_problem(404, "not-found");
    }
    expect_map(&client, &show, &[]).await;
    assert!(bookings(&guest).await.is_empty());
}

#[tokio::test]
async fn bookings_belong_to_their_user() {
    let server = spawn_app();
    let (client, show, owner) = show_and_guest(&server, 5).await;
    let other = client.guest().await;
    let created = assert_json(&owner.book(&new_key(), &show, &["A1"]).await, 201);
    let id = created["id"].as_str().unwrap();

    for who in [&other, &client.admin()] {
        who.get(&format!("/v1/bookings/{id}"))
            .await
            .assert_problem(404, "not-found");
        who.delete(&format!("/v1/bookings/{id}"))
            .await
            .assert_problem(404, "not-found");
        assert!(
            bookings(who).await.is_empty(),
            "another user's booking listed"
        );
    }
    assert_eq!(booking(&owner, id).await, created);
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

#[tokio::test]
async fn cancelling_frees_the_seats_and_a_repeat_changes_nothing() {
    let server = spawn_app();
    let (client, show, owner) = show_and_guest(&server, 5).await;
    let other = client.guest().await;
    let created = assert_json(&owner.book(&new_key(), &show, &["A1", "A2"]).await, 201);
    let id = created["id"].as_str().unwrap();
    expect_available(&client, &show, 3).await;

    let cancelled = owner.delete(&format!("/v1/bookings/{id}")).await;
    assert_eq!(cancelled.status, 204, "{}", cancelled.text);
    assert!(cancelled.text.is_empty());

    let after = booking(&owner, id).await;
    assert_eq!(after["status"], "cancelled");
    for field in ["id", "show_id", "seats", "created_at"] {
        assert_eq!(after[field], created[field], "{field} changed on cancel");
    }
    assert_eq!(bookings(&owner).await, vec![after.clone()]);
    expect_map(&client, &show, &[]).await;
    expect_available(&client, &show, 5).await;

    // Someone else books A1; a repeated DELETE must not free it.
    let theirs = assert_json(&other.book(&new_key(), &show, &["A1"]).await, 201);
    let again = owner.delete(&format!("/v1/bookings/{id}")).await;
    assert_eq!(again.status, 204, "{}", again.text);
    assert_eq!(booking(&owner, id).await, after);
    expect_map(&client, &show, &[("A1", "booked")]).await;
    assert_eq!(
        booking(&other, theirs["id"].as_str().unwrap()).await["status"],
        "confirmed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_acknowledged_change_shows_in_the_seat_map_at_once() {
    // Read your writes: once the server answered a booking, a hold, a
    // cancel or a release, the public seat map says so. Four users work on
    // their own rows at once; each checks its own changes.
    let server = spawn_app();
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
                    let removed = remove_item(&guest, &cart_id, &show, &seat).await;
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

// ---------------------------------------------------------------------------
// carts
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_new_cart_is_open_and_empty() {
    let server = spawn_app();
    let guest = server.client().guest().await;
    let answer = guest.post("/v1/carts", &new_key(), json!({})).await;
    let created = assert_json(&answer, 201);
    assert_uuid(&created["id"]);
    let id = created["id"].clone();
    assert_eq!(
        created,
        json!({"id": id, "status": "open", "items": [], "expires_at": null})
    );
    assert_eq!(cart(&guest, id.as_str().unwrap()).await, created);
    // Another key is another cart.
    assert_ne!(guest.new_cart().await, id.as_str().unwrap());
}

#[tokio::test]
async fn adding_an_item_holds_the_seat() {
    let server = spawn_app();
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
    assert_eq!(cart(&guest, &cart_id).await, body);
    expect_map(&client, &show, &[("A1", "held")]).await;

    // The cart's expires_at is its earliest live hold's.
    let answer = guest.hold(&cart_id, &new_key(), &show, "A2").await;
    let body = assert_json(&answer, 201);
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    assert_eq!(body["expires_at"], items[0]["expires_at"]);
    expect_map(&client, &show, &[("A1", "held"), ("A2", "held")]).await;
}

#[tokio::test]
async fn adding_a_seat_the_cart_holds_renews_nothing() {
    let server = spawn_app();
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
    assert_eq!(cart(&guest, &cart_id).await, first);
    expect_map(&client, &show, &[("A1", "held")]).await;
}

#[tokio::test]
async fn a_cart_holds_seats_of_one_show() {
    let server = spawn_app();
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
    assert_eq!(cart(&guest, &cart_id).await, held);

    // Not stored: the key may be used again for a seat of the cart's show.
    let fixed = guest.hold(&cart_id, &key, &show, "A2").await;
    assert_json(&fixed, 201);
    assert_not_replay(&fixed);
}

#[tokio::test]
async fn a_held_seat_is_unavailable_to_other_carts_and_bookings() {
    let server = spawn_app();
    let (client, show, holder) = show_and_guest(&server, 5).await;
    let other = client.guest().await;
    let cart_id = holder.new_cart().await;
    assert_json(&holder.hold(&cart_id, &new_key(), &show, "A1").await, 201);

    let other_cart = other.new_cart().await;
    let refused = other.hold(&other_cart, &new_key(), &show, "A1").await;
    refused.assert_problem(409, "seat-unavailable");
    assert_eq!(refused.json()["seats"], json!(["A1"]));
    assert_eq!(cart(&other, &other_cart).await["items"], json!([]));

    // Another cart of the same user is "another cart" as well.
    let second_cart = holder.new_cart().await;
    holder
        .hold(&second_cart, &new_key(), &show, "A1")
        .await
        .assert_problem(409, "seat-unavailable");

    let refused = other.book(&new_key(), &show, &["A1"]).await;
    refused.assert_problem(409, "seat-unavailable");
    assert_eq!(refused.json()["seats"], json!(["A1"]));
    assert!(bookings(&other).await.is_empty());

    // A booked seat cannot be held.
    assert_json(&other.book(&new_key(), &show, &["A2"]).await, 201);
    holder
        .hold(&cart_id, &new_key(), &show, "A2")
        .await
        .assert_problem(409, "seat-unavailable");

    expect_map(&client, &show, &[("A1", "held"), ("A2", "booked")]).await;
    assert_eq!(
        cart(&holder, &cart_id).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn removing_an_item_releases_the_hold() {
    let server = spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let other = client.guest().await;
    let cart_id = guest.new_cart().await;
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A1").await, 201);
    let with_two = assert_json(&guest.hold(&cart_id, &new_key(), &show, "A2").await, 201);

    let removed = remove_item(&guest, &cart_id, &show, "A1").await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    let after = cart(&guest, &cart_id).await;
    let items = after["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["seat_id"], "A2");
    assert_eq!(after["expires_at"], with_two["items"][1]["expires_at"]);
    expect_map(&client, &show, &[("A2", "held")]).await;

    // The released seat is anyone's again.
    assert_json(&other.book(&new_key(), &show, &["A1"]).await, 201);

    assert_eq!(remove_item(&guest, &cart_id, &show, "A2").await.status, 204);
    let empty = cart(&guest, &cart_id).await;
    assert_eq!(empty["items"], json!([]));
    assert_eq!(empty["expires_at"], Value::Null);
    expect_map(&client, &show, &[("A1", "booked")]).await;
}

#[tokio::test]
async fn checkout_books_the_cart_and_closes_it() {
    let server = spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let cart_id = guest.new_cart().await;
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A1").await, 201);
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A2").await, 201);

    let answer = checkout(&guest, &cart_id, &new_key()).await;
    let booked = assert_json(&answer, 201);
    assert_uuid(&booked["id"]);
    assert_eq!(booked["show_id"], show);
    assert_eq!(seat_set(&booked["seats"]), set(&["A1", "A2"]));
    assert_eq!(booked["status"], "confirmed");
    utc(booked["created_at"].as_str().unwrap());

    let closed = cart(&guest, &cart_id).await;
    assert_eq!(closed["status"], "checked_out");
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;
    let id = booked["id"].as_str().unwrap();
    assert_eq!(booking(&guest, id).await, booked);
    assert_eq!(bookings(&guest).await, vec![booked.clone()]);

    // Every change to a checked-out cart answers cart-closed.
    guest
        .hold(&cart_id, &new_key(), &show, "A3")
        .await
        .assert_problem(409, "cart-closed");
    checkout(&guest, &cart_id, &new_key())
        .await
        .assert_problem(409, "cart-closed");
    remove_item(&guest, &cart_id, &show, "A1")
        .await
        .assert_problem(409, "cart-closed");
    assert_eq!(cart(&guest, &cart_id).await, closed);
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;
    assert_eq!(bookings(&guest).await.len(), 1);

    // A booking made by checkout cancels like any other.
    assert_eq!(
        guest.delete(&format!("/v1/bookings/{id}")).await.status,
        204
    );
    expect_map(&client, &show, &[]).await;
}

#[tokio::test]
async fn checkout_of_an_empty_cart_is_400() {
    let server = spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let cart_id = guest.new_cart().await;
    let key = new_key();
    checkout(&guest, &cart_id, &key)
        .await
        .assert_problem(400, "invalid-request");
    let still = cart(&guest, &cart_id).await;
    assert_eq!(still["status"], "open");
    assert!(bookings(&guest).await.is_empty());

    // Also once its only item was removed.
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A1").await, 201);
    assert_eq!(remove_item(&guest, &cart_id, &show, "A1").await.status, 204);
    checkout(&guest, &cart_id, &new_key())
        .await
        .assert_problem(400, "invalid-request");
    expect_map(&client, &show, &[]).await;

    // Not stored: the same key checks out once the cart has a seat.
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A2").await, 201);
    let done = checkout(&guest, &cart_id, &key).await;
    assert_json(&done, 201);
    assert_not_replay(&done);
}

#[tokio::test]
async fn invalid_cart_requests_are_400() {
    let server = spawn_app();
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

    let unchanged = cart(&guest, &cart_id).await;
    assert_eq!(unchanged["items"], json!([]));
    assert_eq!(unchanged["status"], "open");
    expect_map(&client, &show, &[]).await;
}

#[tokio::test]
async fn carts_belong_to_their_user_and_unknown_carts_are_404() {
    let server = spawn_app();
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
        checkout(who, &cart_id, &new_key())
            .await
            .assert_problem(404, "not-found");
        remove_item(who, &cart_id, &show, "A1")
            .await
            .assert_problem(404, "not-found");
    }
    assert_eq!(cart(&owner, &cart_id).await, held);
    expect_map(&client, &show, &[("A1", "held")]).await;
    assert!(bookings(&other).await.is_empty());

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
        checkout(&owner, id, &new_key())
            .await
            .assert_problem(404, "not-found");
        remove_item(&owner, id, &show, "A1")
            .await
            .assert_problem(404, "not-found");
    }
    expect_map(&client, &show, &[("A1", "held")]).await;
}

// ---------------------------------------------------------------------------
// hold expiry, quotas, rate limits
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_lapsed_hold_is_released_by_itself() {
    let server = spawn_app_with(|s| s.hold_ttl_secs = 1);
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let cart_id = guest.new_cart().await;
    let added = assert_json(&guest.hold(&cart_id, &new_key(), &show, "A1").await, 201);
    assert_eq!(added["items"][0]["status"], "held");
    let expires = utc(added["items"][0]["expires_at"].as_str().unwrap());
    expect_map(&client, &show, &[("A1", "held")]).await;

    // Poll the public map: no request touches the cart or seat meanwhile.
    let deadline = expires + chrono::Duration::seconds(3);
    let freed_at = loop {
        let map = client.seat_map(&show).await;
        let now = Utc::now();
        match map["A1"].as_str() {
            "available" => break now,
            "held" => {}
            other => panic!("A1 is {other} while its hold lapses"),
        }
        assert!(
            now < deadline,
            "A1 still held 3 s after its hold expired at {expires}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        freed_at >= expires,
        "released at {freed_at}, before its expiry {expires}"
    );
    expect_map(&client, &show, &[]).await;

    let lapsed = cart(&guest, &cart_id).await;
    assert_eq!(lapsed["status"], "open");
    assert_eq!(lapsed["items"].as_array().unwrap().len(), 1);
    assert_eq!(lapsed["items"][0]["seat_id"], "A1");
    assert_eq!(lapsed["items"][0]["status"], "expired");
    assert_eq!(lapsed["expires_at"], Value::Null);

    let key = new_key();
    let refused = checkout(&guest, &cart_id, &key).await;
    refused.assert_problem(409, "hold-expired");
    assert!(bookings(&guest).await.is_empty());
    expect_map(&client, &show, &[]).await;
    // Stored: a retry replays it.
    assert_replay_of(&checkout(&guest, &cart_id, &key).await, &refused);

    // One lapsed hold among live ones: still nothing is booked.
    let added = assert_json(&guest.hold(&cart_id, &new_key(), &show, "A2").await, 201);
    let items = added["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let a2 = items.iter().find(|i| i["seat_id"] == "A2").unwrap();
    assert_eq!(a2["status"], "held");
    assert_eq!(added["expires_at"], a2["expires_at"], "earliest live hold");
    checkout(&guest, &cart_id, &new_key())
        .await
        .assert_problem(409, "hold-expired");
    assert!(bookings(&guest).await.is_empty());
    expect_map(&client, &show, &[("A2", "held")]).await;

    // The lapsed item stays until removed; then the rest checks out.
    assert_eq!(remove_item(&guest, &cart_id, &show, "A1").await.status, 204);
    let done = assert_json(&checkout(&guest, &cart_id, &new_key()).await, 201);
    assert_eq!(done["seats"], json!(["A2"]));
    expect_map(&client, &show, &[("A2", "booked")]).await;

    // The lapsed seat is anyone's again.
    let other = client.guest().await;
    assert_json(&other.book(&new_key(), &show, &["A1"]).await, 201);
    expect_map(&client, &show, &[("A1", "booked"), ("A2", "booked")]).await;
}

#[tokio::test]
async fn holds_are_limited_per_user_and_show() {
    let server = spawn_app_with(|s| s.max_holds_per_user = 2);
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let other_show = client.create_show("Other", &[("A", 5)]).await;
    let first_cart = guest.new_cart().await;
    let second_cart = guest.new_cart().await;
    assert_json(&guest.hold(&first_cart, &new_key(), &show, "A1").await, 201);
    assert_json(&guest.hold(&first_cart, &new_key(), &show, "A2").await, 201);

    let key = new_key();
    let refused = guest.hold(&second_cart, &key, &show, "A3").await;
    refused.assert_problem(409, "too-many-holds");
    assert_eq!(cart(&guest, &second_cart).await["items"], json!([]));
    expect_map(&client, &show, &[("A1", "held"), ("A2", "held")]).await;

    // Re-adding a seat already held is no new hold.
    assert_json(&guest.hold(&first_cart, &new_key(), &show, "A1").await, 201);
    // The limit is per show and per user.
    let third_cart = guest.new_cart().await;
    assert_json(
        &guest.hold(&third_cart, &new_key(), &other_show, "A1").await,
        201,
    );
    let other = client.guest().await;
    let other_cart = other.new_cart().await;
    assert_json(&other.hold(&other_cart, &new_key(), &show, "A3").await, 201);

    // Releasing a hold makes room; the stored 409 still replays.
    assert_eq!(
        remove_item(&guest, &first_cart, &show, "A1").await.status,
        204
    );
    assert_replay_of(&guest.hold(&second_cart, &key, &show, "A3").await, &refused);
    assert_json(
        &guest.hold(&second_cart, &new_key(), &show, "A4").await,
        201,
    );
    guest
        .hold(&second_cart, &new_key(), &show, "A5")
        .await
        .assert_problem(409, "too-many-holds");
    expect_map(
        &client,
        &show,
        &[("A2", "held"), ("A3", "held"), ("A4", "held")],
    )
    .await;
}

#[tokio::test]
async fn a_burst_beyond_the_rate_limit_is_429_for_that_user_only() {
    let server = spawn_app_with(|s| s.user_rate_limit = 2);
    let client = server.client();
    let busy = client.guest().await;
    let calm = client.guest().await;

    let started = Instant::now();
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(busy.get("/v1/bookings").await);
    }
    let elapsed = started.elapsed().as_secs_f64();
    for answer in &answers[..4] {
        assert_eq!(answer.status, 200, "a burst of twice the rate is allowed");
    }
    let limited: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    let passed = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(limited.len() + passed, answers.len());
    assert!(
        !limited.is_empty(),
        "10 quick requests at 2/s were all served"
    );
    assert!(
        passed as f64 <= 4.0 + 2.0 * elapsed + 1.0,
        "{passed} requests served in {elapsed:.2} s at 2/s"
    );
    for answer in limited {
        answer.assert_problem(429, "rate-limited");
        let retry: u64 = answer
            .header("retry-after")
            .expect("429 carries Retry-After")
            .parse()
            .expect("Retry-After in seconds");
        assert!(retry >= 1);
    }
    // Another user is not affected.
    assert_eq!(calm.get("/v1/bookings").await.status, 200);
}

#[tokio::test]
async fn a_rate_limited_request_is_not_stored() {
    let server = spawn_app_with(|s| s.user_rate_limit = 1);
    let client = server.client();
    let show = client.create_show("Limited", &[("A", 20)]).await;
    let guest = client.guest().await;

    // Empty the bucket, then send a keyed booking that is refused. (Should
    // the bucket refill in between, that booking runs: try the next seat.)
    let mut booked: Vec<String> = Vec::new();
    let mut refused = None;
    for n in 1..=20 {
        let mut emptied = false;
        for _ in 0..20 {
            if guest.get("/v1/bookings").await.status == 429 {
                emptied = true;
                break;
            }
        }
        assert!(emptied, "20 quick requests at 1/s were all served");
        let (key, seat) = (new_key(), format!("A{n}"));
        let answer = guest.book(&key, &show, &[seat.as_str()]).await;
        if answer.status == 429 {
            answer.assert_problem(429, "rate-limited");
            refused = Some((key, seat));
            break;
        }
        assert_json(&answer, 201);
        booked.push(seat);
    }
    let (key, seat) = refused.expect("no booking was rate-limited");
    let mut expected: Vec<(&str, &str)> = booked.iter().map(|s| (s.as_str(), "booked")).collect();
    expect_map(&client, &show, &expected).await;

    // Retry the same key until the bucket refills: it runs for real.
    let deadline = Instant::now() + Duration::from_secs(5);
    let answer = loop {
        let answer = guest.book(&key, &show, &[seat.as_str()]).await;
        if answer.status != 429 {
            break answer;
        }
        assert!(Instant::now() < deadline, "still rate-limited after 5 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_json(&answer, 201);
    assert_not_replay(&answer);
    expected.push((seat.as_str(), "booked"));
    expect_map(&client, &show, &expected).await;
}

// ---------------------------------------------------------------------------
// events and operations
// ---------------------------------------------------------------------------

/// Reads server-sent events until `want` of them were seen (or panics).
async fn read_events(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
    want: usize,
) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    let read = async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let mut name = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = Some(value.trim().to_string());
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if let Some(name) = name {
                    let data: Value = serde_json::from_str(&data)
                        .unwrap_or_else(|e| panic!("event data {data:?} is not JSON: {e}"));
                    events.push((name, data));
                    if events.len() == want {
                        return;
                    }
                }
            }
            let chunk = stream
                .next()
                .await
                .expect("the event stream ended")
                .expect("the event stream broke");
            buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .unwrap_or_else(|_| panic!("no {want} events within 5 s, got {events:?}"));
    events
}

#[tokio::test]
async fn the_event_stream_reports_seat_changes() {
    let server = spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    let other_show = client.create_show("Other", &[("A", 5)]).await;
    let response = client
        .http
        .get(format!("{}/v1/shows/{show}/events", client.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();

    // A change in another show is not reported on this stream.
    assert_json(&guest.book(&new_key(), &other_show, &["A5"]).await, 201);
    let booked = assert_json(&guest.book(&new_key(), &show, &["A1"]).await, 201);
    let events = read_events(&mut stream, &mut buffer, 1).await;
    assert_eq!(
        events,
        vec![(
            "seat".to_string(),
            json!({"seat_id": "A1", "status": "booked"})
        )]
    );

    let cart_id = guest.new_cart().await;
    assert_json(&guest.hold(&cart_id, &new_key(), &show, "A2").await, 201);
    let events = read_events(&mut stream, &mut buffer, 1).await;
    assert_eq!(
        events,
        vec![(
            "seat".to_string(),
            json!({"seat_id": "A2", "status": "held"})
        )]
    );

    let id = booked["id"].as_str().unwrap();
    assert_eq!(
        guest.delete(&format!("/v1/bookings/{id}")).await.status,
        204
    );
    let events = read_events(&mut stream, &mut buffer, 1).await;
    assert_eq!(
        events,
        vec![(
            "seat".to_string(),
            json!({"seat_id": "A1", "status": "available"})
        )]
    );
}

#[tokio::test]
async fn metrics_expose_the_required_series() {
    let server = spawn_app();
    let (client, show, guest) = show_and_guest(&server, 5).await;
    // Make sure a booking, a conflict and a replay happened.
    let key = new_key();
    assert_json(&guest.book(&key, &show, &["A1"]).await, 201);
    assert!(guest.book(&key, &show, &["A1"]).await.is_replay());
    guest
        .book(&new_key(), &show, &["A1"])
        .await
        .assert_problem(409, "seat-unavailable");

    let answer = client.get("/metrics").await;
    assert_eq!(answer.status, 200);
    let content_type = answer.header("content-type").unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    for name in [
        "boxoffice_http_requests_total",
        "boxoffice_bookings_total",
        "boxoffice_idempotent_replays_total",
        "boxoffice_conflicts_total",
        "boxoffice_mailbox_depth",
    ] {
        assert!(
            answer.text.lines().any(|l| l.starts_with(name)),
            "no {name} series in:\n{}",
            answer.text
        );
    }
    // Requests are counted by route and status; latency is a histogram.
    assert!(answer
        .text
        .lines()
        .any(|l| l.starts_with("boxoffice_http_requests_total{")
            && l.contains("/v1/bookings")
            && l.contains("201")));
    assert!(answer
        .text
        .contains("# TYPE boxoffice_http_request_duration_seconds histogram"));
    let bookings_total: f64 = answer
        .text
        .lines()
        .find_map(|l| l.strip_prefix("boxoffice_bookings_total "))
        .expect("bookings counter")
        .trim()
        .parse()
        .unwrap();
    assert!(bookings_total >= 1.0);
}

#[tokio::test]
async fn openapi_documents_every_endpoint() {
    let server = spawn_app();
    let answer = server.client().get("/openapi.json").await;
    let doc = assert_json(&answer, 200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')),
        "not OpenAPI 3: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    // Parameter names may differ; compare the shapes of the paths.
    let normalise = |path: &str| {
        path.split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "{}"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    let documented: BTreeMap<String, &Value> =
        paths.iter().map(|(p, ops)| (normalise(p), ops)).collect();
    let endpoints = [
        ("post", "/v1/sessions"),
        ("get", "/v1/shows"),
        ("post", "/v1/shows"),
        ("get", "/v1/shows/{}"),
        ("get", "/v1/shows/{}/events"),
        ("post", "/v1/bookings"),
        ("get", "/v1/bookings"),
        ("get", "/v1/bookings/{}"),
        ("delete", "/v1/bookings/{}"),
        ("post", "/v1/carts"),
        ("get", "/v1/carts/{}"),
        ("post", "/v1/carts/{}/items"),
        ("delete", "/v1/carts/{}/items/{}/{}"),
        ("post", "/v1/carts/{}/checkout"),
        ("get", "/healthz"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
    ];
    for (method, path) in endpoints {
        let ops = documented
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not in the OpenAPI paths"));
        assert!(
            ops.get(method).is_some(),
            "{} {path} is not documented",
            method.to_uppercase()
        );
    }
}

#[tokio::test]
async fn unknown_paths_are_404_problems() {
    let server = spawn_app();
    let client = server.client();
    let guest = client.guest().await;
    for path in ["/v1/nothing", "/nothing", "/v2/shows", "/v1/shows/x/y/z"] {
        client.get(path).await.assert_problem(404, "not-found");
        guest.get(path).await.assert_problem(404, "not-found");
    }
}

#[tokio::test]
async fn healthz_answers_200() {
    let server = spawn_app();
    let answer = server.client().get("/healthz").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

#[tokio::test]
async fn every_error_carries_a_listed_problem_code() {
    let server = spawn_app();
    let client = server.client();
    let guest = client.guest().await;
    let listed: BTreeMap<&str, u16> = [
        ("invalid-request", 400),
        ("idempotency-key-missing", 400),
        ("idempotency-key-invalid", 400),
        ("unauthorized", 401),
        ("forbidden", 403),
        ("not-found", 404),
        ("seat-unavailable", 409),
        ("hold-expired", 409),
        ("cart-closed", 409),
        ("too-many-holds", 409),
        ("request-in-progress", 409),
        ("payload-too-large", 413),
        ("idempotency-key-reused", 422),
        ("rate-limited", 429),
        ("overloaded", 503),
    ]
    .into_iter()
    .collect();
    for (method, path) in [
        ("PUT", "/v1/bookings"),
        ("DELETE", "/v1/shows"),
        ("PATCH", "/v1/carts"),
        ("GET", "/v1/sessions"),
    ] {
        let answer = guest.send(method, path, Some(&new_key()), Some("{}")).await;
        assert_eq!(
            answer.header("content-type").as_deref(),
            Some("application/problem+json"),
            "{method} {path}"
        );
        let code = answer.code();
        let status = listed
            .get(code.as_str())
            .unwrap_or_else(|| panic!("{method} {path}: code {code:?} is not in API.md"));
        assert_eq!(answer.status, *status, "{method} {path}");
    }
}

#[tokio::test]
async fn json_arrays_are_not_objects() {
    let server = spawn_app();
    let client = server.client();
    let show = client.create_show("Arrays", &[("A", 3)]).await;
    let guest = client.guest().await;
    let answer = guest
        .send(
            "POST",
            "/v1/bookings",
            Some(&new_key()),
            Some(&format!(r#"["{show}",["A1"]]"#)),
        )
        .await;
    answer.assert_problem(400, "invalid-request");
    let answer = guest
        .send("POST", "/v1/carts", Some(&new_key()), Some("[]"))
        .await;
    answer.assert_problem(400, "invalid-request");
    assert_eq!(guest.seat_map(&show).await["A1"], "available");
}

#[tokio::test]
async fn odd_methods_do_not_grow_the_metrics() {
    let server = spawn_app();
    let client = server.client();
    for i in 0..5 {
        let answer = client
            .send(&format!("FOO{i}"), "/healthz", None, None)
            .await;
        assert!(answer.status >= 400, "{}", answer.status);
    }
    let metrics = client.get("/metrics").await.text;
    assert!(!metrics.contains("FOO"), "client methods became labels");
    assert!(metrics.contains("method=\"other\""));
}

/// A client that hangs up right after sending a show must still find it
/// listed once a retry with the same key has answered 201. A retry that
/// arrives while the first is still running is answered 409
/// `request-in-progress` (API.md rule 6) and, as a client does, tries again.
#[tokio::test]
async fn a_show_created_by_a_client_that_hung_up_is_listed() {
    use tokio::io::AsyncWriteExt;
    let server = spawn_app();
    let client = server.client();
    let addr = server.base.trim_start_matches("http://").to_string();
    let body = r#"{"title":"Hung up","starts_at":"2026-12-01T19:30:00Z","rows":[{"label":"A","seats":2}]}"#;
    let keys: Vec<String> = (0..20).map(|_| new_key()).collect();
    for key in &keys {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let request = format!(
            "POST /v1/shows HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
             Idempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        drop(stream); // hang up without reading the answer
    }
    let admin = client.admin();
    let mut ids = Vec::new();
    for key in &keys {
        let mut answer = admin.send("POST", "/v1/shows", Some(key), Some(body)).await;
        for _ in 0..500 {
            if answer.status != 409 {
                break;
            }
            answer.assert_problem(409, "request-in-progress");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            answer = admin.send("POST", "/v1/shows", Some(key), Some(body)).await;
        }
        assert_eq!(answer.status, 201, "{}", answer.text);
        ids.push(answer.json()["id"].as_str().unwrap().to_string());
    }
    let listed = client.get("/v1/shows").await.json();
    for id in ids {
        assert!(
            listed["shows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["id"] == id.as_str()),
            "show {id} answered 201 but is not listed"
        );
        assert_eq!(client.get(&format!("/v1/shows/{id}")).await.status, 200);
    }
}
