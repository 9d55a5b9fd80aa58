//! sled itself on the power-cut disk, where boxoffice's store on top of
//! it would take too long to get there: power cuts while sled reuses log
//! segments, and a read that fails while the log is recovered.
//!
//! A segment whose pages have all moved is freed and later written again
//! from its start. A cut that tears the new use's first write could leave
//! the old header over a mix of both uses; recovery must open such a
//! store with every acknowledged write, not refuse it as damaged nor lose
//! what was synced (boxoffice's store writes new records far more than it
//! overwrites, and reuses segments only after much longer runs).

use crate::helpers::api_test;
use crate::helpers::environment::fuse_usable;
use crate::helpers::power_cut::{PowerCutDisk, Tear};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEYS: u32 = 300;
const VALUE_BYTES: usize = 200;
const WRITES_PER_FLUSH: u64 = 10;
const CUTS: u64 = 24;

fn open(dir: &Path) -> sled::Db {
    sled::Config::new()
        .path(dir)
        .flush_every_ms(None)
        .open()
        .unwrap_or_else(|e| panic!("open {}: {e}", dir.display()))
}

/// A value: its version, then bytes derived from it (a value that does
/// not match its version was never written).
fn value(version: u64) -> Vec<u8> {
    let mut bytes = version.to_le_bytes().to_vec();
    bytes.extend((0..VALUE_BYTES).map(|i| (version as usize + i) as u8));
    bytes
}

fn version_of(bytes: &[u8]) -> u64 {
    let version = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    assert_eq!(bytes, value(version), "a value no write made");
    version
}

/// Overwrites the keys in turn with rising versions, flushing every
/// `WRITES_PER_FLUSH`; after each flush that returns, files the versions
/// it made durable in `acked`. Stops at the first error (the cut) or when
/// `stop` is set.
fn churn(db: &sled::Db, first: u64, acked: &Mutex<HashMap<u32, u64>>, stop: &AtomicBool) -> u64 {
    let mut version = first;
    let mut pending = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let key = (version % u64::from(KEYS)) as u32;
        if db.insert(key.to_be_bytes(), value(version)).is_err() {
            break;
        }
        pending.push((key, version));
        version += 1;
        if version.is_multiple_of(WRITES_PER_FLUSH) {
            if db.flush().is_err() {
                break;
            }
            let mut acked = acked.lock().unwrap();
            for (key, made) in pending.drain(..) {
                acked.insert(key, made);
            }
        }
    }
    version
}

/// sled's segment size (its default, which boxoffice keeps).
const SEGMENT: u64 = 512 * 1024;

/// Each round, the power goes right after sled's write to a reused
/// segment (a write at a segment's start, below the log's end: the new
/// use's header and first messages), the sixth to eleventh since the open,
/// and the cut tears it, sector by sector, at random. The store must open with every acknowledged write.
#[api_test(needs = "fuse")]
fn torn_power_cuts_while_segments_are_reused_open_with_everything_acknowledged() {
    assert!(fuse_usable(), "FUSE cannot be mounted here");
    let mut disk = PowerCutDisk::mount_new();
    let dir = disk.path().join("db");
    let acked = Arc::new(Mutex::new(HashMap::new()));
    let seed: u64 = rand::random();
    eprintln!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    // Enough overwrites that freed segments are being written again: the
    // values written reach twice the log's size (churned a second at a
    // time, as many seconds as this machine needs, at most twenty).
    let db = open(&dir);
    let mut version = 0;
    let (mut written, mut log) = (0, 0);
    for _ in 0..20 {
        version = churn_for(&db, version, &acked, Duration::from_secs(1));
        written = version * (8 + VALUE_BYTES) as u64;
        log = std::fs::metadata(dir.join("db")).unwrap().len();
        if log * 2 < written {
            break;
        }
    }
    eprintln!("{version} writes, {written} bytes of values, a log of {log} bytes");
    assert!(
        log * 2 < written,
        "segments are reused: the log stays smaller"
    );
    drop(db);

    for cut in 0..CUTS {
        let db = Arc::new(open(&dir));
        for (key, made) in acked.lock().unwrap().iter() {
            let stored = db
                .get(key.to_be_bytes())
                .unwrap()
                .unwrap_or_else(|| panic!("cut {cut}: key {key} (version {made}) is lost"));
            let stored = version_of(&stored);
            assert!(
                stored >= *made,
                "cut {cut}: key {key} went back from {made} to {stored}"
            );
        }
        // The first segments reused after the open held writes from before
        // it (the open's snapshot covers them, and recovery does not read
        // them again); from the sixth on, a reused segment was written and
        // freed since the open, and recovery reads its old use.
        let reuses = std::sync::atomic::AtomicU32::new(0);
        let nth = rng.gen_range(6..12);
        disk.cut_after_write(Box::new(move |offset, size| {
            offset % SEGMENT == 0
                && offset < size
                && reuses.fetch_add(1, Ordering::SeqCst) + 1 == nth
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (db, acked, stop) = (db.clone(), acked.clone(), stop.clone());
            let first = version;
            std::thread::spawn(move || churn(&db, first, &acked, &stop))
        };
        version = writer.join().unwrap() + 1;
        assert!(
            disk.is_cut(),
            "cut {cut}: the writer stopped with the power on"
        );
        drop(db);
        disk.power_on_with(Tear::Sectors(rng.gen()));
    }
    let db = open(&dir);
    assert_eq!(db.len(), KEYS as usize);
}

/// `churn` for a while, no cut.
fn churn_for(db: &sled::Db, first: u64, acked: &Mutex<HashMap<u32, u64>>, time: Duration) -> u64 {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| churn(db, first, acked, &stop));
        std::thread::sleep(time);
        stop.store(true, Ordering::SeqCst);
        writer.join().unwrap()
    })
}

/// A read that fails while the log is recovered (a bad sector) fails the
/// open, and nothing is written. sled 0.34.7 took the failure for the
/// log's end: it recovered the writes before it, dropped the rest, and
/// overwrote the segments after it as torn.
#[api_test(needs = "fuse")]
fn a_read_error_while_recovering_fails_the_open_and_writes_nothing() {
    assert!(fuse_usable(), "FUSE cannot be mounted here");
    let mut disk = PowerCutDisk::mount_new();
    let dir = disk.path().join("db");
    // Several segments, none reused yet (every key written once), and no
    // snapshot (one is written at an open): the next open reads it all.
    let db = open(&dir);
    for key in 0..6_000u32 {
        db.insert(key.to_be_bytes(), value(u64::from(key))).unwrap();
        if key % 100 == 0 {
            db.flush().unwrap();
        }
    }
    db.flush().unwrap();
    drop(db);
    let log_len = std::fs::metadata(dir.join("db")).unwrap().len();
    assert!(log_len > 3 * SEGMENT, "the log spans {log_len} bytes");
    // A fresh mount, so every read reaches the disk.
    disk.cut();
    disk.power_on();
    let before = std::fs::read(dir.join("db")).unwrap();
    disk.cut();
    disk.power_on();

    let bad = SEGMENT + SEGMENT / 2;
    disk.fail_reads(Some(Box::new(move |offset, len| {
        offset <= bad && bad < offset + len
    })));
    let error = sled::Config::new()
        .path(&dir)
        .flush_every_ms(None)
        .open()
        .map(|_| ())
        .expect_err("the open read past a failed read");
    eprintln!("{error}");
    disk.fail_reads(None);
    assert!(
        std::fs::read(dir.join("db")).unwrap() == before,
        "the failed open wrote to the log"
    );
    let db = open(&dir);
    for key in 0..6_000u32 {
        let stored = db.get(key.to_be_bytes()).unwrap().expect("every key");
        assert_eq!(version_of(&stored), u64::from(key));
    }
}
