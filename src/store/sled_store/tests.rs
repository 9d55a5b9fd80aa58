//! The sled store against the `Store` contract.

use super::*;
use crate::domain::{Fingerprint, Row};
use crate::store::{KeyRecord, Mutation};
use bytes::Bytes;
use uuid::Uuid;

pub(super) fn reply(fp: u8) -> StoredReply {
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
pub(super) fn reopen(dir: &std::path::Path) -> SledStore {
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
        cancelled_by: None,
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
    now_cancelled.cancel(crate::domain::Canceller::Customer);
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
