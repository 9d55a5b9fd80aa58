//! Durability against the real binary (docs/API.md §4 "Idempotency" and
//! "Durability"): answers replay byte for byte across SIGTERM, acknowledged
//! effects survive it, hold timers keep running after `kill -9`, and a
//! graceful stop under load loses nothing. (`kill -9` under load is in
//! `kill9`, a crash at each step of each operation in `crash_matrix`.)

use crate::helpers::*;
use chrono::Utc;
use futures_util::future::join_all;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

// ------------------------------------------------ replays after SIGTERM

/// Keyed requests as sent, by whom (a token), and their first answers.
#[derive(Default)]
struct Log(Vec<(String, Request, Answer)>);

impl Log {
    /// POSTs `body` with a new key as `client` and logs it.
    async fn post(&mut self, client: &Client, path: &str, body: Value) -> Answer {
        let request = Request::post(path, &body);
        let first = client.request(&request).await;
        self.0.push((client.token(), request, first.clone()));
        first
    }
}

/// What the history made: a show, Alice's and Bob's sessions and carts.
struct History {
    show: String,
    alice: Client,
    bob: Client,
    cart: String,
    bob_cart: String,
}

impl History {
    /// The users' bookings and carts as `GET` answers them, on `base`.
    async fn snapshot(&self, base: &str) -> Vec<(String, String)> {
        let alice = Client::on(base, &self.alice.token());
        let bob = Client::on(base, &self.bob.token());
        let mut out = Vec::new();
        for (who, path) in [
            (&alice, "/v1/bookings".to_string()),
            (&bob, "/v1/bookings".to_string()),
            (&alice, format!("/v1/carts/{}", self.cart)),
            (&bob, format!("/v1/carts/{}", self.bob_cart)),
        ] {
            let answer = who.get(&path).await;
            assert_eq!(answer.status, 200, "GET {path}: {}", answer.text);
            out.push((path, answer.text));
        }
        out
    }
}

/// Every kind of keyed answer, logged: a show; bookings answered 201, 409
/// and 404; a cart checked out and one still holding a seat, with their
/// refusals; and a booking cancelled since.
async fn make_history(server: &BinaryServer, log: &mut Log) -> History {
    let anon = server.client();
    let (alice, bob) = (anon.guest().await, anon.guest().await);
    let mut body = show_body(&[("A", 10), ("B", 10)]);
    body["title"] = json!("Replay");
    let created = log.post(&anon.admin(), "/v1/shows", body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let show = created.id();

    // One-shot bookings: a 201, a 409 seat-unavailable, a 404 unknown seat.
    let booked = log
        .post(&alice, "/v1/bookings", booking_body(&show, &["A1", "A2"]))
        .await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    let conflict = booking_body(&show, &["A2", "A3"]);
    let refused = log.post(&bob, "/v1/bookings", conflict).await;
    refused.assert_problem(409, "seat-unavailable");
    log.post(&bob, "/v1/bookings", booking_body(&show, &["Z1"]))
        .await
        .assert_problem(404, "not-found");

    let (cart, bob_cart) = cart_history(log, &alice, &bob, &show).await;

    // A cancelled booking is listed as such after the restart too.
    let cancelled = log
        .post(&alice, "/v1/bookings", booking_body(&show, &["A5"]))
        .await;
    assert_eq!(cancelled.status, 201, "{}", cancelled.text);
    let gone = alice.cancel(&cancelled.id()).await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    History {
        show,
        alice,
        bob,
        cart,
        bob_cart,
    }
}

/// Alice's cart: create, hold two seats, check out, a change after checkout.
/// Bob's keeps a live hold over the restart; a hold on a booked seat.
async fn cart_history(log: &mut Log, alice: &Client, bob: &Client, show: &str) -> (String, String) {
    let item = |seat: &str| json!({"show_id": show, "seat_id": seat});
    let cart = log.post(alice, "/v1/carts", json!({})).await;
    assert_eq!(cart.status, 201, "{}", cart.text);
    let cart = cart.id();
    let items = format!("/v1/carts/{cart}/items");
    for seat in ["B1", "B2"] {
        let held = log.post(alice, &items, item(seat)).await;
        assert_eq!(held.status, 201, "{}", held.text);
    }
    let checkout = format!("/v1/carts/{cart}/checkout");
    let checked_out = log.post(alice, &checkout, json!({})).await;
    assert_eq!(checked_out.status, 201, "{}", checked_out.text);
    log.post(alice, &items, item("B9"))
        .await
        .assert_problem(409, "cart-closed");

    let bob_cart = log.post(bob, "/v1/carts", json!({})).await.id();
    let bob_items = format!("/v1/carts/{bob_cart}/items");
    let held = log.post(bob, &bob_items, item("B5")).await;
    assert_eq!(held.status, 201, "{}", held.text);
    log.post(bob, &bob_items, item("B1"))
        .await
        .assert_problem(409, "seat-unavailable");
    (cart, bob_cart)
}

store_test!(sigterm_restart_replays_every_answer_and_keeps_state);
async fn sigterm_restart_replays_every_answer_and_keeps_state(store: StoreKind) {
    let storage = store.storage();
    let server = BinaryServer::on(&storage, &[]);
    let mut log = Log::default();
    let history = make_history(&server, &mut log).await;
    let show = history.show.clone();
    let before = history.snapshot(&server.base).await;
    let (held, booked) = (set(&["B5"]), set(&["A1", "A2", "B1", "B2"]));
    assert_map(&server.client(), &show, &held, &booked, "before SIGTERM").await;

    server.stop();
    let server = BinaryServer::on(&storage, &[]);
    let anon = server.client();
    let map_text = anon.get(&format!("/v1/shows/{show}")).await.text;
    assert_map(&anon, &show, &held, &booked, "after SIGTERM").await;

    for (token, request, first) in &log.0 {
        let again = server.as_user(token).request(request).await;
        assert_replay(first, &again, &format!("POST {}", request.path));
    }
    let after = history.snapshot(&server.base).await;
    for ((path, old), (_, new)) in before.iter().zip(&after) {
        assert_eq!(old, new, "GET {path} changed across the restart");
    }
    let map_after = anon.get(&format!("/v1/shows/{show}")).await.text;
    assert_eq!(map_text, map_after, "the replays changed the seat map");
    let listed = anon.get("/v1/shows").await.json();
    assert_eq!(listed["shows"][0]["available"], 20 - 5, "{listed}");

    // Sessions survive: the old tokens still read and write.
    let alice = server.as_user(&history.alice.token());
    let more = alice.book(&new_key(), &show, &["A9"]).await;
    assert_eq!(more.status, 201, "{}", more.text);
    let bob = server.as_user(&history.bob.token());
    assert_eq!(bob.bookings().await.len(), 0);
    server.stop();
}

// ------------------------------------------------ hold expiry over a restart

store_test!(hold_expires_on_time_after_kill9_and_restart);
async fn hold_expires_on_time_after_kill9_and_restart(store: StoreKind) {
    let env = [("BOXOFFICE_HOLD_TTL_SECS", "2")];
    let storage = store.storage();
    let server = BinaryServer::on(&storage, &env);
    let show = server.client().create_show("Expiry", &[("A", 5)]).await;
    let alice = server.client().guest().await;
    let bob = server.client().guest().await;
    let cart = alice.new_cart().await;
    let held = alice.hold_new(&cart, &show, "A1").await;
    let expires_ms = utc(held["items"][0]["expires_at"].as_str().unwrap()).timestamp_millis();
    let now_ms = || Utc::now().timestamp_millis();
    let (alice, bob) = (alice.token(), bob.token());
    server.kill9();

    let server = BinaryServer::on(&storage, &env);
    let (alice, bob) = (server.as_user(&alice), server.as_user(&bob));
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
    let state = alice.cart(&cart).await;
    assert_eq!(state["items"][0]["status"], "expired", "{state}");

    // Someone else can hold it now.
    let bob_cart = bob.new_cart().await;
    bob.hold_new(&bob_cart, &show, "A1").await;
    let state = bob.cart(&bob_cart).await;
    assert_eq!(state["items"][0]["seat_id"], "A1", "{state}");
    assert_eq!(state["items"][0]["status"], "held", "{state}");
    assert_eq!(alice.seat_map(&show).await["A1"], "held");
    server.stop();
}

// ------------------------------------------------ graceful stop under load

/// Books guest `g`'s 25 seats one by one until the server stops
/// accepting; counts the answers and says when 100 have come. Returns the
/// guest's token and its acknowledged bookings.
async fn book_until_stopped(
    g: usize,
    guest: Client,
    show: String,
    answered: Arc<AtomicUsize>,
    enough: Arc<Notify>,
) -> (String, Vec<Value>) {
    let mut acked = Vec::new();
    for n in 0..25 {
        let row = if g.is_multiple_of(2) { "A" } else { "B" };
        let seat = format!("{row}{}", g / 2 * 25 + n + 1);
        let request = Request::post("/v1/bookings", &booking_body(&show, &[&seat]));
        match guest.try_request(&request).await {
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
    (guest.token(), acked)
}

store_test!(
    sigterm_under_load_finishes_in_flight_and_loses_nothing,
    flavor = "multi_thread",
    worker_threads = 4
);
/// SIGTERM while 16 clients book: the server exits 0, no request gets a
/// 5xx, and after a restart every acknowledged booking is there.
async fn sigterm_under_load_finishes_in_flight_and_loses_nothing(store: StoreKind) {
    let storage = store.storage();
    let server = BinaryServer::on(&storage, &[]);
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
    let tasks: Vec<_> = guests
        .into_iter()
        .enumerate()
        .map(|(g, guest)| {
            let load = book_until_stopped(g, guest, show.clone(), answered.clone(), enough.clone());
            tokio::spawn(load)
        })
        .collect();
    enough.notified().await;
    let status = server.terminate();
    assert!(status.success(), "SIGTERM exit: {status:?}");
    let results = join_all(tasks).await;

    let server = BinaryServer::on(&storage, &[]);
    let mut total = 0;
    for result in results {
        let (token, acked) = result.unwrap();
        let listed = server.as_user(&token).bookings().await;
        for booking in &acked {
            assert!(
                listed.contains(booking),
                "acknowledged {booking} is missing"
            );
        }
        total += acked.len();
    }
    assert!(total >= 90, "only {total} bookings were acknowledged");
    server.stop();
}

/// Issue 18: a data directory written by the layout before it (a booking
/// as JSON, its answer stored whole with its key, no redo records) opens
/// and serves: the old answer replays byte for byte, before and after a
/// cancel, the booking reads and cancels, and new bookings are written in
/// the new layout beside it. The directory is made by this build, then its
/// booking's records are rewritten the way the earlier build wrote them.
#[api_test]
async fn a_data_directory_of_the_layout_before_issue_18_still_serves() {
    use boxoffice::domain::{BookingId, StoredBody};
    use boxoffice::store::codec::{
        booking_in_key_record, booking_key, decode_reply, encode_booking_json, encode_reply,
        user_booking_key, KIND_KEY, KIND_OWNED_BOOKING, KIND_REDO, VERSION,
    };
    let (_parent, dir) = temp_data_dir();
    let server = BinaryServer::start(&dir, &[]);
    let show = server.client().create_show("Old layout", &[("A", 4)]).await;
    let guest = server.client().guest().await;
    let key = new_key();
    let booked = guest.book(&key, &show, &["A1"]).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    let id = booked.json()["id"].as_str().unwrap().to_string();
    let booking_id = BookingId(uuid::Uuid::parse_str(&id).unwrap());
    server.stop();

    {
        let db = sled::open(&dir).expect("the directory opens");
        // This build keeps a new booking inside its key record.
        assert_eq!(db.scan_prefix([KIND_OWNED_BOOKING]).count(), 0);
        let booking = db
            .scan_prefix([KIND_KEY])
            .values()
            .find_map(|value| booking_in_key_record(&value.unwrap()).unwrap())
            .expect("the booking");
        assert_eq!(booking.id, booking_id);
        // Then: the booking under its id, and an empty owner index entry.
        db.insert(booking_key(booking_id), encode_booking_json(&booking))
            .unwrap();
        db.insert(user_booking_key(booking.owner, booking_id), &[])
            .unwrap();
        let mut rewritten = 0;
        for entry in db.scan_prefix([KIND_KEY]) {
            let (name, value) = entry.unwrap();
            let mut reply = decode_reply(&value).unwrap();
            if reply.body == StoredBody::CreatedBookingAsMade(Box::new(booking.clone())) {
                reply.body = StoredBody::Bytes(bytes::Bytes::from(booked.text.clone()));
                db.insert(name, encode_reply(&reply)).unwrap();
                rewritten += 1;
            }
        }
        assert_eq!(rewritten, 1, "the booking's key record");
        for name in db.scan_prefix([KIND_REDO]).keys() {
            db.remove(name.unwrap()).unwrap();
        }
        db.flush().unwrap();
        let old = db.get(booking_key(booking_id)).unwrap().unwrap();
        assert_eq!(&old[..2], &[VERSION, b'{'], "a JSON booking record");
    }

    let server = BinaryServer::start(&dir, &[]);
    let guest = server.as_user(&guest.token());
    assert_replay(
        &booked,
        &guest.book(&key, &show, &["A1"]).await,
        "the old answer",
    );
    let read = guest.get(&format!("/v1/bookings/{id}")).await;
    assert_eq!(read.json()["status"], "confirmed", "{}", read.text);
    assert_eq!(guest.bookings().await, vec![read.json()], "the list");
    guest
        .book(&new_key(), &show, &["A1"])
        .await
        .assert_problem(409, "seat-unavailable");
    assert_eq!(guest.cancel(&id).await.status, 204);
    let read = guest.get(&format!("/v1/bookings/{id}")).await;
    assert_eq!(read.json()["status"], "cancelled", "{}", read.text);
    assert_replay(
        &booked,
        &guest.book(&key, &show, &["A1"]).await,
        "the old answer after the cancel",
    );
    let again = guest.book(&new_key(), &show, &["A1"]).await;
    assert_eq!(again.status, 201, "{}", again.text);
    let listed = guest.bookings().await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["status"], "cancelled");
    // Another user does not reach the old booking either.
    let other = server.client().guest().await;
    assert_eq!(other.get(&format!("/v1/bookings/{id}")).await.status, 404);
    assert_eq!(other.cancel(&id).await.status, 404);
    server.stop();
    // The cancel moved it to the new layout: one record, under its owner;
    // the new booking lives in its key record.
    let db = sled::open(&dir).expect("the directory opens");
    assert!(db.get(booking_key(booking_id)).unwrap().is_none());
    assert_eq!(db.scan_prefix([KIND_OWNED_BOOKING]).count(), 1);
    let held: Vec<_> = db
        .scan_prefix([KIND_KEY])
        .values()
        .filter_map(|value| booking_in_key_record(&value.unwrap()).unwrap())
        .map(|booking| booking.id.0.to_string())
        .collect();
    assert_eq!(held, vec![again.json()["id"].as_str().unwrap().to_string()]);
}
