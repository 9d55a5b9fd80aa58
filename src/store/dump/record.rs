//! What a store holds, record by record, as domain values: what a dump
//! carries, whichever store it came from or goes to.

use crate::domain::{Booking, Cart, SeatState, Show, ShowId, StoredBody, UserId};
use crate::store::key_record::KeyRecord;

/// One record of a store.
#[derive(Clone, Debug)]
pub enum Record {
    Show(Show),
    /// A seat that is not available (held or booked); an available seat
    /// has no record.
    Seat {
        show: ShowId,
        index: u32,
        state: SeatState,
    },
    Cart(Cart),
    Booking(Booking),
    /// A session: the SHA-256 of its bearer token (never the token).
    Session {
        token_hash: [u8; 32],
        user: UserId,
        created_at_ms: u64,
    },
    /// A completed idempotency key and its stored answer. A new booking's
    /// answer names the booking (`StoredBody::CreatedBooking`); the booking
    /// is a record of its own.
    Key(KeyRecord),
}

/// The kinds of records, in the order a dump lists its counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    Show,
    Seat,
    Cart,
    Booking,
    Session,
    Key,
}

impl RecordKind {
    pub const ALL: [RecordKind; 6] = [
        RecordKind::Show,
        RecordKind::Seat,
        RecordKind::Cart,
        RecordKind::Booking,
        RecordKind::Session,
        RecordKind::Key,
    ];

    /// The name in a dump line's `kind` and in the counts.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Show => "show",
            RecordKind::Seat => "seat",
            RecordKind::Cart => "cart",
            RecordKind::Booking => "booking",
            RecordKind::Session => "session",
            RecordKind::Key => "key",
        }
    }
}

impl Record {
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Show(_) => RecordKind::Show,
            Record::Seat { .. } => RecordKind::Seat,
            Record::Cart(_) => RecordKind::Cart,
            Record::Booking(_) => RecordKind::Booking,
            Record::Session { .. } => RecordKind::Session,
            Record::Key(_) => RecordKind::Key,
        }
    }

    /// A key record whose answer holds the booking it made (the sled
    /// store's layout) becomes two records: the key naming the booking,
    /// and the booking. Every other record is itself.
    pub fn split_made_booking(self) -> (Record, Option<Record>) {
        match self {
            Record::Key(mut key) => {
                let made = match std::mem::replace(
                    &mut key.reply.body,
                    StoredBody::Bytes(Default::default()),
                ) {
                    StoredBody::CreatedBookingAsMade(booking) => {
                        key.reply.body = StoredBody::CreatedBooking(booking.id);
                        Some(Record::Booking(*booking))
                    }
                    other => {
                        key.reply.body = other;
                        None
                    }
                };
                (Record::Key(key), made)
            }
            other => (other, None),
        }
    }
}
