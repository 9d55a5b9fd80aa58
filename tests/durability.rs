//! Durability tests against the real binary (API.md "Idempotency" and
//! "Durability"): answers replay byte for byte across SIGTERM and `kill -9`,
//! acknowledged effects survive, nothing is half done after a crash at any
//! step of an operation (`BOXOFFICE_CRASH_POINT`), and hold timers keep
//! running after a restart.

mod common;
use common::*;

use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

// ---------------------------------------------------------------- helpers

/// The steps of `Engine::settle` a crash point can name.
const STEPS: [&str; 3] = ["prepared", "written", "durable"];
/// Multi-seat operations also crash after their first seat is reserved and
/// before the next is asked, and after the seats have taken the change,
/// just before the reply.
const MULTI_SEAT_STEPS: [&str; 5] = [
    "between-seats",
    "prepared",
    "written",
    "durable",
    "resolved",
];

const SIGABRT: i32 = 6;

/// The environment that makes the server abort at `point`. Built with the
/// `failpoints` feature it is a `fail` failpoint (`FAILPOINTS=<point>=return`),
/// otherwise the `BOXOFFICE_CRASH_POINT` setting; both fire in
/// `Engine::crash_at`, so `cargo test --features failpoints --test durability
/// crash_` runs the whole crash matrix through the `fail` crate.
fn crash_env(point: &str) -> (&'static str, String) {
    if cfg!(feature = "failpoints") {
        ("FAILPOINTS", format!("{point}=return"))
    } else {
        ("BOXOFFICE_CRASH_POINT", point.to_string())
    }
}

fn token_of(client: &Client) -> String {
    client.token.clone().expect("a signed-in client")
}

/// A client of (another run of) the server, signed in with `token`.
fn on(base: &str, token: &str) -> Client {
    Client::new(base).with_token(token)
}

/// Like `Client::send`, but `None` when no answer arrived (the connection
/// failed: the server died before or while answering).
async fn try_send(
    client: &Client,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> Option<Answer> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client
        .http
        .request(method, format!("{}{}", client.base, path));
    if let Some(token) = &client.token {
        request = request.bearer_auth(token);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.ok()?;
    Some(Answer {
        status,
        headers,
        text,
    })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn parse_ms(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("bad time {rfc3339:?}: {e}"))
        .timestamp_millis()
}

/// Asserts `again` is the replay of `first`: same status, same bytes.
fn assert_replay_of(first: &Answer, again: &Answer, what: &str) {
    assert!(
        again.is_replay(),
        "{what}: expected a replay, got {} {} (headers {:?})",
        again.status,
        again.text,
        again.headers
    );
    assert_eq!(again.status, first.status, "{what}: status differs");
    assert_eq!(again.text, first.text, "{what}: body differs");
    assert_eq!(
        again.header("content-type"),
        first.header("content-type"),
        "{what}: content type differs"
    );
}

/// Asserts the server died of its crash point: no answer, SIGABRT.
fn expect_abort(server: BinaryServer, answer: Option<Answer>, point: &str) {
    if let Some(answer) = answer {
        panic!(
            "{point}: the server answered {} {} instead of aborting",
            answer.status, answer.text
        );
    }
    let status = server.wait();
    assert_eq!(
        status.signal(),
        Some(SIGABRT),
        "{point}: the server ended with {status:?}, not by abort()"
    );
}

/// What a crash at `step` must have left: `Some(false)` nothing,
/// `Some(true)` everything, `None` either (but never a part).
fn required(step: &str) -> Option<bool> {
    match step {
        "between-seats" | "prepared" => Some(false),
        "durable" | "resolved" => Some(true),
        _ => None,
    }
}

fn check_step(point: &str, step: &str, present: bool) {
    if let Some(want) = required(step) {
        assert_eq!(
            present, want,
            "{point}: after the crash the effect is present={present}, expected present={want}"
        );
    }
    eprintln!("{point}: effect present after restart: {present}");
}

/// Seat ids with a status in a seat map.
fn seats_with(map: &BTreeMap<String, String>, status: &str) -> BTreeSet<String> {
    map.iter()
        .filter(|(_, s)| s.as_str() == status)
        .map(|(id, _)| id.clone())
        .collect()
}

fn set(seats: &[&str]) -> BTreeSet<String> {
    seats.iter().map(|s| s.to_string()).collect()
}

fn seat_set(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a seat list: {value}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Asserts the seat map has exactly `held` held and `booked` booked seats.
async fn assert_map(
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

/// Stops `server`, starts it again on `data` and checks the seat map as
/// rebuilt from disk.
async fn restart_and_assert_map(
    data: &Path,
    server: BinaryServer,
    show: &str,
    held: &BTreeSet<String>,
    booked: &BTreeSet<String>,
    what: &str,
) -> BinaryServer {
    stop(server);
    let server = BinaryServer::start(data, &[]);
    assert_map(&server.client(), show, held, booked, what).await;
    server
}

async fn bookings_of(client: &Client) -> Vec<Value> {
    let answer = client.get("/v1/bookings").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()["bookings"].as_array().unwrap().clone()
}

async fn cart_of(client: &Client, cart: &str) -> Value {
    let answer = client.get(&format!("/v1/carts/{cart}")).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()
}

/// POSTs with a new key and asserts the status.
/// Holds a seat in a cart with a fresh key; asserts the 201.
async fn hold_new(client: &Client, cart: &str, show: &str, seat: &str) -> Answer {
    let answer = client.hold(cart, &new_key(), show, seat).await;
    assert_eq!(answer.status, 201, "hold {seat}: {}", answer.text);
    answer
}

async fn post_new(client: &Client, path: &str, body: Value, status: u16) -> Answer {
    let answer = client.post(path, &new_key(), body).await;
    assert_eq!(answer.status, status, "POST {path}: {}", answer.text);
    answer
}

/// A first run without a crash point: a show with row A of 10 seats and a
/// guest. Returns the server (still running), the show and the guest.
async fn first_run(data: &Path) -> (BinaryServer, String, Client) {
    let server = BinaryServer::start(data, &[]);
    let show = server.client().create_show("Crash", &[("A", 10)]).await;
    let guest = server.client().guest().await;
    (server, show, guest)
}

fn stop(server: BinaryServer) {
    let status = server.terminate();
    assert!(status.success(), "SIGTERM exit: {status:?}");
}

// ------------------------------------------------ 1. replays after SIGTERM

/// A keyed request as sent, and its first answer.
struct Sent {
    token: String,
    path: String,
    key: String,
    body: String,
    first: Answer,
}

async fn send_logged(log: &mut Vec<Sent>, client: &Client, path: &str, body: Value) -> Answer {
    let key = new_key();
    let body = body.to_string();
    let first = client.send("POST", path, Some(&key), Some(&body)).await;
    log.push(Sent {
        token: token_of(client),
        path: path.to_string(),
        key,
        body,
        first: first.clone(),
    });
    first
}

#[tokio::test]
async fn sigterm_restart_replays_every_answer_and_keeps_state() {
    let (_parent, data) = temp_data_dir();
    let server = BinaryServer::start(&data, &[]);
    let anon = server.client();
    let admin = anon.admin();
    let alice = anon.guest().await;
    let bob = anon.guest().await;
    let mut log = Vec::new();

    let rows = json!([{"label": "A", "seats": 10}, {"label": "B", "seats": 10}]);
    let created = send_logged(
        &mut log,
        &admin,
        "/v1/shows",
        json!({"title": "Replay", "starts_at": "2026-12-01T19:30:00Z", "rows": rows}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let show = created.json()["id"].as_str().unwrap().to_string();

    // One-shot bookings: a 201, a 409 seat-unavailable, a 404 unknown seat.
    let booking = json!({"show_id": show, "seats": ["A1", "A2"]});
    let booked = send_logged(&mut log, &alice, "/v1/bookings", booking).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    let conflict = json!({"show_id": show, "seats": ["A2", "A3"]});
    let refused = send_logged(&mut log, &bob, "/v1/bookings", conflict).await;
    refused.assert_problem(409, "seat-unavailable");
    let unknown = json!({"show_id": show, "seats": ["Z1"]});
    send_logged(&mut log, &bob, "/v1/bookings", unknown)
        .await
        .assert_problem(404, "not-found");

    // Cart: create, hold two seats, check out; a change after checkout.
    let cart = send_logged(&mut log, &alice, "/v1/carts", json!({})).await;
    assert_eq!(cart.status, 201, "{}", cart.text);
    let cart = cart.json()["id"].as_str().unwrap().to_string();
    let items = format!("/v1/carts/{cart}/items");
    for seat in ["B1", "B2"] {
        let held = send_logged(
            &mut log,
            &alice,
            &items,
            json!({"show_id": show, "seat_id": seat}),
        )
        .await;
        assert_eq!(held.status, 201, "{}", held.text);
    }
    let checkout = format!("/v1/carts/{cart}/checkout");
    let checked_out = send_logged(&mut log, &alice, &checkout, json!({})).await;
    assert_eq!(checked_out.status, 201, "{}", checked_out.text);
    send_logged(
        &mut log,
        &alice,
        &items,
        json!({"show_id": show, "seat_id": "B9"}),
    )
    .await
    .assert_problem(409, "cart-closed");

    // Bob's cart keeps a live hold over the restart; a hold on a booked seat.
    let bob_cart = send_logged(&mut log, &bob, "/v1/carts", json!({})).await;
    let bob_cart = bob_cart.json()["id"].as_str().unwrap().to_string();
    let bob_items = format!("/v1/carts/{bob_cart}/items");
    let held = send_logged(
        &mut log,
        &bob,
        &bob_items,
        json!({"show_id": show, "seat_id": "B5"}),
    )
    .await;
    assert_eq!(held.status, 201, "{}", held.text);
    send_logged(
        &mut log,
        &bob,
        &bob_items,
        json!({"show_id": show, "seat_id": "B1"}),
    )
    .await
    .assert_problem(409, "seat-unavailable");

    // A cancelled booking is listed as such after the restart too.
    let cancelled = send_logged(
        &mut log,
        &alice,
        "/v1/bookings",
        json!({"show_id": show, "seats": ["A5"]}),
    )
    .await;
    assert_eq!(cancelled.status, 201, "{}", cancelled.text);
    let cancelled = cancelled.json()["id"].as_str().unwrap().to_string();
    let gone = alice.delete(&format!("/v1/bookings/{cancelled}")).await;
    assert_eq!(gone.status, 204, "{}", gone.text);

    let snapshot = |base: String, alice: String, bob: String| {
        let (cart, bob_cart) = (cart.clone(), bob_cart.clone());
        async move {
            let anon = Client::new(&base);
            let (alice, bob) = (anon.with_token(&alice), anon.with_token(&bob));
            let mut out = Vec::new();
            for (who, path) in [
                (&alice, "/v1/bookings".to_string()),
                (&bob, "/v1/bookings".to_string()),
                (&alice, format!("/v1/carts/{cart}")),
                (&bob, format!("/v1/carts/{bob_cart}")),
            ] {
                let answer = who.get(&path).await;
                assert_eq!(answer.status, 200, "GET {path}: {}", answer.text);
                out.push((path, answer.text));
            }
            out
        }
    };
    let (alice_token, bob_token) = (token_of(&alice), token_of(&bob));
    let before = snapshot(server.base.clone(), alice_token.clone(), bob_token.clone()).await;
    let (held, booked) = (set(&["B5"]), set(&["A1", "A2", "B1", "B2"]));
    assert_map(&alice, &show, &held, &booked, "before SIGTERM").await;

    stop(server);
    let server = BinaryServer::start(&data, &[]);
    let map_text = server.client().get(&format!("/v1/shows/{show}")).await.text;
    assert_map(&server.client(), &show, &held, &booked, "after SIGTERM").await;

    for sent in &log {
        let client = on(&server.base, &sent.token);
        let again = client
            .send("POST", &sent.path, Some(&sent.key), Some(&sent.body))
            .await;
        assert_replay_of(&sent.first, &again, &format!("POST {}", sent.path));
    }
    let after = snapshot(server.base.clone(), alice_token.clone(), bob_token.clone()).await;
    for ((path, old), (_, new)) in before.iter().zip(&after) {
        assert_eq!(old, new, "GET {path} changed across the restart");
    }
    let map_after = server.client().get(&format!("/v1/shows/{show}")).await.text;
    assert_eq!(map_text, map_after, "the replays changed the seat map");
    let listed = server.client().get("/v1/shows").await.json();
    assert_eq!(listed["shows"][0]["available"], 20 - 5, "{listed}");

    // Sessions survive: the old tokens still read and write.
    let alice = on(&server.base, &alice_token);
    let more = alice.book(&new_key(), &show, &["A9"]).await;
    assert_eq!(more.status, 201, "{}", more.text);
    let bob = on(&server.base, &bob_token);
    assert_eq!(bookings_of(&bob).await.len(), 0);
    stop(server);
}

// ------------------------------------------------ 2. kill -9 under load

const LOAD_CLIENTS: usize = 16;
const LOAD_ROUNDS: usize = 3;
const LOAD_ROWS: [&str; 10] = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"];
const LOAD_ROW_SEATS: u32 = 20;
/// Answers the load collects in a round before the kill.
const ANSWERS_BEFORE_KILL: usize = 150;
/// Upper bound of requests per client and round.
const MAX_REQUESTS_PER_CLIENT: usize = 400;

/// One booking request of the load and its answer (`None`: no answer).
#[derive(Clone, Debug)]
struct LoadRecord {
    user: usize,
    key: String,
    show: String,
    seats: BTreeSet<String>,
    body: String,
    answer: Option<Answer>,
}

/// A confirmed booking the tests know of: who owns it and its seats.
#[derive(Clone, Debug)]
struct Known {
    user: usize,
    show: String,
    seats: BTreeSet<String>,
    body: Value,
}

/// One client: books random runs of 1-3 adjacent seats until its
/// connection fails (the kill) or it reaches its bound.
async fn load_client(
    client: Client,
    user: usize,
    show: String,
    answered: Arc<AtomicUsize>,
    threshold: Arc<Notify>,
) -> Vec<LoadRecord> {
    let mut rng = StdRng::from_entropy();
    let mut records = Vec::new();
    for _ in 0..MAX_REQUESTS_PER_CLIENT {
        let row = LOAD_ROWS[rng.gen_range(0..LOAD_ROWS.len())];
        let count = rng.gen_range(1..=3u32);
        let start = rng.gen_range(1..=LOAD_ROW_SEATS - count + 1);
        let seats: Vec<String> = (start..start + count)
            .map(|n| format!("{row}{n}"))
            .collect();
        let key = new_key();
        let body = json!({"show_id": show, "seats": seats}).to_string();
        let answer = try_send(&client, "POST", "/v1/bookings", Some(&key), Some(&body)).await;
        let failed = answer.is_none();
        if !failed && answered.fetch_add(1, Ordering::SeqCst) + 1 == ANSWERS_BEFORE_KILL {
            threshold.notify_one();
        }
        records.push(LoadRecord {
            user,
            key,
            show: show.clone(),
            seats: seats.into_iter().collect(),
            body,
            answer,
        });
        if failed {
            break;
        }
    }
    records
}

/// Checks a restarted server against everything acknowledged so far, then
/// settles the requests of the last round that got no answer (retrying
/// their keys) and adds them to `acked`.
async fn verify_after_kill(
    base: &str,
    tokens: &[String],
    shows: &[String],
    acked: &mut Vec<LoadRecord>,
    known: &mut BTreeMap<String, Known>,
    unanswered: Vec<LoadRecord>,
) {
    let clients: Vec<Client> = tokens.iter().map(|t| on(base, t)).collect();

    // Every acknowledged booking is there, owned by its user, unchanged;
    // at most the one unanswered request of a user added a booking, and
    // then with exactly its seats.
    let mut extra: BTreeMap<usize, Value> = BTreeMap::new();
    let mut all: Vec<(String, String, BTreeSet<String>)> = Vec::new();
    for (user, client) in clients.iter().enumerate() {
        let listed = bookings_of(client).await;
        let mut ids = BTreeSet::new();
        for booking in &listed {
            let id = booking["id"].as_str().unwrap().to_string();
            assert_eq!(booking["status"], "confirmed", "{booking}");
            let seats = seat_set(&booking["seats"]);
            let show = booking["show_id"].as_str().unwrap().to_string();
            all.push((id.clone(), show.clone(), seats.clone()));
            ids.insert(id.clone());
            match known.get(&id) {
                Some(k) => {
                    assert_eq!(k.user, user, "booking {id} listed for another user");
                    assert_eq!((&k.show, &k.seats), (&show, &seats), "booking {id}");
                    assert_eq!(booking, &k.body, "booking {id} changed");
                }
                None => {
                    let pending: Vec<&LoadRecord> =
                        unanswered.iter().filter(|r| r.user == user).collect();
                    assert!(
                        pending.iter().any(|r| r.show == show && r.seats == seats),
                        "user {user} has booking {booking} that no unanswered request of \
                         theirs asked for (unanswered: {pending:?})"
                    );
                    assert!(
                        extra.insert(user, booking.clone()).is_none(),
                        "user {user} has more than one unacknowledged booking"
                    );
                }
            }
        }
        for (id, k) in known.iter().filter(|(_, k)| k.user == user) {
            assert!(
                ids.contains(id),
                "acknowledged booking {id} ({k:?}) is lost"
            );
            let one = client.get(&format!("/v1/bookings/{id}")).await;
            assert_eq!(one.status, 200, "GET booking {id}: {}", one.text);
            assert_eq!(one.json(), k.body, "GET booking {id}");
        }
    }

    // The seat maps agree with the bookings; no seat is in two bookings.
    for show in shows {
        let mut owner: BTreeMap<String, String> = BTreeMap::new();
        for (id, _, seats) in all.iter().filter(|(_, s, _)| s == show) {
            for seat in seats {
                if let Some(other) = owner.insert(seat.clone(), id.clone()) {
                    panic!("seat {seat} of show {show} is in bookings {other} and {id}");
                }
            }
        }
        let booked: BTreeSet<String> = owner.keys().cloned().collect();
        assert_map(
            &clients[0],
            show,
            &BTreeSet::new(),
            &booked,
            "after kill -9",
        )
        .await;
    }

    // Every acknowledged key replays its answer byte for byte.
    let replays = clients.iter().enumerate().map(|(user, client)| {
        let mine: Vec<LoadRecord> = acked.iter().filter(|r| r.user == user).cloned().collect();
        let client = client.clone();
        async move {
            for record in mine {
                let first = record.answer.as_ref().unwrap();
                let again = client
                    .send(
                        "POST",
                        "/v1/bookings",
                        Some(&record.key),
                        Some(&record.body),
                    )
                    .await;
                assert_replay_of(first, &again, &format!("booking key {}", record.key));
            }
        }
    });
    join_all(replays).await;

    // An unanswered request happened fully or not at all: its key replays
    // the booking that is there, or runs afresh; never a second effect.
    for mut record in unanswered {
        let client = &clients[record.user];
        let retry = client
            .send(
                "POST",
                "/v1/bookings",
                Some(&record.key),
                Some(&record.body),
            )
            .await;
        match extra.get(&record.user) {
            Some(booking) => {
                // (A client stops at its first failure: one per user.)
                assert_eq!(retry.status, 201, "booking exists: {}", retry.text);
                assert!(
                    retry.is_replay(),
                    "the booking exists but the key ran again"
                );
                assert_eq!(&retry.json(), booking);
            }
            _ if retry.is_replay() => {
                // Its stored outcome was a refusal: nothing was booked.
                retry.assert_problem(409, "seat-unavailable");
            }
            _ if retry.status == 201 => {
                // A fresh booking: stored, and shown in the seat map.
                let id = retry.json()["id"].as_str().unwrap().to_string();
                assert!(!known.contains_key(&id), "a fresh run reused booking {id}");
                let stored = client.get(&format!("/v1/bookings/{id}")).await;
                assert_eq!(stored.status, 200, "fresh booking {id}: {}", stored.text);
                assert_eq!(stored.json(), retry.json(), "fresh booking {id}");
                assert_eq!(seat_set(&stored.json()["seats"]), record.seats);
                let map = client.seat_map(&record.show).await;
                for seat in &record.seats {
                    assert_eq!(map[seat], "booked", "seat {seat} of fresh booking {id}");
                }
            }
            _ => retry.assert_problem(409, "seat-unavailable"),
        }
        let again = client
            .send(
                "POST",
                "/v1/bookings",
                Some(&record.key),
                Some(&record.body),
            )
            .await;
        assert_replay_of(&retry, &again, "a retried unanswered key");
        if retry.status == 201 {
            let body = retry.json();
            let id = body["id"].as_str().unwrap().to_string();
            known.insert(
                id,
                Known {
                    user: record.user,
                    show: record.show.clone(),
                    seats: record.seats.clone(),
                    body,
                },
            );
        }
        record.answer = Some(retry);
        acked.push(record);
    }
    for (user, client) in clients.iter().enumerate() {
        let mine = known.values().filter(|k| k.user == user).count();
        assert_eq!(
            bookings_of(client).await.len(),
            mine,
            "user {user}: bookings beyond the known ones"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_under_load_loses_no_acknowledged_booking() {
    let (_parent, data) = temp_data_dir();
    let rows: Vec<(&str, u32)> = LOAD_ROWS.iter().map(|r| (*r, LOAD_ROW_SEATS)).collect();
    let mut tokens: Vec<String> = Vec::new();
    let mut shows: Vec<String> = Vec::new();
    let mut acked: Vec<LoadRecord> = Vec::new();
    let mut known: BTreeMap<String, Known> = BTreeMap::new();
    let mut unanswered: Vec<LoadRecord> = Vec::new();

    for round in 0..LOAD_ROUNDS {
        let server = BinaryServer::start(&data, &[]);
        let base = server.base.clone();
        if round == 0 {
            let anon = server.client();
            for _ in 0..LOAD_CLIENTS {
                tokens.push(token_of(&anon.guest().await));
            }
        } else {
            let pending = std::mem::take(&mut unanswered);
            verify_after_kill(&base, &tokens, &shows, &mut acked, &mut known, pending).await;
        }

        // New load on a new show, every client with its own connections.
        let show = server
            .client()
            .create_show(&format!("Load {round}"), &rows)
            .await;
        shows.push(show.clone());
        let answered = Arc::new(AtomicUsize::new(0));
        let threshold = Arc::new(Notify::new());
        let tasks: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(user, token)| {
                tokio::spawn(load_client(
                    on(&base, token),
                    user,
                    show.clone(),
                    answered.clone(),
                    threshold.clone(),
                ))
            })
            .collect();
        tokio::time::timeout(Duration::from_secs(30), threshold.notified())
            .await
            .expect("the load got its answers before the kill");
        server.kill9();

        let mut records = Vec::new();
        for task in tasks {
            records.extend(task.await.expect("load client panicked"));
        }
        let (mut booked, mut refused) = (0, 0);
        for record in records {
            match &record.answer {
                None => unanswered.push(record),
                Some(answer) => {
                    if answer.status == 201 {
                        booked += 1;
                        let body = answer.json();
                        assert_eq!(seat_set(&body["seats"]), record.seats, "{}", answer.text);
                        let id = body["id"].as_str().unwrap().to_string();
                        let k = Known {
                            user: record.user,
                            show: record.show.clone(),
                            seats: record.seats.clone(),
                            body,
                        };
                        assert!(known.insert(id, k).is_none(), "booking id given twice");
                    } else {
                        refused += 1;
                        answer.assert_problem(409, "seat-unavailable");
                    }
                    acked.push(record);
                }
            }
        }
        eprintln!(
            "round {round}: {booked} booked, {refused} refused, {} unanswered at the kill",
            unanswered.len()
        );
        assert!(refused > 0, "round {round}: the load made no conflicts");
        assert!(
            !unanswered.is_empty(),
            "round {round}: no request was in flight at the kill"
        );
    }

    let server = BinaryServer::start(&data, &[]);
    verify_after_kill(
        &server.base,
        &tokens,
        &shows,
        &mut acked,
        &mut known,
        unanswered,
    )
    .await;
    // Once more from disk, with the retried keys settled.
    stop(server);
    let server = BinaryServer::start(&data, &[]);
    verify_after_kill(
        &server.base,
        &tokens,
        &shows,
        &mut acked,
        &mut known,
        Vec::new(),
    )
    .await;
    stop(server);
}

// ------------------------------------------------ 3. crash during a booking

#[tokio::test]
async fn crash_at_each_step_of_a_booking_is_all_or_nothing() {
    let seats = ["A3", "A4", "A5"];
    for step in MULTI_SEAT_STEPS {
        let point = format!("booking.{step}");
        let (_parent, data) = temp_data_dir();
        let (server, show, guest) = first_run(&data).await;
        let token = token_of(&guest);
        stop(server);

        let (crash_var, crash_value) = crash_env(&point);
        let server = BinaryServer::start(&data, &[(crash_var, crash_value.as_str())]);
        let key = new_key();
        let body = json!({"show_id": show, "seats": seats}).to_string();
        let client = on(&server.base, &token);
        let answer = try_send(&client, "POST", "/v1/bookings", Some(&key), Some(&body)).await;
        expect_abort(server, answer, &point);

        let server = BinaryServer::start(&data, &[]);
        let client = on(&server.base, &token);
        let listed = bookings_of(&client).await;
        let present = !listed.is_empty();
        check_step(&point, step, present);
        let none = BTreeSet::new();
        let booked = if present { set(&seats) } else { none.clone() };
        assert_map(&client, &show, &none, &booked, &point).await;
        let retry = client
            .send("POST", "/v1/bookings", Some(&key), Some(&body))
            .await;
        assert_eq!(retry.status, 201, "{point}: retry: {}", retry.text);
        if present {
            assert_eq!(listed.len(), 1, "{point}: {listed:?}");
            let booking = &listed[0];
            assert_eq!(booking["status"], "confirmed");
            assert_eq!(seat_set(&booking["seats"]), set(&seats), "{point}");
            assert!(
                retry.is_replay(),
                "{point}: the booking is there, key ran again"
            );
            assert_eq!(&retry.json(), booking, "{point}: replay is another booking");
        } else {
            assert!(
                !retry.is_replay(),
                "{point}: replay of a booking that is absent"
            );
        }
        // Either way now: one booking of all three seats, the key consumed.
        // (The seat map shows an acknowledged change at once.)
        assert_map(&client, &show, &none, &set(&seats), &point).await;
        let listed = bookings_of(&client).await;
        assert_eq!(listed.len(), 1, "{point}: {listed:?}");
        assert_eq!(listed[0], retry.json(), "{point}");
        let again = client
            .send("POST", "/v1/bookings", Some(&key), Some(&body))
            .await;
        assert_replay_of(&retry, &again, &point);
        let server =
            restart_and_assert_map(&data, server, &show, &none, &set(&seats), &point).await;
        let client = on(&server.base, &token);
        let again = client
            .send("POST", "/v1/bookings", Some(&key), Some(&body))
            .await;
        assert_replay_of(&retry, &again, &point);
        stop(server);
    }
}

// ------------------------------------------------ 4. checkout, cancel, hold, release

#[tokio::test]
async fn crash_at_each_step_of_a_checkout_is_all_or_nothing() {
    let seats = ["A3", "A4", "A5"];
    for step in MULTI_SEAT_STEPS {
        let point = format!("checkout.{step}");
        let (_parent, data) = temp_data_dir();
        let (server, show, guest) = first_run(&data).await;
        let cart = guest.new_cart().await;
        for seat in seats {
            let path = format!("/v1/carts/{cart}/items");
            post_new(
                &guest,
                &path,
                json!({"show_id": show, "seat_id": seat}),
                201,
            )
            .await;
        }
        let token = token_of(&guest);
        stop(server);

        let (crash_var, crash_value) = crash_env(&point);
        let server = BinaryServer::start(&data, &[(crash_var, crash_value.as_str())]);
        let key = new_key();
        let path = format!("/v1/carts/{cart}/checkout");
        let client = on(&server.base, &token);
        let answer = try_send(&client, "POST", &path, Some(&key), Some("{}")).await;
        expect_abort(server, answer, &point);

        let server = BinaryServer::start(&data, &[]);
        let client = on(&server.base, &token);
        let state = cart_of(&client, &cart).await;
        let listed = bookings_of(&client).await;
        let map = client.seat_map(&show).await;
        let present = state["status"] == "checked_out";
        check_step(&point, step, present);
        if present {
            assert_eq!(listed.len(), 1, "{point}: {listed:?}");
            assert_eq!(listed[0]["status"], "confirmed");
            assert_eq!(seat_set(&listed[0]["seats"]), set(&seats), "{point}");
            assert_eq!(seats_with(&map, "booked"), set(&seats), "{point}");
            assert!(seats_with(&map, "held").is_empty(), "{point}");
        } else {
            assert_eq!(state["status"], "open", "{point}: {state}");
            let items = state["items"].as_array().unwrap();
            let held: BTreeSet<String> = items
                .iter()
                .filter(|i| i["status"] == "held")
                .map(|i| i["seat_id"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(items.len(), 3, "{point}: {state}");
            assert_eq!(held, set(&seats), "{point}: {state}");
            assert!(listed.is_empty(), "{point}: {listed:?}");
            assert_eq!(seats_with(&map, "held"), set(&seats), "{point}");
            assert!(seats_with(&map, "booked").is_empty(), "{point}");
        }

        let retry = client.send("POST", &path, Some(&key), Some("{}")).await;
        assert_eq!(retry.status, 201, "{point}: retry: {}", retry.text);
        if present {
            assert!(
                retry.is_replay(),
                "{point}: checked out, but the key ran again"
            );
            assert_eq!(retry.json(), listed[0], "{point}");
        } else {
            assert!(
                !retry.is_replay(),
                "{point}: replay of a checkout that is absent"
            );
        }
        assert_eq!(cart_of(&client, &cart).await["status"], "checked_out");
        assert_map(&client, &show, &BTreeSet::new(), &set(&seats), &point).await;
        let listed = bookings_of(&client).await;
        assert_eq!(listed.len(), 1, "{point}: {listed:?}");
        assert_eq!(listed[0], retry.json(), "{point}");
        let again = client.send("POST", &path, Some(&key), Some("{}")).await;
        assert_replay_of(&retry, &again, &point);
        let none = BTreeSet::new();
        let server =
            restart_and_assert_map(&data, server, &show, &none, &set(&seats), &point).await;
        let client = on(&server.base, &token);
        let again = client.send("POST", &path, Some(&key), Some("{}")).await;
        assert_replay_of(&retry, &again, &point);
        assert_eq!(cart_of(&client, &cart).await["status"], "checked_out");
        stop(server);
    }
}

#[tokio::test]
async fn crash_at_each_step_of_a_cancel_is_all_or_nothing() {
    let seats = ["A3", "A4", "A5"];
    for step in MULTI_SEAT_STEPS {
        let point = format!("cancel.{step}");
        let (_parent, data) = temp_data_dir();
        let (server, show, guest) = first_run(&data).await;
        let booking_key = new_key();
        let booked = guest.book(&booking_key, &show, &seats).await;
        assert_eq!(booked.status, 201, "{}", booked.text);
        let id = booked.json()["id"].as_str().unwrap().to_string();
        let token = token_of(&guest);
        stop(server);

        let (crash_var, crash_value) = crash_env(&point);
        let server = BinaryServer::start(&data, &[(crash_var, crash_value.as_str())]);
        let path = format!("/v1/bookings/{id}");
        let client = on(&server.base, &token);
        let answer = try_send(&client, "DELETE", &path, None, None).await;
        expect_abort(server, answer, &point);

        let server = BinaryServer::start(&data, &[]);
        let client = on(&server.base, &token);
        let state = client.get(&path).await;
        assert_eq!(state.status, 200, "{point}: {}", state.text);
        let state = state.json();
        let present = state["status"] == "cancelled";
        check_step(&point, step, present);
        let none = BTreeSet::new();
        if present {
            assert_map(&client, &show, &none, &none, &point).await;
        } else {
            assert_eq!(state["status"], "confirmed", "{point}: {state}");
            assert_map(&client, &show, &none, &set(&seats), &point).await;
        }
        assert_eq!(seat_set(&state["seats"]), set(&seats), "{point}");

        // Repeating the cancel finishes it (or changes nothing).
        for _ in 0..2 {
            let again = client.delete(&path).await;
            assert_eq!(again.status, 204, "{point}: {}", again.text);
            assert_eq!(client.get(&path).await.json()["status"], "cancelled");
            assert_map(&client, &show, &none, &none, &point).await;
        }
        let server = restart_and_assert_map(&data, server, &show, &none, &none, &point).await;
        let client = on(&server.base, &token);
        assert_eq!(client.get(&path).await.json()["status"], "cancelled");
        // The booking's own key still replays its creation.
        let replay = client.book(&booking_key, &show, &seats).await;
        assert_replay_of(&booked, &replay, &point);
        stop(server);
    }
}

#[tokio::test]
async fn crash_at_each_step_of_a_hold_is_all_or_nothing() {
    for step in STEPS {
        let point = format!("hold.{step}");
        let (_parent, data) = temp_data_dir();
        let (server, show, guest) = first_run(&data).await;
        let cart = guest.new_cart().await;
        let token = token_of(&guest);
        stop(server);

        let (crash_var, crash_value) = crash_env(&point);
        let server = BinaryServer::start(&data, &[(crash_var, crash_value.as_str())]);
        let key = new_key();
        let path = format!("/v1/carts/{cart}/items");
        let body = json!({"show_id": show, "seat_id": "A3"}).to_string();
        let client = on(&server.base, &token);
        let answer = try_send(&client, "POST", &path, Some(&key), Some(&body)).await;
        expect_abort(server, answer, &point);

        let server = BinaryServer::start(&data, &[]);
        let client = on(&server.base, &token);
        let state = cart_of(&client, &cart).await;
        let items = state["items"].as_array().unwrap().clone();
        let present = !items.is_empty();
        check_step(&point, step, present);
        let none = BTreeSet::new();
        if present {
            assert_eq!(items.len(), 1, "{point}: {state}");
            assert_eq!(items[0]["seat_id"], "A3", "{point}: {state}");
            assert_eq!(items[0]["status"], "held", "{point}: {state}");
            assert_map(&client, &show, &set(&["A3"]), &none, &point).await;
        } else {
            assert_map(&client, &show, &none, &none, &point).await;
        }

        let retry = client.send("POST", &path, Some(&key), Some(&body)).await;
        assert_eq!(retry.status, 201, "{point}: retry: {}", retry.text);
        if present {
            assert!(retry.is_replay(), "{point}: held, but the key ran again");
            assert_eq!(retry.json(), state, "{point}");
        } else {
            assert!(
                !retry.is_replay(),
                "{point}: replay of a hold that is absent"
            );
        }
        let state = cart_of(&client, &cart).await;
        assert_eq!(state, retry.json(), "{point}");
        assert_eq!(state["items"].as_array().unwrap().len(), 1, "{point}");
        assert_map(&client, &show, &set(&["A3"]), &none, &point).await;
        let again = client.send("POST", &path, Some(&key), Some(&body)).await;
        assert_replay_of(&retry, &again, &point);
        let server =
            restart_and_assert_map(&data, server, &show, &set(&["A3"]), &none, &point).await;
        let client = on(&server.base, &token);
        let again = client.send("POST", &path, Some(&key), Some(&body)).await;
        assert_replay_of(&retry, &again, &point);
        stop(server);
    }
}

#[tokio::test]
async fn crash_at_each_step_of_a_release_is_all_or_nothing() {
    for step in STEPS {
        let point = format!("release.{step}");
        let (_parent, data) = temp_data_dir();
        let (server, show, guest) = first_run(&data).await;
        let cart = guest.new_cart().await;
        let items = format!("/v1/carts/{cart}/items");
        post_new(
            &guest,
            &items,
            json!({"show_id": show, "seat_id": "A3"}),
            201,
        )
        .await;
        let token = token_of(&guest);
        stop(server);

        let (crash_var, crash_value) = crash_env(&point);
        let server = BinaryServer::start(&data, &[(crash_var, crash_value.as_str())]);
        let path = format!("/v1/carts/{cart}/items/{show}/A3");
        let client = on(&server.base, &token);
        let answer = try_send(&client, "DELETE", &path, None, None).await;
        expect_abort(server, answer, &point);

        let server = BinaryServer::start(&data, &[]);
        let client = on(&server.base, &token);
        let state = cart_of(&client, &cart).await;
        let present = state["items"].as_array().unwrap().is_empty();
        check_step(&point, step, present);
        let none = BTreeSet::new();
        if present {
            assert_map(&client, &show, &none, &none, &point).await;
        } else {
            assert_eq!(state["items"][0]["seat_id"], "A3", "{point}: {state}");
            assert_eq!(state["items"][0]["status"], "held", "{point}: {state}");
            assert_map(&client, &show, &set(&["A3"]), &none, &point).await;
        }
        for _ in 0..2 {
            let again = client.delete(&path).await;
            assert_eq!(again.status, 204, "{point}: {}", again.text);
            let state = cart_of(&client, &cart).await;
            assert!(state["items"].as_array().unwrap().is_empty(), "{state}");
            assert_map(&client, &show, &none, &none, &point).await;
        }
        let server = restart_and_assert_map(&data, server, &show, &none, &none, &point).await;
        let client = on(&server.base, &token);
        let state = cart_of(&client, &cart).await;
        assert!(state["items"].as_array().unwrap().is_empty(), "{state}");
        stop(server);
    }
}

// ------------------------------------------------ 5. hold expiry over a restart

#[tokio::test]
async fn hold_expires_on_time_after_kill9_and_restart() {
    let env = [("BOXOFFICE_HOLD_TTL_SECS", "2")];
    let (_parent, data) = temp_data_dir();
    let server = BinaryServer::start(&data, &env);
    let show = server.client().create_show("Expiry", &[("A", 5)]).await;
    let alice = server.client().guest().await;
    let bob = server.client().guest().await;
    let cart = alice.new_cart().await;
    let held = hold_new(&alice, &cart, &show, "A1").await.json();
    let expires_ms = parse_ms(held["items"][0]["expires_at"].as_str().unwrap());
    let (alice, bob) = (token_of(&alice), token_of(&bob));
    server.kill9();

    let server = BinaryServer::start(&data, &env);
    let alice = on(&server.base, &alice);
    let bob = on(&server.base, &bob);
    let map = alice.seat_map(&show).await;
    assert!(
        now_ms() < expires_ms,
        "the restart took longer than the hold TTL; nothing to observe"
    );
    assert_eq!(map["A1"], "held", "the hold did not survive kill -9");

    // Poll: held until expires_at, available within a second after it.
    let deadline = expires_ms + 3_000;
    let released_at = loop {
        let status = alice.seat_map(&show).await["A1"].clone();
        let seen = now_ms();
        if status == "available" {
            break seen;
        }
        assert_eq!(status, "held");
        assert!(seen < deadline, "A1 still held 3 s after its expiry");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        released_at + 5 >= expires_ms,
        "released {} ms before expires_at",
        expires_ms - released_at
    );
    assert!(
        released_at <= expires_ms + 1_150,
        "released {} ms after expires_at",
        released_at - expires_ms
    );
    let state = cart_of(&alice, &cart).await;
    assert_eq!(state["items"][0]["status"], "expired", "{state}");

    // Someone else can hold it now.
    let bob_cart = bob.new_cart().await;
    hold_new(&bob, &bob_cart, &show, "A1").await;
    let state = cart_of(&bob, &bob_cart).await;
    assert_eq!(state["items"][0]["seat_id"], "A1", "{state}");
    assert_eq!(state["items"][0]["status"], "held", "{state}");
    assert_eq!(alice.seat_map(&show).await["A1"], "held");
    stop(server);
}

// ------------------------------------------------ 6. crash during a hold expiry

/// The process dies while a lapsed hold is being released (before and after
/// the release is written, and after its flush): after a restart the seat
/// is available, the item reads `expired`, and another user can hold it.
#[tokio::test]
async fn crash_during_a_hold_expiry_leaves_the_seat_free() {
    for step in STEPS {
        let point = format!("expiry.{step}");
        let (_parent, data) = temp_data_dir();
        let env = [("BOXOFFICE_HOLD_TTL_SECS", "1")];
        let server = BinaryServer::start(&data, &env);
        let show = server
            .client()
            .create_show("Expiry crash", &[("A", 3)])
            .await;
        let alice = server.client().guest().await;
        let bob = server.client().guest().await;
        let (alice_token, bob_token) = (token_of(&alice), token_of(&bob));
        stop(server);

        // This run dies when the hold it takes lapses.
        let (crash_var, crash_value) = crash_env(&point);
        let env_crash = [
            ("BOXOFFICE_HOLD_TTL_SECS", "1"),
            (crash_var, crash_value.as_str()),
        ];
        let server = BinaryServer::start(&data, &env_crash);
        let alice = on(&server.base, &alice_token);
        let cart = alice.new_cart().await;
        hold_new(&alice, &cart, &show, "A2").await;
        expect_abort(server, None, &point);

        let server = BinaryServer::start(&data, &env);
        let alice = on(&server.base, &alice_token);
        let bob = on(&server.base, &bob_token);
        assert_eq!(alice.seat_map(&show).await["A2"], "available", "{point}");
        let state = cart_of(&alice, &cart).await;
        assert_eq!(state["items"][0]["status"], "expired", "{point}: {state}");
        let bob_cart = bob.new_cart().await;
        hold_new(&bob, &bob_cart, &show, "A2").await;
        stop(server);
    }
}

// ------------------------------------------------ 7. graceful stop under load

/// SIGTERM while 16 clients book: the server exits 0, no request gets a
/// 5xx, and after a restart every acknowledged booking is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_finishes_in_flight_and_loses_nothing() {
    let (_parent, data) = temp_data_dir();
    let server = BinaryServer::start(&data, &[]);
    let show = server
        .client()
        .create_show("Graceful", &[("A", 200), ("B", 200)])
        .await;
    let mut guests = Vec::new();
    for _ in 0..16 {
        guests.push(server.client().guest().await);
    }
    let answered = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for (g, guest) in guests.iter().enumerate() {
        let (guest, show, answered, enough) = (
            guest.clone(),
            show.clone(),
            answered.clone(),
            enough.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0..25 {
                let seat = format!(
                    "{}{}",
                    if g % 2 == 0 { "A" } else { "B" },
                    g / 2 * 25 + n + 1
                );
                let body = json!({"show_id": show, "seats": [seat]}).to_string();
                let key = new_key();
                match try_send(&guest, "POST", "/v1/bookings", Some(&key), Some(&body)).await {
                    Some(answer) => {
                        assert!(answer.status < 500, "{} {}", answer.status, answer.text);
                        if answer.status == 201 {
                            acked.push(answer.json());
                        }
                        if answered.fetch_add(1, Ordering::SeqCst) + 1 == 100 {
                            enough.notify_one();
                        }
                    }
                    None => break, // the server has stopped accepting
                }
            }
            (guest.token.clone().unwrap(), acked)
        }));
    }
    enough.notified().await;
    let status = server.terminate();
    assert!(status.success(), "SIGTERM exit: {status:?}");
    let results = join_all(tasks).await;

    let server = BinaryServer::start(&data, &[]);
    let mut total = 0;
    for result in results {
        let (token, acked) = result.unwrap();
        let client = on(&server.base, &token);
        let listed = bookings_of(&client).await;
        for booking in &acked {
            assert!(
                listed.contains(booking),
                "acknowledged {booking} is missing"
            );
        }
        total += acked.len();
    }
    assert!(total >= 90, "only {total} bookings were acknowledged");
    stop(server);
}
