//! Criterion benches: domain transitions, one actor round trip, the store's
//! commit path, and an end-to-end booking in process (no HTTP).
//!
//! Run: `cargo bench --bench engine`. Figures and how to read them:
//! docs/PERFORMANCE.md.

use boxoffice::domain::{
    Booking, BookingId, BookingStatus, Cart, CartId, Claim, Fingerprint, IdempotencyKey,
    IdempotencyLedger, KeyedRequest, RequestLine, Row, Seat, SeatLabel, SeatState, ShowId,
    StoredBody, StoredReply, TxnId, UserId,
};
use boxoffice::engine::{Engine, NewShow, Storage};
use boxoffice::runtime::{EngineConfig, Op};
use boxoffice::shows::Prepared;
use boxoffice::store::{CommitOutcome, KeyRecord, Mutation, SledStore, Store, WriteSet};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn domain(c: &mut Criterion) {
    let mut group = c.benchmark_group("domain");
    group.bench_function("seat prepare+commit", |b| {
        b.iter_batched(
            || Seat::new(SeatState::Available),
            |mut seat| {
                let txn = TxnId(Uuid::from_u128(1));
                let claim = Claim::Book {
                    booking: BookingId(Uuid::from_u128(2)),
                    via_cart: None,
                };
                assert!(seat.prepare(txn, claim, 0).is_reserved());
                seat.commit(txn)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("cart plan_add", |b| {
        let cart = Cart::new(CartId(Uuid::from_u128(1)), UserId(Uuid::from_u128(2)), 0);
        let show = ShowId(Uuid::from_u128(3));
        let seat = SeatLabel::parse("C7").unwrap();
        b.iter(|| cart.plan_add(show, &seat, 10, 600_000))
    });
    group.bench_function("ledger admit+settle", |b| {
        let mut ledger = IdempotencyLedger::default();
        let user = UserId(Uuid::from_u128(1));
        let key = IdempotencyKey::parse(b"8e03978e-40d5-43e8-bc93-6894a57f9324").unwrap();
        let fp = Fingerprint::of("POST", "/v1/bookings", b"{}");
        b.iter(|| {
            ledger.admit(user, &key, fp, None);
            ledger.settle(user, &key);
        })
    });
    group.bench_function("key parse + fingerprint", |b| {
        b.iter(|| {
            let key = IdempotencyKey::parse(b"\"8e03978e-40d5-43e8-bc93-6894a57f9324\"").unwrap();
            (
                key,
                Fingerprint::of("POST", "/v1/bookings", br#"{"seats":["A1"],"show_id":"x"}"#),
            )
        })
    });
    group.finish();
}

/// A booking's write set, as the engine makes it: the key record (its 201
/// kept as a reference to the booking), the booking and the seat record.
/// The sled store writes the booking inside the key record (issue 18).
fn booking_write(show: ShowId, index: u32) -> WriteSet {
    let booking = BookingId(Uuid::new_v4());
    let owner = UserId(Uuid::from_u128(7));
    WriteSet {
        key: Some(KeyRecord {
            user: owner,
            key: IdempotencyKey::parse(format!("store-bench-{index}").as_bytes()).unwrap(),
            reply: StoredReply {
                fingerprint: Fingerprint::of("POST", "/v1/bookings", &index.to_le_bytes()),
                status: 201,
                body: StoredBody::CreatedBooking(booking),
                created_at_ms: 1,
                line: Some(RequestLine {
                    method: "POST".into(),
                    path: "/v1/bookings".into(),
                }),
            },
        }),
        mutations: vec![
            Mutation::Booking(Booking {
                id: booking,
                owner,
                show,
                seats: vec![(index, seat_label(u64::from(index)))],
                status: BookingStatus::Confirmed,
                created_at_ms: 1,
                cart: None,
                prices_cents: vec![1200],
                currency: "EUR".into(),
                cancelled_by: None,
            }),
            Mutation::Seat {
                show,
                index,
                state: SeatState::Booked { booking },
            },
        ],
        fence: None,
    }
}

/// The store's commit path: one transaction, then waiting for the shared
/// flush. Sequential (one waiter per fsync) and 64 at a time (group commit).
fn store(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let show = ShowId(Uuid::new_v4());
    let next = AtomicU64::new(0);
    let mut group = c.benchmark_group("store");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("commit + durable, one at a time", |b| {
        b.iter(|| {
            let index = next.fetch_add(1, Ordering::Relaxed) as u32;
            let CommitOutcome::Committed(ticket) = runtime
                .block_on(store.submit(booking_write(show, index)))
                .unwrap()
            else {
                unreachable!()
            };
            runtime.block_on(store.durable(ticket)).unwrap();
        })
    });
    group.throughput(Throughput::Elements(64));
    group.bench_function("commit + durable, 64 concurrent", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut waits = Vec::with_capacity(64);
                for _ in 0..64 {
                    let index = next.fetch_add(1, Ordering::Relaxed) as u32;
                    let CommitOutcome::Committed(ticket) =
                        store.submit(booking_write(show, index)).await.unwrap()
                    else {
                        unreachable!()
                    };
                    waits.push(store.durable(ticket));
                }
                for wait in futures_util::future::join_all(waits).await {
                    wait.unwrap();
                }
            })
        })
    });
    // The engine's path: submitted write sets share transactions.
    group.bench_function("submit + durable, 64 concurrent", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let submitted: Vec<_> = (0..64)
                    .map(|_| {
                        let index = next.fetch_add(1, Ordering::Relaxed) as u32;
                        store.submit(booking_write(show, index))
                    })
                    .collect();
                let mut last = None;
                for outcome in futures_util::future::join_all(submitted).await {
                    let CommitOutcome::Committed(ticket) = outcome.unwrap() else {
                        unreachable!()
                    };
                    last = last.max(Some(ticket));
                }
                store.durable(last.unwrap()).await.unwrap();
            })
        })
    });
    group.finish();
}

/// What keeping a new booking in its key record costs a read (issue 18):
/// one booking by id that never changed is found by a scan of its owner's
/// key records, so its owner's key count sets the price. Owners with 100
/// and 10,000 keys (`max_keys_per_user` allows 100,000), each key a
/// booking; the booking asked for is absent, the whole scan.
fn booking_reads(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("booking reads");
    for keys in [100u32, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let show = ShowId(Uuid::new_v4());
        runtime.block_on(async {
            for chunk in (0..keys).collect::<Vec<_>>().chunks(64) {
                let submitted: Vec<_> = chunk
                    .iter()
                    .map(|&index| store.submit(booking_write(show, index)))
                    .collect();
                for outcome in futures_util::future::join_all(submitted).await {
                    let CommitOutcome::Committed(ticket) = outcome.unwrap() else {
                        unreachable!()
                    };
                    store.durable(ticket).await.unwrap();
                }
            }
        });
        let owner = UserId(Uuid::from_u128(7));
        let absent = BookingId(Uuid::new_v4());
        group.bench_function(format!("one booking by id, owner with {keys} keys"), |b| {
            b.iter(|| assert!(store.load_booking(owner, absent).unwrap().is_none()))
        });
        group.bench_function(format!("the owner's bookings, {keys} keys"), |b| {
            b.iter(|| assert_eq!(store.list_bookings(owner).unwrap().len(), keys as usize))
        });
    }
    group.finish();
}

/// sled's own primitives, 64 writes then one flush: plain inserts, atomic
/// batches (two keys each), and transactions (a check and two keys each),
/// the shape of our commits. Shows what an atomic write costs at flush time.
fn sled_primitives(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path())
        .flush_every_ms(None)
        .open()
        .unwrap();
    let value = vec![7u8; 120];
    let next = AtomicU64::new(0);
    let key = |n: u64, space: u64| (n + space * 1_000_000_000).to_be_bytes();
    let mut group = c.benchmark_group("sled");
    group.throughput(Throughput::Elements(64));
    group.bench_function("64 inserts + flush", |b| {
        b.iter(|| {
            for _ in 0..64 {
                let n = next.fetch_add(1, Ordering::Relaxed);
                db.insert(key(n, 0), value.clone()).unwrap();
            }
            db.flush().unwrap();
        })
    });
    group.bench_function("64 atomic batches + flush", |b| {
        b.iter(|| {
            for _ in 0..64 {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let mut batch = sled::Batch::default();
                batch.insert(&key(n, 0), value.clone());
                batch.insert(&key(n, 1), value.clone());
                db.apply_batch(batch).unwrap();
            }
            db.flush().unwrap();
        })
    });
    // Booking-shaped write sets (a check, then two keys with values of 190
    // and 17 bytes, as the key record holding its booking and the seat of
    // the layout since issue 18's ninth step; three before, four before
    // that), many per flush: what sled itself does with the engine's
    // writes, one thread, no actors, no queue. `per_flush` sets share one
    // atomic write.
    let sets = |n0: u64, count: u64| -> Vec<[(Vec<u8>, Vec<u8>); 2]> {
        (n0..n0 + count)
            .map(|n| {
                [
                    (key(n, 3).to_vec(), vec![1u8; 190]),
                    (key(n, 6).to_vec(), vec![3u8; 17]),
                ]
            })
            .collect()
    };
    // The store's way since issue 18: the round's records in one redo
    // record (a single insert is atomic), then each as a plain insert. 16
    // per flush is about the engine's own round under the load runs' 64
    // clients (it prints its figure below), for a like-for-like fraction.
    for per_flush in [8u64, 16, 64] {
        group.throughput(Throughput::Elements(per_flush));
        group.bench_function(
            format!("{per_flush} write sets as a redo record and plain inserts + flush"),
            |b| {
                b.iter(|| {
                    let n0 = next.fetch_add(per_flush, Ordering::Relaxed);
                    let sets = sets(n0, per_flush);
                    let mut redo = Vec::new();
                    let mut fresh = Vec::new();
                    for set in &sets {
                        if db.get(&set[0].0).unwrap().is_none() {
                            for (k, v) in set {
                                redo.extend_from_slice(k);
                                redo.extend_from_slice(v);
                            }
                            fresh.push(set);
                        }
                    }
                    db.insert(key(n0, 7), redo).unwrap();
                    for set in fresh {
                        for (k, v) in set {
                            db.insert(k.as_slice(), v.as_slice()).unwrap();
                        }
                    }
                    db.flush().unwrap();
                    db.remove(key(n0, 7)).unwrap();
                })
            },
        );
    }
    for per_flush in [8u64, 64] {
        group.throughput(Throughput::Elements(per_flush));
        group.bench_function(
            format!("{per_flush} write sets in one transaction + flush"),
            |b| {
                b.iter(|| {
                    let sets = sets(next.fetch_add(per_flush, Ordering::Relaxed), per_flush);
                    db.transaction(|tx| {
                        for set in &sets {
                            if tx.get(&set[0].0)?.is_none() {
                                for (k, v) in set {
                                    tx.insert(k.as_slice(), v.as_slice())?;
                                }
                            }
                        }
                        Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                    })
                    .unwrap();
                    db.flush().unwrap();
                })
            },
        );
    }
    group.throughput(Throughput::Elements(64));
    group.bench_function("64 write sets in one batch + flush", |b| {
        b.iter(|| {
            let mut batch = sled::Batch::default();
            for set in sets(next.fetch_add(64, Ordering::Relaxed), 64) {
                if db.get(&set[0].0).unwrap().is_none() {
                    for (k, v) in set {
                        batch.insert(k, v);
                    }
                }
            }
            db.apply_batch(batch).unwrap();
            db.flush().unwrap();
        })
    });
    group.bench_function("64 write sets as plain inserts + flush", |b| {
        b.iter(|| {
            for set in sets(next.fetch_add(64, Ordering::Relaxed), 64) {
                if db.get(&set[0].0).unwrap().is_none() {
                    for (k, v) in set {
                        db.insert(k, v).unwrap();
                    }
                }
            }
            db.flush().unwrap();
        })
    });
    group.bench_function("64 transactions + flush", |b| {
        b.iter(|| {
            for _ in 0..64 {
                let n = next.fetch_add(1, Ordering::Relaxed);
                db.transaction(|tx| {
                    if tx.get(key(n, 2))?.is_none() {
                        tx.insert(&key(n, 0), value.clone())?;
                        tx.insert(&key(n, 2), value.clone())?;
                    }
                    Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                })
                .unwrap();
            }
            db.flush().unwrap();
        })
    });
    group.finish();
}

/// An engine in an actix system with `count` shows of 99,900 seats each.
async fn engine_with_shows(dir: &std::path::Path, count: usize) -> (Engine, Vec<ShowId>) {
    let store = Arc::new(SledStore::open(dir).unwrap());
    let engine = Engine::start(
        EngineConfig::default(),
        Storage::alone(store as Arc<dyn Store>),
    )
    .await
    .unwrap();
    let mut shows = Vec::new();
    for n in 0..count {
        let rows = (0..100)
            .map(|i| Row {
                label: format!(
                    "{}{}",
                    (b'A' + (i / 26) as u8) as char,
                    (b'A' + (i % 26) as u8) as char
                ),
                seats: 999,
            })
            .collect();
        let admin = UserId(Uuid::from_u128(0xad));
        let reply = engine
            .create_show(
                KeyedRequest {
                    user: admin,
                    key: IdempotencyKey::parse(format!("bench-show-{n}").as_bytes()).unwrap(),
                    fingerprint: Fingerprint::of("POST", "/v1/shows", b"bench"),
                    line: RequestLine {
                        method: "POST".into(),
                        path: "/v1/shows".into(),
                    },
                },
                NewShow {
                    title: "Bench".into(),
                    starts_at_ms: 0,
                    sales_end_at_ms: None,
                    rows,
                    offer: Default::default(),
                },
            )
            .await;
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        shows.push(ShowId::parse(body["id"].as_str().unwrap()).unwrap());
    }
    (engine, shows)
}

const SEATS_PER_SHOW: u64 = 99_900;

fn seat_label(index: u64) -> SeatLabel {
    let row = (index / 999) as u8;
    SeatLabel {
        row: format!("{}{}", (b'A' + row / 26) as char, (b'A' + row % 26) as char),
        number: (index % 999) as u32 + 1,
    }
}

/// Actor round trip (prepare + abort at one seat actor) and a whole
/// durable booking through the engine, without HTTP.
fn actors(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let system = actix_rt::System::new();
    // Enough seats for every booking criterion asks for (each takes a new one).
    let (engine, shows) = system.block_on(engine_with_shows(dir.path(), 8));
    let unit = engine.show(shows[0]).expect("the show is served");
    let mut group = c.benchmark_group("engine");
    group.bench_function("seat actor round trip (prepare + abort)", |b| {
        b.iter_custom(|iterations| {
            system.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    let claim = Claim::Book {
                        booking: BookingId(Uuid::new_v4()),
                        via_cart: None,
                    };
                    let seat = [(0, seat_label(0))];
                    match unit.prepare(Op::Booking, &seat, claim).await {
                        Ok(Prepared::Granted(txn)) => txn.abort().await,
                        _ => panic!("seat 0 is free"),
                    }
                }
                started.elapsed()
            })
        })
    });
    let next = AtomicU64::new(1);
    let book = |concurrency: u64, iterations: u64| {
        system.block_on(async {
            let started = Instant::now();
            let mut done = 0;
            while done < iterations {
                let batch = concurrency.min(iterations - done);
                let requests = (0..batch).map(|_| {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    // A user per 50,000 bookings: under max_keys_per_user.
                    let user = UserId(Uuid::from_u128(1 + u128::from(n / 50_000)));
                    let request = KeyedRequest {
                        user,
                        key: IdempotencyKey::parse(format!("bench-{n}").as_bytes()).unwrap(),
                        fingerprint: Fingerprint::of("POST", "/v1/bookings", &n.to_le_bytes()),
                        line: RequestLine {
                            method: "POST".into(),
                            path: "/v1/bookings".into(),
                        },
                    };
                    let show = shows[(n / SEATS_PER_SHOW) as usize % shows.len()];
                    engine.book(request, Some(show), vec![seat_label(n % SEATS_PER_SHOW)])
                });
                for reply in futures_util::future::join_all(requests).await {
                    assert_eq!(reply.status, 201);
                }
                done += batch;
            }
            started.elapsed()
        })
    };
    group.bench_function("durable booking, one at a time", |b| {
        b.iter_custom(|iterations| book(1, iterations))
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("durable booking, 64 concurrent", |b| {
        b.iter_custom(|iterations| book(64, iterations))
    });
    group.finish();
    // How many write sets share a transaction on this path, to compare
    // with `sled/N write sets in one transaction + flush`.
    let batches = &boxoffice::metrics::COMMIT_BATCH;
    let (sum, count) = (batches.get_sample_sum(), batches.get_sample_count());
    book(64, 6_400);
    let sets = batches.get_sample_sum() - sum;
    let transactions = (batches.get_sample_count() - count).max(1);
    println!(
        "engine/durable booking, 64 concurrent: {:.1} write sets per transaction",
        sets / transactions as f64
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = domain, store, booking_reads, sled_primitives, actors
}
criterion_main!(benches);
