//! Concurrency tests: many clients released together by a barrier, then
//! assertions on the outcome against API.md (one seat, one buyer; all or
//! nothing; one key, one effect).

mod common;
use common::*;

use futures_util::future::{join_all, BoxFuture, FutureExt};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Barrier;

// ---------------------------------------------------------------- helpers

/// `n` guest sessions, each with its own HTTP client (own connection pool,
/// already warmed by the session request), so racers do not queue behind
/// one another on the client side.
async fn guests(base: &str, n: usize) -> Vec<Client> {
    join_all((0..n).map(|_| async { Client::new(base).guest().await })).await
}

/// Spawns every future as its own task, holds all of them at one barrier,
/// releases them together, and returns their outputs in input order.
async fn race_all<T: Send + 'static>(futures: Vec<BoxFuture<'static, T>>) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(futures.len()));
    let handles: Vec<_> = futures
        .into_iter()
        .map(|future| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                future.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("racer task panicked"));
    }
    out
}

/// One racer per client, each running `f(index, client)`.
async fn race<F, Fut, T>(clients: &[Client], f: F) -> Vec<T>
where
    F: Fn(usize, Client) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    race_all(
        clients
            .iter()
            .enumerate()
            .map(|(i, c)| f(i, c.clone()).boxed())
            .collect(),
    )
    .await
}

fn seat_set(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn strings(seats: &[String]) -> Vec<&str> {
    seats.iter().map(String::as_str).collect()
}

fn booked(map: &BTreeMap<String, String>) -> BTreeSet<String> {
    map.iter()
        .filter(|(_, status)| *status == "booked")
        .map(|(id, _)| id.clone())
        .collect()
}

fn assert_no_holds(map: &BTreeMap<String, String>) {
    let held: Vec<_> = map.iter().filter(|(_, s)| *s == "held").collect();
    assert!(held.is_empty(), "seats left held: {held:?}");
}

/// A 409 `seat-unavailable` whose `seats` is a non-empty subset of `asked`.
fn assert_seat_unavailable(answer: &Answer, asked: &BTreeSet<String>) -> BTreeSet<String> {
    answer.assert_problem(409, "seat-unavailable");
    let named = seat_set(&answer.json()["seats"]);
    assert!(!named.is_empty(), "409 names no seat: {}", answer.text);
    assert!(
        named.is_subset(asked),
        "409 names seats {named:?} not asked for {asked:?}"
    );
    named
}

/// A 409 `request-in-progress` carrying a numeric `Retry-After`.
fn assert_in_progress(answer: &Answer) {
    answer.assert_problem(409, "request-in-progress");
    let retry = answer
        .header("retry-after")
        .unwrap_or_else(|| panic!("request-in-progress without Retry-After: {}", answer.text));
    retry
        .parse::<u64>()
        .unwrap_or_else(|_| panic!("Retry-After is not delta-seconds: {retry:?}"));
}

/// A 201 booking body for `show` with exactly `seats`, confirmed.
fn assert_booking(answer: &Answer, show: &str, seats: &BTreeSet<String>) -> Value {
    assert_eq!(answer.status, 201, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["show_id"], show, "{body}");
    assert_eq!(body["status"], "confirmed", "{body}");
    assert!(body["id"].is_string(), "{body}");
    assert_eq!(&seat_set(&body["seats"]), seats, "{body}");
    body
}

async fn bookings_of(client: &Client) -> Vec<Value> {
    let answer = client.get("/v1/bookings").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()["bookings"].as_array().unwrap().clone()
}

/// Every seat still `available` can be booked now: no aborted transaction
/// left a seat reserved behind the public map's back.
async fn assert_available_seats_bookable(client: &Client, show: &str) {
    let map = client.seat_map(show).await;
    let free: Vec<String> = map
        .iter()
        .filter(|(_, s)| *s == "available")
        .map(|(id, _)| id.clone())
        .collect();
    let answers = join_all(
        free.iter()
            .map(|seat| async move { (seat, client.book(&new_key(), show, &[seat]).await) }),
    )
    .await;
    for (seat, answer) in answers {
        assert_eq!(
            answer.status, 201,
            "available seat {seat} cannot be booked: {}",
            answer.text
        );
    }
}

/// The requests one racer sent (seats asked for, answer), in order.
type Tries = Vec<(Vec<String>, Answer)>;

/// Deterministic pseudo-random numbers (64-bit LCG, high bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

// ------------------------------------------------------------------ tests

/// 1. Fifty clients, one seat: one 201, forty-nine 409 `seat-unavailable`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_clients_one_seat_one_winner() {
    let server = spawn_app();
    let client = server.client();
    let show = client.create_show("One seat", &[("A", 5)]).await;
    let racers = guests(&server.base, 50).await;
    let keys: Vec<String> = (0..50).map(|_| new_key()).collect();

    let answers = {
        let show = show.clone();
        let keys = keys.clone();
        race(&racers, move |i, c| {
            let show = show.clone();
            let key = keys[i].clone();
            async move { c.book(&key, &show, &["A1"]).await }
        })
        .await
    };

    let a1: BTreeSet<String> = ["A1".to_string()].into();
    let winners: Vec<usize> = (0..50).filter(|&i| answers[i].status == 201).collect();
    assert_eq!(
        winners.len(),
        1,
        "statuses: {:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    let winner = winners[0];
    let body = assert_booking(&answers[winner], &show, &a1);
    assert!(!answers[winner].is_replay());
    for (i, answer) in answers.iter().enumerate() {
        if i != winner {
            let named = assert_seat_unavailable(answer, &a1);
            assert_eq!(answer.json()["seats"], json!(["A1"]), "{named:?}");
        }
    }

    let map = client.seat_map(&show).await;
    assert_eq!(map["A1"], "booked");
    assert_eq!(booked(&map).len(), 1, "{map:?}");
    assert_no_holds(&map);

    let mine = bookings_of(&racers[winner]).await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["id"], body["id"]);
    assert_eq!(mine[0]["status"], "confirmed");
    assert_eq!(mine[0]["seats"], json!(["A1"]));
    let one = racers[winner]
        .get(&format!("/v1/bookings/{}", body["id"].as_str().unwrap()))
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json(), body);

    // Losers own nothing, and their stored 409 replays byte for byte.
    let loser = (winner + 1) % 50;
    for (i, racer) in racers.iter().enumerate() {
        if i != winner {
            assert!(bookings_of(racer).await.is_empty());
        }
    }
    let replay = racers[loser].book(&keys[loser], &show, &["A1"]).await;
    assert!(replay.is_replay(), "{:?}", replay.headers);
    assert_eq!(replay.status, 409);
    assert_eq!(replay.text, answers[loser].text);
}

/// 2. Forty overlapping windows of 2-4 adjacent seats in a 2-row show.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_multi_seat_requests_are_all_or_nothing() {
    const ROW: u64 = 12;
    let server = spawn_app();
    let client = server.client();
    let show = client
        .create_show("Windows", &[("A", ROW as u32), ("B", ROW as u32)])
        .await;
    let racers = guests(&server.base, 40).await;

    let mut rng = Lcg(0x5eed_b0c5);
    let windows: Vec<Vec<String>> = (0..40)
        .map(|_| {
            let row = if rng.next(2) == 0 { "A" } else { "B" };
            let len = 2 + rng.next(3);
            let start = 1 + rng.next(ROW - len + 1);
            (start..start + len).map(|n| format!("{row}{n}")).collect()
        })
        .collect();

    let answers = {
        let show = show.clone();
        let windows = windows.clone();
        race(&racers, move |i, c| {
            let show = show.clone();
            let seats = windows[i].clone();
            async move { c.book(&new_key(), &show, &strings(&seats)).await }
        })
        .await
    };

    // How many requests asked for each seat.
    let mut demand: BTreeMap<String, usize> = BTreeMap::new();
    for seat in windows.iter().flatten() {
        *demand.entry(seat.clone()).or_default() += 1;
    }

    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut won: Vec<(usize, Value)> = Vec::new();
    for (i, answer) in answers.iter().enumerate() {
        let asked: BTreeSet<String> = windows[i].iter().cloned().collect();
        match answer.status {
            201 => {
                let body = assert_booking(answer, &show, &asked);
                let id = body["id"].as_str().unwrap().to_string();
                for seat in &asked {
                    if let Some(other) = owner.insert(seat.clone(), id.clone()) {
                        panic!("seat {seat} is in bookings {other} and {id}");
                    }
                }
                won.push((i, body));
            }
            _ => {
                let named = assert_seat_unavailable(answer, &asked);
                // A seat can only be refused if someone else wanted it.
                for seat in named {
                    assert!(
                        demand[&seat] > 1,
                        "{seat} refused to request {i} though nobody else asked for it"
                    );
                }
            }
        }
    }
    // A window that overlaps no other window has no reason to lose.
    for (i, window) in windows.iter().enumerate() {
        if window.iter().all(|s| demand[s] == 1) {
            assert_eq!(answers[i].status, 201, "{}", answers[i].text);
        }
    }

    let map = client.seat_map(&show).await;
    assert_eq!(map.len(), 2 * ROW as usize);
    assert_no_holds(&map);
    let union: BTreeSet<String> = owner.keys().cloned().collect();
    assert_eq!(
        booked(&map),
        union,
        "booked seats differ from the union of the 201 bookings"
    );

    for (i, body) in &won {
        let mine = bookings_of(&racers[*i]).await;
        assert_eq!(mine.len(), 1, "{mine:?}");
        assert_eq!(&mine[0], body);
    }
    for (i, racer) in racers.iter().enumerate() {
        if answers[i].status != 201 {
            assert!(bookings_of(racer).await.is_empty());
        }
    }

    assert_available_seats_bookable(&client.guest().await, &show).await;
}

/// 3. One user, one key, sixteen identical concurrent requests: one effect.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_key_same_request_has_one_effect() {
    let server = spawn_app();
    let client = server.client();
    let show = client.create_show("One key", &[("A", 5)]).await;
    let user = client.guest().await;
    let key = new_key();
    let same_user: Vec<Client> = (0..16)
        .map(|_| Client::new(&server.base).with_token(user.token.as_deref().unwrap()))
        .collect();

    let answers = {
        let show = show.clone();
        let key = key.clone();
        race(&same_user, move |_, c| {
            let show = show.clone();
            let key = key.clone();
            async move { c.book(&key, &show, &["A1", "A2"]).await }
        })
        .await
    };

    let created: Vec<&Answer> = answers.iter().filter(|a| a.status == 201).collect();
    assert!(!created.is_empty(), "no 201 at all");
    let mut in_progress = 0;
    for answer in &answers {
        if answer.status != 201 {
            assert_in_progress(answer);
            in_progress += 1;
        }
    }
    // The first request is still waiting for its fsync when the others
    // arrive: they are told so at once rather than queued.
    assert!(in_progress > 0, "no repeat saw 409 request-in-progress");
    let first = &created[0].text;
    for answer in &created {
        assert_eq!(&answer.text, first, "201 bodies differ");
    }
    let fresh = created.iter().filter(|a| !a.is_replay()).count();
    assert_eq!(fresh, 1, "more than one 201 without Idempotent-Replayed");
    let body = assert_booking(created[0], &show, &["A1".into(), "A2".into()].into());

    let mine = bookings_of(&user).await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0], body);
    let map = client.seat_map(&show).await;
    assert_eq!(booked(&map), ["A1".to_string(), "A2".to_string()].into());

    let again = user.book(&key, &show, &["A1", "A2"]).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert!(again.is_replay(), "{:?}", again.headers);
    assert_eq!(&again.text, first);
    assert_eq!(bookings_of(&user).await.len(), 1);
}

/// 4. One user, one key, two different bodies at once: at most one effect.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_key_different_bodies_has_one_effect() {
    let server = spawn_app();
    let client = server.client();
    let show = client.create_show("Key reuse", &[("A", 5)]).await;
    let user = client.guest().await;
    let key = new_key();
    let same_user: Vec<Client> = (0..16)
        .map(|_| Client::new(&server.base).with_token(user.token.as_deref().unwrap()))
        .collect();
    let seat_of = |i: usize| if i.is_multiple_of(2) { "A1" } else { "A2" };

    let answers = {
        let show = show.clone();
        let key = key.clone();
        race(&same_user, move |i, c| {
            let show = show.clone();
            let key = key.clone();
            async move { c.book(&key, &show, &[seat_of(i)]).await }
        })
        .await
    };

    let created: Vec<(usize, &Answer)> = answers
        .iter()
        .enumerate()
        .filter(|(_, a)| a.status == 201)
        .collect();
    assert!(!created.is_empty(), "no 201 at all");
    let winning_seat = seat_of(created[0].0);
    let first = &created[0].1.text;
    for (i, answer) in &created {
        assert_eq!(seat_of(*i), winning_seat, "both bodies got a 201");
        assert_eq!(&answer.text, first, "201 bodies differ");
    }
    assert_eq!(
        created.iter().filter(|(_, a)| !a.is_replay()).count(),
        1,
        "more than one 201 without Idempotent-Replayed"
    );
    for (i, answer) in answers.iter().enumerate() {
        if answer.status == 201 {
            continue;
        }
        if seat_of(i) == winning_seat {
            assert_in_progress(answer);
        } else if answer.status == 422 {
            answer.assert_problem(422, "idempotency-key-reused");
        } else {
            assert_in_progress(answer);
        }
    }
    let body = assert_booking(created[0].1, &show, &[winning_seat.to_string()].into());

    let mine = bookings_of(&user).await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0], body);
    let map = client.seat_map(&show).await;
    assert_eq!(booked(&map), [winning_seat.to_string()].into());

    // Afterwards: the winner's body replays, the other is refused.
    let losing_seat = if winning_seat == "A1" { "A2" } else { "A1" };
    let replay = user.book(&key, &show, &[winning_seat]).await;
    assert!(
        replay.is_replay() && replay.status == 201,
        "{}",
        replay.text
    );
    assert_eq!(&replay.text, first);
    user.book(&key, &show, &[losing_seat])
        .await
        .assert_problem(422, "idempotency-key-reused");
    assert_eq!(bookings_of(&user).await.len(), 1);
}

/// 4b. One user, one key, two routes at once (a booking and a cart): the key
/// is taken by exactly one route; the other never has an effect. The two
/// routes run in different actors, so only the store's insert-if-absent of
/// the key record separates them; several rounds widen the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_key_across_routes_has_one_effect() {
    const ROUNDS: usize = 10;
    let server = spawn_app();
    let client = server.client();
    let show = client
        .create_show("Two routes", &[("A", ROUNDS as u32)])
        .await;
    let user = client.guest().await;
    let same_user: Vec<Client> = (0..16)
        .map(|_| Client::new(&server.base).with_token(user.token.as_deref().unwrap()))
        .collect();
    let is_booking = |i: usize| i.is_multiple_of(2);
    let mut bookings_made = 0;

    for round in 0..ROUNDS {
        let key = new_key();
        let seat = format!("A{}", round + 1);
        let answers = {
            let show = show.clone();
            let key = key.clone();
            let seat = seat.clone();
            race(&same_user, move |i, c| {
                let show = show.clone();
                let key = key.clone();
                let seat = seat.clone();
                async move {
                    if is_booking(i) {
                        c.book(&key, &show, &[&seat]).await
                    } else {
                        c.post("/v1/carts", &key, json!({})).await
                    }
                }
            })
            .await
        };

        let created: Vec<usize> = (0..16).filter(|&i| answers[i].status == 201).collect();
        assert!(!created.is_empty(), "round {round}: no 201 at all");
        let booking_won = is_booking(created[0]);
        let first = &answers[created[0]].text;
        for &i in &created {
            assert_eq!(
                is_booking(i),
                booking_won,
                "round {round}: both routes got a 201"
            );
            assert_eq!(&answers[i].text, first, "round {round}: 201 bodies differ");
        }
        assert_eq!(
            created.iter().filter(|&&i| !answers[i].is_replay()).count(),
            1,
            "round {round}: more than one 201 without Idempotent-Replayed"
        );
        for (i, answer) in answers.iter().enumerate() {
            if answer.status == 201 {
                continue;
            }
            if is_booking(i) != booking_won && answer.status == 422 {
                answer.assert_problem(422, "idempotency-key-reused");
            } else {
                assert_in_progress(answer);
            }
        }

        let map = client.seat_map(&show).await;
        if booking_won {
            bookings_made += 1;
            assert_eq!(map[&seat], "booked", "round {round}");
            user.post("/v1/carts", &key, json!({}))
                .await
                .assert_problem(422, "idempotency-key-reused");
        } else {
            assert_eq!(
                map[&seat], "available",
                "round {round}: cart won, seat booked"
            );
            let cart = answers[created[0]].json();
            assert_eq!(cart["status"], "open");
            let id = cart["id"].as_str().unwrap();
            assert_eq!(user.get(&format!("/v1/carts/{id}")).await.status, 200);
            user.book(&key, &show, &[&seat])
                .await
                .assert_problem(422, "idempotency-key-reused");
        }
        let mine = bookings_of(&user).await;
        assert_eq!(mine.len(), bookings_made, "round {round}: {mine:?}");
    }
}

/// 5. Twenty carts hold one seat at once; then the winner's checkout races
/// twenty one-shot bookings of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn carts_race_for_a_hold_then_checkout_races_bookings() {
    let server = spawn_app();
    let client = server.client();
    let show = client.create_show("Carts", &[("A", 5)]).await;
    let users = guests(&server.base, 20).await;
    let carts: Vec<String> = join_all(users.iter().map(|u| u.new_cart())).await;

    let holds = {
        let show = show.clone();
        let carts = carts.clone();
        race(&users, move |i, c| {
            let (cart, show) = (carts[i].clone(), show.clone());
            async move { c.hold(&cart, &new_key(), &show, "A1").await }
        })
        .await
    };

    let a1: BTreeSet<String> = ["A1".to_string()].into();
    let winners: Vec<usize> = (0..20).filter(|&i| holds[i].status == 201).collect();
    assert_eq!(
        winners.len(),
        1,
        "statuses: {:?}",
        holds.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    let winner = winners[0];
    for (i, answer) in holds.iter().enumerate() {
        if i != winner {
            assert_seat_unavailable(answer, &a1);
            assert_eq!(answer.json()["seats"], json!(["A1"]));
        }
    }
    let cart = holds[winner].json();
    assert_eq!(cart["items"].as_array().unwrap().len(), 1, "{cart}");
    assert_eq!(cart["items"][0]["seat_id"], "A1");
    assert_eq!(cart["items"][0]["status"], "held");
    assert_eq!(client.seat_map(&show).await["A1"], "held");
    for (i, user) in users.iter().enumerate() {
        if i != winner {
            let other = user.get(&format!("/v1/carts/{}", carts[i])).await;
            assert_eq!(other.json()["items"], json!([]), "{}", other.text);
        }
    }

    // The winner's checkout against twenty one-shot bookings of A1.
    let bookers = guests(&server.base, 20).await;
    let mut racers: Vec<BoxFuture<'static, Answer>> = Vec::new();
    {
        let owner = users[winner].clone();
        let path = format!("/v1/carts/{}/checkout", carts[winner]);
        racers.push(async move { owner.post(&path, &new_key(), json!({})).await }.boxed());
    }
    for booker in &bookers {
        let booker = booker.clone();
        let show = show.clone();
        racers.push(async move { booker.book(&new_key(), &show, &["A1"]).await }.boxed());
    }
    let answers = race_all(racers).await;

    let checkout = &answers[0];
    let body = assert_booking(checkout, &show, &a1);
    for answer in &answers[1..] {
        // The seat is held (then booked) by the cart the whole time.
        assert_seat_unavailable(answer, &a1);
    }
    let map = client.seat_map(&show).await;
    assert_eq!(booked(&map), a1);
    assert_no_holds(&map);
    let mine = bookings_of(&users[winner]).await;
    assert_eq!(mine, vec![body]);
    for booker in &bookers {
        assert!(bookings_of(booker).await.is_empty());
    }
    let closed = users[winner]
        .get(&format!("/v1/carts/{}", carts[winner]))
        .await;
    assert_eq!(closed.json()["status"], "checked_out", "{}", closed.text);
}

/// 6. A booking is cancelled (three DELETEs at once) while twenty clients
/// keep trying to book its seats.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_races_bookings_of_its_seats() {
    const ATTEMPTS: usize = 40;
    let server = spawn_app();
    let client = server.client();
    let show = client.create_show("Cancel", &[("A", 8)]).await;
    let owner = client.guest().await;
    let first = owner
        .book(&new_key(), &show, &["A1", "A2", "A3", "A4"])
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let cancelled_id = first.json()["id"].as_str().unwrap().to_string();
    // A5 stays booked by someone else throughout.
    let bystander = client.guest().await;
    let fixed = bystander.book(&new_key(), &show, &["A5"]).await;
    assert_eq!(fixed.status, 201, "{}", fixed.text);

    let patterns: [&[&str]; 6] = [
        &["A1"],
        &["A2", "A3"],
        &["A3", "A4"],
        &["A4"],
        &["A1", "A2", "A3", "A4"],
        &["A4", "A5"],
    ];
    let contenders = guests(&server.base, 20).await;
    let mut racers: Vec<BoxFuture<'static, Tries>> = Vec::new();
    for _ in 0..3 {
        let owner = owner.clone();
        let path = format!("/v1/bookings/{cancelled_id}");
        racers.push(async move { vec![(Vec::new(), owner.delete(&path).await)] }.boxed());
    }
    for (i, contender) in contenders.iter().enumerate() {
        let contender = contender.clone();
        let show = show.clone();
        let seats: Vec<String> = patterns[i % patterns.len()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        racers.push(
            async move {
                // Retry at once with a fresh key until it wins or gives up.
                let mut tries = Vec::new();
                for _ in 0..ATTEMPTS {
                    let answer = contender.book(&new_key(), &show, &strings(&seats)).await;
                    let done = answer.status == 201;
                    tries.push((seats.clone(), answer));
                    if done {
                        break;
                    }
                }
                tries
            }
            .boxed(),
        );
    }
    let results = race_all(racers).await;

    for cancel in &results[..3] {
        let answer = &cancel[0].1;
        assert_eq!(answer.status, 204, "{}", answer.text);
    }
    let mut owner_of: BTreeMap<String, String> = BTreeMap::new();
    let mut won = 0;
    for tries in &results[3..] {
        for (seats, answer) in tries {
            let asked: BTreeSet<String> = seats.iter().cloned().collect();
            if answer.status == 201 {
                let body = assert_booking(answer, &show, &asked);
                let id = body["id"].as_str().unwrap().to_string();
                for seat in &asked {
                    if let Some(other) = owner_of.insert(seat.clone(), id.clone()) {
                        panic!("seat {seat} is in bookings {other} and {id}");
                    }
                }
                won += 1;
            } else {
                assert_seat_unavailable(answer, &asked);
            }
        }
    }
    assert!(!owner_of.contains_key("A5"), "A5 was booked twice");

    let original = owner.get(&format!("/v1/bookings/{cancelled_id}")).await;
    assert_eq!(original.status, 200, "{}", original.text);
    assert_eq!(original.json()["status"], "cancelled");
    let again = owner.delete(&format!("/v1/bookings/{cancelled_id}")).await;
    assert_eq!(again.status, 204, "{}", again.text);

    let map = client.seat_map(&show).await;
    assert_no_holds(&map);
    let mut expected: BTreeSet<String> = owner_of.keys().cloned().collect();
    expected.insert("A5".into());
    assert_eq!(
        booked(&map),
        expected,
        "map disagrees with confirmed bookings"
    );
    // Every winner still holds a confirmed booking of its seats.
    let mut listed = 0;
    for contender in &contenders {
        for booking in bookings_of(contender).await {
            assert_eq!(booking["status"], "confirmed", "{booking}");
            for seat in seat_set(&booking["seats"]) {
                assert_eq!(owner_of[&seat], booking["id"].as_str().unwrap());
            }
            listed += 1;
        }
    }
    assert_eq!(listed, won);

    assert_available_seats_bookable(&client.guest().await, &show).await;
}

/// 7. Fifty clients book 200 distinct seats across four shows at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_shows_many_seats_in_parallel() {
    const CLIENTS: usize = 50;
    const PER_ROW: u32 = 30;
    let server = spawn_app();
    let client = server.client();
    let mut shows = Vec::new();
    for s in 0..4 {
        shows.push(
            client
                .create_show(&format!("Show {s}"), &[("A", PER_ROW), ("B", PER_ROW)])
                .await,
        );
    }
    // Client c books seat number c of every show (A1..A25, then B1..B25).
    let seat_of = |c: usize| {
        if c < 25 {
            format!("A{}", c + 1)
        } else {
            format!("B{}", c - 24)
        }
    };
    let racers = guests(&server.base, CLIENTS).await;

    let answers = {
        let shows = shows.clone();
        race(&racers, move |c, client| {
            let shows = shows.clone();
            let seat = seat_of(c);
            async move {
                join_all(shows.iter().map(|show| {
                    let client = client.clone();
                    let seat = seat.clone();
                    async move { (show.clone(), client.book(&new_key(), show, &[&seat]).await) }
                }))
                .await
            }
        })
        .await
    };

    for (c, per_client) in answers.iter().enumerate() {
        let seat: BTreeSet<String> = [seat_of(c)].into();
        for (show, answer) in per_client {
            assert_booking(answer, show, &seat);
        }
        let mine = bookings_of(&racers[c]).await;
        assert_eq!(mine.len(), 4, "{mine:?}");
        assert!(mine.iter().all(|b| b["status"] == "confirmed"));
    }

    let expected: BTreeSet<String> = (0..CLIENTS).map(seat_of).collect();
    for show in &shows {
        let map = client.seat_map(show).await;
        assert_eq!(map.len(), 2 * PER_ROW as usize);
        assert_no_holds(&map);
        assert_eq!(booked(&map), expected, "show {show}");
    }
    let list = client.get("/v1/shows").await;
    assert_eq!(list.status, 200, "{}", list.text);
    let listed = list.json()["shows"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 4, "{listed:?}");
    for summary in listed {
        assert!(shows.iter().any(|s| summary["id"] == *s), "{summary}");
        assert_eq!(summary["capacity"], 2 * PER_ROW, "{summary}");
        assert_eq!(
            summary["available"],
            2 * PER_ROW - CLIENTS as u32,
            "{summary}"
        );
    }
}
