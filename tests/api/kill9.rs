//! `kill -9` under load (API.md "Durability"): sixteen clients book
//! while the real binary is killed, three rounds; after each restart every
//! acknowledged booking is there, unchanged, and replays byte for byte, and
//! every unanswered request happened wholly or not at all. On each store
//! (`store_test!`): on PostgreSQL each restart is on the same database.

use crate::helpers::*;
use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

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
    show: String,
    seats: BTreeSet<String>,
    request: Request,
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

impl Known {
    fn of(record: &LoadRecord, body: Value) -> Known {
        Known {
            user: record.user,
            show: record.show.clone(),
            seats: record.seats.clone(),
            body,
        }
    }
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
        let request = Request::post("/v1/bookings", &json!({"show_id": show, "seats": seats}));
        let answer = client.try_request(&request).await;
        let failed = answer.is_none();
        if !failed && answered.fetch_add(1, Ordering::SeqCst) + 1 == ANSWERS_BEFORE_KILL {
            threshold.notify_one();
        }
        records.push(LoadRecord {
            user,
            show: show.clone(),
            seats: seats.into_iter().collect(),
            request,
            answer,
        });
        if failed {
            break;
        }
    }
    records
}

/// A round: every user books on a new show, each with its own
/// connections, until the server is killed mid-load. Returns the show and
/// every request sent.
async fn load_until_killed(
    server: BinaryServer,
    round: usize,
    tokens: &[String],
) -> (String, Vec<LoadRecord>) {
    let rows: Vec<(&str, u32)> = LOAD_ROWS.iter().map(|r| (*r, LOAD_ROW_SEATS)).collect();
    let show = server
        .client()
        .create_show(&format!("Load {round}"), &rows)
        .await;
    let answered = Arc::new(AtomicUsize::new(0));
    let threshold = Arc::new(Notify::new());
    let tasks: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(user, token)| {
            let client = server.as_user(token);
            let load = load_client(
                client,
                user,
                show.clone(),
                answered.clone(),
                threshold.clone(),
            );
            tokio::spawn(load)
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
    (show, records)
}

/// What the test knows across rounds and restarts.
#[derive(Default)]
struct Ledger {
    tokens: Vec<String>,
    shows: Vec<String>,
    /// Requests with an answer: first answers, or retries that settled them.
    acked: Vec<LoadRecord>,
    /// Confirmed bookings by id.
    known: BTreeMap<String, Known>,
    /// The last round's requests that got no answer.
    unanswered: Vec<LoadRecord>,
}

impl Ledger {
    /// Files a round's requests: answered ones (a 201 with exactly its
    /// seats, or a 409) and unanswered ones.
    fn file_round(&mut self, round: usize, show: String, records: Vec<LoadRecord>) {
        self.shows.push(show);
        let (mut booked, mut refused) = (0, 0);
        for record in records {
            let Some(answer) = &record.answer else {
                self.unanswered.push(record);
                continue;
            };
            if answer.status == 201 {
                booked += 1;
                let body = answer.json();
                assert_eq!(seat_set(&body["seats"]), record.seats, "{}", answer.text);
                let id = answer.id();
                let known = Known::of(&record, body);
                assert!(
                    self.known.insert(id, known).is_none(),
                    "booking id given twice"
                );
            } else {
                refused += 1;
                answer.assert_problem(409, "seat-unavailable");
            }
            self.acked.push(record);
        }
        eprintln!(
            "round {round}: {booked} booked, {refused} refused, {} unanswered at the kill",
            self.unanswered.len()
        );
        assert!(refused > 0, "round {round}: the load made no conflicts");
        assert!(
            !self.unanswered.is_empty(),
            "round {round}: no request was in flight at the kill"
        );
    }

    /// Checks a restarted server against everything acknowledged so far,
    /// then settles the requests that got no answer (retrying their keys)
    /// and files them as acknowledged.
    async fn verify(&mut self, base: &str) {
        let clients: Vec<Client> = self.tokens.iter().map(|t| Client::on(base, t)).collect();
        let unanswered = std::mem::take(&mut self.unanswered);
        let mut extra: BTreeMap<usize, Value> = BTreeMap::new();
        let mut all: Vec<(String, String, BTreeSet<String>)> = Vec::new();
        for (user, client) in clients.iter().enumerate() {
            let pending: Vec<&LoadRecord> = unanswered.iter().filter(|r| r.user == user).collect();
            self.check_bookings(user, client, &pending, &mut extra, &mut all)
                .await;
        }
        self.check_maps(&clients[0], &all).await;
        self.check_replays(&clients).await;
        for record in unanswered {
            let extra = extra.get(&record.user);
            self.settle(&clients[record.user], record, extra).await;
        }
        for (user, client) in clients.iter().enumerate() {
            let mine = self.known.values().filter(|k| k.user == user).count();
            assert_eq!(
                client.bookings().await.len(),
                mine,
                "user {user}: bookings beyond the known ones"
            );
        }
    }

    /// Every acknowledged booking of `user` is there, owned by them,
    /// unchanged; at most one unanswered request of theirs (`pending`) added
    /// a booking (filed in `extra`), and then with exactly its seats. Every
    /// listed booking goes into `all`.
    async fn check_bookings(
        &self,
        user: usize,
        client: &Client,
        pending: &[&LoadRecord],
        extra: &mut BTreeMap<usize, Value>,
        all: &mut Vec<(String, String, BTreeSet<String>)>,
    ) {
        let listed = client.bookings().await;
        let mut ids = BTreeSet::new();
        for booking in &listed {
            let id = booking["id"].as_str().unwrap().to_string();
            assert_eq!(booking["status"], "confirmed", "{booking}");
            let seats = seat_set(&booking["seats"]);
            let show = booking["show_id"].as_str().unwrap().to_string();
            all.push((id.clone(), show.clone(), seats.clone()));
            ids.insert(id.clone());
            if let Some(k) = self.known.get(&id) {
                assert_eq!(k.user, user, "booking {id} listed for another user");
                assert_eq!((&k.show, &k.seats), (&show, &seats), "booking {id}");
                assert_eq!(booking, &k.body, "booking {id} changed");
                continue;
            }
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
        for (id, k) in self.known.iter().filter(|(_, k)| k.user == user) {
            assert!(
                ids.contains(id),
                "acknowledged booking {id} ({k:?}) is lost"
            );
            let one = client.get(&format!("/v1/bookings/{id}")).await;
            assert_eq!(one.status, 200, "GET booking {id}: {}", one.text);
            assert_eq!(one.json(), k.body, "GET booking {id}");
        }
    }

    /// The seat maps agree with the bookings; no seat is in two bookings.
    async fn check_maps(&self, client: &Client, all: &[(String, String, BTreeSet<String>)]) {
        for show in &self.shows {
            let mut owner: BTreeMap<String, String> = BTreeMap::new();
            for (id, _, seats) in all.iter().filter(|(_, s, _)| s == show) {
                for seat in seats {
                    if let Some(other) = owner.insert(seat.clone(), id.clone()) {
                        panic!("seat {seat} of show {show} is in bookings {other} and {id}");
                    }
                }
            }
            let booked: BTreeSet<String> = owner.keys().cloned().collect();
            assert_map(client, show, &BTreeSet::new(), &booked, "after kill -9").await;
        }
    }

    /// Every acknowledged key replays its answer byte for byte.
    async fn check_replays(&self, clients: &[Client]) {
        let replays = clients.iter().enumerate().map(|(user, client)| {
            let mine: Vec<&LoadRecord> = self.acked.iter().filter(|r| r.user == user).collect();
            async move {
                for record in mine {
                    let first = record.answer.as_ref().unwrap();
                    let again = client.request(&record.request).await;
                    let key = record.request.key.as_deref().unwrap();
                    assert_replay(first, &again, &format!("booking key {key}"));
                }
            }
        });
        join_all(replays).await;
    }

    /// An unanswered request happened fully or not at all: its key replays
    /// the booking that is there (`extra`), or runs afresh; never a second
    /// effect.
    async fn settle(&mut self, client: &Client, mut record: LoadRecord, extra: Option<&Value>) {
        let retry = client.request(&record.request).await;
        match extra {
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
                let id = retry.id();
                assert!(
                    !self.known.contains_key(&id),
                    "a fresh run reused booking {id}"
                );
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
        let again = client.request(&record.request).await;
        assert_replay(&retry, &again, "a retried unanswered key");
        if retry.status == 201 {
            self.known
                .insert(retry.id(), Known::of(&record, retry.json()));
        }
        record.answer = Some(retry);
        self.acked.push(record);
    }
}

store_test!(
    kill9_under_load_loses_no_acknowledged_booking,
    flavor = "multi_thread",
    worker_threads = 4
);
async fn kill9_under_load_loses_no_acknowledged_booking(store: StoreKind) {
    let storage = store.storage();
    let mut ledger = Ledger::default();
    for round in 0..LOAD_ROUNDS {
        let server = BinaryServer::on(&storage, &[]);
        if round == 0 {
            for _ in 0..LOAD_CLIENTS {
                ledger.tokens.push(server.client().guest().await.token());
            }
        } else {
            ledger.verify(&server.base).await;
        }
        let (show, records) = load_until_killed(server, round, &ledger.tokens).await;
        ledger.file_round(round, show, records);
    }

    let server = BinaryServer::on(&storage, &[]);
    ledger.verify(&server.base).await;
    // Once more from disk, with the retried keys settled.
    server.stop();
    let server = BinaryServer::on(&storage, &[]);
    ledger.verify(&server.base).await;
    server.stop();
}
