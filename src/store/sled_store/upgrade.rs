//! The upgrade of a sled store to format 2 (`format.rs`), at open:
//! every booking gets its index entries (`codec::indexes`). A file apart
//! from `indexes.rs` (the reads), which the store's own module must not
//! import (the layering test: no cycles).

use crate::store::codec::*;
use crate::store::contract::{StoreError, StoreResult};

/// Writes the index entries of every booking in `db` (the upgrade to
/// store format 2, at open, before anything is served): bookings with a
/// record of their own (under their owner, or under their id before issue
/// 18), and those inside the key record that made them that have none.
/// Then makes them durable. Plain inserts of values that depend only on
/// the records: a run cut short is simply run again at the next open (the
/// format file still says the old version). Returns how many bookings.
pub(super) fn index_every_booking(db: &sled::Db) -> StoreResult<u64> {
    let mut count = 0;
    for kind in [KIND_OWNED_BOOKING, KIND_BOOKING] {
        for entry in db.scan_prefix([kind]) {
            let booking = decode_booking(&entry?.1)?;
            for (key, value) in booking_index_entries(&booking, &BookingPlace::Own) {
                db.insert(key, value)?;
            }
            count += 1;
        }
    }
    for entry in db.scan_prefix([KIND_KEY]) {
        let (key, value) = entry?;
        let Some(booking) = booking_in_key_record(&value)? else {
            continue;
        };
        if db.contains_key(owned_booking_key(booking.owner, booking.id))?
            || db.contains_key(booking_key(booking.id))?
        {
            continue; // indexed above, as its own record (newer)
        }
        let name = key
            .get(17..)
            .filter(|name| !name.is_empty())
            .ok_or_else(|| StoreError::Corrupt("key record's key".into()))?;
        for (key, value) in booking_index_entries(&booking, &BookingPlace::InKeyRecord(name)) {
            db.insert(key, value)?;
        }
        count += 1;
    }
    db.flush()?;
    Ok(count)
}
