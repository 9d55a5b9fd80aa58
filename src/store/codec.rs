//! Record codec: every value starts with a version byte so stored data can
//! be migrated. Keys are binary: a one-byte record kind, then ids.
//!
//! Decoding never panics: a corrupt record is a `StoreError::Corrupt`.

use super::contract::{StoreError, StoreResult};
use crate::domain::{
    Booking, BookingId, BookingStatus, Cart, CartId, CartItem, CartStatus, Category, Fingerprint,
    IdempotencyKey, OfferSpec, RequestLine, Row, RowOffer, SeatLabel, SeatState, Show, ShowId,
    StoredBody, StoredReply, UserId,
};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const VERSION: u8 = 1;

pub const KIND_SHOW: u8 = 1;
pub const KIND_SEAT: u8 = 2;
pub const KIND_CART: u8 = 3;
pub const KIND_BOOKING: u8 = 4;
pub const KIND_USER_BOOKING: u8 = 5;
pub const KIND_SESSION: u8 = 6;
pub const KIND_KEY: u8 = 7;
/// A commit round's redo record (sled store, issue 18): there only from a
/// round's write until it is durable, or after a crash.
pub const KIND_REDO: u8 = 8;
/// A booking under its owner (issue 18): one record where there were two
/// (`KIND_BOOKING` and the owner index `KIND_USER_BOOKING`, still read).
pub const KIND_OWNED_BOOKING: u8 = 9;

fn id_key(kind: u8, id: &Uuid) -> Vec<u8> {
    id_key_with_room(kind, id, 0)
}

/// `id_key` with room for `more` bytes after it (keys longer than the id
/// are built on it: one allocation, not a second to grow it).
fn id_key_with_room(kind: u8, id: &Uuid, more: usize) -> Vec<u8> {
    let mut key = Vec::with_capacity(17 + more);
    key.push(kind);
    key.extend_from_slice(id.as_bytes());
    key
}

pub fn show_key(id: ShowId) -> Vec<u8> {
    id_key(KIND_SHOW, &id.0)
}

pub fn seat_prefix(show: ShowId) -> Vec<u8> {
    id_key(KIND_SEAT, &show.0)
}

pub fn seat_key(show: ShowId, index: u32) -> Vec<u8> {
    let mut key = id_key_with_room(KIND_SEAT, &show.0, 4);
    key.extend_from_slice(&index.to_be_bytes());
    key
}

pub fn cart_key(id: CartId) -> Vec<u8> {
    id_key(KIND_CART, &id.0)
}

pub fn booking_key(id: BookingId) -> Vec<u8> {
    id_key(KIND_BOOKING, &id.0)
}

pub fn user_booking_prefix(user: UserId) -> Vec<u8> {
    id_key(KIND_USER_BOOKING, &user.0)
}

pub fn user_booking_key(user: UserId, booking: BookingId) -> Vec<u8> {
    id_pair_key(KIND_USER_BOOKING, &user.0, &booking.0)
}

/// A record of one user (or show) and one id: the kind, then both ids.
fn id_pair_key(kind: u8, first: &Uuid, second: &Uuid) -> Vec<u8> {
    let mut key = Vec::with_capacity(33);
    key.push(kind);
    key.extend_from_slice(first.as_bytes());
    key.extend_from_slice(second.as_bytes());
    key
}

pub fn owned_booking_prefix(owner: UserId) -> Vec<u8> {
    id_key(KIND_OWNED_BOOKING, &owner.0)
}

pub fn owned_booking_key(owner: UserId, booking: BookingId) -> Vec<u8> {
    id_pair_key(KIND_OWNED_BOOKING, &owner.0, &booking.0)
}

pub fn session_key(token_hash: &[u8; 32]) -> Vec<u8> {
    let mut key = Vec::with_capacity(33);
    key.push(KIND_SESSION);
    key.extend_from_slice(token_hash);
    key
}

/// Every key record of `user`.
pub fn user_key_prefix(user: UserId) -> Vec<u8> {
    id_key(KIND_KEY, &user.0)
}

pub fn key_record_key(user: UserId, key: &IdempotencyKey) -> Vec<u8> {
    let mut out = id_key_with_room(KIND_KEY, &user.0, key.as_str().len());
    out.extend_from_slice(key.as_str().as_bytes());
    out
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn check_version<'a>(bytes: &'a [u8], what: &str) -> StoreResult<&'a [u8]> {
    match bytes.split_first() {
        Some((&VERSION, rest)) => Ok(rest),
        _ => Err(corrupt(what)),
    }
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![VERSION];
    serde_json::to_writer(&mut out, value).expect("records serialise");
    out
}

fn from_json<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> StoreResult<T> {
    serde_json::from_slice(check_version(bytes, what)?)
        .map_err(|e| corrupt(&format!("{what}: {e}")))
}

pub fn uuid_at(bytes: &[u8], offset: usize) -> StoreResult<Uuid> {
    bytes
        .get(offset..offset + 16)
        .and_then(|b| Uuid::from_slice(b).ok())
        .ok_or_else(|| corrupt("id"))
}

// ---- seats: binary, they are the hot path ----

const SEAT_HELD: u8 = 1;
const SEAT_BOOKED: u8 = 2;

/// `None` for `Available` (the record is deleted).
pub fn encode_seat(state: SeatState) -> Option<Vec<u8>> {
    let mut out = vec![VERSION];
    match state {
        SeatState::Available => return None,
        SeatState::Held { cart, until_ms } => {
            out.push(SEAT_HELD);
            out.extend_from_slice(cart.0.as_bytes());
            out.extend_from_slice(&until_ms.to_be_bytes());
        }
        SeatState::Booked { booking } => {
            out.push(SEAT_BOOKED);
            out.extend_from_slice(booking.0.as_bytes());
        }
    }
    Some(out)
}

pub fn decode_seat(bytes: &[u8]) -> StoreResult<SeatState> {
    let rest = check_version(bytes, "seat")?;
    match rest.first() {
        Some(&SEAT_HELD) if rest.len() == 25 => {
            let until = u64::from_be_bytes(rest[17..25].try_into().expect("8 bytes"));
            Ok(SeatState::Held {
                cart: CartId(uuid_at(rest, 1)?),
                until_ms: until,
            })
        }
        Some(&SEAT_BOOKED) if rest.len() == 17 => Ok(SeatState::Booked {
            booking: BookingId(uuid_at(rest, 1)?),
        }),
        _ => Err(corrupt("seat")),
    }
}

// ---- idempotency records: binary, replayed byte for byte ----

/// Leads an idempotency record whose body is a created show's answer
/// (`StoredBody::CreatedShow`): the show's id follows instead of the body.
/// Records led by `VERSION` carry their body inline.
pub const REPLY_CREATED_SHOW: u8 = 0x81;

/// The same two, with the request's method and path after the header
/// (`StoredReply::line`, for the key look-up): a byte of method length,
/// the method, two bytes of path length, the path (both empty: no line).
/// Records led by the two above were written by builds before 1.1: they
/// have no line, and a created show's answer led by `REPLY_CREATED_SHOW`
/// is rebuilt in the shape of those builds (`StoredBody::CreatedShowV1`).
pub const REPLY_WITH_LINE: u8 = 0x02;
pub const REPLY_CREATED_SHOW_WITH_LINE: u8 = 0x82;
/// A new booking's answer (`StoredBody::CreatedBooking`, issue 18): the
/// line, then the booking's id instead of the body.
pub const REPLY_CREATED_BOOKING_WITH_LINE: u8 = 0x83;
/// A new booking's answer with the booking itself (the sled store,
/// `StoredBody::CreatedBookingAsMade`, issue 18): the line, then the
/// booking's record (`encode_booking`). The booking has no record of its
/// own until it changes (a cancel writes one under its owner, which then
/// wins) or its key expires (the sweep writes one first).
pub const REPLY_CREATED_BOOKING_EMBEDDED: u8 = 0x84;

pub fn encode_reply(reply: &StoredReply) -> Vec<u8> {
    encode_reply_holding(reply, None)
}

/// `encode_reply`, for a reply that is `made`'s answer: the record holds
/// the booking (`REPLY_CREATED_BOOKING_EMBEDDED`) whatever the reply's body.
pub fn encode_reply_holding(reply: &StoredReply, made: Option<&Booking>) -> Vec<u8> {
    // A line too long for its length field is dropped, not cut (paths are
    // bounded far below 64 KiB by the HTTP server).
    let line = reply
        .line
        .as_ref()
        .filter(|l| l.method.len() <= u8::MAX as usize && l.path.len() <= u16::MAX as usize);
    let none = RequestLine {
        method: String::new(),
        path: String::new(),
    };
    let held = made.or(match &reply.body {
        StoredBody::CreatedBookingAsMade(booking) => Some(booking),
        _ => None,
    });
    let embedded = held.map(encode_booking);
    let (lead, line, body): (u8, Option<&RequestLine>, &[u8]) = match (&reply.body, line) {
        _ if embedded.is_some() => (
            REPLY_CREATED_BOOKING_EMBEDDED,
            Some(line.unwrap_or(&none)),
            embedded.as_deref().expect("a booking"),
        ),
        (StoredBody::Bytes(bytes), None) => (VERSION, None, bytes),
        (StoredBody::Bytes(bytes), Some(line)) => (REPLY_WITH_LINE, Some(line), bytes),
        (StoredBody::CreatedShow(show), line) => (
            REPLY_CREATED_SHOW_WITH_LINE,
            Some(line.unwrap_or(&none)),
            show.0.as_bytes(),
        ),
        (StoredBody::CreatedShowV1(show), _) => (REPLY_CREATED_SHOW, None, show.0.as_bytes()),
        (StoredBody::CreatedBooking(booking), line) => (
            REPLY_CREATED_BOOKING_WITH_LINE,
            Some(line.unwrap_or(&none)),
            booking.0.as_bytes(),
        ),
        (StoredBody::CreatedBookingAsMade(_), _) => unreachable!("held above"),
    };
    let line_len = line.map_or(0, |l| 3 + l.method.len() + l.path.len());
    let mut out = Vec::with_capacity(1 + 32 + 2 + 8 + line_len + body.len());
    out.push(lead);
    out.extend_from_slice(&reply.fingerprint.0);
    out.extend_from_slice(&reply.status.to_be_bytes());
    out.extend_from_slice(&reply.created_at_ms.to_be_bytes());
    if let Some(line) = line {
        out.push(line.method.len() as u8);
        out.extend_from_slice(line.method.as_bytes());
        out.extend_from_slice(&(line.path.len() as u16).to_be_bytes());
        out.extend_from_slice(line.path.as_bytes());
    }
    out.extend_from_slice(body);
    out
}

/// The method's and the path's bytes after a record's header, and what
/// follows them; `None`: cut short.
fn line_parts(bytes: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (&method_len, rest) = bytes.split_first()?;
    let (method, rest) = rest.split_at_checked(method_len as usize)?;
    let (path_len, rest) = rest.split_at_checked(2)?;
    let path_len = u16::from_be_bytes([path_len[0], path_len[1]]);
    let (path, tail) = rest.split_at_checked(path_len as usize)?;
    Some((method, path, tail))
}

/// The method and path after a record's header, and what follows them.
fn split_line(bytes: &[u8]) -> StoreResult<(RequestLine, &[u8])> {
    let bad = || corrupt("idempotency record's request line");
    let (method, path, tail) = line_parts(bytes).ok_or_else(bad)?;
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| bad());
    Ok((
        RequestLine {
            method: text(method)?,
            path: text(path)?,
        },
        tail,
    ))
}

/// Bytes before a record's request line: the lead, the fingerprint (32),
/// the status (2), the creation time (8).
const REPLY_HEADER_LEN: usize = 1 + 42;

/// Whether a key record holds the booking `id`, read from its header
/// alone (a scan for one booking decodes only the record that holds it).
pub fn key_record_holds(bytes: &[u8], id: BookingId) -> bool {
    if bytes.first() != Some(&REPLY_CREATED_BOOKING_EMBEDDED) {
        return false;
    }
    match bytes.get(REPLY_HEADER_LEN..).and_then(line_parts) {
        Some((_, _, booking)) => {
            booking.first() == Some(&BOOKING_BINARY)
                && booking.get(1..17) == Some(id.0.as_bytes().as_slice())
        }
        None => false,
    }
}

/// The booking a key record holds (`REPLY_CREATED_BOOKING_EMBEDDED`), if
/// it holds one; other records are not decoded.
pub fn booking_in_key_record(bytes: &[u8]) -> StoreResult<Option<Booking>> {
    if bytes.first() != Some(&REPLY_CREATED_BOOKING_EMBEDDED) {
        return Ok(None);
    }
    match decode_reply(bytes)?.body {
        StoredBody::CreatedBookingAsMade(booking) => Ok(Some(*booking)),
        _ => Err(corrupt("idempotency record")),
    }
}

pub fn decode_reply(bytes: &[u8]) -> StoreResult<StoredReply> {
    let (&lead, rest) = bytes
        .split_first()
        .ok_or_else(|| corrupt("idempotency record"))?;
    if rest.len() < 42 {
        return Err(corrupt("idempotency record"));
    }
    let (line, tail) = match lead {
        REPLY_WITH_LINE
        | REPLY_CREATED_SHOW_WITH_LINE
        | REPLY_CREATED_BOOKING_WITH_LINE
        | REPLY_CREATED_BOOKING_EMBEDDED => {
            let (line, tail) = split_line(&rest[42..])?;
            let empty = line.method.is_empty() && line.path.is_empty();
            ((!empty).then_some(line), tail)
        }
        _ => (None, &rest[42..]),
    };
    let body = match lead {
        VERSION | REPLY_WITH_LINE => StoredBody::Bytes(Bytes::copy_from_slice(tail)),
        REPLY_CREATED_SHOW if tail.len() == 16 => {
            StoredBody::CreatedShowV1(ShowId(uuid_at(tail, 0)?))
        }
        REPLY_CREATED_SHOW_WITH_LINE if tail.len() == 16 => {
            StoredBody::CreatedShow(ShowId(uuid_at(tail, 0)?))
        }
        REPLY_CREATED_BOOKING_WITH_LINE if tail.len() == 16 => {
            StoredBody::CreatedBooking(BookingId(uuid_at(tail, 0)?))
        }
        REPLY_CREATED_BOOKING_EMBEDDED => {
            StoredBody::CreatedBookingAsMade(Box::new(decode_booking(tail)?))
        }
        _ => return Err(corrupt("idempotency record")),
    };
    Ok(StoredReply {
        fingerprint: Fingerprint(rest[..32].try_into().expect("32 bytes")),
        status: u16::from_be_bytes(rest[32..34].try_into().expect("2 bytes")),
        created_at_ms: u64::from_be_bytes(rest[34..42].try_into().expect("8 bytes")),
        body,
        line,
    })
}

// ---- shows, carts, bookings: JSON bodies behind the version byte ----

#[derive(Serialize, Deserialize)]
struct ShowRecord {
    id: Uuid,
    title: String,
    starts_at_ms: i64,
    rows: Vec<(String, u32)>,
    // The offer (v1.1); absent in records of earlier builds: a plain show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    currency: Option<String>,
    /// (id, name, price in cents)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    categories: Vec<(String, String, u64)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    row_offers: Vec<RowOfferRecord>,
}

#[derive(Serialize, Deserialize)]
struct RowOfferRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    aisles_after: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    wheelchair: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    companion: Vec<u32>,
}

pub fn encode_show(show: &Show) -> Vec<u8> {
    let offer = &show.offer;
    json(&ShowRecord {
        id: show.id.0,
        title: show.title.clone(),
        starts_at_ms: show.starts_at_ms,
        rows: show
            .layout
            .rows()
            .iter()
            .map(|r| (r.label.clone(), r.seats))
            .collect(),
        currency: Some(offer.currency().to_string()),
        categories: offer
            .categories()
            .iter()
            .map(|c| (c.id.clone(), c.name.clone(), c.price_cents))
            .collect(),
        row_offers: offer
            .rows()
            .iter()
            .map(|r| RowOfferRecord {
                category: r.category.clone(),
                aisles_after: r.aisles_after.clone(),
                wheelchair: r.wheelchair.clone(),
                companion: r.companion.clone(),
            })
            .collect(),
    })
}

pub fn decode_show(bytes: &[u8]) -> StoreResult<Show> {
    let record: ShowRecord = from_json(bytes, "show")?;
    let rows = record
        .rows
        .into_iter()
        .map(|(label, seats)| Row { label, seats })
        .collect();
    let offer = OfferSpec {
        currency: record.currency,
        categories: record
            .categories
            .into_iter()
            .map(|(id, name, price_cents)| Category {
                id,
                name,
                price_cents,
            })
            .collect(),
        rows: record
            .row_offers
            .into_iter()
            .map(|r| RowOffer {
                category: r.category,
                aisles_after: r.aisles_after,
                wheelchair: r.wheelchair,
                companion: r.companion,
            })
            .collect(),
    };
    Show::with_offer(
        ShowId(record.id),
        record.title,
        record.starts_at_ms,
        rows,
        offer,
    )
    .map_err(|e| corrupt(&format!("show: {e}")))
}

#[derive(Serialize, Deserialize)]
struct ItemRecord {
    show: Uuid,
    seat: String,
    index: u32,
    until_ms: u64,
    // v1.1; absent in records of earlier builds (free shows).
    #[serde(default, skip_serializing_if = "is_zero")]
    price_cents: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize)]
struct CartRecord {
    id: Uuid,
    owner: Uuid,
    checked_out: Option<Uuid>,
    items: Vec<ItemRecord>,
    created_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    currency: Option<String>,
}

pub fn encode_cart(cart: &Cart) -> Vec<u8> {
    json(&CartRecord {
        id: cart.id.0,
        owner: cart.owner.0,
        checked_out: match cart.status {
            CartStatus::Open => None,
            CartStatus::CheckedOut { booking } => Some(booking.0),
        },
        items: cart
            .items
            .iter()
            .map(|item| ItemRecord {
                show: item.show.0,
                seat: item.seat.to_string(),
                index: item.seat_index,
                until_ms: item.until_ms,
                price_cents: item.price_cents,
            })
            .collect(),
        created_at_ms: cart.created_at_ms,
        currency: cart.currency.clone(),
    })
}

fn label(text: &str) -> StoreResult<SeatLabel> {
    SeatLabel::parse(text).ok_or_else(|| corrupt("seat label"))
}

pub fn decode_cart(bytes: &[u8]) -> StoreResult<Cart> {
    let record: CartRecord = from_json(bytes, "cart")?;
    let mut items = Vec::with_capacity(record.items.len());
    for item in record.items {
        items.push(CartItem {
            show: ShowId(item.show),
            seat: label(&item.seat)?,
            seat_index: item.index,
            until_ms: item.until_ms,
            price_cents: item.price_cents,
        });
    }
    Ok(Cart {
        id: CartId(record.id),
        owner: UserId(record.owner),
        status: match record.checked_out {
            None => CartStatus::Open,
            Some(id) => CartStatus::CheckedOut {
                booking: BookingId(id),
            },
        },
        items,
        created_at_ms: record.created_at_ms,
        currency: record.currency,
    })
}

#[derive(Serialize, Deserialize)]
struct BookingRecord {
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

/// Leads a booking record in the binary layout (issue 18: about half the
/// bytes of the JSON one, and no serde on the hot path). Records led by
/// `VERSION` are JSON (`BookingRecord`), written by builds before it, and
/// still read.
pub const BOOKING_BINARY: u8 = 0x02;

/// A booking in the binary layout: the lead byte; id, owner and show (16
/// bytes each); created_at_ms (8); flags (1 byte: bit 0 cancelled, bit 1
/// from a cart, bit 2 priced); the cart's id (16, only with bit 1); the
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
        | (u8::from(priced) << 2);
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
fn decode_binary_booking(bytes: &[u8]) -> StoreResult<Booking> {
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
    })
}

/// Reads a binary record front to back; running out is corruption.
struct Reader<'a> {
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_round_trip_and_corruption_is_an_error() {
        let states = [
            SeatState::Held {
                cart: CartId(Uuid::new_v4()),
                until_ms: 42,
            },
            SeatState::Booked {
                booking: BookingId(Uuid::new_v4()),
            },
        ];
        for state in states {
            let bytes = encode_seat(state).unwrap();
            assert_eq!(decode_seat(&bytes).unwrap(), state);
            for cut in 0..bytes.len() {
                assert!(decode_seat(&bytes[..cut]).is_err());
            }
        }
        assert!(encode_seat(SeatState::Available).is_none());
        assert!(decode_seat(&[9, 1]).is_err());
    }

    #[test]
    fn replies_round_trip_byte_for_byte() {
        let reply = StoredReply {
            fingerprint: Fingerprint([7; 32]),
            status: 409,
            body: StoredBody::Bytes(Bytes::from_static(b"{\"x\":1}")),
            created_at_ms: 99,
            line: Some(RequestLine {
                method: "POST".into(),
                path: "/v1/bookings".into(),
            }),
        };
        let bytes = encode_reply(&reply);
        assert_eq!(bytes[0], REPLY_WITH_LINE);
        assert_eq!(decode_reply(&bytes).unwrap(), reply);
        for cut in [20, 43, 45, 50] {
            assert!(decode_reply(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode_reply(b"").is_err());
        let without = StoredReply {
            line: None,
            ..reply
        };
        assert_eq!(decode_reply(&encode_reply(&without)).unwrap(), without);
    }

    /// Records written before the request line was kept (led by `VERSION`
    /// and `REPLY_CREATED_SHOW`, bytes as that build wrote them) still
    /// read, with no line.
    #[test]
    fn replies_of_the_earlier_layout_still_read() {
        let mut old = vec![VERSION];
        old.extend_from_slice(&[7; 32]);
        old.extend_from_slice(&201u16.to_be_bytes());
        old.extend_from_slice(&99u64.to_be_bytes());
        old.extend_from_slice(b"{\"id\":\"b\"}");
        let reply = decode_reply(&old).unwrap();
        assert_eq!(reply.line, None);
        assert_eq!(reply.status, 201);
        assert_eq!(
            reply.body,
            StoredBody::Bytes(Bytes::from_static(b"{\"id\":\"b\"}"))
        );
        let mut old_show = vec![REPLY_CREATED_SHOW];
        old_show.extend_from_slice(&[3; 32]);
        old_show.extend_from_slice(&201u16.to_be_bytes());
        old_show.extend_from_slice(&7u64.to_be_bytes());
        old_show.extend_from_slice(Uuid::from_u128(42).as_bytes());
        // A created show answered by such a build replays in its shape.
        let reply = decode_reply(&old_show).unwrap();
        assert_eq!(
            (reply.line.clone(), reply.body.clone()),
            (None, StoredBody::CreatedShowV1(ShowId(Uuid::from_u128(42))))
        );
        assert_eq!(encode_reply(&reply), old_show);
    }

    /// A created show's answer is stored as the show's id (58 bytes in
    /// all, however large the show), and only an exact id decodes.
    #[test]
    fn created_show_replies_are_stored_by_reference() {
        let reply = StoredReply {
            fingerprint: Fingerprint([3; 32]),
            status: 201,
            body: StoredBody::CreatedShow(ShowId(Uuid::from_u128(42))),
            created_at_ms: 7,
            line: None,
        };
        let bytes = encode_reply(&reply);
        assert_eq!(bytes.len(), 1 + 32 + 2 + 8 + 3 + 16);
        assert_eq!(bytes[0], REPLY_CREATED_SHOW_WITH_LINE);
        assert_eq!(decode_reply(&bytes).unwrap(), reply);
        let with_line = StoredReply {
            line: Some(RequestLine {
                method: "POST".into(),
                path: "/v1/shows".into(),
            }),
            ..reply.clone()
        };
        assert_eq!(decode_reply(&encode_reply(&with_line)).unwrap(), with_line);
        assert!(decode_reply(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_reply(&longer).is_err());
        let mut unknown = bytes;
        unknown[0] = 0x7f;
        assert!(decode_reply(&unknown).is_err());
    }

    #[test]
    fn corrupt_json_records_are_errors() {
        assert!(decode_show(b"\x01{not json").is_err());
        assert!(decode_cart(b"\x02{}").is_err());
        assert!(decode_booking(b"").is_err());
    }

    proptest::proptest! {
        /// Whatever bytes are on disk, decoding answers an error, never a
        /// panic (the fuzz targets in fuzz/ push further).
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = decode_seat(&bytes);
            let _ = decode_reply(&bytes);
            let _ = decode_show(&bytes);
            let _ = decode_cart(&bytes);
            let _ = decode_booking(&bytes);
            let mut versioned = vec![VERSION];
            versioned.extend_from_slice(&bytes);
            let _ = decode_seat(&versioned);
            let _ = decode_reply(&versioned);
            let _ = decode_show(&versioned);
            let _ = decode_cart(&versioned);
            let _ = decode_booking(&versioned);
            let mut binary = vec![BOOKING_BINARY, REPLY_CREATED_BOOKING_WITH_LINE];
            binary.extend_from_slice(&bytes);
            let _ = decode_booking(&binary);
            let _ = decode_reply(&binary[1..]);
        }
    }

    fn booking(seats: &[(u32, &str)], prices_cents: Vec<u64>) -> Booking {
        Booking {
            id: BookingId(Uuid::from_u128(1)),
            owner: UserId(Uuid::from_u128(2)),
            show: ShowId(Uuid::from_u128(3)),
            seats: seats
                .iter()
                .map(|(i, l)| (*i, SeatLabel::parse(l).unwrap()))
                .collect(),
            status: BookingStatus::Confirmed,
            created_at_ms: 1_700_000_000_123,
            cart: None,
            prices_cents,
            currency: "EUR".into(),
        }
    }

    /// Bookings round-trip in the binary layout (issue 18) with and
    /// without a cart, prices or a cancel, in fewer bytes than in JSON;
    /// a record cut short or with bytes after it is an error.
    #[test]
    fn bookings_round_trip_in_the_binary_layout() {
        let one = booking(&[(0, "A1")], vec![1250]);
        let mut many = booking(&[(5, "ZZ999"), (0, "A1"), (77, "BC12")], vec![0, 900, 1]);
        many.cart = Some(CartId(Uuid::from_u128(4)));
        many.status = BookingStatus::Cancelled;
        many.currency = "CHF".into();
        let free = booking(&[(3, "B4")], Vec::new());
        for b in [one, many, free] {
            let bytes = encode_booking(&b);
            assert_eq!(bytes[0], BOOKING_BINARY);
            assert_eq!(decode_booking(&bytes).unwrap(), b);
            assert!(
                bytes.len() * 2 < encode_booking_json(&b).len(),
                "{}",
                bytes.len()
            );
            assert!(decode_booking(&bytes[..bytes.len() - 1]).is_err());
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode_booking(&longer).is_err());
        }
    }

    /// A booking record as builds before issue 18 wrote it (JSON behind
    /// the version byte, bytes copied from such a build's store) reads.
    #[test]
    fn bookings_of_the_json_layout_still_read() {
        let mut old = vec![VERSION];
        old.extend_from_slice(
            br#"{"id":"00000000-0000-0000-0000-000000000001","owner":"00000000-0000-0000-0000-000000000002","show":"00000000-0000-0000-0000-000000000003","seats":[[0,"A1"]],"cancelled":false,"created_at_ms":1700000000123,"cart":null,"prices_cents":[1250],"currency":"EUR"}"#,
        );
        assert_eq!(
            decode_booking(&old).unwrap(),
            booking(&[(0, "A1")], vec![1250])
        );
        assert_eq!(encode_booking_json(&booking(&[(0, "A1")], vec![1250])), old);
    }

    /// A new booking's answer is stored as the booking's id, with the
    /// request line, and only an exact id decodes.
    #[test]
    fn created_booking_replies_are_stored_by_reference() {
        let reply = StoredReply {
            fingerprint: Fingerprint([5; 32]),
            status: 201,
            body: StoredBody::CreatedBooking(BookingId(Uuid::from_u128(9))),
            created_at_ms: 11,
            line: Some(RequestLine {
                method: "POST".into(),
                path: "/v1/bookings".into(),
            }),
        };
        let bytes = encode_reply(&reply);
        assert_eq!(bytes[0], REPLY_CREATED_BOOKING_WITH_LINE);
        assert_eq!(bytes.len(), 1 + 32 + 2 + 8 + 3 + 4 + 12 + 16);
        assert_eq!(decode_reply(&bytes).unwrap(), reply);
        assert!(decode_reply(&bytes[..bytes.len() - 1]).is_err());
        assert_eq!(booking_in_key_record(&bytes).unwrap(), None);
    }

    /// The sled store's way (issue 18): the key record holds the booking
    /// itself, and decodes with it at hand; a record cut short is an error.
    #[test]
    fn created_booking_replies_can_hold_the_booking() {
        let made = booking(&[(0, "A1"), (1, "A2")], vec![1250, 900]);
        let reply = StoredReply {
            fingerprint: Fingerprint([5; 32]),
            status: 201,
            body: StoredBody::CreatedBooking(made.id),
            created_at_ms: 11,
            line: Some(RequestLine {
                method: "POST".into(),
                path: "/v1/bookings".into(),
            }),
        };
        let bytes = encode_reply_holding(&reply, Some(&made));
        assert_eq!(bytes[0], REPLY_CREATED_BOOKING_EMBEDDED);
        let held = StoredReply {
            body: StoredBody::CreatedBookingAsMade(Box::new(made.clone())),
            ..reply.clone()
        };
        assert_eq!(decode_reply(&bytes).unwrap(), held);
        assert_eq!(encode_reply(&held), bytes);
        assert!(key_record_holds(&bytes, made.id));
        assert!(!key_record_holds(&bytes, BookingId(Uuid::from_u128(8))));
        assert!(!key_record_holds(&encode_reply(&reply), made.id));
        assert_eq!(booking_in_key_record(&bytes).unwrap(), Some(made));
        assert!(decode_reply(&bytes[..bytes.len() - 1]).is_err());
        assert!(booking_in_key_record(&bytes[..bytes.len() - 1]).is_err());
    }

    /// A show's offer (v1.1) round-trips; a show record of an earlier
    /// build (no offer fields) reads as a plain show.
    #[test]
    fn shows_keep_their_offer_and_old_records_read_plain() {
        let rows = vec![
            Row {
                label: "A".into(),
                seats: 4,
            },
            Row {
                label: "B".into(),
                seats: 2,
            },
        ];
        let spec = OfferSpec {
            currency: Some("GBP".into()),
            categories: vec![
                Category {
                    id: "stalls".into(),
                    name: "Stalls".into(),
                    price_cents: 950,
                },
                Category {
                    id: "circle".into(),
                    name: "Dress circle".into(),
                    price_cents: 1450,
                },
            ],
            rows: vec![
                RowOffer {
                    aisles_after: vec![2],
                    wheelchair: vec![1],
                    companion: vec![2],
                    ..RowOffer::default()
                },
                RowOffer {
                    category: Some("circle".into()),
                    ..RowOffer::default()
                },
            ],
        };
        let show = Show::with_offer(ShowId(Uuid::from_u128(5)), "T".into(), 9, rows, spec).unwrap();
        let back = decode_show(&encode_show(&show)).unwrap();
        assert_eq!(back.offer, show.offer);
        assert_eq!(back.price_cents(4), 1450);

        let mut old = vec![VERSION];
        old.extend_from_slice(
            br#"{"id":"00000000-0000-0000-0000-000000000005","title":"T","starts_at_ms":9,"rows":[["A",3]]}"#,
        );
        let plain = decode_show(&old).unwrap();
        assert_eq!(plain.offer.currency(), "EUR");
        assert_eq!(plain.offer.categories(), &[Category::standard()]);
        assert_eq!(plain.layout.capacity(), 3);
    }
}
