//! What every record shares: the version byte in front, JSON bodies behind
//! it, and the one way a record is corrupt.

use crate::domain::SeatLabel;
use crate::store::contract::{StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const VERSION: u8 = 1;

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(super) fn check_version<'a>(bytes: &'a [u8], what: &str) -> StoreResult<&'a [u8]> {
    match bytes.split_first() {
        Some((&VERSION, rest)) => Ok(rest),
        _ => Err(corrupt(what)),
    }
}

pub(super) fn json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![VERSION];
    serde_json::to_writer(&mut out, value).expect("records serialise");
    out
}

pub(super) fn from_json<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> StoreResult<T> {
    serde_json::from_slice(check_version(bytes, what)?)
        .map_err(|e| corrupt(&format!("{what}: {e}")))
}

pub fn uuid_at(bytes: &[u8], offset: usize) -> StoreResult<Uuid> {
    bytes
        .get(offset..offset + 16)
        .and_then(|b| Uuid::from_slice(b).ok())
        .ok_or_else(|| corrupt("id"))
}

pub(super) fn label(text: &str) -> StoreResult<SeatLabel> {
    SeatLabel::parse(text).ok_or_else(|| corrupt("seat label"))
}
