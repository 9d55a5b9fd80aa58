//! What sled itself does with booking-shaped writes of random keys, one
//! thread, no engine (issue 18): microseconds and bytes of data directory
//! per write set, with the store's redo record and without it. Random
//! keys are the point: they split leaves all over the tree, as the
//! engine's keys do (the criterion bench in `engine.rs` uses sequential
//! ones). Figures in docs/PERFORMANCE.md and vendor/sled/VENDORED.md.
//!
//! `cargo bench --bench sled_layout`

use rand::{Rng, SeedableRng};
use std::time::Instant;

/// Write sets per flush: about the engine's commit round under load.
const PER_FLUSH: u64 = 12;
const SETS: u64 = 100_008;

fn dir_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                dir_bytes(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// One run: `SETS` write sets (a key record of 60 bytes under one of 64
/// users, a booking of 110 under its owner, a seat of 17 in one of four
/// shows), `PER_FLUSH` a round, each round first checking its keys and,
/// with `redo`, inserting a redo record of the round's records (removed
/// a round later), as the sled store does. Returns us and bytes per set.
fn run(redo: bool) -> (f64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path())
        .flush_every_ms(None)
        .open()
        .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let users: Vec<[u8; 16]> = (0..64).map(|_| rng.gen()).collect();
    let shows: Vec<[u8; 16]> = (0..4).map(|_| rng.gen()).collect();
    let start = Instant::now();
    for round in 0..SETS / PER_FLUSH {
        let sets: Vec<[(Vec<u8>, Vec<u8>); 3]> = (0..PER_FLUSH)
            .map(|_| {
                let user = users[rng.gen_range(0..64)];
                let mut key = vec![1u8];
                key.extend_from_slice(&user);
                key.extend_from_slice(format!("k-{:016x}", rng.gen::<u64>()).as_bytes());
                let mut booking = vec![2u8];
                booking.extend_from_slice(&user);
                booking.extend_from_slice(&rng.gen::<[u8; 16]>());
                let mut seat = vec![3u8];
                seat.extend_from_slice(&shows[rng.gen_range(0..4)]);
                seat.extend_from_slice(&rng.gen_range(0u32..99_900).to_be_bytes());
                [
                    (key, vec![1; 60]),
                    (booking, vec![2; 110]),
                    (seat, vec![3; 17]),
                ]
            })
            .collect();
        let mut record = Vec::new();
        for set in &sets {
            db.get(&set[0].0).unwrap();
            for (k, v) in set {
                record.extend_from_slice(k);
                record.extend_from_slice(v);
            }
        }
        if redo {
            db.insert([&[9u8][..], &round.to_be_bytes()].concat(), record)
                .unwrap();
        }
        for (k, v) in sets.iter().flatten() {
            db.insert(k.as_slice(), v.as_slice()).unwrap();
        }
        db.flush().unwrap();
        if redo && round > 0 {
            db.remove([&[9u8][..], &(round - 1).to_be_bytes()].concat())
                .unwrap();
        }
    }
    let elapsed = start.elapsed();
    db.flush().unwrap();
    let bytes = dir_bytes(dir.path());
    let sets = (SETS / PER_FLUSH * PER_FLUSH) as f64;
    (
        elapsed.as_secs_f64() * 1e6 / sets,
        (bytes as f64 / sets) as u64,
    )
}

fn main() {
    println!("sled, one thread, random booking-shaped write sets, {PER_FLUSH} per flush:");
    for redo in [true, false] {
        let (us, bytes) = run(redo);
        let what = if redo {
            "with the redo record"
        } else {
            "without it"
        };
        println!("  {what:22} {us:6.1} us a set   {bytes:5} bytes of data directory a set");
    }
}
