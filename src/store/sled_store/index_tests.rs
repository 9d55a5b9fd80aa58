//! The sled store's indexes of bookings (v1.2, store format 2): a show's
//! bookings listed in pages and a booking's owner found by its id, for
//! bookings of every kind (inside the key record that made them, with a
//! record of their own, cancelled, swept out of their key, of the layout
//! before issue 18); the upgrade of a store of format 1 at open, also
//! after one cut short; a blocked seat through the store and its dump.

use super::tests::{reopen, reply};
use super::*;
use crate::domain::{BookingStatus, Canceller, CartId, SeatLabel};
use crate::store::dump::Record;
use crate::store::{KeyRecord, Mutation};
use uuid::Uuid;

fn booking(owner: UserId, show: ShowId, seat: u32, created_at_ms: u64) -> Booking {
    Booking {
        id: BookingId(Uuid::new_v4()),
        owner,
        show,
        seats: vec![(seat, SeatLabel::parse(&format!("A{}", seat + 1)).unwrap())],
        status: BookingStatus::Confirmed,
        created_at_ms,
        cart: None,
        prices_cents: vec![],
        currency: "EUR".into(),
        cancelled_by: None,
    }
}

fn key_name(name: &str) -> IdempotencyKey {
    IdempotencyKey::parse(name.as_bytes()).unwrap()
}

/// A new booking with its seat, answered by `key` as the engine answers
/// a one-shot booking (`CreatedBooking`): the store keeps it inside the
/// key record.
fn one_shot(key: &str, made: &Booking) -> WriteSet {
    WriteSet {
        key: Some(KeyRecord {
            user: made.owner,
            key: key_name(key),
            reply: StoredReply {
                body: StoredBody::CreatedBooking(made.id),
                created_at_ms: made.created_at_ms,
                ..reply(1)
            },
        }),
        mutations: vec![
            Mutation::Seat {
                show: made.show,
                index: made.seats[0].0,
                state: SeatState::Booked { booking: made.id },
            },
            Mutation::Booking(made.clone()),
        ],
        fence: None,
    }
}

/// A checkout's booking: its answer is plain bytes, so the booking gets a
/// record of its own at once.
fn checked_out(key: &str, made: &Booking) -> WriteSet {
    let mut set = one_shot(key, made);
    if let Some(record) = set.key.as_mut() {
        record.reply.body = StoredBody::Bytes(bytes::Bytes::from_static(b"{\"checkout\":1}"));
    }
    set
}

fn changed(booking: &Booking) -> WriteSet {
    WriteSet {
        key: None,
        mutations: vec![Mutation::Booking(booking.clone())],
        fence: None,
    }
}

async fn commit(store: &SledStore, set: WriteSet) {
    match store.submit(set).await.unwrap() {
        CommitOutcome::Committed(ticket) => store.durable(ticket).await.unwrap(),
        other => panic!("{other:?}"),
    }
}

/// Every booking of `show`, read in pages of `limit`, each page after the
/// last booking of the one before.
fn in_pages(store: &SledStore, show: ShowId, limit: usize) -> Vec<Booking> {
    let mut all: Vec<Booking> = Vec::new();
    loop {
        let after = all.last().map(|b| (b.created_at_ms, b.id));
        let page = store.list_show_bookings(show, after, limit).unwrap();
        assert!(page.len() <= limit, "a page longer than its limit");
        let last = page.len() < limit;
        all.extend(page);
        if last {
            return all;
        }
    }
}

fn sorted(mut bookings: Vec<Booking>) -> Vec<Booking> {
    bookings.sort_by_key(|b| (b.created_at_ms, b.id));
    bookings
}

/// Whether `booking`'s show index entry says it has a record of its own.
fn indexed_as_own(store: &SledStore, booking: &Booking) -> bool {
    let key = show_booking_key(booking.show, booking.created_at_ms, booking.id);
    let value = store.get(&key).unwrap().expect("an index entry");
    decode_show_booking(&value).unwrap() == (booking.owner, BookingPlace::Own)
}

/// Bookings of two users on two shows, of every kind: kept in their key
/// records, checked out (a record of their own), cancelled by the box
/// office and by their owner (two made in the same millisecond: the id
/// decides), all listed by pages of every size, each exactly once, oldest
/// first, as they are now; the other show's never. The same after a
/// reopen, and after the keys are swept (the index then names the
/// bookings' own records). Fails with the committer's index entries left
/// out, or the sweep's.
#[tokio::test]
async fn a_shows_bookings_are_listed_in_pages_once_each_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let (ann, bob) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
    let (show, other) = (ShowId(Uuid::new_v4()), ShowId(Uuid::new_v4()));
    let kept = booking(ann, show, 0, 30);
    let mut paid = booking(bob, show, 1, 10);
    paid.cart = Some(CartId(Uuid::new_v4()));
    let mut by_office = booking(ann, show, 2, 20);
    let mut by_owner = booking(bob, show, 3, 20);
    let elsewhere = [booking(ann, other, 0, 15), booking(bob, other, 1, 25)];
    commit(&store, one_shot("kept", &kept)).await;
    commit(&store, checked_out("paid", &paid)).await;
    commit(&store, one_shot("office", &by_office)).await;
    commit(&store, one_shot("owner", &by_owner)).await;
    for (n, made) in elsewhere.iter().enumerate() {
        commit(&store, one_shot(&format!("elsewhere-{n}"), made)).await;
    }
    by_office.cancel(Canceller::BoxOffice);
    by_owner.cancel(Canceller::Customer);
    commit(&store, changed(&by_office)).await;
    commit(&store, changed(&by_owner)).await;
    // Cancelling again changes nothing in the index.
    commit(&store, changed(&by_owner)).await;
    let expected = sorted(vec![
        kept.clone(),
        paid.clone(),
        by_office.clone(),
        by_owner.clone(),
    ]);
    assert!(!indexed_as_own(&store, &kept), "kept in its key record");
    let check = |store: &SledStore| {
        for limit in 1..=5 {
            assert_eq!(in_pages(store, show, limit), expected, "pages of {limit}");
        }
        assert_eq!(in_pages(store, other, 1), sorted(elsewhere.to_vec()));
        assert_eq!(store.list_show_bookings(show, None, 0).unwrap(), vec![]);
        let last = expected.last().unwrap();
        let after_last = Some((last.created_at_ms, last.id));
        assert_eq!(
            store.list_show_bookings(show, after_last, 9).unwrap(),
            vec![]
        );
        let cancelled = store.list_show_bookings(show, None, 9).unwrap();
        let by = |id| cancelled.iter().find(|b| b.id == id).unwrap().cancelled_by;
        assert_eq!(by(by_office.id), Some(Canceller::BoxOffice));
        assert_eq!(by(by_owner.id), Some(Canceller::Customer));
        let nobody = ShowId(Uuid::new_v4());
        assert_eq!(store.list_show_bookings(nobody, None, 9).unwrap(), vec![]);
    };
    check(&store);
    drop(store);
    let store = reopen(dir.path());
    check(&store);
    assert_eq!(store.sweep_keys(u64::MAX, 100).unwrap(), 6);
    assert!(indexed_as_own(&store, &kept), "the sweep moved it");
    check(&store);
}

/// `booking_owner` finds the owner of a booking of every kind: kept in its
/// key record, checked out, cancelled, and after its key was swept; an
/// unknown id has none. Fails with the committer's index entries left out.
#[tokio::test]
async fn a_bookings_owner_is_found_by_its_id_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let (ann, bob) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
    let show = ShowId(Uuid::new_v4());
    let kept = booking(ann, show, 0, 1);
    let paid = booking(bob, show, 1, 2);
    let mut cancelled = booking(bob, show, 2, 3);
    commit(&store, one_shot("kept", &kept)).await;
    commit(&store, checked_out("paid", &paid)).await;
    commit(&store, one_shot("cancelled", &cancelled)).await;
    cancelled.cancel(Canceller::BoxOffice);
    commit(&store, changed(&cancelled)).await;
    let check = |store: &SledStore| {
        assert_eq!(store.booking_owner(kept.id).unwrap(), Some(ann));
        assert_eq!(store.booking_owner(paid.id).unwrap(), Some(bob));
        assert_eq!(store.booking_owner(cancelled.id).unwrap(), Some(bob));
        let unknown = BookingId(Uuid::new_v4());
        assert_eq!(store.booking_owner(unknown).unwrap(), None);
    };
    check(&store);
    assert_eq!(store.sweep_keys(u64::MAX, 100).unwrap(), 3);
    check(&store);
    // The owner, then the booking itself, read through the owner.
    let owner = store.booking_owner(kept.id).unwrap().unwrap();
    assert_eq!(store.load_booking(owner, kept.id).unwrap(), Some(kept));
}

/// Removes every index entry and marks the directory format 1, as a build
/// of format 1 would have left it.
fn as_format_1(store: SledStore, dir: &std::path::Path) {
    for kind in [KIND_SHOW_BOOKING, KIND_BOOKING_OWNER] {
        for key in store.db.scan_prefix([kind]).keys() {
            store.db.remove(key.unwrap()).unwrap();
        }
    }
    store.db.flush().unwrap();
    drop(store);
    std::fs::write(dir.join("boxoffice-format"), "boxoffice store format 1\n").unwrap();
}

/// A store of format 1 (no index) is indexed at open before its format
/// file says 2: bookings kept in their key records, with records of their
/// own, cancelled, and of the layout before issue 18 (JSON, under its id,
/// with its owner index) are all listed and their owners found. An upgrade
/// cut short (some entries written, the file still saying 1) is done again
/// and ends the same. Fails if the upgrade skips the key records or the
/// layout before issue 18, or if the format file is written first.
#[tokio::test]
async fn a_store_of_format_1_gets_its_indexes_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let (ann, bob) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
    let show = ShowId(Uuid::new_v4());
    let kept = booking(ann, show, 0, 5);
    let paid = booking(bob, show, 1, 4);
    let mut cancelled = booking(ann, show, 2, 3);
    let old = booking(bob, show, 3, 2);
    commit(&store, one_shot("kept", &kept)).await;
    commit(&store, checked_out("paid", &paid)).await;
    commit(&store, one_shot("cancelled", &cancelled)).await;
    cancelled.cancel(Canceller::Customer);
    commit(&store, changed(&cancelled)).await;
    store
        .db
        .insert(booking_key(old.id), encode_booking_json(&old))
        .unwrap();
    store
        .db
        .insert(user_booking_key(old.owner, old.id), &[][..])
        .unwrap();
    let expected = sorted(vec![kept.clone(), paid, cancelled, old]);
    let complete = |store: &SledStore| {
        assert_eq!(in_pages(store, show, 2), expected);
        for b in &expected {
            assert_eq!(store.booking_owner(b.id).unwrap(), Some(b.owner));
        }
    };
    // The layout before issue 18 is indexed by the upgrade only.
    as_format_1(store, dir.path());

    let store = reopen(dir.path());
    assert_eq!(format::read(dir.path()).unwrap(), Some(2));
    complete(&store);
    assert!(!indexed_as_own(&store, &kept), "found in its key record");

    // Cut short: two entries written of eight, the file still says 1.
    let entries: Vec<(sled::IVec, sled::IVec)> = [KIND_SHOW_BOOKING, KIND_BOOKING_OWNER]
        .iter()
        .flat_map(|kind| store.db.scan_prefix([*kind]).take(1))
        .map(Result::unwrap)
        .collect();
    as_format_1(store, dir.path());
    {
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let _released = directory::Released {
            log: dir.path().join("db"),
        };
        for (key, value) in entries {
            db.insert(key, value).unwrap();
        }
        db.flush().unwrap();
    }
    let store = reopen(dir.path());
    assert_eq!(format::read(dir.path()).unwrap(), Some(2));
    complete(&store);
}

/// A blocked seat (seat code 3) is written, read, listed with the taken
/// seats, kept across a reopen, exported and imported; an import's
/// bookings are in their show's index. Fails with the import's index
/// entries left out.
#[tokio::test]
async fn a_blocked_seat_and_the_index_survive_a_reopen_and_a_dump() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let store = SledStore::open(&dir).unwrap();
    let show = ShowId(Uuid::new_v4());
    let made = booking(UserId(Uuid::new_v4()), show, 1, 7);
    commit(&store, one_shot("made", &made)).await;
    commit(
        &store,
        WriteSet {
            key: None,
            mutations: vec![Mutation::Seat {
                show,
                index: 4,
                state: SeatState::Blocked,
            }],
            fence: None,
        },
    )
    .await;
    assert_eq!(store.load_seat(show, 4).unwrap(), SeatState::Blocked);
    drop(store);
    let store = reopen(&dir);
    assert_eq!(store.load_seat(show, 4).unwrap(), SeatState::Blocked);
    let booked = SeatState::Booked { booking: made.id };
    assert_eq!(
        store.load_taken_seats(show).unwrap(),
        vec![(1, booked), (4, SeatState::Blocked)]
    );
    let mut records = Vec::new();
    store
        .export_snapshot(&mut |record| {
            records.push(record);
            Ok(())
        })
        .unwrap();
    assert!(records.iter().any(|r| matches!(
        r,
        Record::Seat {
            index: 4,
            state: SeatState::Blocked,
            ..
        }
    )));
    let imported_dir = parent.path().join("imported");
    SledStore::import(&imported_dir, records.into_iter().map(Ok::<_, StoreError>)).unwrap();
    let imported = SledStore::open(&imported_dir).unwrap();
    assert_eq!(imported.load_seat(show, 4).unwrap(), SeatState::Blocked);
    assert_eq!(
        imported.list_show_bookings(show, None, 10).unwrap(),
        vec![made.clone()]
    );
    assert_eq!(imported.booking_owner(made.id).unwrap(), Some(made.owner));
}
