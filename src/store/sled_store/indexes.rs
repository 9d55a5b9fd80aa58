//! The sled store's indexes of bookings (v1.2, store format 2; the entries
//! are `codec::indexes`): a show's bookings in order, read a page at a time
//! (`list_show_bookings`), and a booking's owner by its id alone
//! (`booking_owner`). The committer writes both entries with every booking
//! in the booking's own round; the key sweep rewrites them when it gives a
//! booking a record of its own; a store of an older format gets them at
//! open, before its format file says 2 (`upgrade::index_every_booking`).
//!
//! Why the show entry names the key record: a booking that never changed
//! lives inside the key record that answered it (issue 18), and a listing
//! of a show's 50,000 bookings must find each with a point read or two,
//! never by scanning its owner's keys.

use super::SledStore;
use crate::domain::{Booking, BookingId, ShowId, UserId};
use crate::store::codec::*;
use crate::store::contract::{StoreError, StoreResult};

impl SledStore {
    pub fn booking_owner(&self, id: BookingId) -> StoreResult<Option<UserId>> {
        self.get(&booking_owner_key(id))?
            .map(|value| Ok(decode_booking_owner(&value)?.0))
            .transpose()
    }

    /// At most `limit` of `show`'s bookings after `after`, oldest first:
    /// a range of its index, each booking read where its entry says.
    pub fn list_show_bookings(
        &self,
        show: ShowId,
        after: Option<(u64, BookingId)>,
        limit: usize,
    ) -> StoreResult<Vec<Booking>> {
        let prefix = show_booking_prefix(show);
        let start = match after {
            // The least key after that entry's.
            Some((created_at_ms, id)) => {
                let mut key = show_booking_key(show, created_at_ms, id);
                key.push(0);
                key
            }
            None => prefix.clone(),
        };
        let mut bookings = Vec::with_capacity(limit.min(1024));
        if limit == 0 {
            return Ok(bookings);
        }
        for entry in self.db.range(start..) {
            let (key, value) = entry?;
            if !key.starts_with(&prefix) {
                break;
            }
            let (_, id) = show_booking_entry(&key)?;
            let (owner, place) = decode_show_booking(&value)?;
            bookings.push(self.booking_at(owner, id, &place)?);
            if bookings.len() == limit {
                break;
            }
        }
        Ok(bookings)
    }

    /// The booking an index entry names, as it is now: its own record
    /// (which wins: it is newer), else the key record named, else (before
    /// issue 18) its record under its id alone.
    pub(super) fn booking_at(
        &self,
        owner: UserId,
        id: BookingId,
        place: &BookingPlace<'_>,
    ) -> StoreResult<Booking> {
        let own = owned_booking_key(owner, id);
        if let Some(record) = self.get(&own)? {
            return decode_booking(&record);
        }
        if let BookingPlace::InKeyRecord(name) = place {
            let mut key = user_key_prefix(owner);
            key.extend_from_slice(name);
            if let Some(record) = self.get(&key)? {
                if let Some(made) = booking_in_key_record(&record)?.filter(|b| b.id == id) {
                    return Ok(made);
                }
            }
            // The key's sweep gave it a record of its own meanwhile.
            if let Some(record) = self.get(&own)? {
                return decode_booking(&record);
            }
        }
        if let Some(record) = self.get(&booking_key(id))? {
            return decode_booking(&record);
        }
        Err(StoreError::Corrupt(format!(
            "the show index names booking {} of user {}, which has no record",
            id.0, owner.0
        )))
    }
}
