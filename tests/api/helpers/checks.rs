//! Request bodies and the assertions several features share: replays,
//! seat sets, seat maps, times.

use super::{Answer, Client};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

pub const STARTS_AT: &str = "2026-12-01T19:30:00Z";

/// A show titled "Show" with rows like `[("A", 10)]`.
pub fn show_body(rows: &[(&str, u32)]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|(label, seats)| json!({"label": label, "seats": seats}))
        .collect();
    json!({"title": "Show", "starts_at": STARTS_AT, "rows": rows})
}

pub fn booking_body(show: &str, seats: &[&str]) -> Value {
    json!({"show_id": show, "seats": seats})
}

/// Asserts an `application/json` answer with this status; its body.
pub fn assert_json(answer: &Answer, status: u16) -> Value {
    assert_eq!(answer.status, status, "body: {}", answer.text);
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("application/json"),
        "{}",
        answer.text
    );
    answer.json()
}

/// Asserts a first run, not marked as a replay.
pub fn assert_not_replay(answer: &Answer) {
    assert!(
        !answer.is_replay(),
        "a first run must not be marked as a replay: {}",
        answer.text
    );
}

/// Asserts `again` replays `first`: marked `Idempotent-Replayed`, the same
/// status, content type and bytes. `what` names the request.
pub fn assert_replay(first: &Answer, again: &Answer, what: &str) {
    assert!(
        again.is_replay(),
        "{what}: expected Idempotent-Replayed: true, got {} {} (headers {:?})",
        again.status,
        again.text,
        again.headers
    );
    assert_eq!(again.status, first.status, "{what}: status differs");
    assert_eq!(again.text, first.text, "{what}: a replay is byte for byte");
    assert_eq!(
        again.header("content-type"),
        first.header("content-type"),
        "{what}: content type differs"
    );
}

/// Parses an RFC 3339 time and checks it is written in UTC.
pub fn utc(text: &str) -> DateTime<Utc> {
    assert!(
        text.ends_with('Z') || text.ends_with("+00:00"),
        "{text:?} is not UTC"
    );
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

pub fn assert_uuid(text: &Value) {
    let text = text
        .as_str()
        .unwrap_or_else(|| panic!("{text} is no string"));
    uuid::Uuid::parse_str(text).unwrap_or_else(|e| panic!("{text:?} is no UUID: {e}"));
}

/// The seat ids of a JSON array.
pub fn seat_set(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{value} is no array"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

pub fn set(seats: &[&str]) -> BTreeSet<String> {
    seats.iter().map(|s| s.to_string()).collect()
}

/// Seat ids with a status in a seat map.
pub fn seats_with(map: &BTreeMap<String, String>, status: &str) -> BTreeSet<String> {
    map.iter()
        .filter(|(_, s)| s.as_str() == status)
        .map(|(id, _)| id.clone())
        .collect()
}

/// Asserts the seat map shows `changes` and every other seat available.
/// An acknowledged change is on the map before its reply, so this reads once.
pub async fn expect_map(client: &Client, show: &str, changes: &[(&str, &str)]) {
    let map = client.seat_map(show).await;
    let mut expected: BTreeMap<String, String> = map
        .keys()
        .map(|k| (k.clone(), "available".to_string()))
        .collect();
    for (seat, status) in changes {
        assert!(expected.contains_key(*seat), "no seat {seat}");
        expected.insert(seat.to_string(), status.to_string());
    }
    assert_eq!(map, expected);
}

/// Asserts the seat map has exactly `held` held and `booked` booked seats.
pub async fn assert_map(
    client: &Client,
    show: &str,
    held: &BTreeSet<String>,
    booked: &BTreeSet<String>,
    what: &str,
) {
    let map = client.seat_map(show).await;
    assert_eq!(&seats_with(&map, "held"), held, "{what}: held seats");
    assert_eq!(&seats_with(&map, "booked"), booked, "{what}: booked seats");
}

/// Asserts the show list reports `available` seats for `show`.
pub async fn expect_available(client: &Client, show: &str, available: u64) {
    let listed = client.show_summary(show).await;
    assert_eq!(listed["available"], available, "{listed}");
}
