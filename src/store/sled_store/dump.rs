//! The sled store's side of a dump: its records read out in key order
//! (`records`), and a dump's records written into a new store
//! (`import_into`), which appears whole or not at all.

use super::directory::create_dir_durably;
use super::options::SledOptions;
use super::SledStore;
use crate::domain::{IdempotencyKey, ShowId, StoredBody, UserId};
use crate::store::codec::{self, *};
use crate::store::dump::Record;
use crate::store::{KeyRecord, StoreError, StoreResult};
use std::path::{Path, PathBuf};

impl SledStore {
    /// Every record of the store, in key order: shows, seats, carts,
    /// bookings, sessions, keys. A booking kept inside the key record that
    /// made it (the store's layout) comes out as its own record, unless it
    /// has one already (a cancel or a key sweep wrote it), and the key
    /// names it. Reads what the store holds as it goes: a consistent
    /// snapshot needs a store nobody writes to (an offline directory, or
    /// the copy `export` takes).
    pub fn records(&self) -> impl Iterator<Item = StoreResult<Record>> + '_ {
        self.db.iter().flat_map(move |entry| {
            let records = entry
                .map_err(StoreError::from)
                .and_then(|(key, value)| self.records_of(&key, &value));
            let (first, second) = match records {
                Ok((first, second)) => (first.map(Ok), second.map(Ok)),
                Err(error) => (Some(Err(error)), None),
            };
            first.into_iter().chain(second)
        })
    }

    /// The record (or, for a key record holding its booking, the two) that
    /// one sled entry holds; `None` for indexes and redo records.
    fn records_of(
        &self,
        key: &[u8],
        value: &[u8],
    ) -> StoreResult<(Option<Record>, Option<Record>)> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("{what} at key {}", hex::encode(key)));
        let one = |record| Ok((Some(record), None));
        match key.first().copied() {
            Some(KIND_SHOW) => one(Record::Show(decode_show(value)?)),
            Some(KIND_SEAT) => {
                let index = key
                    .get(17..21)
                    .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
                    .ok_or_else(|| corrupt("seat"))?;
                one(Record::Seat {
                    show: ShowId(uuid_at(key, 1)?),
                    index,
                    state: decode_seat(value)?,
                })
            }
            Some(KIND_CART) => one(Record::Cart(decode_cart(value)?)),
            Some(KIND_BOOKING) | Some(KIND_OWNED_BOOKING) => {
                one(Record::Booking(decode_booking(value)?))
            }
            Some(KIND_SESSION) => {
                let token_hash: [u8; 32] = key
                    .get(1..33)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| corrupt("session"))?;
                one(Record::Session {
                    token_hash,
                    user: UserId(uuid_at(value, 0)?),
                    created_at_ms: session_created_ms(value).ok_or_else(|| corrupt("session"))?,
                })
            }
            Some(KIND_KEY) => {
                let user = UserId(uuid_at(key, 1)?);
                let text = key.get(17..).ok_or_else(|| corrupt("key record"))?;
                let key_name =
                    IdempotencyKey::parse(text).map_err(|_| corrupt("key record's key"))?;
                let record = Record::Key(KeyRecord {
                    user,
                    key: key_name,
                    reply: decode_reply(value)?,
                });
                let (key_record, made) = record.split_made_booking();
                // The booking's own record, if it has one, is newer (a
                // cancel) and comes out as itself.
                let made = match made {
                    Some(Record::Booking(booking)) if self.has_own_record(&booking)? => None,
                    other => other,
                };
                Ok((Some(key_record), made))
            }
            // Indexes (bookings by user, by show, their owners), redo records.
            _ => Ok((None, None)),
        }
    }

    fn has_own_record(&self, booking: &crate::domain::Booking) -> StoreResult<bool> {
        Ok(self
            .db
            .contains_key(owned_booking_key(booking.owner, booking.id))?
            || self.db.contains_key(booking_key(booking.id))?)
    }
}

impl SledStore {
    /// Every record, from a snapshot taken now while the store serves: the
    /// directory is copied beside itself between two commit rounds (under
    /// the write gate, after a flush: writers wait for the copy, about a
    /// second per GiB from the page cache), and the copy is opened and read
    /// while the store goes on; the copy is removed after.
    pub fn export_snapshot(
        &self,
        sink: &mut dyn FnMut(Record) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let copy = Copy::beside(&self.dir)?;
        {
            let _gate = self.gate.lock().expect("the write gate");
            self.db.flush()?;
            copy_tree(&self.dir, &copy.path)?;
        }
        let options = SledOptions {
            cache_bytes: Some(EXPORT_CACHE_BYTES),
            ..SledOptions::default()
        };
        let store = SledStore::open_with(&copy.path, options)?;
        for record in store.records() {
            sink(record?)?;
        }
        Ok(())
    }
}

/// The page cache of an export's copy: it reads each record once, so a
/// small cache bounds its memory whatever the store's size.
const EXPORT_CACHE_BYTES: u64 = 32 << 20;

/// A copy of a data directory, removed when dropped.
struct Copy {
    path: PathBuf,
}

impl Copy {
    fn beside(dir: &Path) -> StoreResult<Copy> {
        let mut name = dir.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".export-{}", uuid::Uuid::new_v4()));
        Ok(Copy {
            path: dir.with_file_name(name),
        })
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn copy_tree(from: &Path, to: &Path) -> StoreResult<()> {
    let failed = |e: std::io::Error| StoreError::Io(format!("copying {}: {e}", from.display()));
    std::fs::create_dir_all(to).map_err(failed)?;
    for entry in std::fs::read_dir(from).map_err(failed)? {
        let entry = entry.map_err(failed)?;
        let target = to.join(entry.file_name());
        if entry.file_type().map_err(failed)?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).map_err(failed)?;
        }
    }
    Ok(())
}

impl SledStore {
    /// Writes `records` into a new sled store at `dir`, which must not exist
    /// or be an empty store: the records go into a directory beside it, which
    /// is synced and then renamed to `dir`. A failure or a crash before the
    /// rename leaves `dir` as it was. Returns how many records were written.
    pub fn import<E: std::fmt::Display>(
        dir: &Path,
        records: impl Iterator<Item = Result<Record, E>>,
    ) -> StoreResult<u64> {
        let refused = |why: String| StoreError::Io(format!("{}: {why}", dir.display()));
        if dir.exists() && !is_empty_store(dir)? {
            return Err(refused(
                "the store is not empty; import writes into an empty store only".into(),
            ));
        }
        let building = building_dir(dir);
        if building.exists() {
            std::fs::remove_dir_all(&building).map_err(|e| refused(e.to_string()))?;
        }
        let written = {
            let store = SledStore::open(&building)?;
            let mut written = 0u64;
            for record in records {
                let record = record.map_err(|e| StoreError::Io(e.to_string()))?;
                let (key, value) = entry_of(&record);
                store.db.insert(key, value)?;
                // Every booking of a dump gets a record of its own here
                // (`entry_of`), and its index entries name it.
                if let Record::Booking(booking) = &record {
                    for (key, value) in booking_index_entries(booking, &BookingPlace::Own) {
                        store.db.insert(key, value)?;
                    }
                }
                written += 1;
            }
            store.db.flush()?;
            written
        };
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| refused(e.to_string()))?;
        }
        std::fs::rename(&building, dir).map_err(|e| refused(e.to_string()))?;
        create_dir_durably(dir)?;
        Ok(written)
    }
}

/// The directory an import into `dir` is built in.
fn building_dir(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".importing");
    dir.with_file_name(name)
}

/// Whether `dir` holds a sled store without a record (or nothing at all).
fn is_empty_store(dir: &Path) -> StoreResult<bool> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| StoreError::Io(format!("{}: {e}", dir.display())))?
        .count();
    if entries == 0 {
        return Ok(true);
    }
    if !dir.join("db").exists() {
        return Err(StoreError::Io(format!(
            "{} is not empty and holds no store",
            dir.display()
        )));
    }
    Ok(SledStore::open(dir)?.is_empty())
}

/// The sled key and value of a record, as the store writes them.
fn entry_of(record: &Record) -> (Vec<u8>, Vec<u8>) {
    match record {
        Record::Show(show) => (show_key(show.id), encode_show(show)),
        Record::Seat { show, index, state } => (
            seat_key(*show, *index),
            encode_seat(*state).expect("a seat record is never available"),
        ),
        Record::Cart(cart) => (cart_key(cart.id), encode_cart(cart)),
        Record::Booking(booking) => (
            owned_booking_key(booking.owner, booking.id),
            encode_booking(booking),
        ),
        Record::Session {
            token_hash,
            user,
            created_at_ms,
        } => (
            session_key(token_hash),
            encode_session(*user, *created_at_ms),
        ),
        Record::Key(key) => {
            let mut reply = key.reply.clone();
            if let StoredBody::CreatedBookingAsMade(booking) = &reply.body {
                reply.body = StoredBody::CreatedBooking(booking.id);
            }
            (
                key_record_key(key.user, &key.key),
                codec::encode_reply(&reply),
            )
        }
    }
}
