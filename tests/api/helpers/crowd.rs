//! A crowd that books and holds while the server dies under it (`kill -9`,
//! a power cut), and the ledger of everything it was told, checked after
//! each restart (the contract's "Durability"): every acknowledged
//! booking, cart, hold and checkout is there, unchanged; every
//! acknowledged key replays its answer byte for byte; every request that
//! got no answer happened wholly or not at all, and its retry settles it;
//! the seat maps agree with the bookings and the live holds, and no seat
//! is in two bookings.
//!
//! Each user books one-shot runs of 1-3 adjacent seats, or opens a cart,
//! holds 1-2 adjacent seats in it and checks out. A user stops at its
//! first request without an answer, so each has at most one unsettled
//! request per round.

use super::*;
use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub const CROWD_ROWS: [&str; 10] = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"];
pub const CROWD_ROW_SEATS: u32 = 20;
/// Upper bound of requests per user and round.
const MAX_REQUESTS_PER_USER: usize = 400;

/// What a request of the crowd asks for.
#[derive(Clone, Debug)]
pub enum Op {
    /// `POST /v1/bookings` of these seats.
    Book(BTreeSet<String>),
    /// `POST /v1/carts`.
    NewCart,
    /// `POST /v1/carts/{cart}/items` of one seat.
    Hold { cart: String, seat: String },
    /// `POST /v1/carts/{cart}/checkout`.
    Checkout { cart: String },
}

/// One request of the crowd and its answer (`None`: no answer).
#[derive(Clone, Debug)]
pub struct Sent {
    pub user: usize,
    pub show: String,
    pub op: Op,
    pub request: Request,
    pub answer: Option<Answer>,
    /// When the answer (or the failure) came.
    pub at: std::time::Instant,
}

/// A confirmed booking the ledger knows of.
#[derive(Clone, Debug)]
struct Known {
    user: usize,
    show: String,
    seats: BTreeSet<String>,
    body: Value,
}

/// A cart the ledger knows of, as its acknowledged changes left it.
#[derive(Clone, Debug)]
struct CartState {
    user: usize,
    show: String,
    held: BTreeSet<String>,
    checked_out: bool,
}

/// One user's load in a round: sends until a request goes unanswered or
/// the bound is reached.
async fn user_load(
    client: Client,
    user: usize,
    show: String,
    answered: Arc<AtomicUsize>,
    enough: (usize, Arc<Notify>),
) -> Vec<Sent> {
    let mut rng = StdRng::from_entropy();
    let mut sent = Vec::new();
    let send = |op: Op, request: Request| {
        let (client, show, answered, enough) = (
            client.clone(),
            show.clone(),
            answered.clone(),
            enough.clone(),
        );
        async move {
            let answer = client.try_request(&request).await;
            if answer.is_some() && answered.fetch_add(1, Ordering::SeqCst) + 1 == enough.0 {
                enough.1.notify_one();
            }
            Sent {
                user,
                show,
                op,
                request,
                answer,
                at: std::time::Instant::now(),
            }
        }
    };
    let run = |rng: &mut StdRng, most: u32| {
        let row = CROWD_ROWS[rng.gen_range(0..CROWD_ROWS.len())];
        let count = rng.gen_range(1..=most);
        let start = rng.gen_range(1..=CROWD_ROW_SEATS - count + 1);
        (start..start + count)
            .map(|n| format!("{row}{n}"))
            .collect::<Vec<_>>()
    };
    'load: while sent.len() < MAX_REQUESTS_PER_USER {
        if rng.gen_bool(0.5) {
            let seats = run(&mut rng, 3);
            let request = Request::post("/v1/bookings", &json!({"show_id": show, "seats": seats}));
            let one = send(Op::Book(seats.into_iter().collect()), request).await;
            let failed = one.answer.is_none();
            sent.push(one);
            if failed {
                break;
            }
            continue;
        }
        let one = send(Op::NewCart, Request::post("/v1/carts", &json!({}))).await;
        let Some(answer) = one.answer.clone() else {
            sent.push(one);
            break;
        };
        sent.push(one);
        let cart = answer.id();
        let mut held = 0;
        for seat in run(&mut rng, 2) {
            let request = Request::post(
                format!("/v1/carts/{cart}/items"),
                &json!({"show_id": show, "seat_id": seat}),
            );
            let cart = cart.clone();
            let one = send(Op::Hold { cart, seat }, request).await;
            match &one.answer {
                None => {
                    sent.push(one);
                    break 'load;
                }
                Some(answer) if answer.status == 201 => held += 1,
                Some(_) => {}
            }
            sent.push(one);
        }
        if held > 0 {
            let request = Request::post(format!("/v1/carts/{cart}/checkout"), &json!({}));
            let one = send(Op::Checkout { cart }, request).await;
            let failed = one.answer.is_none();
            sent.push(one);
            if failed {
                break;
            }
        }
    }
    sent
}

/// A round: every user loads a new show until `stop` (a kill, a power
/// cut) is run, once `answers` answers have come. Returns the show and
/// every request sent.
pub async fn crowd_until(
    server: BinaryServer,
    round: usize,
    tokens: &[String],
    answers: usize,
    stop: impl FnOnce(BinaryServer),
) -> (String, Vec<Sent>) {
    let (show, sent, ()) = crowd_while(server, round, tokens, answers, |server| async move {
        stop(server)
    })
    .await;
    (show, sent)
}

/// `crowd_until` with a stop that may take its time while the crowd goes
/// on (an export, then a kill); returns what it returned too.
pub async fn crowd_while<T, F: std::future::Future<Output = T>>(
    server: BinaryServer,
    round: usize,
    tokens: &[String],
    answers: usize,
    stop: impl FnOnce(BinaryServer) -> F,
) -> (String, Vec<Sent>, T) {
    let rows: Vec<(&str, u32)> = CROWD_ROWS.iter().map(|r| (*r, CROWD_ROW_SEATS)).collect();
    let show = server
        .client()
        .create_show(&format!("Crowd {round}"), &rows)
        .await;
    let answered = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let tasks: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(user, token)| {
            let load = user_load(
                server.as_user(token),
                user,
                show.clone(),
                answered.clone(),
                (answers, enough.clone()),
            );
            tokio::spawn(load)
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(60), enough.notified())
        .await
        .expect("the crowd got its answers before the stop");
    let stopped = stop(server).await;
    let mut sent = Vec::new();
    for task in tasks {
        sent.extend(task.await.expect("a user's load panicked"));
    }
    (show, sent, stopped)
}

/// What the test knows across rounds and restarts.
#[derive(Default)]
pub struct Ledger {
    pub tokens: Vec<String>,
    shows: Vec<String>,
    /// Requests with an answer: first answers, or retries that settled them.
    acked: Vec<Sent>,
    /// Confirmed bookings by id.
    known: BTreeMap<String, Known>,
    carts: BTreeMap<String, CartState>,
    /// The last round's requests that got no answer.
    unanswered: Vec<Sent>,
}

/// What a restarted server shows of one user beyond the ledger: the effect
/// of their unanswered request, if it happened.
#[derive(Default)]
struct Extra {
    booking: Option<Value>,
    /// A seat held by the unanswered hold.
    held: Option<(String, String)>,
    /// A cart checked out by the unanswered checkout.
    checked_out: Option<String>,
}

impl Ledger {
    /// Signs up `users` guests on `server`.
    pub async fn sign_up(&mut self, server: &BinaryServer, users: usize) {
        for _ in 0..users {
            self.tokens.push(server.client().guest().await.token());
        }
    }

    /// Files a round's requests: answered ones (checked against the
    /// contract) and unanswered ones. Asserts the round made conflicts and
    /// was cut short with requests in flight.
    pub fn file_round(&mut self, round: usize, show: String, sent: Vec<Sent>) {
        self.shows.push(show);
        let (mut done, mut refused) = (0, 0);
        for one in sent {
            let Some(answer) = one.answer.clone() else {
                self.unanswered.push(one);
                continue;
            };
            if self.file_answer(&one, &answer) {
                done += 1;
            } else {
                refused += 1;
            }
            self.acked.push(one);
        }
        eprintln!(
            "round {round}: {done} done, {refused} refused, {} unanswered at the stop; \
             {} bookings, {} carts known",
            self.unanswered.len(),
            self.known.len(),
            self.carts.len()
        );
        assert!(refused > 0, "round {round}: the crowd made no conflicts");
        assert!(
            !self.unanswered.is_empty(),
            "round {round}: no request was in flight at the stop"
        );
    }

    /// Files one answer in the ledger; false for a refusal (409).
    fn file_answer(&mut self, one: &Sent, answer: &Answer) -> bool {
        match &one.op {
            Op::Book(seats) => {
                if answer.status != 201 {
                    answer.assert_problem(409, "seat-unavailable");
                    return false;
                }
                self.file_booking(one.user, &one.show, seats.clone(), answer);
            }
            Op::NewCart => {
                assert_eq!(answer.status, 201, "a new cart: {}", answer.text);
                let cart = CartState {
                    user: one.user,
                    show: one.show.clone(),
                    held: BTreeSet::new(),
                    checked_out: false,
                };
                assert!(
                    self.carts.insert(answer.id(), cart).is_none(),
                    "cart id given twice"
                );
            }
            Op::Hold { cart, seat } => {
                if answer.status != 201 {
                    answer.assert_problem(409, "seat-unavailable");
                    return false;
                }
                let state = self.carts.get_mut(cart).expect("a known cart");
                assert!(!state.checked_out, "a hold on a checked-out cart");
                state.held.insert(seat.clone());
                let items = answer.json()["items"].clone();
                assert!(
                    items
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|i| i["seat_id"] == seat.as_str()),
                    "the hold's answer lists the seat: {items}"
                );
            }
            Op::Checkout { cart } => {
                assert_eq!(answer.status, 201, "a checkout: {}", answer.text);
                let state = self.carts.get_mut(cart).expect("a known cart");
                state.checked_out = true;
                let seats = std::mem::take(&mut state.held);
                self.file_booking(one.user, &one.show, seats, answer);
            }
        }
        true
    }

    fn file_booking(&mut self, user: usize, show: &str, seats: BTreeSet<String>, answer: &Answer) {
        let body = answer.json();
        assert_eq!(seat_set(&body["seats"]), seats, "{}", answer.text);
        let known = Known {
            user,
            show: show.to_string(),
            seats,
            body,
        };
        assert!(
            self.known.insert(answer.id(), known).is_none(),
            "booking id given twice"
        );
    }

    /// Checks a restarted server against everything acknowledged so far,
    /// then settles the requests that got no answer (retrying their keys)
    /// and files them as acknowledged.
    pub async fn verify(&mut self, base: &str) {
        let clients: Vec<Client> = self.tokens.iter().map(|t| Client::on(base, t)).collect();
        let unanswered = std::mem::take(&mut self.unanswered);
        let mut extras: BTreeMap<usize, Extra> = BTreeMap::new();
        let mut all: Vec<(String, String, BTreeSet<String>)> = Vec::new();
        for (user, client) in clients.iter().enumerate() {
            let pending = unanswered.iter().find(|s| s.user == user);
            let extra = extras.entry(user).or_default();
            self.check_bookings(user, client, pending, extra, &mut all)
                .await;
            self.check_carts(user, client, pending, extra).await;
        }
        self.check_maps(&clients[0], &all, &extras).await;
        self.check_replays(&clients).await;
        for one in unanswered {
            let extra = extras.remove(&one.user).unwrap_or_default();
            self.settle(&clients[one.user], one, extra).await;
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
    /// unchanged; their unanswered request (`pending`) added at most one
    /// booking (filed in `extra`), and then with exactly its seats. Every
    /// listed booking goes into `all`.
    async fn check_bookings(
        &self,
        user: usize,
        client: &Client,
        pending: Option<&Sent>,
        extra: &mut Extra,
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
            let asked = match pending.map(|p| (&p.op, &p.show)) {
                Some((Op::Book(wanted), on)) => *on == show && *wanted == seats,
                Some((Op::Checkout { cart }, on)) => *on == show && self.carts[cart].held == seats,
                _ => false,
            };
            assert!(
                asked,
                "user {user} has booking {booking} that no unanswered request of \
                 theirs asked for (unanswered: {pending:?})"
            );
            assert!(
                extra.booking.replace(booking.clone()).is_none(),
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

    /// Every cart of `user` holds what its acknowledged changes left in it
    /// (and is checked out if that was acknowledged); the unanswered
    /// request changed at most itself (filed in `extra`).
    async fn check_carts(
        &self,
        user: usize,
        client: &Client,
        pending: Option<&Sent>,
        extra: &mut Extra,
    ) {
        for (id, state) in self.carts.iter().filter(|(_, c)| c.user == user) {
            let cart = client.cart(id).await;
            let held: BTreeSet<String> = cart["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["status"] == "held")
                .map(|i| i["seat_id"].as_str().unwrap().to_string())
                .collect();
            let status = cart["status"].as_str().unwrap();
            let pending_here = |op: &Op| match op {
                Op::Hold { cart, .. } | Op::Checkout { cart } => cart == id,
                _ => false,
            };
            match pending.map(|p| &p.op).filter(|op| pending_here(op)) {
                Some(Op::Checkout { .. }) if status == "checked_out" => {
                    assert!(!state.checked_out);
                    extra.checked_out = Some(id.clone());
                    assert!(
                        extra.booking.is_some(),
                        "cart {id} is checked out but its booking is missing"
                    );
                    continue;
                }
                Some(Op::Hold { seat, .. }) if held.len() == state.held.len() + 1 => {
                    let mut with = state.held.clone();
                    with.insert(seat.clone());
                    assert_eq!(held, with, "cart {id}: {cart}");
                    extra.held = Some((state.show.clone(), seat.clone()));
                    continue;
                }
                _ => {}
            }
            if state.checked_out {
                assert_eq!(status, "checked_out", "cart {id}: {cart}");
            } else {
                assert_eq!(status, "open", "cart {id}: {cart}");
                assert_eq!(held, state.held, "cart {id}: held seats");
            }
        }
    }

    /// The seat maps agree with the bookings and the live holds; no seat
    /// is in two bookings.
    async fn check_maps(
        &self,
        client: &Client,
        all: &[(String, String, BTreeSet<String>)],
        extras: &BTreeMap<usize, Extra>,
    ) {
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
            let checked_out = |cart: &String| {
                extras
                    .values()
                    .any(|e| e.checked_out.as_ref() == Some(cart))
            };
            let mut held: BTreeSet<String> = self
                .carts
                .iter()
                .filter(|(id, c)| &c.show == show && !c.checked_out && !checked_out(id))
                .flat_map(|(_, c)| c.held.iter().cloned())
                .collect();
            for extra in extras.values() {
                if let Some((on, seat)) = &extra.held {
                    if on == show {
                        held.insert(seat.clone());
                    }
                }
            }
            assert_map(client, show, &held, &booked, "after the restart").await;
        }
    }

    /// Every acknowledged key replays its answer byte for byte.
    async fn check_replays(&self, clients: &[Client]) {
        let replays = clients.iter().enumerate().map(|(user, client)| {
            let mine: Vec<&Sent> = self.acked.iter().filter(|s| s.user == user).collect();
            async move {
                for one in mine {
                    let first = one.answer.as_ref().unwrap();
                    let again = client.request(&one.request).await;
                    let key = one.request.key.as_deref().unwrap();
                    assert_replay(first, &again, &format!("{:?} with key {key}", one.op));
                }
            }
        });
        join_all(replays).await;
    }

    /// An unanswered request happened fully or not at all: its key replays
    /// the effect that is there (`extra`), or runs afresh; never a second
    /// effect. Then it is filed as acknowledged.
    async fn settle(&mut self, client: &Client, mut one: Sent, extra: Extra) {
        let retry = client.request(&one.request).await;
        let happened = match &one.op {
            Op::Book(_) | Op::Checkout { .. } => extra.booking.is_some(),
            Op::Hold { .. } => extra.held.is_some(),
            // An empty cart shows nowhere: either answer is right.
            Op::NewCart => retry.is_replay(),
        };
        if happened {
            assert!(
                retry.is_replay(),
                "{:?} happened, but its key ran again: {}",
                one.op,
                retry.text
            );
            assert!(retry.status < 300, "{:?}: {}", one.op, retry.text);
            if let Some(booking) = &extra.booking {
                assert_eq!(&retry.json(), booking);
            }
        } else if retry.is_replay() {
            // Its stored outcome was a refusal: nothing changed.
            retry.assert_problem(409, "seat-unavailable");
        }
        let again = client.request(&one.request).await;
        assert_replay(&retry, &again, "a retried unanswered key");
        self.file_answer(&one, &retry);
        if let (Op::Book(_) | Op::Checkout { .. }, 201) = (&one.op, retry.status) {
            // A fresh booking, or the one found: stored and on the map.
            let id = retry.id();
            let stored = client.get(&format!("/v1/bookings/{id}")).await;
            assert_eq!(stored.status, 200, "booking {id}: {}", stored.text);
            assert_eq!(stored.json(), retry.json(), "booking {id}");
            let map = client.seat_map(&one.show).await;
            for seat in seat_set(&retry.json()["seats"]) {
                assert_eq!(map[&seat], "booked", "seat {seat} of booking {id}");
            }
        }
        one.answer = Some(retry);
        self.acked.push(one);
    }
}
