//! Concurrency tests: many clients released together by a barrier, then
//! assertions on the outcome against docs/API.md (one seat, one buyer; all or
//! nothing; one key, one effect).

mod best;
mod blocks;
mod carts;
mod keys;
mod seats;

use crate::helpers::*;

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

fn strings(seats: &[String]) -> Vec<&str> {
    seats.iter().map(String::as_str).collect()
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

/// The one racer answered 201 for `seat`; every other is refused with a
/// 409 `seat-unavailable` that names exactly that seat.
fn one_winner(answers: &[Answer], seat: &str) -> usize {
    let winners: Vec<usize> = (0..answers.len())
        .filter(|&i| answers[i].status == 201)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "statuses: {:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    for (i, answer) in answers.iter().enumerate() {
        if i != winners[0] {
            let named = assert_seat_unavailable(answer, &set(&[seat]));
            assert_eq!(answer.json()["seats"], json!([seat]), "{named:?}");
        }
    }
    winners[0]
}

/// Files `seats` as booked by `id`; panics if one is booked already.
fn claim(owner: &mut BTreeMap<String, String>, seats: &BTreeSet<String>, id: &str) {
    for seat in seats {
        if let Some(other) = owner.insert(seat.clone(), id.to_string()) {
            panic!("seat {seat} is in bookings {other} and {id}");
        }
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
