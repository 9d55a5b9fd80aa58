//! A show as one unit (loaded, listed, dropped together) and the
//! multi-seat protocol's guarantee that no transaction pins a seat.

use super::{Prepared, Shows};
use crate::actors::seat::LapseHandler;
use crate::domain::{
    BookingId, Cart, CartId, CartItem, Claim, Row, SeatLabel, SeatState, SeatStatus, Show, ShowId,
    UserId,
};
use crate::runtime::clock::now_ms;
use crate::runtime::hold_quota::Hold;
use crate::runtime::threads::ActorThreads;
use crate::runtime::{CrashPoints, EngineConfig, Op};
use crate::store::{CommitOutcome, Mutation, SledStore, Store, WriteSet};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Longest a step may take before the test calls it stuck (a failure
/// detector, not a speed requirement).
const STUCK: Duration = Duration::from_secs(10);

fn show(seats: u32) -> Show {
    let rows = vec![Row {
        label: "A".into(),
        seats,
    }];
    Show::new(ShowId(Uuid::new_v4()), "Unit".into(), 0, rows).expect("a valid show")
}

fn seat(label: &str) -> SeatLabel {
    SeatLabel::parse(label).expect("a seat label")
}

fn book(booking: BookingId) -> Claim {
    Claim::Book {
        booking,
        via_cart: None,
    }
}

struct World {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    threads: Arc<ActorThreads>,
    shows: Shows,
}

fn world() -> World {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).expect("the store opens"));
    let threads = Arc::new(ActorThreads::start(1));
    let ignore_lapses: LapseHandler = Arc::new(|_| {});
    let config = EngineConfig::default();
    let shows = Shows::new(
        store.clone(),
        Arc::new(crate::cluster::OneNode),
        threads.clone(),
        CrashPoints::default(),
        &config,
        ignore_lapses,
    );
    World {
        _dir: dir,
        store,
        threads,
        shows,
    }
}

#[test]
fn a_transaction_dropped_unresolved_gives_its_seats_back() {
    actix_rt::System::new().block_on(async {
        let world = world();
        let unit = world.shows.add_new(show(3));
        let seats = [(0, seat("A1")), (1, seat("A2"))];
        let first = BookingId(Uuid::new_v4());
        let Ok(Prepared::Granted(txn)) = unit.prepare(Op::Booking, &seats, book(first)).await
        else {
            panic!("free seats are granted");
        };
        // An operation that forgets to commit or abort (or is cut off).
        drop(txn);
        // Had the seats stayed reserved, this claim would wait for good.
        let second = BookingId(Uuid::new_v4());
        let prepared = tokio::time::timeout(STUCK, unit.prepare(Op::Booking, &seats, book(second)))
            .await
            .expect("the dropped transaction's seats are free again");
        let Ok(Prepared::Granted(txn)) = prepared else {
            panic!("the seats were given back unchanged, so they are free");
        };
        txn.abort().await;
        world.threads.stop();
    });
}

#[test]
fn a_refused_seat_gives_back_the_seats_that_agreed() {
    actix_rt::System::new().block_on(async {
        let world = world();
        let unit = world.shows.add_new(show(3));
        let taken = [(1, seat("A2"))];
        let Ok(Prepared::Granted(holder)) = unit
            .prepare(Op::Booking, &taken, book(BookingId(Uuid::new_v4())))
            .await
        else {
            panic!("a free seat is granted");
        };
        let keys =
            crate::idempotency::Keys::new(world.store.clone(), CrashPoints::default(), 10, 60_000);
        let outcome = crate::idempotency::Outcome::effect(crate::wire::Reply::empty(204), vec![]);
        assert!(holder.commit(&keys, None, outcome).await.is_applied());
        // A1 agrees, A2 refuses: A1 must not stay reserved.
        let both = [(0, seat("A1")), (1, seat("A2"))];
        match unit
            .prepare(Op::Booking, &both, book(BookingId(Uuid::new_v4())))
            .await
        {
            Ok(Prepared::Refused(refused)) => assert_eq!(refused.len(), 1),
            _ => panic!("A2 is booked"),
        }
        let alone = [(0, seat("A1"))];
        let again = unit.prepare(Op::Booking, &alone, book(BookingId(Uuid::new_v4())));
        match tokio::time::timeout(STUCK, again)
            .await
            .expect("A1 was given back")
        {
            Ok(Prepared::Granted(txn)) => txn.abort().await,
            _ => panic!("A1 is free"),
        }
        assert_eq!(unit.map().status(1), SeatStatus::Booked);
        world.threads.stop();
    });
}

/// Writes `show` with seat A1 held by `user`'s `cart` until `until_ms`
/// and seat A3 booked.
async fn write_show_with_a_hold_and_a_booking(
    store: &dyn Store,
    show: &Show,
    user: UserId,
    cart: CartId,
    until_ms: u64,
) {
    let mut holding = Cart::new(cart, user, 0);
    holding.add(CartItem {
        show: show.id,
        seat: seat("A1"),
        seat_index: 0,
        until_ms,
        price_cents: 0,
    });
    let booking = BookingId(Uuid::new_v4());
    let write = WriteSet {
        key: None,
        mutations: vec![
            Mutation::Show(show.clone()),
            Mutation::Cart(holding),
            Mutation::Seat {
                show: show.id,
                index: 0,
                state: SeatState::Held { cart, until_ms },
            },
            Mutation::Seat {
                show: show.id,
                index: 2,
                state: SeatState::Booked { booking },
            },
        ],
        fence: None,
    };
    assert!(matches!(
        store.submit(write).await,
        Ok(CommitOutcome::Committed(_))
    ));
}

#[test]
fn a_show_is_loaded_listed_and_unloaded_as_one_unit() {
    actix_rt::System::new().block_on(async {
        let world = world();
        let show = show(4);
        let (user, cart) = (UserId(Uuid::new_v4()), CartId(Uuid::new_v4()));
        let until_ms = now_ms() + 600_000;
        write_show_with_a_hold_and_a_booking(&*world.store, &show, user, cart, until_ms).await;
        assert_eq!(world.shows.load_all().await.expect("the store reads"), 1);
        let listed: Vec<ShowId> = world.shows.list().iter().map(|u| u.id()).collect();
        assert_eq!(listed, vec![show.id]);
        let unit = world.shows.get(show.id).expect("the show is served");
        // The seat map, from the seat records.
        let statuses: Vec<SeatStatus> = (0..4).map(|i| unit.map().status(i)).collect();
        use SeatStatus::{Available, Booked, Held};
        assert_eq!(statuses, vec![Held, Available, Booked, Available]);
        assert_eq!(unit.map().available(), 2);
        // The hold counts: the holding cart's owner has one live hold.
        let one_more = Hold {
            cart,
            seat: 1,
            until_ms,
        };
        assert!(!unit.holds().try_reserve(user, one_more, now_ms(), 1));
        // The held seat's actor runs (its expiry timer with it).
        assert_eq!(unit.live_seats(), 1);

        let (mut events, _) = unit.map().subscribe(None);
        drop(unit);
        assert!(world.shows.unload(show.id));
        assert!(world.shows.get(show.id).is_none());
        assert!(world.shows.list().is_empty());
        assert!(!world.shows.unload(show.id), "already dropped");
        // Its seat actors stop and let go of the map: the event stream ends.
        let ended = tokio::time::timeout(STUCK, events.recv())
            .await
            .expect("the event stream ends once the show is dropped");
        assert!(matches!(
            ended,
            Err(tokio::sync::broadcast::error::RecvError::Closed)
        ));
        world.threads.stop();
    });
}
