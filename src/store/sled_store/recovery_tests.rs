//! Recovery and on-disk layout of the sled store: a commit round cut
//! short by a crash is completed at open, redo records read back (and a
//! corrupt one is an error), and sled's tree after many splits reads back
//! the same. Apart from `tests.rs`, which tests the store as it serves.

use super::tests::reply;
use super::*;
use crate::store::{KeyRecord, Mutation};
use uuid::Uuid;

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
