//! The idempotency ledger of one actor: which keys are in flight here.
//!
//! Completed keys live in the store (written in the same atomic write as the
//! effect); in-flight keys live only in actor memory, so a crash never
//! leaves a key stuck "in progress": either the write happened and the key
//! replays, or it did not and the key is free.

use super::ids::{ShowId, UserId};
use super::key::{Fingerprint, IdempotencyKey};
use bytes::Bytes;
use std::collections::HashMap;

/// A completed request's final answer, replayed byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReply {
    pub fingerprint: Fingerprint,
    pub status: u16,
    pub body: StoredBody,
    pub created_at_ms: u64,
    /// The request's method and path, for the key look-up (`None` in
    /// records written before they were kept).
    pub line: Option<RequestLine>,
}

/// What a keyed request was, as the key look-up tells it: its method and
/// path (its body is kept only as the fingerprint).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLine {
    pub method: String,
    pub path: String,
}

/// The body of a stored answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredBody {
    /// The body as it was sent.
    Bytes(Bytes),
    /// A new show's answer: the show with every seat available. It is a
    /// function of the show's record, which never changes, so it is rebuilt
    /// from that record on replay (to the same bytes) instead of being kept
    /// twice. A 100,000-seat show's answer is about 6 MB; stored, it made
    /// the store rewrite megabytes whenever a neighbouring record changed.
    CreatedShow(ShowId),
    /// The same, answered by a build before 1.1 (no prices in the show's
    /// JSON): rebuilt in that shape, so its replay stays byte for byte.
    CreatedShowV1(ShowId),
    /// A new booking's answer (a one-shot booking or a checkout): the
    /// booking as confirmed. Every field of it but its status is fixed when
    /// it is made, so it is rebuilt from the booking's record (read as
    /// confirmed) to the same bytes instead of being written twice.
    CreatedBooking(crate::domain::BookingId),
    /// The same with the booking as made at hand: the sled store keeps a
    /// new booking inside its key record (issue 18: one record instead of
    /// two), so its replay is rebuilt without another read.
    CreatedBookingAsMade(Box<crate::domain::Booking>),
}

impl StoredReply {
    /// Whether a response with this status is stored with its key: 2xx and
    /// business outcomes decided after the request was accepted (404, 409).
    /// Validation errors, auth, limits, overload and 5xx are not.
    pub fn is_storable(status: u16) -> bool {
        (200..300).contains(&status) || status == 404 || status == 409
    }
}

/// What to do with a request carrying a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// First use: run it (the key is now in flight).
    Run,
    /// Same request, already completed: send the stored answer again.
    Replay(StoredReply),
    /// Same request, still running.
    InProgress,
    /// The key was used for a different request.
    Reused,
}

/// A request whose key already has a completed record: the same request
/// replays it, any other is a reuse of the key (422). The one place this
/// rule is decided, whether the record was found before running or when
/// the write found the key taken.
pub fn judge(stored: &StoredReply, fingerprint: Fingerprint) -> Admission {
    if stored.fingerprint == fingerprint {
        Admission::Replay(stored.clone())
    } else {
        Admission::Reused
    }
}

/// A state-changing request with its `Idempotency-Key`: who sent it, the
/// key, and what it was (its fingerprint).
#[derive(Clone, Debug)]
pub struct KeyedRequest {
    pub user: UserId,
    pub key: IdempotencyKey,
    pub fingerprint: Fingerprint,
    pub line: RequestLine,
}

#[derive(Debug, Default)]
pub struct IdempotencyLedger {
    in_flight: HashMap<(UserId, IdempotencyKey), Fingerprint>,
}

impl IdempotencyLedger {
    /// Decides a request. `stored` is the key's completed record, if any.
    pub fn admit(
        &mut self,
        user: UserId,
        key: &IdempotencyKey,
        fingerprint: Fingerprint,
        stored: Option<&StoredReply>,
    ) -> Admission {
        let scoped = (user, key.clone());
        if let Some(running) = self.in_flight.get(&scoped) {
            return if *running == fingerprint {
                Admission::InProgress
            } else {
                Admission::Reused
            };
        }
        match stored {
            Some(reply) => judge(reply, fingerprint),
            None => {
                self.in_flight.insert(scoped, fingerprint);
                Admission::Run
            }
        }
    }

    /// What to answer at once if this key is running here now (`InProgress`
    /// for the same request, `Reused` for another); `None` if it is not.
    pub fn running(
        &self,
        user: UserId,
        key: &IdempotencyKey,
        fingerprint: Fingerprint,
    ) -> Option<Admission> {
        let running = self.in_flight.get(&(user, key.clone()))?;
        Some(if *running == fingerprint {
            Admission::InProgress
        } else {
            Admission::Reused
        })
    }

    /// The request finished (stored or not): the key is no longer in flight.
    pub fn settle(&mut self, user: UserId, key: &IdempotencyKey) {
        self.in_flight.remove(&(user, key.clone()));
    }

    /// Every request that was running here ended (an owner that runs one
    /// request at a time calls this when it ends: no key is in flight).
    pub fn settle_all(&mut self) {
        self.in_flight.clear();
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn reply(fp: Fingerprint) -> StoredReply {
        StoredReply {
            fingerprint: fp,
            status: 201,
            body: StoredBody::Bytes(Bytes::from_static(b"{}")),
            created_at_ms: 0,
            line: None,
        }
    }

    #[test]
    fn lifecycle_run_in_progress_replay_reused() {
        let mut ledger = IdempotencyLedger::default();
        let user = UserId(Uuid::new_v4());
        let key = IdempotencyKey::parse(b"k").unwrap();
        let fp = Fingerprint::of("POST", "/a", b"{}");
        let other = Fingerprint::of("POST", "/b", b"{}");
        assert_eq!(ledger.admit(user, &key, fp, None), Admission::Run);
        assert_eq!(ledger.admit(user, &key, fp, None), Admission::InProgress);
        assert_eq!(ledger.admit(user, &key, other, None), Admission::Reused);
        assert_eq!(ledger.running(user, &key, fp), Some(Admission::InProgress));
        assert_eq!(ledger.running(user, &key, other), Some(Admission::Reused));
        ledger.settle(user, &key);
        assert_eq!(ledger.running(user, &key, fp), None);
        assert_eq!(ledger.admit(user, &key, fp, None), Admission::Run);
        ledger.settle_all();
        assert_eq!(ledger.running(user, &key, fp), None);
        let stored = reply(fp);
        assert_eq!(
            ledger.admit(user, &key, fp, Some(&stored)),
            Admission::Replay(stored.clone())
        );
        assert_eq!(
            ledger.admit(user, &key, other, Some(&stored)),
            Admission::Reused
        );
        assert_eq!(ledger.in_flight(), 0);
    }

    #[test]
    fn keys_are_scoped_to_users() {
        let mut ledger = IdempotencyLedger::default();
        let key = IdempotencyKey::parse(b"same").unwrap();
        let fp = Fingerprint::of("POST", "/a", b"{}");
        assert_eq!(
            ledger.admit(UserId(Uuid::new_v4()), &key, fp, None),
            Admission::Run
        );
        assert_eq!(
            ledger.admit(UserId(Uuid::new_v4()), &key, fp, None),
            Admission::Run
        );
    }

    #[test]
    fn storable_statuses() {
        for status in [200, 201, 204, 404, 409] {
            assert!(StoredReply::is_storable(status));
        }
        for status in [400, 401, 403, 413, 422, 429, 500, 503] {
            assert!(!StoredReply::is_storable(status));
        }
    }
}
