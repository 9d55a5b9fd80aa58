//! The idempotency record written with an effect: a leaf of its own, as
//! both the `Store` contract and the dump's records carry it.

use crate::domain::{IdempotencyKey, StoredReply, UserId};

/// The idempotency record written with an effect.
#[derive(Clone, Debug)]
pub struct KeyRecord {
    pub user: UserId,
    pub key: IdempotencyKey,
    pub reply: StoredReply,
}
