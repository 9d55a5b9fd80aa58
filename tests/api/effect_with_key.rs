//! An effect and its key record are written together, always (issue 17).
//!
//! The server runs on a store seen through `Recording`, which notes every
//! write set submitted. Each keyed request below must reach the store as
//! exactly one write set that carries both its key record and every record
//! it changes: a store applies a write set atomically (its contract, tested
//! on both stores), so "one write set" is "one atomic commit". A build
//! that wrote the effect and then the key (two submits) would leave a
//! window where a crash keeps the effect and forgets the key, and a retry
//! would run it twice; here it fails at once, on every run.

use crate::helpers::*;
use boxoffice::domain::{
    Booking, BookingId, Cart, CartId, IdempotencyKey, SeatState, Show, ShowId, StoredReply, UserId,
};
use boxoffice::store::{
    CommitOutcome, Mutation, Store, StoreFuture, StoreResult, Ticket, WriteSet,
};
use serde_json::json;
use std::sync::{Arc, Mutex};

/// What a submitted write set held.
#[derive(Clone, Debug)]
struct Noted {
    /// Its key record: (key, stored status).
    key: Option<(String, u16)>,
    /// The kinds of records it changes, e.g. "seat", "booking".
    records: Vec<&'static str>,
}

/// A store that notes every write set submitted to it, then passes it on.
struct Recording {
    inner: Arc<dyn Store>,
    noted: Arc<Mutex<Vec<Noted>>>,
}

fn kind(mutation: &Mutation) -> &'static str {
    match mutation {
        Mutation::Show(_) => "show",
        Mutation::Seat { .. } => "seat",
        Mutation::Cart(_) => "cart",
        Mutation::Booking(_) => "booking",
        Mutation::Session { .. } => "session",
    }
}

impl Store for Recording {
    fn submit(&self, writes: WriteSet) -> StoreFuture<CommitOutcome> {
        self.noted.lock().unwrap().push(Noted {
            key: writes
                .key
                .as_ref()
                .map(|k| (k.key.as_str().to_string(), k.reply.status)),
            records: writes.mutations.iter().map(kind).collect(),
        });
        self.inner.submit(writes)
    }
    fn durable(&self, ticket: Ticket) -> StoreFuture<()> {
        self.inner.durable(ticket)
    }
    fn sync_point(&self) -> StoreFuture<()> {
        self.inner.sync_point()
    }
    fn is_empty(&self) -> StoreFuture<bool> {
        self.inner.is_empty()
    }
    fn load_show(&self, id: ShowId) -> StoreFuture<Option<Show>> {
        self.inner.load_show(id)
    }
    fn list_shows(&self) -> StoreFuture<Vec<Show>> {
        self.inner.list_shows()
    }
    fn load_taken_seats(&self, show: ShowId) -> StoreFuture<Vec<(u32, SeatState)>> {
        self.inner.load_taken_seats(show)
    }
    fn load_seat(&self, show: ShowId, index: u32) -> StoreFuture<SeatState> {
        self.inner.load_seat(show, index)
    }
    fn load_cart(&self, id: CartId) -> StoreFuture<Option<Cart>> {
        self.inner.load_cart(id)
    }
    fn load_booking(&self, owner: UserId, id: BookingId) -> StoreFuture<Option<Booking>> {
        self.inner.load_booking(owner, id)
    }
    fn list_bookings(&self, user: UserId) -> StoreFuture<Vec<Booking>> {
        self.inner.list_bookings(user)
    }
    fn booking_owner(&self, id: BookingId) -> StoreFuture<Option<UserId>> {
        self.inner.booking_owner(id)
    }
    fn list_show_bookings(
        &self,
        show: ShowId,
        after: Option<(u64, BookingId)>,
        limit: usize,
    ) -> StoreFuture<Vec<Booking>> {
        self.inner.list_show_bookings(show, after, limit)
    }
    fn load_session(&self, token_hash: [u8; 32]) -> StoreFuture<Option<(UserId, u64)>> {
        self.inner.load_session(token_hash)
    }
    fn load_key(&self, user: UserId, key: &IdempotencyKey) -> StoreFuture<Option<StoredReply>> {
        self.inner.load_key(user, key)
    }
    fn sweep_keys(&self, created_before_ms: u64, limit: usize) -> StoreFuture<usize> {
        self.inner.sweep_keys(created_before_ms, limit)
    }
    fn count_keys(&self, user: UserId, limit: usize) -> StoreFuture<usize> {
        self.inner.count_keys(user, limit)
    }
    fn sweep_sessions(&self, created_before_ms: u64, limit: usize) -> StoreFuture<usize> {
        self.inner.sweep_sessions(created_before_ms, limit)
    }
    fn flush(&self) -> StoreResult<()> {
        self.inner.flush()
    }
    fn kind_name(&self) -> &'static str {
        self.inner.kind_name()
    }
    fn export_snapshot(
        &self,
        sink: &mut dyn FnMut(boxoffice::store::dump::Record) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.inner.export_snapshot(sink)
    }
}

/// Sends a keyed request and checks what reached the store meanwhile: one
/// write set, with the request's key, its answer's status and exactly the
/// kinds of records `records` names (in any order, with repeats).
async fn keyed(
    noted: &Mutex<Vec<Noted>>,
    client: &Client,
    request: Request,
    status: u16,
    records: &[&str],
) -> Answer {
    let before = noted.lock().unwrap().len();
    let answer = client.request(&request).await;
    assert_eq!(answer.status, status, "{}", answer.text);
    let written: Vec<Noted> = noted.lock().unwrap()[before..].to_vec();
    let what = format!("{} {}", request.method, request.path);
    assert_eq!(
        written.len(),
        1,
        "{what}: its effect and its key must be one write set: {written:?}"
    );
    let key = request.key.clone().expect("a keyed request");
    assert_eq!(written[0].key, Some((key, status)), "{what}: {written:?}");
    let mut kinds = written[0].records.clone();
    kinds.sort_unstable();
    kinds.dedup();
    let mut expected = records.to_vec();
    expected.sort_unstable();
    assert_eq!(kinds, expected, "{what}: the records it changed");
    answer
}

store_test!(every_effect_is_one_write_with_its_key);
async fn every_effect_is_one_write_with_its_key(store: StoreKind) {
    let noted = Arc::new(Mutex::new(Vec::new()));
    let recorder = noted.clone();
    let server = spawn_app_through(
        Storage::new(store),
        // No hold lapses during the test (a lapse writes without a key).
        |settings| settings.hold_ttl_secs = 600,
        move |inner| {
            Arc::new(Recording {
                inner,
                noted: recorder,
            })
        },
    );
    let client = server.client();
    let guest = client.guest().await;
    let rows = show_body(&[("A", 4)]);
    let created = keyed(
        &noted,
        &client.admin(),
        Request::post("/v1/shows", &rows),
        201,
        &["show"],
    )
    .await;
    let show = created.id();

    let booked = keyed(
        &noted,
        &guest,
        Request::post("/v1/bookings", &booking_body(&show, &["A1"])),
        201,
        &["booking", "seat"],
    )
    .await;
    // A refusal is stored with its key too, and changes nothing.
    keyed(
        &noted,
        &guest,
        Request::post("/v1/bookings", &booking_body(&show, &["A1"])),
        409,
        &[],
    )
    .await;
    let cart = keyed(
        &noted,
        &guest,
        Request::post("/v1/carts", &json!({})),
        201,
        &["cart"],
    )
    .await
    .id();
    let hold = json!({"show_id": show, "seat_id": "A2"});
    let items = format!("/v1/carts/{cart}/items");
    keyed(
        &noted,
        &guest,
        Request::post(&items, &hold),
        201,
        &["cart", "seat"],
    )
    .await;
    let hold = json!({"show_id": show, "seat_id": "A3"});
    keyed(
        &noted,
        &guest,
        Request::post(&items, &hold),
        201,
        &["cart", "seat"],
    )
    .await;
    keyed(
        &noted,
        &guest,
        Request::post(format!("/v1/carts/{cart}/checkout"), &json!({})),
        201,
        &["booking", "cart", "seat"],
    )
    .await;
    // A change to a closed cart: refused, stored with its key.
    let hold = json!({"show_id": show, "seat_id": "A4"});
    keyed(&noted, &guest, Request::post(&items, &hold), 409, &[]).await;

    // The effects are there, each once.
    let map = client.seat_map(&show).await;
    assert_eq!(seats_with(&map, "booked"), set(&["A1", "A2", "A3"]));
    assert_eq!(guest.bookings().await.len(), 2);
    assert!(guest
        .bookings()
        .await
        .iter()
        .any(|b| b["id"] == booked.json()["id"]));
}
