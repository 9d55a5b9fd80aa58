//! The sled store against the `Store` contract.

use super::*;
use crate::domain::{Fingerprint, Row};
use crate::store::{KeyRecord, Mutation};
use bytes::Bytes;
use uuid::Uuid;

fn reply(fp: u8) -> StoredReply {
    StoredReply {
        fingerprint: Fingerprint([fp; 32]),
        status: 201,
        body: crate::domain::StoredBody::Bytes(Bytes::from_static(b"{}")),
        created_at_ms: 1,
        line: None,
    }
}

#[tokio::test]
async fn effect_and_key_commit_together_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let user = UserId(Uuid::new_v4());
    let key = IdempotencyKey::parse(b"k1").unwrap();
    let show = Show::new(
        ShowId(Uuid::new_v4()),
        "T".into(),
        0,
        vec![Row {
            label: "A".into(),
            seats: 2,
        }],
    )
    .unwrap();
    let booked = SeatState::Booked {
        booking: BookingId(Uuid::new_v4()),
    };
    let first = WriteSet {
        key: Some(KeyRecord {
            user,
            key: key.clone(),
            reply: reply(1),
        }),
        mutations: vec![
            Mutation::Show(show.clone()),
            Mutation::Seat {
                show: show.id,
                index: 1,
                state: booked,
            },
        ],
        fence: None,
    };
    let ticket = match store.submit(first).await.unwrap() {
        CommitOutcome::Committed(t) => t,
        other => panic!("{other:?}"),
    };
    store.durable(ticket).await.unwrap();
    // The same key again: nothing written, the first record returned.
    let second = WriteSet {
        key: Some(KeyRecord {
            user,
            key: key.clone(),
            reply: reply(2),
        }),
        mutations: vec![Mutation::Seat {
            show: show.id,
            index: 0,
            state: booked,
        }],
        fence: None,
    };
    match store.submit(second).await.unwrap() {
        CommitOutcome::KeyTaken(existing) => assert_eq!(existing, reply(1)),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.load_seat(show.id, 0).unwrap(), SeatState::Available);
    assert_eq!(store.load_taken_seats(show.id).unwrap(), vec![(1, booked)]);
    assert_eq!(store.load_key(user, &key).unwrap(), Some(reply(1)));
    drop(store);
    let reopened = reopen(dir.path());
    assert_eq!(reopened.load_show(show.id).unwrap().unwrap().title, "T");
    assert_eq!(reopened.load_seat(show.id, 1).unwrap(), booked);
}

/// Many write sets submitted at once (so batches form; how large is
/// timing, shown by the load runs' metric, not asserted): a write set
/// whose key an earlier one used, in its batch or before, writes
/// nothing and gets the earlier record.
#[tokio::test]
async fn submitted_write_sets_share_transactions_and_keys_stay_unique() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let user = UserId(Uuid::new_v4());
    let show = ShowId(Uuid::new_v4());
    let booked = || SeatState::Booked {
        booking: BookingId(Uuid::new_v4()),
    };
    // 200 write sets over 20 keys: key k is first used by set k.
    let submitted: Vec<_> = (0..200u32)
        .map(|i| {
            let key = IdempotencyKey::parse(format!("k{}", i % 20).as_bytes()).unwrap();
            store.submit(WriteSet {
                key: Some(KeyRecord {
                    user,
                    key,
                    reply: reply((i % 256) as u8),
                }),
                mutations: vec![Mutation::Seat {
                    show,
                    index: i,
                    state: booked(),
                }],
                fence: None,
            })
        })
        .collect();
    let outcomes = futures_util::future::join_all(submitted).await;
    let mut last_ticket = Ticket(0);
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome.unwrap() {
            CommitOutcome::Committed(ticket) => {
                assert!(i < 20, "set {i} reused a key yet committed");
                last_ticket = last_ticket.max(ticket);
            }
            CommitOutcome::KeyTaken(existing) => {
                assert!(i >= 20, "set {i} was the first with its key");
                assert_eq!(existing, reply((i % 20) as u8), "set {i}");
            }
        }
    }
    store.durable(last_ticket).await.unwrap();
    let taken: Vec<u32> = store
        .load_taken_seats(show)
        .unwrap()
        .into_iter()
        .map(|(index, _)| index)
        .collect();
    assert_eq!(
        taken,
        (0..20).collect::<Vec<_>>(),
        "only the first 20 wrote"
    );
}

/// With the committer stalled, the queue takes exactly its capacity;
/// one more write set is refused `Busy` at once and never written.
/// `cargo test --features failpoints --lib full_commit_queue`
#[cfg(feature = "failpoints")]
#[tokio::test]
async fn a_full_commit_queue_answers_busy_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fail::cfg("store.committer-round", "pause").unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let show = ShowId(Uuid::new_v4());
    let write = |index: u32| WriteSet {
        key: None,
        mutations: vec![Mutation::Seat {
            show,
            index,
            state: SeatState::Booked {
                booking: BookingId(Uuid::new_v4()),
            },
        }],
        fence: None,
    };
    let capacity = DEFAULT_COMMIT_QUEUE_CAPACITY as u32;
    let queued: Vec<_> = (0..capacity).map(|i| store.submit(write(i))).collect();
    let refused = store.submit(write(capacity)).await;
    fail::remove("store.committer-round");
    assert!(matches!(refused, Err(StoreError::Busy)), "{refused:?}");
    let mut last = Ticket(0);
    for outcome in futures_util::future::join_all(queued).await {
        match outcome.unwrap() {
            CommitOutcome::Committed(ticket) => last = last.max(ticket),
            other => panic!("{other:?}"),
        }
    }
    store.durable(last).await.unwrap();
    let taken = store.load_taken_seats(show).unwrap();
    assert_eq!(taken.len(), DEFAULT_COMMIT_QUEUE_CAPACITY);
    assert!(taken.iter().all(|(index, _)| *index < capacity));
}

#[tokio::test]
async fn many_waiters_share_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
    let mut waits = Vec::new();
    for i in 0..200u32 {
        let ticket = match store
            .submit(WriteSet {
                key: None,
                mutations: vec![Mutation::Seat {
                    show: ShowId(Uuid::nil()),
                    index: i,
                    state: SeatState::Booked {
                        booking: BookingId(Uuid::new_v4()),
                    },
                }],
                fence: None,
            })
            .await
            .unwrap()
        {
            CommitOutcome::Committed(t) => t,
            other => panic!("{other:?}"),
        };
        waits.push(store.durable(ticket));
    }
    for wait in waits {
        wait.await.unwrap();
    }
    assert_eq!(
        store.load_taken_seats(ShowId(Uuid::nil())).unwrap().len(),
        200
    );
}

/// Opens the store a test just dropped. sled releases its directory lock
/// when its own background threads let go of the database, which may be a
/// moment after the last handle is dropped (the simulator's restart waits
/// the same way), so a bounded wait for the lock is part of reopening.
fn reopen(dir: &std::path::Path) -> SledStore {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match SledStore::open(dir) {
            Ok(store) => return store,
            Err(error) if std::time::Instant::now() < deadline => {
                assert!(error.to_string().contains("lock"), "{error}");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(error) => panic!("the store did not reopen: {error}"),
        }
    }
}

/// A seat's record in a write set of its own (no key).
fn seat_set(show: ShowId, index: u32, state: SeatState) -> committer::EncodedSet {
    committer::EncodedSet::new(&WriteSet {
        key: None,
        mutations: vec![Mutation::Seat { show, index, state }],
        fence: None,
    })
}

/// A crash in the middle of a commit round (its redo record written, only
/// some of its records after it) is completed when the store opens again:
/// every record of the round is there, and rounds left by the crash are
/// applied again in their order, so an older round never overwrites what a
/// later one wrote. The redo records are gone afterwards. Fails without
/// `committer::recover` at open.
#[tokio::test]
async fn a_round_cut_short_by_a_crash_is_completed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let show = ShowId(Uuid::new_v4());
    let held = SeatState::Held {
        cart: CartId(Uuid::new_v4()),
        until_ms: 99,
    };
    let booked = |n: u128| SeatState::Booked {
        booking: BookingId(Uuid::from_u128(n)),
    };
    {
        // Dropped after `db`: waits until sled has let go of the directory's
        // lock (it closes its file through deferred garbage, so the store
        // opened next could otherwise find it locked).
        let _released = directory::Released {
            log: dir.path().join("db"),
        };
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        // Round 7 held seat 0 and booked seat 1; round 8 booked seat 0 and
        // seat 2. The crash kept both redo records, round 7's seat 0 and
        // nothing else.
        let mut redo_7 = Vec::new();
        seat_set(show, 0, held).write_redo(&mut redo_7);
        seat_set(show, 1, booked(1)).write_redo(&mut redo_7);
        let mut redo_8 = Vec::new();
        seat_set(show, 0, booked(2)).write_redo(&mut redo_8);
        seat_set(show, 2, booked(3)).write_redo(&mut redo_8);
        db.insert(committer::redo_key(7), redo_7).unwrap();
        db.insert(committer::redo_key(8), redo_8).unwrap();
        db.insert(seat_key(show, 0), encode_seat(held).unwrap())
            .unwrap();
        db.flush().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    let mut seats = store.load_taken_seats(show).unwrap();
    seats.sort_by_key(|(index, _)| *index);
    assert_eq!(seats, vec![(0, booked(2)), (1, booked(1)), (2, booked(3))]);
    assert_eq!(store.db.scan_prefix([codec::KIND_REDO]).count(), 0);
    // New rounds number after the ones recovered (no redo record reused).
    store
        .submit(WriteSet {
            key: None,
            mutations: vec![Mutation::Seat {
                show,
                index: 3,
                state: booked(4),
            }],
            fence: None,
        })
        .await
        .unwrap();
    let kept: Vec<_> = store
        .db
        .scan_prefix([codec::KIND_REDO])
        .keys()
        .map(|k| k.unwrap().to_vec())
        .collect();
    assert!(kept
        .iter()
        .all(|k| k.as_slice() > committer::redo_key(8).as_slice()));
}

/// A round's redo record names every record the round writes, the key
/// record last; a corrupt one is an error, not a panic.
#[test]
fn redo_records_round_trip_and_corruption_is_an_error() {
    let user = UserId(Uuid::new_v4());
    let set = committer::EncodedSet::new(&WriteSet {
        key: Some(KeyRecord {
            user,
            key: IdempotencyKey::parse(b"k").unwrap(),
            reply: reply(3),
        }),
        mutations: vec![Mutation::Seat {
            show: ShowId(Uuid::nil()),
            index: 4,
            state: SeatState::Available,
        }],
        fence: None,
    });
    let mut redo = Vec::new();
    set.write_redo(&mut redo);
    let records = committer::read_redo(&redo).unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[0],
        (seat_key(ShowId(Uuid::nil()), 4).as_slice(), None)
    );
    assert_eq!(
        records[1].0,
        key_record_key(user, &IdempotencyKey::parse(b"k").unwrap()).as_slice()
    );
    // (sled writes a record whole; a value cut between two records reads
    // as the records before the cut.)
    let first = 1 + 2 + records[0].0.len();
    assert_eq!(committer::read_redo(&redo[..first]).unwrap().len(), 1);
    for cut in (1..redo.len()).filter(|cut| *cut != first) {
        assert!(committer::read_redo(&redo[..cut]).is_err(), "cut at {cut}");
    }
    assert!(committer::read_redo(&[9, 0, 0]).is_err());
}

/// The vendored sled (vendor/sled/VENDORED.md, issue 18) records a leaf's
/// split in its parent index node as a small frag (`Link::ParentSplit`)
/// where sled 0.34.7 rewrote the whole parent. Random keys split leaves
/// thousands of times and index nodes too, removals make nodes merge; a
/// reopen then reads every page back from the log and applies its frags
/// again. Every key reads back, and the whole tree in order, before and
/// after.
#[test]
fn a_tree_split_many_times_reads_back_the_same_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        sled::Config::new()
            .path(dir.path())
            .flush_every_ms(None)
            .open()
            .unwrap()
    };
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        // xorshift64: the same keys every run.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut expected = std::collections::BTreeMap::new();
    let reads_back = |db: &sled::Db, expected: &std::collections::BTreeMap<Vec<u8>, Vec<u8>>| {
        let all: Vec<(Vec<u8>, Vec<u8>)> = db
            .iter()
            .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = expected
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert!(all == want, "the tree differs from what was written");
        for (key, value) in expected {
            assert_eq!(db.get(key).unwrap().as_deref(), Some(value.as_slice()));
        }
    };
    {
        let db = open();
        let mut written: Vec<Vec<u8>> = Vec::new();
        for i in 0..40_000u64 {
            let key = [next().to_be_bytes(), next().to_be_bytes()].concat();
            let value = i.to_be_bytes().repeat(1 + (i % 8) as usize);
            db.insert(&key, value.clone()).unwrap();
            expected.insert(key.clone(), value);
            written.push(key);
            if i % 3 == 0 {
                let gone = written.swap_remove((next() % written.len() as u64) as usize);
                db.remove(&gone).unwrap();
                expected.remove(&gone);
            }
            if i % 1_000 == 0 {
                db.flush().unwrap();
            }
        }
        reads_back(&db, &expected);
        db.flush().unwrap();
    }
    reads_back(&open(), &expected);
}

/// Issue 18: a new booking lives in the key record that answered it (two
/// records for a one-shot booking: its seat and its key). Every read
/// finds it there; a cancel gives it a record of its own, which wins; the
/// key's sweep gives one to a booking that has none and leaves a
/// cancelled one cancelled; both survive a reopen.
#[tokio::test]
async fn a_new_booking_lives_in_its_key_record_until_it_changes_or_the_key_expires() {
    use crate::domain::{Booking, BookingStatus, SeatLabel, StoredBody};
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let user = UserId(Uuid::new_v4());
    let show = ShowId(Uuid::new_v4());
    let made = |n: u32, created_at_ms: u64| Booking {
        id: BookingId(Uuid::new_v4()),
        owner: user,
        show,
        seats: vec![(n, SeatLabel::parse(&format!("A{}", n + 1)).unwrap())],
        status: BookingStatus::Confirmed,
        created_at_ms,
        cart: None,
        prices_cents: vec![],
        currency: "EUR".into(),
    };
    let commit = |key: &str, booking: &Booking, reply_body: StoredBody| WriteSet {
        key: Some(KeyRecord {
            user,
            key: IdempotencyKey::parse(key.as_bytes()).unwrap(),
            reply: StoredReply {
                body: reply_body,
                created_at_ms: booking.created_at_ms,
                ..reply(1)
            },
        }),
        mutations: vec![
            Mutation::Seat {
                show,
                index: booking.seats[0].0,
                state: SeatState::Booked {
                    booking: booking.id,
                },
            },
            Mutation::Booking(booking.clone()),
        ],
        fence: None,
    };
    let write = |set: WriteSet| {
        let store = &store;
        async move {
            match store.submit(set).await.unwrap() {
                CommitOutcome::Committed(ticket) => store.durable(ticket).await.unwrap(),
                other => panic!("{other:?}"),
            }
        }
    };
    let (kept, cancelled) = (made(0, 10), made(1, 20));
    for (key, booking) in [("k-kept", &kept), ("k-cancelled", &cancelled)] {
        write(commit(key, booking, StoredBody::CreatedBooking(booking.id))).await;
        // No record of its own: the key record holds it.
        assert_eq!(
            store.get(&owned_booking_key(user, booking.id)).unwrap(),
            None
        );
        assert_eq!(
            store
                .load_key(user, &IdempotencyKey::parse(key.as_bytes()).unwrap())
                .unwrap()
                .unwrap()
                .body,
            StoredBody::CreatedBookingAsMade(Box::new(booking.clone()))
        );
        assert_eq!(
            store.load_booking(user, booking.id).unwrap().as_ref(),
            Some(booking)
        );
    }
    assert_eq!(
        store.list_bookings(user).unwrap(),
        vec![kept.clone(), cancelled.clone()]
    );
    assert_eq!(
        store.load_booking(UserId(Uuid::new_v4()), kept.id).unwrap(),
        None
    );

    // A cancel (no key record of a new booking): a record of its own.
    let mut now_cancelled = cancelled.clone();
    now_cancelled.status = BookingStatus::Cancelled;
    write(WriteSet {
        key: None,
        mutations: vec![Mutation::Booking(now_cancelled.clone())],
        fence: None,
    })
    .await;
    assert_eq!(
        store.load_booking(user, cancelled.id).unwrap().as_ref(),
        Some(&now_cancelled)
    );
    assert_eq!(
        store.list_bookings(user).unwrap(),
        vec![kept.clone(), now_cancelled.clone()]
    );

    // Both keys expire: each booking keeps (or gets) a record of its own.
    assert_eq!(store.sweep_keys(1_000, 100).unwrap(), 2);
    assert_eq!(store.count_keys(user, 100).unwrap(), 0);
    store.flush().unwrap();
    drop(store);
    let store = reopen(dir.path());
    assert_eq!(
        store.load_booking(user, kept.id).unwrap().as_ref(),
        Some(&kept)
    );
    assert_eq!(
        store.load_booking(user, cancelled.id).unwrap().as_ref(),
        Some(&now_cancelled)
    );
    assert_eq!(
        store.list_bookings(user).unwrap(),
        vec![kept, now_cancelled]
    );
}

/// Once a user's keys are counted, the store answers "no record" for a
/// fresh key from memory (`KeyFilter`), and that must never hide a record:
/// keys recorded before the count (also by a count cut short at its
/// limit), keys recorded after it, and a second use of each is still
/// refused by the committer. Fails if the committer does not tell the
/// filter of what it inserts, or if a count stopped at its limit fills it.
#[tokio::test]
async fn keys_known_absent_from_memory_never_hide_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let user = UserId(Uuid::new_v4());
    let key = |i: u32| IdempotencyKey::parse(format!("key-{i}").as_bytes()).unwrap();
    let set = |i: u32, fp: u8| WriteSet {
        key: Some(KeyRecord {
            user,
            key: key(i),
            reply: reply(fp),
        }),
        mutations: Vec::new(),
        fence: None,
    };
    let commit_all = |range: std::ops::Range<u32>, fp: u8| {
        let submitted: Vec<_> = range.map(|i| store.submit(set(i, fp))).collect();
        futures_util::future::join_all(submitted)
    };
    let committed = |outcomes: Vec<StoreResult<CommitOutcome>>| {
        outcomes
            .into_iter()
            .filter(|o| matches!(o, Ok(CommitOutcome::Committed(_))))
            .count()
    };
    assert_eq!(committed(commit_all(0..5, 1).await), 5);
    // A count cut short at its limit: keys it did not meet stay found.
    assert_eq!(store.count_keys(user, 2).unwrap(), 2);
    for i in 0..5 {
        assert_eq!(
            store.load_key(user, &key(i)).unwrap(),
            Some(reply(1)),
            "{i}"
        );
    }
    assert_eq!(store.count_keys(user, 100).unwrap(), 5);
    assert_eq!(store.load_key(user, &key(99)).unwrap(), None);
    // Recorded after the count: found, and each second use refused.
    assert_eq!(committed(commit_all(5..40, 2).await), 35);
    for i in 0..40 {
        let fp = if i < 5 { 1 } else { 2 };
        assert_eq!(
            store.load_key(user, &key(i)).unwrap(),
            Some(reply(fp)),
            "{i}"
        );
    }
    assert_eq!(committed(commit_all(0..40, 3).await), 0);
    // Swept keys may be used again.
    assert_eq!(store.sweep_keys(u64::MAX, 1000).unwrap(), 40);
    assert_eq!(store.load_key(user, &key(7)).unwrap(), None);
    assert_eq!(committed(commit_all(7..8, 4).await), 1);
    assert_eq!(store.count_keys(user, 100).unwrap(), 1);
    assert_eq!(store.load_key(user, &key(7)).unwrap(), Some(reply(4)));
}
