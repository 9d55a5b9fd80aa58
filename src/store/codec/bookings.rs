//! Bookings: binary since issue 18, and the JSON layout before it still
//! read (the legacy reader).

use super::common::*;
use crate::domain::{Booking, BookingId, BookingStatus, Canceller, CartId, ShowId, UserId};
use crate::store::contract::StoreResult;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Serialize, Deserialize)]
pub(super) struct BookingRecord {
    id: Uuid,
    owner: Uuid,
    show: Uuid,
    seats: Vec<(u32, String)>,
    cancelled: bool,
    created_at_ms: u64,
    cart: Option<Uuid>,
    // v1.1; absent in records of earlier builds (free shows, in EUR).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    prices_cents: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    currency: Option<String>,
}

/// Who cancelled a cancelled booking: bit 3 of the binary layout's flags
/// (v1.2) set for the box office; a cancelled record without it, from any
/// build, was cancelled by its owner (the only one who could before 1.2).
/// Builds before 1.2 ignore the bit and read the booking as cancelled.
fn canceller(cancelled: bool, by_box_office: bool) -> Option<Canceller> {
    match (cancelled, by_box_office) {
        (false, _) => None,
        (true, false) => Some(Canceller::Customer),
        (true, true) => Some(Canceller::BoxOffice),
    }
}

/// Leads a booking record in the binary layout (issue 18: about half the
/// bytes of the JSON one, and no serde on the hot path). Records led by
/// `VERSION` are JSON (`BookingRecord`), written by builds before it, and
/// still read.
pub const BOOKING_BINARY: u8 = 0x02;

/// A booking in the binary layout: the lead byte; id, owner and show (16
/// bytes each); created_at_ms (8); flags (1 byte: bit 0 cancelled, bit 1
/// from a cart, bit 2 priced, bit 3 cancelled by the box office); the cart's id (16, only with bit 1); the
/// currency (1 byte of length, then its bytes); the seat count (2); each
/// seat's index (4), its label's row (1 byte of length, then its bytes) and
/// number (2) and, with bit 2, its price in cents (8). A booking has prices
/// for every seat or for none (records of builds before 1.1).
pub fn encode_booking(booking: &Booking) -> Vec<u8> {
    let priced = !booking.prices_cents.is_empty();
    let mut out = Vec::with_capacity(64 + booking.seats.len() * 20 + booking.currency.len());
    out.push(BOOKING_BINARY);
    out.extend_from_slice(booking.id.0.as_bytes());
    out.extend_from_slice(booking.owner.0.as_bytes());
    out.extend_from_slice(booking.show.0.as_bytes());
    out.extend_from_slice(&booking.created_at_ms.to_be_bytes());
    let flags = u8::from(booking.status == BookingStatus::Cancelled)
        | (u8::from(booking.cart.is_some()) << 1)
        | (u8::from(priced) << 2)
        | (u8::from(booking.cancelled_by == Some(Canceller::BoxOffice)) << 3);
    out.push(flags);
    if let Some(cart) = booking.cart {
        out.extend_from_slice(cart.0.as_bytes());
    }
    let currency = booking.currency.as_bytes();
    out.push(currency.len().min(u8::MAX as usize) as u8);
    out.extend_from_slice(&currency[..currency.len().min(u8::MAX as usize)]);
    out.extend_from_slice(&(booking.seats.len() as u16).to_be_bytes());
    for (n, (index, label)) in booking.seats.iter().enumerate() {
        out.extend_from_slice(&index.to_be_bytes());
        out.push(label.row.len() as u8);
        out.extend_from_slice(label.row.as_bytes());
        out.extend_from_slice(&(label.number as u16).to_be_bytes());
        if priced {
            let price = booking.prices_cents.get(n).copied().unwrap_or(0);
            out.extend_from_slice(&price.to_be_bytes());
        }
    }
    out
}

/// A booking in the binary layout (`encode_booking`).
pub(super) fn decode_binary_booking(bytes: &[u8]) -> StoreResult<Booking> {
    let mut at = Reader { bytes, at: 1 };
    let id = BookingId(at.uuid()?);
    let owner = UserId(at.uuid()?);
    let show = ShowId(at.uuid()?);
    let created_at_ms = u64::from_be_bytes(at.array()?);
    let [flags] = at.array()?;
    let cart = if flags & 2 != 0 {
        Some(CartId(at.uuid()?))
    } else {
        None
    };
    let [currency_len] = at.array()?;
    let currency = at.text(currency_len as usize)?;
    let count = u16::from_be_bytes(at.array()?) as usize;
    let mut seats = Vec::with_capacity(count);
    let mut prices_cents = Vec::new();
    for _ in 0..count {
        let index = u32::from_be_bytes(at.array()?);
        let [row_len] = at.array()?;
        let row = at.text(row_len as usize)?;
        let number = u16::from_be_bytes(at.array()?);
        seats.push((index, label(&format!("{row}{number}"))?));
        if flags & 4 != 0 {
            prices_cents.push(u64::from_be_bytes(at.array()?));
        }
    }
    if at.at != bytes.len() {
        return Err(corrupt("booking: trailing bytes"));
    }
    Ok(Booking {
        id,
        owner,
        show,
        seats,
        status: if flags & 1 != 0 {
            BookingStatus::Cancelled
        } else {
            BookingStatus::Confirmed
        },
        created_at_ms,
        cart,
        prices_cents,
        currency,
        cancelled_by: canceller(flags & 1 != 0, flags & 8 != 0),
    })
}

/// Reads a binary record front to back; running out is corruption.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> StoreResult<&[u8]> {
        let taken = self
            .bytes
            .get(self.at..self.at + n)
            .ok_or_else(|| corrupt("booking: cut short"))?;
        self.at += n;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> StoreResult<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn uuid(&mut self) -> StoreResult<Uuid> {
        Ok(Uuid::from_bytes(self.array()?))
    }

    fn text(&mut self, n: usize) -> StoreResult<String> {
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| corrupt("booking: text"))
    }
}

/// A booking in the JSON layout of builds before issue 18 (still read;
/// written by tests that check so).
pub fn encode_booking_json(booking: &Booking) -> Vec<u8> {
    json(&BookingRecord {
        id: booking.id.0,
        owner: booking.owner.0,
        show: booking.show.0,
        seats: booking
            .seats
            .iter()
            .map(|(i, l)| (*i, l.to_string()))
            .collect(),
        cancelled: booking.status == BookingStatus::Cancelled,
        created_at_ms: booking.created_at_ms,
        cart: booking.cart.map(|c| c.0),
        prices_cents: booking.prices_cents.clone(),
        currency: Some(booking.currency.clone()),
    })
}

pub fn decode_booking(bytes: &[u8]) -> StoreResult<Booking> {
    if bytes.first() == Some(&BOOKING_BINARY) {
        return decode_binary_booking(bytes);
    }
    let record: BookingRecord = from_json(bytes, "booking")?;
    let mut seats = Vec::with_capacity(record.seats.len());
    for (index, text) in record.seats {
        seats.push((index, label(&text)?));
    }
    Ok(Booking {
        id: BookingId(record.id),
        owner: UserId(record.owner),
        show: ShowId(record.show),
        seats,
        status: if record.cancelled {
            BookingStatus::Cancelled
        } else {
            BookingStatus::Confirmed
        },
        created_at_ms: record.created_at_ms,
        cart: record.cart.map(CartId),
        prices_cents: record.prices_cents,
        currency: record
            .currency
            .unwrap_or_else(|| crate::domain::offer::DEFAULT_CURRENCY.to_string()),
        cancelled_by: canceller(record.cancelled, false),
    })
}
