//! Which idempotency keys a user has on record, kept in memory so that a
//! key's first use (nearly every keyed request) is known new without a
//! sled read (issue 18: the look-up of a fresh key was about 8% of the
//! server's CPU under load, and the committer's own check 2%).
//!
//! Per user, a set of 64-bit hashes of the key records' keys. It is a
//! superset of the user's key records once complete: a hash that is not
//! there names a key with no record; one that is there may be a record, a
//! swept one or another key with the same hash, and the caller reads sled
//! as before. So a stale or colliding hash only costs a read, and nothing
//! may ever be missing from a complete set. What keeps it so:
//!
//! - a set is built from a scan of the user's key records
//!   (`SledStore::count_keys`, which the engine calls before a user's
//!   first new key): `begin` puts an empty, incomplete set of a fresh
//!   generation first, then the scan runs, then `complete` adds what it
//!   found, only if that generation is still the one in place;
//! - the committer, the only writer of key records, calls `recorded` after
//!   each insert: a set begun before the insert gets the hash from it, and
//!   a scan begun after the insert finds the record;
//! - the sweep removes records and then `forget_all`: sets are built again
//!   on next need, so swept keys do not stay forever (memory: about 16
//!   bytes a stored key, for the users seen since the last sweep).
//!
//! Only the sled store has one: with many nodes (PostgreSQL) other
//! processes write keys too, so no process can know a key is new.

use crate::domain::UserId;
use dashmap::DashMap;
use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub(super) struct KeyFilter {
    users: DashMap<UserId, UserKeys>,
    generations: AtomicU64,
    /// Keys are chosen by clients: hashed with this process's random
    /// keys, so that no one can pick keys whose hashes crowd one place of
    /// a set (the committer, shared by all, reads and fills the sets).
    hashing: RandomState,
}

struct UserKeys {
    generation: u64,
    /// False while its scan runs: no answer comes from it yet.
    complete: bool,
    hashes: HashSet<u64, BuildHasherDefault<PassThrough>>,
}

/// A scan in progress (`KeyFilter::begin`) and what it found so far.
pub(super) struct Scan {
    user: UserId,
    generation: u64,
    hashes: Vec<u64>,
    hashing: RandomState,
}

impl Scan {
    /// One key record the scan met (its key, as stored).
    pub fn found(&mut self, record_key: &[u8]) {
        self.hashes.push(self.hashing.hash_one(record_key));
    }
}

impl KeyFilter {
    /// True only when `user`'s set is complete and lacks `record_key`: then
    /// the store holds no record under that key.
    pub fn surely_absent(&self, user: UserId, record_key: &[u8]) -> bool {
        self.users
            .get(&user)
            .is_some_and(|keys| keys.complete && !keys.hashes.contains(&self.hash(record_key)))
    }

    /// A key record was just inserted (by the committer, after the insert).
    pub fn recorded(&self, user: UserId, record_key: &[u8]) {
        if let Some(mut keys) = self.users.get_mut(&user) {
            keys.hashes.insert(self.hash(record_key));
        }
    }

    /// Starts (again) `user`'s set: call before scanning the user's key
    /// records, and `complete` once the scan met every one of them.
    pub fn begin(&self, user: UserId) -> Scan {
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        self.users.insert(
            user,
            UserKeys {
                generation,
                complete: false,
                hashes: HashSet::default(),
            },
        );
        Scan {
            user,
            generation,
            hashes: Vec::new(),
            hashing: self.hashing.clone(),
        }
    }

    /// Ends a scan that met all of the user's key records. A scan that
    /// stopped early is simply dropped: its set stays incomplete.
    pub fn complete(&self, scan: Scan) {
        if let Some(mut keys) = self.users.get_mut(&scan.user) {
            if keys.generation == scan.generation {
                keys.hashes.extend(scan.hashes);
                keys.complete = true;
            }
        }
    }

    /// Drops every set (after a sweep removed records).
    pub fn forget_all(&self) {
        self.users.clear();
    }

    fn hash(&self, record_key: &[u8]) -> u64 {
        self.hashing.hash_one(record_key)
    }
}

/// The set's keys are hashes already.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8) | u64::from(byte);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn user() -> UserId {
        UserId(Uuid::new_v4())
    }

    #[test]
    fn a_user_without_a_complete_set_is_never_answered_from_memory() {
        let filter = KeyFilter::default();
        let alice = user();
        assert!(!filter.surely_absent(alice, b"k1"), "no set yet");
        let scan = filter.begin(alice);
        assert!(!filter.surely_absent(alice, b"k1"), "scan running");
        filter.complete(scan);
        assert!(filter.surely_absent(alice, b"k1"));
        assert!(!filter.surely_absent(user(), b"k1"), "another user");
    }

    #[test]
    fn a_key_recorded_while_its_users_scan_runs_is_kept() {
        let filter = KeyFilter::default();
        let alice = user();
        let mut scan = filter.begin(alice);
        scan.found(b"old");
        // Inserted after the scan passed its place: only `recorded` knows.
        filter.recorded(alice, b"new");
        filter.complete(scan);
        assert!(!filter.surely_absent(alice, b"old"));
        assert!(!filter.surely_absent(alice, b"new"));
        assert!(filter.surely_absent(alice, b"other"));
    }

    #[test]
    fn key_hashes_are_not_the_same_from_one_process_to_the_next() {
        // Each filter (each process) has hashing keys of its own, so a
        // client cannot choose keys whose hashes it knows.
        let (one, other) = (KeyFilter::default(), KeyFilter::default());
        assert_ne!(one.hash(b"some key"), other.hash(b"some key"));
    }

    #[test]
    fn a_scan_overtaken_by_a_newer_one_or_a_sweep_completes_nothing() {
        let filter = KeyFilter::default();
        let alice = user();
        let first = filter.begin(alice);
        let second = filter.begin(alice);
        // The first scan may have missed a record the second was begun
        // after; only the newest may complete the set.
        filter.complete(first);
        assert!(!filter.surely_absent(alice, b"k"));
        filter.complete(second);
        assert!(filter.surely_absent(alice, b"k"));

        let scan = filter.begin(alice);
        filter.forget_all();
        filter.recorded(alice, b"k"); // no set: not kept
        filter.complete(scan);
        assert!(
            !filter.surely_absent(alice, b"k"),
            "forgotten while scanning"
        );
    }
}
